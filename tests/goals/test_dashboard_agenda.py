"""The dashboard opens with what about goals needs the reader's attention today."""

import pytest
from django.urls import reverse

from goals import services
from goals.models import Goal
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
