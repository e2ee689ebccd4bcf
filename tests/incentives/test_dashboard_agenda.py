"""Managers see on the dashboard how many bonus awards wait for their decision, and which have questions."""

import datetime

import pytest
from django.urls import reverse

from incentives import bonus_services
from incentives.models import BonusAward
from tests.factories import MembershipFactory, UserFactory
from tests.incentives.bonus_helpers import make_plan
from tests.incentives.conftest import deal

D = datetime.date


def agenda(client, user) -> list[str]:
    client.force_login(user)
    page = client.get(reverse("kpis:dashboard"))
    assert page.status_code == 200
    approvals = reverse("bonuses:approval_queue")
    return [item["text"] for item in page.context["agenda"] if item["url"] == approvals]


@pytest.fixture
def march_awards(db, clock, nightly, team, rep):
    colleague = UserFactory(username="colleague")
    MembershipFactory(user=colleague, team=team)
    make_plan(rules=[{"type": "commission", "rate": "0.10"}], teams=[team])
    deal(rep, "1000.00")
    deal(colleague, "2000.00")
    clock(D(2024, 4, 2))
    nightly()
    return BonusAward.objects.filter(period_start=D(2024, 3, 1)).order_by("rep__username")


def test_the_manager_sees_awards_to_decide_and_open_questions(client, march_awards, manager, rep):
    bonus_services.award_question_ask(
        actor=rep, award=march_awards.get(rep=rep), body="Is the March deal in?"
    )

    assert agenda(client, manager) == ["2 bonus awards waiting for your approval · 1 with an open question"]


def test_decided_awards_leave_the_list(client, march_awards, manager):
    for award in march_awards:
        bonus_services.award_approve(actor=manager, award=award)

    assert agenda(client, manager) == []


def test_reps_and_other_managers_see_no_bonus_approvals(client, march_awards, rep, other_manager):
    assert agenda(client, rep) == []
    assert agenda(client, other_manager) == []


def test_a_rep_sees_their_place_their_bonus_so_far_and_kudos_received(client, clock, nightly, team, rep):
    from incentives import services as recognition

    colleague = UserFactory(username="colleague")
    MembershipFactory(user=colleague, team=team)
    make_plan(rules=[{"type": "commission", "rate": "0.10"}], teams=[team])
    deal(rep, "1000.00")  # 5 March
    deal(colleague, "2000.00")
    clock(D(2024, 3, 20))  # March is running
    nightly()
    recognition.kudos_give(sender=colleague, recipient=rep, message="Nice close!")
    client.force_login(rep)

    page = client.get(reverse("kpis:dashboard"))

    texts = [item["text"] for item in page.context["agenda"]]
    assert texts == [
        "You are number 2 of 2 on revenue this month",
        "Your bonus so far this period: EUR 100.00",  # 10 % of 1,000.00
        "1 kudos for you this week",
    ]
