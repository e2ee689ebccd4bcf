"""Net margin subtracts the approved bonus cost of the period (company and team): an award counts once
approved or paid, spread over its plan period by day, for the team the rep was in on its last day."""

import datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest

from incentives import bonus_services
from incentives.models import BonusAward
from kpis import selectors as kpi_selectors
from kpis import services as kpi_services
from kpis.definitions import KPI_BY_SLUG
from kpis.models import KpiRun, ScopeType
from tests.factories import MembershipFactory, UserFactory
from tests.incentives.bonus_helpers import make_plan
from tests.incentives.conftest import deal

pytestmark = pytest.mark.django_db
D = datetime.date
JANUARY, MARCH = D(2024, 1, 1), D(2024, 3, 1)
CENT = Decimal("0.01")


def stored(scope_type: str, scope_id: int, period_type: str, start: datetime.date):
    return kpi_selectors.parts_for(
        scope_type=scope_type, scope_ids=[scope_id], period_type=period_type, starts=[start]
    )[(scope_id, start)]


def net_margin(parts) -> Decimal:
    return KPI_BY_SLUG["net_margin"].evaluate(parts)["value"]


@pytest.fixture
def march_award(clock, nightly, team, rep):
    make_plan(rules=[{"type": "commission", "rate": "0.10"}], teams=[team])
    deal(rep, "1000.00", cost=Decimal("400.00"))  # gross margin 600.00; commission 100.00
    clock(D(2024, 4, 2))
    nightly()
    return BonusAward.objects.get(rep=rep, period_start=MARCH)


def test_a_pending_award_costs_nothing_and_an_approved_one_is_subtracted_after_the_next_run(
    march_award, manager, team
):
    company = stored(ScopeType.COMPANY, 0, "month", MARCH)
    assert (company.bonus_cost, net_margin(company)) == (Decimal("0.00"), Decimal("600.00"))

    bonus_services.award_approve(actor=manager, award=march_award)
    run = kpi_services.kpi_run_start(trigger=KpiRun.Trigger.NIGHTLY, in_process=True)  # incremental

    assert run.status == KpiRun.Status.SUCCEEDED and not run.full
    for scope_type, scope_id in ((ScopeType.COMPANY, 0), (ScopeType.TEAM, team.pk)):
        for period_type, start in (("month", MARCH), ("quarter", JANUARY), ("year", JANUARY)):
            parts = stored(scope_type, scope_id, period_type, start)
            assert parts.bonus_cost == Decimal("100.00"), (scope_type, period_type)
            assert net_margin(parts) == Decimal("1000.00") - Decimal("400.00") - Decimal("100.00")
    # Reps carry no campaign or bonus cost: their net margin is not defined by the contract.
    assert stored(ScopeType.REP, march_award.rep_id, "month", MARCH).bonus_cost == Decimal("0.00")


def test_new_pending_awards_touch_no_period(march_award):
    run = kpi_services.kpi_run_start(trigger=KpiRun.Trigger.NIGHTLY, in_process=True)

    assert (run.status, run.full, run.rows_written) == (KpiRun.Status.SUCCEEDED, False, 0)


def test_another_teams_award_stays_with_that_team(march_award, manager, other_team, other_manager):
    colleague = UserFactory(username="colleague")
    MembershipFactory(user=colleague, team=other_team, valid_from=D(2020, 1, 1))
    bonus_services.award_approve(actor=manager, award=march_award)
    kpi_services.kpi_run_start(trigger=KpiRun.Trigger.NIGHTLY, in_process=True)

    assert stored(ScopeType.TEAM, other_team.pk, "month", MARCH).bonus_cost == Decimal("0.00")


def test_a_quarterly_award_is_spread_over_its_months_by_day(clock, nightly, team, rep, manager):
    make_plan(rules=[{"type": "commission", "rate": "0.10"}], teams=[team], period="quarter")
    deal(rep, "910.00")  # 10 % = 91.00 for Q1 2024: 31 + 29 + 31 = 91 days
    clock(D(2024, 4, 2))
    nightly()
    award = BonusAward.objects.get(rep=rep, period_start=JANUARY)
    assert award.total == Decimal("91.00")
    bonus_services.award_approve(actor=manager, award=award)
    nightly()

    months = {D(2024, 1, 1): 31, D(2024, 2, 1): 29, D(2024, 3, 1): 31}
    for start, days in months.items():
        expected = (Decimal("91.00") * days / 91).quantize(CENT, rounding=ROUND_HALF_UP)
        assert stored(ScopeType.COMPANY, 0, "month", start).bonus_cost == expected == Decimal(days)
    assert stored(ScopeType.COMPANY, 0, "quarter", JANUARY).bonus_cost == Decimal("91.00")
    # January has no deal of the team: its net margin is minus the bonus, not undefined.
    january = stored(ScopeType.TEAM, team.pk, "month", JANUARY)
    assert (january.campaign_cost, january.bonus_cost) == (Decimal("0.00"), Decimal("31.00"))
    assert net_margin(january) == Decimal("-31.00")
