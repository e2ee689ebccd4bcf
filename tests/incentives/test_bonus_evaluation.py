"""The evaluation from the KPI engine: awards per rep and period, recomputed in place, idempotent."""

import datetime
from decimal import Decimal

import pytest

from goals.models import Goal
from incentives import bonus_services
from incentives.models import BonusAward, PlanVersion
from salesteam.models import Membership
from tests.factories import CustomerFactory, SegmentFactory, UserFactory
from tests.incentives.bonus_helpers import make_plan
from tests.incentives.conftest import deal

D = datetime.date
pytestmark = pytest.mark.django_db
MARCH = D(2024, 3, 1)


def snapshot():
    return list(
        BonusAward.objects.order_by("pk").values_list(
            "pk",
            "rep_id",
            "period_start",
            "kind",
            "status",
            "total",
            "breakdown",
            "version_id",
            "computed_at",
        )
    )


def test_the_nightly_run_creates_a_pending_award_with_a_breakdown(clock, nightly, team, rep):
    make_plan(rules=[{"type": "commission", "rate": "0.08"}], teams=[team])
    deal(rep, "12400.00")
    nightly()  # the follow-up task evaluates the open periods (February and March)

    award = BonusAward.objects.get(rep=rep, period_start=MARCH)
    assert award.status == BonusAward.Status.PENDING
    assert award.total == Decimal("12400.00") * Decimal("0.08") == Decimal("992.00")
    assert award.breakdown[0]["sentence"] == "8 % on EUR 12,400.00 revenue = EUR 992.00"
    assert BonusAward.objects.get(rep=rep, period_start=D(2024, 2, 1)).total == Decimal("0.00")


def test_evaluating_twice_changes_nothing(clock, nightly, team, rep):
    make_plan(rules=[{"type": "commission", "rate": "0.05"}, {"type": "cap", "max": "100"}], teams=[team])
    deal(rep, "1000.00")
    nightly()
    before = snapshot()

    counts = bonus_services.award_evaluate(period_start=MARCH)
    nightly()

    assert counts["created"] == counts["updated"] == counts["adjusted"] == 0
    assert snapshot() == before


def test_a_pending_award_is_recomputed_in_place(clock, nightly, team, rep):
    make_plan(rules=[{"type": "commission", "rate": "0.10"}], teams=[team])
    deal(rep, "1000.00")
    nightly()
    first = BonusAward.objects.get(rep=rep, period_start=MARCH)

    deal(rep, "500.00")
    nightly()

    again = BonusAward.objects.get(rep=rep, period_start=MARCH)
    assert again.pk == first.pk
    assert again.total == (Decimal("1000.00") + Decimal("500.00")) * Decimal("0.10")


def test_narrowed_commission_counts_only_the_segment(clock, nightly, team, rep):
    fleet = SegmentFactory(name="Fleet")
    make_plan(
        rules=[{"type": "commission", "rate": "0.10", "narrow": {"scope": "segment", "id": fleet.pk}}],
        teams=[team],
    )
    deal(rep, "2000.00", customer=None)
    deal(rep, "700.00", customer=CustomerFactory(segment=fleet))
    nightly()

    assert BonusAward.objects.get(rep=rep, period_start=MARCH).total == Decimal("700.00") * Decimal("0.10")


def test_a_rep_who_joined_mid_period_gets_a_prorated_quota(clock, nightly, team):
    newcomer = UserFactory(username="newcomer")
    Membership.objects.create(user=newcomer, team=team, valid_from=D(2024, 3, 16))
    tiers = [["0", "0"], ["1.0", "0.05"]]
    make_plan(
        rules=[{"type": "tiered", "quota": "31000", "mode": "retroactive", "tiers": tiers}], teams=[team]
    )
    deal(newcomer, "16000.00", closed_on=D(2024, 3, 18))
    nightly()

    award = BonusAward.objects.get(rep=newcomer, period_start=MARCH)
    days_in_plan, days_in_march = 16, 31  # 16 to 31 March
    quota = Decimal("31000") * days_in_plan / days_in_march  # 16,000: exactly reached
    assert Decimal("16000.00") / quota == 1
    assert award.total == Decimal("16000.00") * Decimal("0.05") == Decimal("800.00")
    assert "prorated for 16 of 31 days" in award.breakdown[0]["sentence"]


