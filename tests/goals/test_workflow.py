"""Every transition of the workflow, with its history entry (who, from, to, comment)."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from goals import services
from goals.models import Goal
from tests.goals.helpers import D, draft, submitted, won

pytestmark = pytest.mark.django_db


def steps(goal):
    return [(t.action, t.from_status, t.to_status, t.actor) for t in goal.transitions.order_by("id")]


def test_a_rep_submits_and_the_manager_approves_then_it_starts(rep, manager, clock):
    clock(D(2024, 1, 15))
    goal = submitted(rep)
    assert goal.status == Goal.Status.SUBMITTED
    goal = services.goal_approve(actor=manager, goal=goal, comment="Go for it")
    assert goal.status == Goal.Status.ACTIVE
    assert goal.decided_by == manager
    assert steps(goal) == [
        ("create", "", "draft", rep),
        ("submit", "draft", "submitted", rep),
        ("approve", "submitted", "approved", manager),
        ("start", "approved", "active", None),
    ]
    assert goal.transitions.get(action="approve").comment == "Go for it"


def test_a_goal_starting_later_stays_approved_until_its_first_day(rep, manager, clock):
    clock(D(2024, 1, 15))
    goal = services.goal_approve(
        actor=manager, goal=submitted(rep, start_on=D(2024, 3, 1), end_on=D(2024, 5, 31))
    )
    assert goal.status == Goal.Status.APPROVED
    clock(D(2024, 3, 1))
    assert services.goal_refresh(goal_id=goal.pk).status == Goal.Status.ACTIVE


def test_rejecting_is_final_and_keeps_the_comment(rep, manager, clock):
    goal = services.goal_reject(actor=manager, goal=submitted(rep), comment="Not this quarter")
    assert goal.status == Goal.Status.REJECTED
    assert steps(goal)[-1] == ("reject", "submitted", "rejected", manager)
    with pytest.raises(ValidationError):
        services.goal_submit(actor=rep, goal=goal)


def test_requested_changes_send_the_goal_back_to_draft_to_edit_and_resubmit(rep, manager, clock):
    goal = services.goal_request_changes(actor=manager, goal=submitted(rep), comment="Higher, please")
    assert goal.status == Goal.Status.DRAFT
    goal = services.goal_update(actor=rep, goal=goal, target_value=Decimal("12000.00"))
    goal = services.goal_submit(actor=rep, goal=goal)
    assert goal.status == Goal.Status.SUBMITTED
    assert [s[0] for s in steps(goal)] == ["create", "submit", "request_changes", "submit"]


def test_a_submitted_goal_cannot_be_edited(rep, clock):
    goal = submitted(rep)
    with pytest.raises(ValidationError, match="Only drafts"):
        services.goal_update(actor=rep, goal=goal, title="Changed")


def test_a_manager_proposes_and_the_rep_accepts(rep, manager, clock):
    goal = draft(manager, owner_user=rep)
    goal = services.goal_submit(actor=manager, goal=goal)
    assert goal.status == Goal.Status.PROPOSED
    goal = services.goal_accept(actor=rep, goal=goal, comment="Deal")
    assert goal.status == Goal.Status.ACTIVE
    assert goal.decided_by == manager
    assert [s[0] for s in steps(goal)] == ["create", "propose", "accept", "start"]


def test_the_rep_sends_a_proposal_back(rep, manager, clock):
    goal = services.goal_submit(actor=manager, goal=draft(manager, owner_user=rep))
    goal = services.goal_request_changes(actor=rep, goal=goal, comment="Too high")
    assert goal.status == Goal.Status.DRAFT
    assert steps(goal)[-1] == ("send_back", "proposed", "draft", rep)


def test_cancelling_a_draft_and_an_active_goal(rep, manager, clock):
    goal = services.goal_cancel(actor=rep, goal=draft(rep), comment="Changed my mind")
    assert goal.status == Goal.Status.CANCELLED
    active = services.goal_approve(actor=manager, goal=submitted(rep))
    goal = services.goal_cancel(actor=manager, goal=active, comment="Reorganisation")
    assert goal.status == Goal.Status.CANCELLED
    assert steps(goal)[-1] == ("cancel", "active", "cancelled", manager)
    with pytest.raises(ValidationError):
        services.goal_cancel(actor=manager, goal=goal)


def test_the_nightly_refresh_closes_an_ended_goal_as_achieved_or_missed(rep, manager, clock):
    clock(D(2024, 1, 15))
    reached = services.goal_approve(actor=manager, goal=submitted(rep, target_value=Decimal("1500.00")))
    missed = services.goal_approve(actor=manager, goal=submitted(rep, target_value=Decimal("5000.00")))
    won(rep, "1000.00", D(2024, 2, 1))
    won(rep, "600.00", D(2024, 6, 30))  # last day: inside the goal
    won(rep, "9000.00", D(2024, 7, 1))  # the day after: outside
    clock(D(2024, 7, 1))
    services.goals_refresh_all()
    reached.refresh_from_db()
    missed.refresh_from_db()
    assert (reached.status, reached.current_value) == (Goal.Status.ACHIEVED, Decimal("1600"))
    assert missed.status == Goal.Status.MISSED
    assert steps(reached)[-1] == ("close", "active", "achieved", None)


def test_closing_is_idempotent_and_covers_goals_without_any_activity(rep, manager, clock):
    clock(D(2024, 1, 15))
    quiet = services.goal_approve(actor=manager, goal=submitted(rep, metric="deals_won", target_value=1))
    clock(D(2024, 7, 2))
    first = services.goals_refresh_all()
    second = services.goals_refresh_all()
    quiet.refresh_from_db()
    assert quiet.status == Goal.Status.MISSED
    assert quiet.current_value == 0
    assert first == {"refreshed": 1, "achieved": 0, "missed": 1}
    assert second == {"refreshed": 0, "achieved": 0, "missed": 0}
    assert quiet.transitions.filter(action="close").count() == 1


def test_a_level_goal_with_an_undefined_value_is_closed_as_missed(rep, manager, clock):
    clock(D(2024, 1, 15))
    goal = services.goal_approve(
        actor=manager,
        goal=submitted(rep, metric="conversion_ratio", target_value=Decimal("0.5")),
        acknowledge_warnings=True,
    )
    clock(D(2024, 7, 1) + datetime.timedelta(days=3))
    services.goals_refresh_all()
    goal.refresh_from_db()
    assert goal.status == Goal.Status.MISSED
    assert goal.current_value is None
