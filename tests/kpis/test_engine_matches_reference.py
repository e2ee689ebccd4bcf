import datetime
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpis import changes, engine
from kpis.definitions import Parts, evaluate_all
from kpis.models import CountedDeal, CustomerFirstWin, PeriodType, ScopeType
from salesteam.models import Customer, Deal, Stage
from tests.factories import (
    CampaignFactory,
    CustomerFactory,
    DealFactory,
    MembershipFactory,
    SegmentFactory,
    TeamFactory,
    UserFactory,
)
from tests.kpis.fixtures import build_fixture
from tests.kpis.reference import Snapshot, all_scope_ids, reference_parts

D = datetime.date
WINDOW = (D(2023, 1, 1), D(2025, 1, 1))


def assert_engine_matches_reference(period_types=tuple(PeriodType.values), window=WINDOW):
    """All scope types and period types in one go (what KPI runs store), all scope types of one period
    type, and each alone, equal the reference loop for every period."""
    engine.rewrite_first_wins()
    data = Snapshot()
    calendar = engine.compute_calendar(ScopeType.values, date_from=window[0], date_to=window[1])
    for period_type in period_types:
        every_scope = engine.compute_scopes(
            ScopeType.values, period_type=period_type, date_from=window[0], date_to=window[1]
        )
        for scope_type in ScopeType.values:
            computed = every_scope[scope_type]
            assert calendar[period_type][scope_type] == computed, (scope_type, period_type)
            alone = engine.compute(
                scope_type, period_type=period_type, date_from=window[0], date_to=window[1]
            )
            assert computed == alone, (scope_type, period_type)
            for start in engine.period_starts(period_type, *window):
                end = engine.period_end(period_type, start)
                prev = engine.previous_start(period_type, start)
                for scope_id in all_scope_ids(data, scope_type):
                    got = computed.get((scope_id, start), engine.empty_parts(scope_type))
                    expected = reference_parts(data, scope_type, scope_id, start, end, prev)
                    assert evaluate_all(got) == evaluate_all(expected), (
                        scope_type,
                        scope_id,
                        period_type,
                        start,
                    )


@pytest.mark.django_db
def test_engine_equals_the_reference_loop_on_the_hand_made_fixture():
    build_fixture()
    assert_engine_matches_reference()


@pytest.mark.django_db
def test_hand_made_fixture_gives_the_expected_company_figures():
    build_fixture()
    engine.rewrite_first_wins()
    q1 = engine.compute(
        ScopeType.COMPANY, period_type=PeriodType.QUARTER, date_from=D(2024, 1, 1), date_to=D(2024, 4, 1)
    )
    parts = q1[(0, D(2024, 1, 1))]
    kpis = evaluate_all(parts)
    assert kpis["revenue"]["value"] == Decimal("5100.00")
    assert kpis["conversion_ratio"]["value"] == Decimal("0.75")  # 3 won of 4 closed
    # Q4 2023 active: Acme, Beta, Delta. Q1 2024 active: Acme, Gamma, Beta -> retained Acme, Beta.
    assert (parts.prev_active_customers, parts.retained_customers, parts.active_customers) == (3, 2, 3)
    assert kpis["retention_rate"]["value"] == Decimal("0.666667")
    assert kpis["churn_rate"]["value"] == Decimal("0.333333")
    assert parts.new_customers == 1  # Gamma: lost in 2023, first won in March 2024
    # Campaign cost in Q1: spring 46 of its 91 days (9100 × 46 / 91 = 4600) + expo 10 of 22 days (454.545…).
    assert parts.campaign_cost == Decimal("5054.55")
    dec = engine.compute(
        ScopeType.COMPANY, period_type=PeriodType.YEAR, date_from=D(2023, 1, 1), date_to=D(2024, 1, 1)
    )
    assert dec[(0, D(2023, 1, 1))].revenue == Decimal("1750.00")  # includes the deal of 31 December


@pytest.mark.django_db
def test_a_rep_moving_teams_keeps_earlier_deals_with_the_old_team():
    fixture = build_fixture()
    north, south = fixture["teams"]
    engine.rewrite_first_wins()
    year = engine.compute(
        ScopeType.TEAM, period_type=PeriodType.QUARTER, date_from=D(2024, 1, 1), date_to=D(2024, 7, 1)
    )
    assert year[(north.pk, D(2024, 1, 1))].revenue == Decimal("5000.00")  # ann 2000 + cas 3000
    assert year[(south.pk, D(2024, 4, 1))].revenue == Decimal("1600.00")  # cas after the move


