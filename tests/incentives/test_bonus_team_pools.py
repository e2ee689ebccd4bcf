"""Team bonus: when a team goal is achieved, a pool is split among the team's members in the plan."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from goals.models import Goal
from incentives import bonus_services
from incentives.bonus_rules import (
    GoalFacts,
    RepInputs,
    TeamPool,
    calculate,
    describe_line,
    describe_rule,
    validate_rules,
)
from incentives.models import BonusAward
from kpis.definitions import Parts
from salesteam.models import Membership
from tests.factories import UserFactory
from tests.incentives.bonus_helpers import make_plan
from tests.incentives.conftest import deal

D = datetime.date
APRIL, MAY = D(2024, 4, 1), D(2024, 5, 1)
EQUAL = {"type": "team_bonus", "pool": "4000.00", "split": "equal"}


def achieved_goal(**extra) -> GoalFacts:
    values = {
        "id": 7,
        "title": "April North",
        "metric": "revenue",
        "achieved": True,
        "reached": Decimal("1.1"),
    }
    return GoalFacts(**(values | extra))


# --- The arithmetic, without the database --------------------------------------------------------------


def test_an_equal_split_gives_each_full_member_the_same_share():
    pool = TeamPool(goal=achieved_goal(), team="North", days={1: 30, 2: 30, 3: 30, 4: 30})
    rules = validate_rules([EQUAL])

    lines, total = calculate(rules, RepInputs(parts=Parts(), rep_id=1, days_in_period=30, team_pools=[pool]))

    assert total == Decimal("4000.00") / 4 == Decimal("1000.00")
    assert describe_line(lines[0], currency="EUR") == (
        "Team goal “April North” achieved: your share 25 % of EUR 4,000.00 pool = EUR 1,000.00"
    )


def test_a_goal_not_achieved_or_of_another_metric_pays_nothing():
    missed = TeamPool(goal=achieved_goal(achieved=False, reached=Decimal("0.8")), team="North", days={1: 30})
    rules = validate_rules([EQUAL])
    lines, total = calculate(
        rules, RepInputs(parts=Parts(), rep_id=1, days_in_period=30, team_pools=[missed])
    )
    assert total == Decimal("0.00")
    assert describe_line(lines[0], currency="EUR") == (
        "Team goal “April North” not achieved (80 % of target) = EUR 0.00"
    )

    deals_goal = TeamPool(goal=achieved_goal(metric="deals_won"), team="North", days={1: 30})
    only_revenue = validate_rules([EQUAL | {"metric": "revenue"}])
    lines, total = calculate(only_revenue, RepInputs(parts=Parts(), rep_id=1, team_pools=[deals_goal]))
    assert total == Decimal("0.00")
    assert describe_line(lines[0], currency="EUR") == "No goal of your team ends in this period = EUR 0.00"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"pool": "0"}, "Rule 1: pool must be a number above zero."),
        ({"split": "seniority"}, "Rule 1: split must be one of equal, contribution."),
        ({"split": "contribution", "kpi": "churn_rate"}, "Rule 1: kpi must be one of revenue"),
        ({"metric": "happiness"}, "Rule 1: unknown metric happiness."),
    ],
)
def test_bad_team_bonus_parameters_are_refused_naming_the_field(changes, message):
    with pytest.raises(ValidationError) as error:
        validate_rules([EQUAL | changes])
    assert any(message in m for m in error.value.messages), error.value.messages


def test_a_team_bonus_is_described_in_plain_language():
    assert describe_rule(validate_rules([EQUAL])[0]) == (
        "A pool of EUR 4,000.00 for each achieved goal of a team ending in the period, split equally among "
        "the team's members in the plan (by their days in the plan)."
    )
    by_margin = validate_rules(
        [EQUAL | {"split": "contribution", "kpi": "gross_margin", "metric": "revenue"}]
    )
    assert describe_rule(by_margin[0]) == (
        "A pool of EUR 4,000.00 for each achieved goal on Revenue of a team ending in the period, split "
        "among the team's members in the plan by their share of the team's Gross margin."
    )


# --- Evaluation --------------------------------------------------------------------------------------


@pytest.fixture
def april_team(clock, team, other_team, rep, manager):
    """North in April (30 days): rep, b and c all month; d moves from South to North on 16 April (15 days
    in North). The team's goal "April North" is achieved."""
    b, c = UserFactory(username="b"), UserFactory(username="c")
    for user in (b, c):
        Membership.objects.create(user=user, team=team, valid_from=D(2000, 1, 1))
    d = UserFactory(username="d")
    Membership.objects.create(user=d, team=other_team, valid_from=D(2000, 1, 1), valid_to=D(2024, 4, 16))
    Membership.objects.create(user=d, team=team, valid_from=D(2024, 4, 16))
    Goal.objects.create(
        title="April North", owner_team=team, metric="revenue", start_on=APRIL, end_on=D(2024, 4, 30),
        target_value=Decimal("10000"), status=Goal.Status.ACHIEVED, created_by=manager, decided_by=manager,
        percent_of_target=Decimal("1.2"),
    )  # fmt: skip
    deal(rep, "6000.00", closed_on=D(2024, 4, 5))
    deal(b, "3000.00", closed_on=D(2024, 4, 6))
    deal(c, "1000.00", closed_on=D(2024, 4, 7))
    deal(d, "5000.00", closed_on=D(2024, 4, 10))  # still in South: not the team's
    deal(d, "2000.00", closed_on=D(2024, 4, 20))
    clock(D(2024, 5, 2))
    return {"rep": rep, "b": b, "c": c, "d": d}


