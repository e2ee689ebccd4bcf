"""The SMART check: hard errors per field block submitting, warnings need the approver's acknowledgement,
and the achievable part compares the target with the owner's own history and the team's top performer."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from goals import services
from goals.models import Goal
from goals.smart import smart_check
from tests.factories import MembershipFactory, UserFactory
from tests.goals.helpers import D, draft, won

pytestmark = pytest.mark.django_db


def errors_of(goal):
    return smart_check(goal, today=D(2024, 1, 15))["errors"]


def test_missing_metric_title_and_dates_are_errors_per_field(rep, clock):
    goal = draft(rep, title="", metric="", start_on=None, end_on=None)
    with pytest.raises(ValidationError) as raised:
        services.goal_submit(actor=rep, goal=goal)
    assert set(raised.value.message_dict) == {"title", "metric", "start_on", "end_on"}
    goal.refresh_from_db()
    assert goal.status == Goal.Status.DRAFT


def test_end_before_start_is_refused_already_when_saving(rep, clock):
    with pytest.raises(ValidationError) as raised:
        draft(rep, start_on=D(2024, 3, 1), end_on=D(2024, 2, 28))
    assert "end_on" in raised.value.message_dict


@pytest.mark.parametrize(
    ("start", "end", "ok"),
    [
        (D(2024, 1, 1), D(2024, 12, 31), True),  # exactly one year
        (D(2024, 1, 1), D(2025, 1, 1), False),  # a year and a day
        (D(2024, 1, 15), D(2024, 1, 15), True),  # a single day, today
        (D(2023, 1, 1), D(2024, 1, 14), False),  # ended yesterday
    ],
)
def test_time_bound_edges(rep, clock, start, end, ok):
    goal = draft(rep, start_on=start, end_on=end)
    assert ("end_on" not in errors_of(goal)) is ok


def test_a_relative_target_needs_a_baseline(rep, clock):
    goal = draft(rep, target_kind=Goal.TargetKind.RELATIVE, target_value=None, relative_change=Decimal("0.1"))
    assert "relative_change" in errors_of(goal)


def test_bounded_ratios_and_cost_metrics(rep, clock):
    assert "target_value" in errors_of(draft(rep, metric="conversion_ratio", target_value=Decimal("1.5")))
    assert "metric" in errors_of(draft(rep, metric="net_margin"))


def history(rep, amounts):
    """One won deal per half year, oldest first, ending with 2023 H2."""
    halves = [D(2021, 3, 1), D(2021, 9, 1), D(2022, 3, 1), D(2022, 9, 1), D(2023, 3, 1), D(2023, 9, 1)]
    for day, amount in zip(halves[-len(amounts) :], amounts, strict=True):
        won(rep, amount, day)


def test_achievable_reports_best_and_median_change_and_flags_a_stretch(rep, clock):
    # 2022 H1 .. 2023 H2: 1000 -> 1100 (+10 %) -> 1320 (+20 %) -> 1188 (-10 %)
    history(rep, ["1000.00", "1100.00", "1320.00", "1188.00"])
    goal = draft(
        rep, start_on=D(2024, 1, 1), end_on=D(2024, 6, 30),  # 182 days, windows of 182 days back
        target_kind=Goal.TargetKind.RELATIVE, target_value=None, relative_change=Decimal("0.25"),
    )  # fmt: skip
    check = smart_check(goal, today=D(2024, 1, 15))
    achievable = next(i for i in check["items"] if i["key"] == "achievable")
    evidence = achievable["evidence"]
    values = [Decimal(h["value"]) for h in evidence["history"]]
    assert values[:4] == [Decimal("1188"), Decimal("1320"), Decimal("1100"), Decimal("1000")]
    changes = [(values[i] - values[i + 1]) / values[i + 1] for i in range(len(values) - 1) if values[i + 1]]
    assert Decimal(evidence["best_change"]) == max(changes).quantize(Decimal("0.000001"))
    assert Decimal(evidence["required_change"]) == Decimal("0.25")
    assert achievable["status"] == "warning"
    assert evidence["flag"] == ("unrealistic" if Decimal("0.25") > 2 * max(changes) else "stretch")


def test_the_page_shows_changes_as_signed_percentages(client, rep, clock):
    history(rep, ["1000.00", "1100.00", "1320.00", "1188.00"])  # +10 %, +20 %, -10 %
    goal = draft(
        rep, target_kind=Goal.TargetKind.RELATIVE, target_value=None, relative_change=Decimal("0.25")
    )
    client.force_login(rep)

    page = client.get(reverse("goals:goal_detail", args=[goal.pk]), {"check": "1"})

    text = " ".join(page.text.split())
    assert "<dt>Change needed</dt><dd>+25 %</dd>" in text
    assert "<dt>Best change so far</dt><dd>+20 %</dd>" in text
    assert "<dt>Median change</dt><dd>+10 %</dd>" in text


def test_far_above_the_best_change_is_unrealistic_and_needs_acknowledgement(rep, manager, clock):
    history(rep, ["1000.00", "1050.00", "1100.00"])  # best change about +5 %
    goal = draft(rep, target_kind=Goal.TargetKind.RELATIVE, target_value=None, relative_change=Decimal("0.5"))
    goal = services.goal_submit(actor=rep, goal=goal)
    achievable = next(i for i in goal.smart["items"] if i["key"] == "achievable")
    assert achievable["evidence"]["flag"] == "unrealistic"
    with pytest.raises(ValidationError) as raised:
        services.goal_approve(actor=manager, goal=goal)
    assert "acknowledge_warnings" in raised.value.message_dict
    goal = services.goal_approve(actor=manager, goal=goal, acknowledge_warnings=True)
    assert goal.warnings_acknowledged is True
    assert goal.status == Goal.Status.ACTIVE


def test_the_teams_top_performer_is_named_with_their_change(rep, team, clock):
    star = UserFactory(username="star", full_name="Star Seller")
    MembershipFactory(user=star, team=team)
    won(rep, "1000.00", D(2023, 3, 1))
    won(rep, "1100.00", D(2023, 9, 1))
    won(star, "1000.00", D(2023, 3, 1))
    won(star, "3000.00", D(2023, 9, 1))
    goal = draft(rep)
    evidence = next(i for i in smart_check(goal, today=D(2024, 1, 15))["items"] if i["key"] == "achievable")[
        "evidence"
    ]
    assert evidence["top_performer"] == "Star Seller"
    assert Decimal(evidence["top_performer_change"]) == Decimal(2)  # 1000 -> 3000