@pytest.mark.django_db
def test_the_engine_runs_under_the_debug_cursor_that_logs_sql():
    build_fixture()
    with CaptureQueriesContext(connection) as queries:  # formats every statement with its parameters
        engine.rewrite_first_wins()
        engine.refresh_first_wins(list(Customer.objects.values_list("pk", flat=True)))
        for period_type in PeriodType.values:
            engine.compute_scopes(
                ScopeType.values, period_type=period_type, date_from=D(2023, 1, 1), date_to=D(2025, 1, 1)
            )
        engine.compute(
            "segment", date_from=D(2024, 2, 1), date_to=D(2024, 3, 1), custom=True, narrow=("category", 1)
        )
    assert len(queries) > 10


@pytest.mark.django_db
def test_a_quarters_revenue_is_the_sum_of_its_months():
    build_fixture()
    engine.rewrite_first_wins()
    months = engine.compute(
        ScopeType.REP, period_type=PeriodType.MONTH, date_from=WINDOW[0], date_to=WINDOW[1]
    )
    quarters = engine.compute(
        ScopeType.REP, period_type=PeriodType.QUARTER, date_from=WINDOW[0], date_to=WINDOW[1]
    )
    for (rep_id, start), parts in quarters.items():
        month_total = sum(
            (
                p.revenue
                for (r, s), p in months.items()
                if r == rep_id and start <= s < engine.period_end("quarter", start)
            ),
            Decimal("0.00"),
        )
        assert parts.revenue == month_total


@pytest.mark.django_db
def test_a_custom_range_equals_the_reference():
    build_fixture()
    engine.rewrite_first_wins()
    data = Snapshot()
    start, end = D(2024, 2, 10), D(2024, 5, 3)
    prev = start - (end - start)
    for scope_type in ScopeType.values:
        computed = engine.compute(scope_type, date_from=start, date_to=end, custom=True)
        for scope_id in all_scope_ids(data, scope_type):
            got = computed.get((scope_id, start), engine.empty_parts(scope_type))
            assert evaluate_all(got) == evaluate_all(
                reference_parts(data, scope_type, scope_id, start, end, prev)
            )


@pytest.mark.django_db
def test_empty_period_reads_as_zero_with_null_ratios():
    build_fixture()
    engine.rewrite_first_wins()
    computed = engine.compute(
        ScopeType.REP, period_type=PeriodType.MONTH, date_from=D(2022, 1, 1), date_to=D(2022, 2, 1)
    )
    assert computed == {}
    kpis = evaluate_all(engine.empty_parts(ScopeType.REP))
    assert kpis["revenue"]["value"] == 0 and kpis["deals_won"]["value"] == 0
    assert kpis["conversion_ratio"]["value"] is None and kpis["retention_rate"]["value"] is None


deal_rows = st.lists(
    st.tuples(
        st.integers(0, 2),  # rep
        st.integers(0, 3),  # customer
        st.sampled_from(["won", "won", "lost", "lead"]),
        st.integers(0, 50_000),  # amount in cents
        st.integers(0, 60_000),  # cost in cents
        st.integers(0, 700),  # created, days after 2023-01-01
        st.integers(0, 120),  # cycle days
        st.booleans(),  # through the campaign
    ),
    max_size=25,
)


@pytest.mark.django_db
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=deal_rows)
def test_engine_equals_the_reference_on_random_data(rows):
    # Each example runs in its own savepoint, rolled back afterwards.
    with transaction.atomic():
        check_random_data(rows)
        transaction.set_rollback(True)


def check_random_data(rows):
    make_random_deals(rows)
    assert_engine_matches_reference(window=(D(2023, 1, 1), D(2025, 1, 1)))
    for kpis in (
        evaluate_all(p)
        for p in engine.compute(
            "company", period_type="quarter", date_from=D(2023, 1, 1), date_to=D(2025, 1, 1)
        ).values()
    ):
        if kpis["retention_rate"]["value"] is not None:
            assert kpis["retention_rate"]["value"] + kpis["churn_rate"]["value"] == 1


