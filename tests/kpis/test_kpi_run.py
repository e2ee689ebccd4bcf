import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.urls import reverse

from kpis import engine, services
from kpis.definitions import Parts
from kpis.models import CustomerFirstWin, KpiRun, KpiShard, KpiValue, ScopeType
from salesteam import services as sales
from salesteam.models import Deal, Segment
from salesteam.services import team_of
from tests.kpis.fixtures import build_fixture

pytestmark = pytest.mark.django_db
D = datetime.date


def stored() -> dict:
    return {
        (v.scope_type, v.scope_id, v.period_type, v.period_start): Parts.from_obj(v)
        for v in KpiValue.objects.all()
    }


def expected_from_engine() -> dict:
    """What a fresh in-process computation over every period gives."""
    engine.rewrite_first_wins()
    result = {}
    for scope_type in ScopeType.values:
        for period_type in ("month", "quarter", "year"):
            computed = engine.compute(
                scope_type, period_type=period_type, date_from=D(2015, 1, 1), date_to=D(2030, 1, 1)
            )
            for (scope_id, start), parts in computed.items():
                if parts != engine.empty_parts(scope_type):
                    result[(scope_type, scope_id, period_type, start)] = parts
    return result


def nonzero(values: dict) -> dict:
    return {k: v for k, v in values.items() if v != engine.empty_parts(k[0])}


def test_a_full_run_stores_what_the_engine_computes_and_publishes_the_run(settings):
    build_fixture()
    run = services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, full=True, in_process=True)
    assert run.status == KpiRun.Status.SUCCEEDED
    # A shard per group of scope types, each over the fixture's years 2023-2024 and 2025, whose retention
    # and churn depend on 2024.
    assert run.shards_done == run.shards_total == len(settings.KPI_SHARD_SCOPE_GROUPS) == 2
    assert {(shard.window_from, shard.window_to) for shard in run.shards.all()} == {
        (D(2023, 1, 1), D(2026, 1, 1))
    }
    assert run.rows_written == KpiValue.objects.count() > 0
    assert nonzero(stored()) == expected_from_engine()


def test_a_full_run_rewrites_the_first_wins_in_one_of_its_shards():
    build_fixture()
    first_wins = {}
    for deal in Deal.objects.filter(stage="won").order_by("closed_on", "pk"):
        first_wins.setdefault(deal.customer_id, (deal.closed_on, deal.pk))
    engine.rewrite_first_wins()
    moved, gone = list(CustomerFirstWin.objects.order_by("pk")[:2])
    CustomerFirstWin.objects.filter(pk=moved.pk).update(first_won_on=D(2020, 1, 1), first_deal=None)
    Deal.objects.filter(customer_id=gone.pk, stage="won").update(stage="lost")  # no history: a bulk update
    del first_wins[gone.pk]

    run = services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, full=True, in_process=True)

    assert run.shards.filter(completes_copy=True).count() == 1
    rewritten = CustomerFirstWin.objects.values_list("customer_id", "first_won_on", "first_deal_id")
    assert {customer: (day, deal) for customer, day, deal in rewritten} == first_wins


def test_running_twice_gives_identical_rows():
    build_fixture()
    services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, full=True, in_process=True)
    first = stored()
    services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, full=True, in_process=True)
    assert stored() == first


def test_a_shard_computed_twice_writes_the_same_rows():
    build_fixture()
    run = services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, full=True, in_process=True)
    before = stored()
    shard = run.shards.order_by("pk").last()
    KpiShard.objects.filter(pk=shard.pk).update(status=KpiShard.Status.PENDING)
    KpiRun.objects.filter(pk=run.pk).update(status=KpiRun.Status.RUNNING)
    services.kpi_shard_compute(shard_id=shard.pk)
    assert stored() == before


def test_the_incremental_run_picks_up_an_edited_and_a_deleted_deal():
    fixture = build_fixture()
    services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, full=True, in_process=True)
    ann = fixture["reps"][0]
    acme_2024 = Deal.objects.get(rep=ann, closed_on=D(2024, 1, 30))
    sales.deal_update(actor=ann, deal=acme_2024, amount_original=Decimal("2500.00"), closed_on=D(2024, 2, 3))
    sales.deal_delete(actor=ann, deal=Deal.objects.get(closed_on=D(2023, 11, 5)))

    run = services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, in_process=True)

    assert not run.full and run.status == KpiRun.Status.SUCCEEDED
    assert nonzero(stored()) == expected_from_engine()
    company_feb = KpiValue.objects.get(scope_type="company", period_type="month", period_start=D(2024, 2, 1))
    assert company_feb.revenue == Decimal("2500.00")
    assert not KpiValue.objects.filter(
        scope_type="rep", scope_id=ann.pk, period_start=D(2023, 11, 1), revenue__gt=0
    ).exists()


