"""Badges: every kind, awarded by the nightly run, never twice for the same achievement."""

import datetime
from decimal import Decimal

import pytest

from goals.models import Goal, Notification
from incentives import tasks
from incentives.models import Badge, BadgeKind, BadgeRule
from salesteam.models import Deal
from tests.factories import CustomerFactory, MembershipFactory, UserFactory
from tests.incentives.conftest import deal

pytestmark = pytest.mark.django_db
D = datetime.date


@pytest.fixture
def people(team):
    ann, bob = UserFactory(username="ann"), UserFactory(username="bob")
    for rep in (ann, bob):
        MembershipFactory(user=rep, team=team)
    return ann, bob


def rule(kind, **values):
    return BadgeRule.objects.create(name=str(kind.label), kind=kind, **values)


def earned(rule_):
    return sorted((b.user.username, b.achievement_key) for b in Badge.objects.filter(rule=rule_))


def goal(owner, status, end_on, title="Goal"):
    return Goal.objects.create(
        title=title,
        owner_user=owner,
        created_by=owner,
        metric="revenue",
        start_on=end_on.replace(day=1),
        end_on=end_on,
        target_value=Decimal("100.00"),
        status=status,
        percent_of_target=Decimal("1.2") if status == Goal.Status.ACHIEVED else Decimal("0.5"),
    )


def test_first_won_deal(clock, nightly, people):
    ann, bob = people
    badge = rule(BadgeKind.FIRST_WON_DEAL)
    deal(ann, closed_on=D(2024, 3, 1))
    deal(ann, closed_on=D(2024, 3, 2))
    deal(bob, stage="lost")
    nightly()
    assert earned(badge) == [("ann", "first-won")]
    assert "1" in Badge.objects.get(rule=badge).achievement  # recognises the day of the first win


def test_n_deals_won_in_a_period(clock, nightly, people):
    ann, bob = people
    badge = rule(BadgeKind.DEALS_WON, threshold=3, period_type="month")
    for day in (1, 2, 3):
        deal(ann, closed_on=D(2024, 2, day))
    deal(bob, closed_on=D(2024, 2, 1))
    deal(bob, closed_on=D(2024, 3, 1))
    nightly()
    assert earned(badge) == [("ann", "month:2024-02-01")]


def test_n_new_customers_in_a_period(clock, nightly, people):
    ann, bob = people
    badge = rule(BadgeKind.NEW_CUSTOMERS, threshold=2, period_type="quarter")
    old = CustomerFactory()
    deal(bob, closed_on=D(2023, 5, 1), customer=old)
    deal(ann, closed_on=D(2024, 1, 5))
    deal(ann, closed_on=D(2024, 2, 5))
    deal(bob, closed_on=D(2024, 2, 5), customer=old)  # an existing customer: not new
    deal(bob, closed_on=D(2024, 2, 6))
    nightly()
    assert earned(badge) == [("ann", "quarter:2024-01-01")]


def test_goal_achieved_and_goal_streak(clock, nightly, people):
    ann, bob = people
    achieved = rule(BadgeKind.GOAL_ACHIEVED)
    streak = rule(BadgeKind.GOAL_STREAK, threshold=2)
    goal(ann, Goal.Status.MISSED, D(2023, 11, 30))
    first = goal(ann, Goal.Status.ACHIEVED, D(2023, 12, 31))
    second = goal(ann, Goal.Status.ACHIEVED, D(2024, 1, 31))
    goal(bob, Goal.Status.ACHIEVED, D(2023, 12, 31))
    goal(bob, Goal.Status.MISSED, D(2024, 1, 31))
    nightly()
    bob_goal = Goal.objects.get(owner_user=bob, status=Goal.Status.ACHIEVED)
    assert earned(achieved) == sorted(
        [("ann", f"goal:{first.pk}"), ("ann", f"goal:{second.pk}"), ("bob", f"goal:{bob_goal.pk}")]
    )
    assert earned(streak) == [("ann", f"goals-from:{first.pk}")]


def test_activity_streak_of_working_days(clock, nightly, people):
    ann, bob = people
    badge = rule(BadgeKind.ACTIVITY_STREAK, threshold=3)
    clock(D(2024, 3, 18))  # a Monday
    for rep, days in (
        (ann, [D(2024, 3, 14), D(2024, 3, 15), D(2024, 3, 18)]),
        (bob, [D(2024, 3, 13), D(2024, 3, 15)]),
    ):
        for day in days:
            made = deal(rep, closed_on=D(2024, 3, 1))
            stamp = datetime.datetime.combine(day, datetime.time(12), tzinfo=datetime.UTC)
            Deal.history.filter(id=made.pk).update(history_date=stamp, history_user=rep)
    nightly()
    assert earned(badge) == [("ann", "days-from:2024-03-14")]


def test_top_n_and_biggest_deal_of_the_last_finished_period(clock, nightly, people):
    ann, bob = people
    top = rule(BadgeKind.TOP_N, threshold=1, period_type="month", metric="revenue")
    biggest = rule(BadgeKind.BIGGEST_DEAL, period_type="month")
    deal(ann, "500.00", D(2024, 2, 10))
    deal(ann, "500.00", D(2024, 2, 11))
    deal(bob, "800.00", D(2024, 2, 12))
    deal(bob, "5000.00", D(2024, 3, 1))  # March is still running: not yet awarded
    nightly()
    assert earned(top) == [("ann", "revenue:month:2024-02-01")]
    assert earned(biggest) == [("bob", "month:2024-02-01")]


def test_two_nightly_runs_award_each_achievement_once(clock, nightly, people):
    ann, bob = people
    rules = [
        rule(BadgeKind.FIRST_WON_DEAL),
        rule(BadgeKind.DEALS_WON, threshold=1, period_type="month"),
        rule(BadgeKind.TOP_N, threshold=2, period_type="month", metric="deals_won"),
        rule(BadgeKind.BIGGEST_DEAL, period_type="month"),
    ]
    deal(ann, "100.00", D(2024, 2, 10))
    deal(bob, "200.00", D(2024, 2, 11))
    first = nightly()
    counts = {r.pk: Badge.objects.filter(rule=r).count() for r in rules}
    assert counts == {rules[0].pk: 2, rules[1].pk: 2, rules[2].pk: 2, rules[3].pk: 1}
    notes = Notification.objects.filter(kind="badge").count()
    assert notes == 7
    nightly()
    tasks.after_kpi_run(first.pk)  # the same run's follow-up, delivered twice
    assert {r.pk: Badge.objects.filter(rule=r).count() for r in rules} == counts
    assert Notification.objects.filter(kind="badge").count() == notes


def test_inactive_rules_award_nothing(clock, nightly, people):
    ann, _bob = people
    badge = rule(BadgeKind.FIRST_WON_DEAL, is_active=False)
    deal(ann)
    nightly()
    assert earned(badge) == []