def april_totals() -> dict[str, Decimal]:
    return {
        a.rep.username: a.total for a in BonusAward.objects.filter(period_start=APRIL).select_related("rep")
    }


@pytest.mark.django_db
def test_an_equal_split_weighs_a_prorated_member_by_days(april_team, nightly, team):
    make_plan(rules=[{"type": "team_bonus", "pool": "3500.00", "split": "equal"}], teams=[team])

    nightly()

    # 30 + 30 + 30 + 15 = 105 member days: 3,500 × 30 / 105 each, d 3,500 × 15 / 105
    full, half = Decimal("3500") * 30 / 105, Decimal("3500") * 15 / 105
    assert (full, half) == (Decimal("1000"), Decimal("500"))
    assert april_totals() == {"rep": full, "b": full, "c": full, "d": half}
    sentence = BonusAward.objects.get(rep=april_team["d"], period_start=APRIL).breakdown[0]["sentence"]
    assert sentence == (
        "Team goal “April North” achieved: your share 14.29 % of EUR 3,500.00 pool = EUR 500.00 "
        "(prorated for 15 of 30 days in the plan)"
    )


@pytest.mark.django_db
def test_a_split_by_contribution_uses_each_members_revenue_in_the_team(april_team, nightly, team):
    make_plan(
        rules=[{"type": "team_bonus", "pool": "3600.00", "split": "contribution", "kpi": "revenue"}],
        teams=[team],
    )

    nightly()

    # Revenue in North: rep 6,000, b 3,000, c 1,000, d 2,000 (after joining) = 12,000
    team_revenue = Decimal("6000") + Decimal("3000") + Decimal("1000") + Decimal("2000")
    pool = Decimal("3600")
    assert april_totals() == {
        "rep": pool * Decimal("6000") / team_revenue,  # 1,800
        "b": pool * Decimal("3000") / team_revenue,  # 900
        "c": pool * Decimal("1000") / team_revenue,  # 300
        "d": pool * Decimal("2000") / team_revenue,  # 600
    }
    sentence = BonusAward.objects.get(rep=april_team["rep"], period_start=APRIL).breakdown[0]["sentence"]
    assert sentence == (
        "Team goal “April North” achieved: your share 50 % of EUR 3,600.00 pool = EUR 1,800.00 "
        "(your Revenue EUR 6,000.00 of the team's EUR 12,000.00)"
    )
    again = bonus_services.award_evaluate(period_start=APRIL)
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 4)


@pytest.mark.django_db
def test_only_members_in_the_plan_share_and_other_teams_goals_do_not_pay(
    april_team, nightly, team, other_team, other_rep, manager
):
    # The plan names rep, b and d only; c is in North but not in the plan. South's goal is achieved too.
    make_plan(rules=[EQUAL], reps=[april_team["rep"], april_team["b"], april_team["d"]])
    Goal.objects.create(
        title="April South", owner_team=other_team, metric="revenue", start_on=APRIL, end_on=D(2024, 4, 30),
        target_value=Decimal("1"), status=Goal.Status.ACHIEVED, created_by=manager, decided_by=manager,
    )  # fmt: skip

    nightly()

    # North: rep 30, b 30, d 15 days in North and the plan = 75; South: d 15 days (1–15 April) alone
    north = Decimal("4000")
    assert april_totals() == {
        "rep": north * 30 / 75,
        "b": north * 30 / 75,
        "d": north * 15 / 75 + Decimal("4000") * 15 / 15,
    }


@pytest.mark.django_db
def test_what_if_raises_the_reps_contribution(april_team, nightly, team):
    make_plan(
        rules=[{"type": "team_bonus", "pool": "3600.00", "split": "contribution", "kpi": "revenue"}],
        teams=[team],
    )
    nightly()
    award = BonusAward.objects.get(rep=april_team["c"], period_start=APRIL)

    added = bonus_services.award_what_if(award=award, amount=Decimal("3000.00"), today=D(2024, 4, 30))

    # c: 1,000 of 12,000 -> 4,000 of 15,000
    pool = Decimal("3600")
    assert added == pool * Decimal("4000") / Decimal("15000") - pool * Decimal("1000") / Decimal("12000")