def new_segment(fixture):  # every deal of the customer changes segment
    acme = Deal.objects.filter(customer__name="Acme").first().customer
    acme.segment = Segment.objects.exclude(pk=acme.segment_id).first()
    acme.save()


def team_move(fixture):  # the rep's deals closed since follow them, updated in bulk
    ann, north, south = fixture["reps"][0], *fixture["teams"]
    team = south if team_of(ann) == north else north
    sales.membership_move(actor=None, user=ann, team=team, valid_from=D(2024, 1, 1))


def campaign_cost(fixture):
    spring = fixture["campaigns"][0]
    spring.cost += Decimal("1000.00")
    spring.save()


@pytest.mark.parametrize("change", [new_segment, team_move, campaign_cost])
def test_an_incremental_run_applies_a_change_made_outside_the_deal_form(settings, change):
    settings.KPI_CHANGES_MARGIN_SECONDS = 0  # only what changed after the full run
    fixture = build_fixture()
    services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, full=True, in_process=True)
    before = stored()
    change(fixture)

    run = services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, in_process=True)

    assert run.status == KpiRun.Status.SUCCEEDED and not run.full
    assert [shard.changes for shard in run.shards.all()] == [True] and run.rows_written > 0
    assert stored() != before
    assert nonzero(stored()) == expected_from_engine()


def test_too_many_changed_customers_make_a_full_run(settings):
    settings.KPI_CHANGES_MAX_CUSTOMERS = 1
    build_fixture()
    services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, full=True, in_process=True)
    for deal in Deal.objects.filter(closed_on__year=2024)[:3]:
        sales.deal_update(actor=None, deal=deal, amount_original=deal.amount_original + 10)

    run = services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, in_process=True)

    assert run.status == KpiRun.Status.SUCCEEDED and run.full
    assert run.shards_total > 1 and not run.shards.filter(changes=True).exists()
    assert nonzero(stored()) == expected_from_engine()


def test_a_range_run_recomputes_its_years_and_those_of_the_changes_since(settings):
    settings.KPI_CHANGES_MARGIN_SECONDS = 0
    build_fixture()
    services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, full=True, in_process=True)
    sales.deal_delete(actor=None, deal=Deal.objects.get(closed_on=D(2023, 11, 5)))  # outside the range

    run = services.kpi_run_start(
        trigger=KpiRun.Trigger.COMMAND, date_from=D(2024, 4, 1), date_to=D(2024, 7, 1), in_process=True
    )

    assert run.status == KpiRun.Status.SUCCEEDED and not run.full
    assert all(shard.window_from.year <= 2023 and shard.window_to.year >= 2025 for shard in run.shards.all())
    assert not run.shards.filter(changes=True).exists()
    assert nonzero(stored()) == expected_from_engine()


def test_after_a_run_that_recomputed_periods_and_failed_the_next_one_recomputes_everything():
    build_fixture()
    services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, full=True, in_process=True)
    failed = KpiRun.objects.create(trigger=KpiRun.Trigger.NIGHTLY, full=True)
    shard = KpiShard.objects.create(run=failed, window_from=D(2023, 1, 1), window_to=D(2024, 1, 1))
    services.kpi_shard_fail(shard_id=shard.pk, error="OperationalError: connection lost")
    KpiValue.objects.filter(period_start__year=2023).delete()  # what it left half written

    run = services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, in_process=True)

    assert run.status == KpiRun.Status.SUCCEEDED and run.full
    assert nonzero(stored()) == expected_from_engine()


def test_an_incremental_run_without_changes_writes_nothing(settings):
    build_fixture()
    services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, full=True, in_process=True)
    before = stored()
    # Deals saved in the minutes before the last run are looked at again: here, all of them.
    run = services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, in_process=True)
    assert run.status == KpiRun.Status.SUCCEEDED and run.shards_total == 1 and run.rows_written == 0
    assert stored() == before
    settings.KPI_CHANGES_MARGIN_SECONDS = 0
    run = services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, in_process=True)
    assert run.status == KpiRun.Status.SUCCEEDED and run.shards_total == 0 and run.rows_written == 0


def test_a_second_run_is_refused_while_one_is_open():
    KpiRun.objects.create(trigger=KpiRun.Trigger.NIGHTLY)
    with pytest.raises(ValidationError, match="already in progress"):
        services.kpi_run_start(trigger=KpiRun.Trigger.MANUAL, in_process=True)
    assert KpiRun.objects.count() == 1