def test_a_rep_who_moved_out_of_the_plan_counts_only_deals_while_in_it(clock, nightly, team, other_team):
    mover = UserFactory(username="mover")
    Membership.objects.create(user=mover, team=team, valid_from=D(2020, 1, 1), valid_to=D(2024, 3, 11))
    Membership.objects.create(user=mover, team=other_team, valid_from=D(2024, 3, 11))
    make_plan(rules=[{"type": "commission", "rate": "0.10"}], teams=[team])
    deal(mover, "1000.00", closed_on=D(2024, 3, 5), team=team)
    deal(mover, "9000.00", closed_on=D(2024, 3, 15), team=other_team)
    nightly()

    assert BonusAward.objects.get(rep=mover, period_start=MARCH).total == Decimal("1000.00") * Decimal("0.10")


def test_a_new_version_applies_from_its_date_and_the_award_records_it(clock, nightly, team, rep):
    plan = make_plan(rules=[{"type": "commission", "rate": "0.10"}], teams=[team])
    PlanVersion.objects.create(
        plan=plan, valid_from=MARCH, rules=[{"type": "commission", "base": "revenue", "rate": "0.20"}]
    )
    deal(rep, "1000.00", closed_on=D(2024, 2, 10))
    deal(rep, "1000.00", closed_on=D(2024, 3, 10))
    nightly()

    february = BonusAward.objects.get(rep=rep, period_start=D(2024, 2, 1))
    march = BonusAward.objects.get(rep=rep, period_start=MARCH)
    assert (february.total, march.total) == (Decimal("100.00"), Decimal("200.00"))
    assert february.version.valid_from == D(2024, 1, 1) and march.version.valid_from == MARCH


def test_a_goal_bonus_pays_for_the_reps_achieved_goal_ending_in_the_period(clock, team, rep, manager):
    make_plan(rules=[{"type": "goal_bonus", "mode": "fixed", "amount": "500.00"}], teams=[team])
    Goal.objects.create(
        owner_user=rep, metric="revenue", start_on=D(2024, 3, 1), end_on=D(2024, 3, 31),
        target_value=Decimal("1000"), status=Goal.Status.ACHIEVED, created_by=manager,
        decided_by=manager, percent_of_target=Decimal("1.2"),
    )  # fmt: skip
    bonus_services.award_evaluate(period_start=MARCH)

    assert BonusAward.objects.get(rep=rep, period_start=MARCH).total == Decimal("500.00")


def test_a_plan_without_approval_approves_awards_of_ended_periods(clock, nightly, team, rep):
    make_plan(rules=[{"type": "commission", "rate": "0.10"}], teams=[team], needs_approval=False)
    deal(rep, "1000.00", closed_on=D(2024, 2, 10))
    deal(rep, "1000.00")
    nightly()  # today is 20 March

    assert BonusAward.objects.get(rep=rep, period_start=D(2024, 2, 1)).status == BonusAward.Status.APPROVED
    assert BonusAward.objects.get(rep=rep, period_start=MARCH).status == BonusAward.Status.PENDING


def test_tiers_against_the_reps_approved_goal_use_its_target(clock, nightly, team, rep, manager):
    tiers = [["0", "0.02"], ["1.0", "0.05"]]
    make_plan(rules=[{"type": "tiered", "quota": "goal", "mode": "marginal", "tiers": tiers}], teams=[team])
    Goal.objects.create(
        owner_user=rep, metric="revenue", start_on=D(2024, 3, 1), end_on=D(2024, 3, 31),
        target_value=Decimal("10000"), status=Goal.Status.ACTIVE, created_by=manager, decided_by=manager,
    )  # fmt: skip
    deal(rep, "12000.00")
    nightly()

    award = BonusAward.objects.get(rep=rep, period_start=MARCH)
    assert award.total == Decimal("10000") * Decimal("0.02") + Decimal("2000") * Decimal("0.05")  # 300.00
