"""The dashboard opens with what about goals needs the reader's attention today."""

import pytest
from django.urls import reverse

from goals import selectors, services
from goals.models import Goal
from salesteam.selectors import current_team_ids
from tests.goals.helpers import draft, submitted

pytestmark = pytest.mark.django_db


def agenda(client, user) -> list[str]:
    client.force_login(user)
    page = client.get(reverse("kpis:dashboard"))
    assert page.status_code == 200
    return [item["text"] for item in page.context["agenda"]]


def running(goal: Goal, pace: str) -> Goal:
    Goal.objects.filter(pk=goal.pk).update(status=Goal.Status.ACTIVE, pace=pace)
    return goal


def test_a_manager_sees_goals_waiting_for_approval_and_team_goals_behind(client, clock, rep, manager):
    submitted(rep, title="Waiting")
    services.goal_approve(actor=manager, goal=submitted(rep, title="Running late"), acknowledge_warnings=True)
    running(Goal.objects.get(title="Running late"), Goal.Pace.OFF_TRACK)

    assert agenda(client, manager) == [
        "1 goal waiting for your approval",
        "1 team goal is off track",
    ]
    page = client.get(reverse("kpis:dashboard"))
    assert f'href="{reverse("goals:approval_queue")}"' in page.text


def test_a_rep_sees_their_goals_behind_pace_and_proposals_to_answer(client, clock, rep, manager):
    running(draft(rep, title="One"), Goal.Pace.AT_RISK)
    running(draft(rep, title="Two"), Goal.Pace.AT_RISK)
    running(draft(rep, title="Fine"), Goal.Pace.ON_TRACK)
    services.goal_submit(actor=manager, goal=draft(manager, title="Proposed", owner_user=rep))

    assert agenda(client, rep) == [
        "1 goal proposed to you to accept or send back",
        "2 of your goals are at risk",
    ]


def test_another_teams_manager_sees_none_of_it(client, clock, rep, other_manager):
    submitted(rep)
    running(draft(rep, title="Late"), Goal.Pace.OFF_TRACK)

    assert agenda(client, other_manager) == []
    page = client.get(reverse("kpis:dashboard"))
    assert "Nothing is waiting for you today." in page.text


def test_attention_counts_tally_every_goal_by_the_rules(clock, team, rep, manager, admin_user):
    """Goals of the rep, of their team and of the manager in every status and pace that counts: what
    each reader is told equals a plain tally of the goals they see."""
    statuses = [Goal.Status.DRAFT, Goal.Status.PROPOSED, Goal.Status.SUBMITTED, Goal.Status.ACTIVE]
    paces = ["", *Goal.Pace.values]
    owners = ({"owner_user": rep}, {"owner_team": team}, {"owner_user": manager})
    for owner in owners:
        for status in [*statuses, Goal.Status.ACHIEVED]:
            for pace in paces:
                goal = draft(manager, title=f"{status} {pace}", **owner)
                Goal.objects.filter(pk=goal.pk).update(status=status, pace=pace)

    for reader in (rep, manager, admin_user):
        expected = dict.fromkeys(selectors.ATTENTION_COUNTS, 0)
        for goal in selectors.goal_list(user=reader):
            own = goal.owner_user_id == reader.pk
            mine = own or goal.owner_team_id in current_team_ids(reader)
            running = goal.status == Goal.Status.ACTIVE
            if mine and running and goal.pace:
                expected[goal.pace] += 1
            expected["drafts"] += mine and goal.status == Goal.Status.DRAFT
            expected["proposals"] += own and goal.status == Goal.Status.PROPOSED
            if not own and running and goal.pace in (Goal.Pace.AT_RISK, Goal.Pace.OFF_TRACK):
                expected[f"others_{goal.pace}"] += 1
            waiting = goal.status == Goal.Status.SUBMITTED and selectors.can_decide(user=reader, goal=goal)
            expected["waiting_for_me"] += waiting

        assert selectors.attention_counts(user=reader) == expected, reader.username
    # The manager decides on the rep's goals (a team goal goes to the manager's own manager or an
    # admin); the admin on all of them.
    assert selectors.attention_counts(user=manager)["waiting_for_me"] == len(paces)
    assert selectors.attention_counts(user=admin_user)["waiting_for_me"] == len(owners) * len(paces)