def test_a_failed_shard_fails_the_run_and_the_next_run_repairs_everything():
    build_fixture()
    run = KpiRun.objects.create(trigger=KpiRun.Trigger.NIGHTLY)
    shard = KpiShard.objects.create(run=run, window_from=D(2023, 1, 1), window_to=D(2024, 1, 1))
    services.kpi_shard_fail(shard_id=shard.pk, error="OperationalError: connection lost")
    run.refresh_from_db()
    assert run.status == KpiRun.Status.FAILED and "connection lost" in run.error and run.is_open is None
    repaired = services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, in_process=True)
    assert repaired.status == KpiRun.Status.SUCCEEDED and repaired.full  # no successful run before it
    assert nonzero(stored()) == expected_from_engine()


def test_the_sweeper_re_enqueues_only_stale_shards(django_capture_on_commit_callbacks):
    build_fixture()
    run = KpiRun.objects.create(trigger=KpiRun.Trigger.NIGHTLY, shards_total=2)
    old = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    stale = KpiShard.objects.create(
        run=run,
        window_from=D(2023, 1, 1),
        window_to=D(2024, 1, 1),
        status="running",
        heartbeat_at=old,
    )
    fresh = KpiShard.objects.create(
        run=run,
        window_from=D(2024, 1, 1),
        window_to=D(2025, 1, 1),
        status="running",
        heartbeat_at=datetime.datetime.now(datetime.UTC),
    )
    found = services.kpi_runs_sweep()  # eager in tests: the stale shard is computed right away
    assert found["shards"] == [stale.pk]
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.status == KpiShard.Status.DONE and fresh.status == KpiShard.Status.RUNNING


def test_an_error_in_process_closes_the_run_as_failed(monkeypatch):
    build_fixture()

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services.engine, "compute_calendar", broken)
    with pytest.raises(RuntimeError):
        services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, full=True, in_process=True)
    run = KpiRun.objects.get()
    assert run.status == KpiRun.Status.FAILED and "disk full" in run.error and run.is_open is None


def test_a_published_run_records_when_its_follow_ups_finished(django_capture_on_commit_callbacks):
    build_fixture()
    with django_capture_on_commit_callbacks(execute=True):
        run = services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, full=True, in_process=True)

    run.refresh_from_db()
    assert run.follow_ups_sent_at is not None
    assert run.follow_ups_done_at is not None and run.follow_ups_done_at >= run.follow_ups_sent_at


def test_the_sweeper_sends_the_lost_follow_ups_of_the_latest_run_again(settings):
    build_fixture()
    # The follow-ups are sent after commit; here the message never arrives (as in a Redis restart).
    older = services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, full=True, in_process=True)
    run = services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, full=True, in_process=True)
    run.refresh_from_db()
    assert run.follow_ups_done_at is None

    assert services.kpi_runs_sweep()["follow_ups"] == []  # sent a moment ago: still on their way
    long_ago = run.follow_ups_sent_at - datetime.timedelta(seconds=settings.KPI_FOLLOW_UP_STALE_SECONDS + 1)
    KpiRun.objects.filter(pk__in=[older.pk, run.pk]).update(follow_ups_sent_at=long_ago)

    found = services.kpi_runs_sweep()  # eager in tests: the chain runs right away

    assert found["follow_ups"] == [run.pk]  # the latest run's follow-ups cover the older one
    run.refresh_from_db()
    assert run.follow_ups_done_at is not None and run.follow_ups_sent_at > long_ago
    assert services.kpi_runs_sweep()["follow_ups"] == []  # done: never sent again
    assert KpiRun.objects.get(pk=older.pk).follow_ups_done_at is None


def test_admins_see_whether_a_runs_goals_badges_and_bonuses_were_updated(client, admin_user):
    build_fixture()
    services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, full=True, in_process=True)
    client.force_login(admin_user)

    assert "updating…" in client.get(reverse("kpis:run_list")).text
    services.kpi_run_follow_ups_done(run_id=KpiRun.objects.get().pk)
    assert "updated at" in client.get(reverse("kpis:run_list")).text


def test_shard_scope_groups_without_each_scope_type_once_fail_the_system_check(settings):
    call_command("check")  # the defaults pass
    for groups in (
        [["rep"], ["company", "team", "segment", "category", "campaign"]],  # no touch point
        [["rep", "team"], ["team", "segment", "category", "campaign", "touch_point"]],  # team twice
        [["rep"], [], ["company", "team", "segment", "category", "campaign", "touch_point"]],  # empty
    ):
        settings.KPI_SHARD_SCOPE_GROUPS = groups
        with pytest.raises(SystemCheckError, match=r"kpis\.E001"):
            call_command("check")
