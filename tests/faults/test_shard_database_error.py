"""A database error in one shard: the run fails with the error on the admins' page, nothing it computed
reaches goals, awards or badges, and the next run repairs everything."""

from decimal import Decimal

import pytest
from django.urls import reverse

from kpis import engine
from kpis.models import KpiRun, KpiShard, KpiValue
from salesteam import services as sales
from salesteam.models import Deal, Stage
from tests.faults.scenario import Checkpoint, build_scenario, clean_outcome, months_back, outcome

pytestmark = [pytest.mark.redis, pytest.mark.slow]

FAULT = "could not extend file base/16384/24601: No space left on device"
# What the failed run must not have touched; announcements of top 3 moves are left out of the final
# comparison, as they record how ranks moved from one run to the next.
PUBLISHED = [
    "goals",
    "goal_transitions",
    "goal_snapshots",
    "awards",
    "award_decisions",
    "badges",
    "notifications",
]


def test_a_database_error_in_one_shard_fails_the_run_and_the_next_run_repairs_everything(
    cluster, gate, client
):
    cluster.start_worker("worker")  # starts while the data is built
    scenario = build_scenario()
    checkpoint = Checkpoint()
    this_month = scenario["today"].replace(day=1)
    cluster.send("kpis.tasks.nightly_run")
    first = cluster.wait_for_run()
    assert first.status == KpiRun.Status.SUCCEEDED, first.error
    published = outcome()

    # Given deals changed since: an old one and one of this month's leader (who stays the leader)
    old = (
        Deal.objects.filter(stage=Stage.WON, closed_on__lt=months_back(this_month, 13))
        .order_by("closed_on", "pk")
        .first()
    )
    sales.deal_update(actor=scenario["admin"], deal=old, amount_original=old.amount + Decimal("750.00"))
    leader = (
        KpiValue.objects.filter(scope_type="rep", period_type="month", period_start=this_month)
        .order_by("-revenue")
        .first()
    )
    assert leader.revenue > 0
    recent = Deal.objects.filter(rep_id=leader.scope_id, stage=Stage.WON, closed_on__gte=this_month).first()
    sales.deal_update(actor=scenario["admin"], deal=recent, amount_original=recent.amount + Decimal("500.00"))
    # and a database that fails to write the rows of the old deal's quarter
    quarter = engine.period_start("quarter", old.closed_on)
    gate.install(
        table="kpis_kpivalue",
        when=f"NEW.period_type = 'quarter' AND NEW.period_start = '{quarter}'",
        action="fail",
        message=FAULT,
    )

    # When the nightly run runs
    cluster.send("kpis.tasks.nightly_run")
    failed = cluster.wait_for_run(newer_than=first.pk)

    # Then it is marked failed, with the database's error
    assert failed.status == KpiRun.Status.FAILED and failed.is_open is None
    assert FAULT in failed.error
    shards = failed.shards.filter(status=KpiShard.Status.FAILED)  # one, or both if they ran side by side
    assert shards and all(shard.window_from <= quarter < shard.window_to for shard in shards)
    # shown to admins on the KPI runs page
    client.force_login(scenario["admin"])
    page = client.get(reverse("kpis:run_list")).content.decode()
    assert FAULT in page
    # and no goal, award, badge or notification moved: the follow-ups of a failed run never run
    after = outcome()
    for key in PUBLISHED:
        assert after[key] == published[key], key

    # When the database is repaired and the next nightly run runs
    gate.remove()
    cluster.send("kpis.tasks.nightly_run")
    repaired = cluster.wait_for_run(newer_than=failed.pk)

    # Then it recomputes what the failed run left half done, from the last successful run on
    assert repaired.status == KpiRun.Status.SUCCEEDED, repaired.error
    assert not repaired.full
    assert repaired.periods["quarter"][0] <= quarter.isoformat()
    assert KpiValue.objects.get(
        scope_type="company", scope_id=0, period_type="quarter", period_start=quarter
    ).revenue == published["kpi_rows"][("company", 0, "quarter", quarter)].revenue + Decimal("750.00")
    # and everything equals a clean run over the final data
    final, clean = outcome(), clean_outcome(checkpoint)
    for key in [*PUBLISHED, "kpi_rows", "leaderboards"]:
        if key != "notifications":
            assert final[key] == clean[key], key
    assert final["awards"] != published["awards"]


def test_a_database_error_that_does_not_go_away_fails_the_run_after_its_attempts(cluster, gate):
    cluster.start_worker("worker", KPI_SHARD_MAX_ATTEMPTS="2")  # starts while the data is built
    scenario = build_scenario()
    this_year = scenario["today"].replace(month=1, day=1)
    # Given a disk that stays full for this year's yearly rows: SQLSTATE 53100, an error of the kind
    # that usually passes (an OperationalError), so the shard is tried again
    gate.install(
        table="kpis_kpivalue",
        when=gate.kpi_row("year", this_year),
        action="fail",
        message=FAULT,
        sqlstate="53100",
    )

    # When the nightly run runs
    cluster.send("kpis.tasks.nightly_run")
    # (its shard's retries, still waiting for their countdown, find the run failed and do nothing)
    run = cluster.wait_for_run(idle=False)

    # Then after two attempts the run is failed with the error, rather than left open for ever
    assert run.status == KpiRun.Status.FAILED and run.is_open is None
    assert "no result after 2 attempts" in run.error and FAULT in run.error
    shard = run.shards.get(status=KpiShard.Status.FAILED)
    assert ("company" in shard.scope_types, shard.attempts) == (True, 2)
    assert shard.window_from <= this_year < shard.window_to
    # and the next nightly run is not refused
    gate.remove()
    cluster.send("kpis.tasks.nightly_run")
    following = cluster.wait_for_run(newer_than=run.pk, idle=False)
    assert following.status == KpiRun.Status.SUCCEEDED, following.error