def make_random_deals(rows) -> dict:
    """Two teams, three reps (the third one's deals without a team), four customers (two in a segment),
    a campaign from March 2023 to February 2024, and a deal per row of `deal_rows`."""
    teams = [TeamFactory(name=f"T{i}") for i in range(2)]
    reps = [UserFactory(username=f"r{i}") for i in range(3)]
    for i, rep in enumerate(reps):
        MembershipFactory(user=rep, team=teams[i % 2])
    segment = SegmentFactory(name="S")
    customers = [CustomerFactory(segment=segment if i % 2 else None) for i in range(4)]
    campaign = CampaignFactory(cost=Decimal("777.77"), start_on=D(2023, 3, 3), end_on=D(2024, 2, 28))
    for rep_i, cust_i, stage, amount, cost, created, cycle, via in rows:
        created_on = D(2023, 1, 1) + datetime.timedelta(days=created)
        closed_on = created_on + datetime.timedelta(days=cycle) if stage != Stage.LEAD else None
        team = teams[rep_i] if rep_i < 2 else None  # the third rep's deals have no team
        DealFactory(
            rep=reps[rep_i], team=team, customer=customers[cust_i], stage=stage,
            amount_original=Decimal(amount) / 100, cost_original=Decimal(cost) / 100,
            created_on=created_on, closed_on=closed_on, campaign=campaign if via else None,
        )  # fmt: skip
    return {"teams": teams, "reps": reps, "customers": customers, "campaign": campaign}


@pytest.mark.django_db
def test_rewriting_first_wins_follows_won_deals_won_again_lost_and_deleted():
    def first_wins():
        return dict(CustomerFirstWin.objects.values_list("customer_id", "first_won_on"))

    moving, leaving, arriving = CustomerFactory(), CustomerFactory(), CustomerFactory()
    first = DealFactory(customer=moving, created_on=D(2024, 1, 5))  # closed on 25 January
    DealFactory(customer=moving, created_on=D(2024, 3, 1))  # closed on 21 March
    only = DealFactory(customer=leaving, created_on=D(2024, 2, 1))
    DealFactory(customer=arriving, stage=Stage.LOST, closed_on=D(2024, 2, 10))
    engine.rewrite_first_wins()
    assert first_wins() == {moving.pk: D(2024, 1, 25), leaving.pk: D(2024, 2, 21)}

    Deal.objects.filter(pk__in=[first.pk, only.pk]).update(stage=Stage.LOST)
    DealFactory(customer=arriving, created_on=D(2024, 5, 1))
    engine.rewrite_first_wins()
    assert first_wins() == {moving.pk: D(2024, 3, 21), arriving.pk: D(2024, 5, 21)}

    # The relations are not database constraints, but deleting a first deal still clears it.
    Deal.objects.filter(customer=arriving, stage=Stage.WON).delete()
    assert CustomerFirstWin.objects.get(pk=arriving.pk).first_deal_id is None
    engine.rewrite_first_wins()
    assert first_wins() == {moving.pk: D(2024, 3, 21)}


@pytest.mark.django_db
def test_a_difference_of_two_versions_of_the_deals_gives_only_the_rows_a_change_moved():
    build_fixture()
    engine.rewrite_first_wins()
    changes.count_deals()
    columns = ", ".join(changes.COLUMNS)
    counted = f"SELECT {columns} FROM kpis_counteddeal"

    def difference(after: str) -> dict:
        computed = engine.compute_calendar(
            ScopeType.values, date_from=WINDOW[0], date_to=WINDOW[1], sums_only=True,
            source=engine.difference_source(counted, after),
        )  # fmt: skip
        return {
            (scope_type, scope_id, period_type, start): parts
            for period_type, by_scope in computed.items()
            for scope_type, values in by_scope.items()
            for (scope_id, start), parts in values.items()
        }

    assert difference(counted) == {}

    deal = CountedDeal.objects.filter(stage=Stage.WON, campaign_id=None).order_by("closed_on", "pk").last()
    raised = f"CASE WHEN id = {deal.pk} THEN amount + 100 ELSE amount END AS amount"
    raised = columns.replace("amount", raised)
    scopes = {ScopeType.COMPANY: 0} | {
        scope_type: getattr(deal, field)
        for scope_type, field in changes.SCOPE_FIELDS.items()
        if getattr(deal, field) is not None
    }
    periods = {kind: engine.period_start(kind, deal.closed_on) for kind in PeriodType.values}
    moved = difference(f"SELECT {raised} FROM kpis_counteddeal")
    assert moved.keys() == {
        (scope_type, scope_id, period_type, start)
        for scope_type, scope_id in scopes.items()
        for period_type, start in periods.items()
    }
    new_in_period = {
        period_type: engine.period_start(period_type, deal.first_won_on) == start
        for period_type, start in periods.items()
    }
    for (_scope_type, _scope_id, period_type, _start), parts in moved.items():
        assert parts == Parts(
            revenue=Decimal("100.00"),
            new_customer_revenue=Decimal("100.00") if new_in_period[period_type] else Decimal("0.00"),
        )
