"""A rep asks about an award; the manager answers in a thread and resolves it."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from incentives import bonus_services
from incentives.models import AwardQuestion, BonusAward
from tests.incentives.bonus_helpers import make_plan
from tests.incentives.conftest import deal

D = datetime.date
pytestmark = pytest.mark.django_db


@pytest.fixture
def award(clock, team, rep):
    make_plan(rules=[{"type": "commission", "rate": "0.10"}], teams=[team])
    deal(rep, "1000.00")
    clock(D(2024, 4, 2))
    bonus_services.award_evaluate(period_start=D(2024, 3, 1))
    return BonusAward.objects.get(rep=rep)


def test_the_rep_asks_and_the_manager_answers_and_resolves(award, rep, manager):
    question = bonus_services.award_question_ask(actor=rep, award=award, body="Is the Acme deal in?")
    assert question.status == AwardQuestion.Status.OPEN
    bonus_services.award_question_ask(actor=rep, award=award, body="It closed on 5 March.")

    bonus_services.award_question_reply(actor=manager, question=question, body="Yes, line 1.", resolve=True)

    question.refresh_from_db()
    assert question.status == AwardQuestion.Status.RESOLVED and question.resolved_by == manager
    assert [m.body for m in question.messages.order_by("pk")] == [
        "Is the Acme deal in?",
        "It closed on 5 March.",
        "Yes, line 1.",
    ]
    bonus_services.award_question_reply(actor=rep, question=question, body="Sorry, one more thing")
    question.refresh_from_db()
    assert question.status == AwardQuestion.Status.OPEN


def test_only_the_rep_asks_and_only_deciders_resolve(award, rep, manager, other_manager):
    with pytest.raises(ValidationError):
        bonus_services.award_question_ask(actor=manager, award=award, body="?")
    question = bonus_services.award_question_ask(actor=rep, award=award, body="Why so low?")
    with pytest.raises(ValidationError, match="resolves"):
        bonus_services.award_question_reply(actor=rep, question=question, body="Done", resolve=True)
    with pytest.raises(ValidationError, match="take part"):
        bonus_services.award_question_reply(actor=other_manager, question=question, body="Hi")
    with pytest.raises(ValidationError, match="Write a message"):
        bonus_services.award_question_ask(actor=rep, award=award, body="   ")


def test_the_thread_is_shown_on_the_statement_and_closed_to_others(award, client, rep, manager, other_rep):
    client.force_login(rep)
    url = reverse("bonuses:award_question", args=[award.pk])
    assert client.post(url, {"body": "Is the Acme deal in?"}).status_code == 302
    question = AwardQuestion.objects.get()
    client.force_login(manager)
    client.post(url, {"body": "Yes.", "question": question.pk, "resolve": "on"})

    client.force_login(rep)
    statement = client.get(reverse("bonuses:statement", args=[award.pk]))
    assert "Is the Acme deal in?" in statement.text and "Yes." in statement.text
    assert "Resolved" in statement.text
    client.force_login(other_rep)
    assert client.post(url, {"body": "Me too"}).status_code == 404


def test_the_thread_works_through_the_api(award, api_client, rep, manager, other_manager):
    url = f"/api/v1/awards/{award.pk}/questions/"
    api_client.force_authenticate(rep)
    asked = api_client.post(url, {"body": "Why?"}, format="json")
    assert asked.status_code == 200 and asked.json()[0]["status"] == "open"
    question_id = asked.json()[0]["id"]

    api_client.force_authenticate(manager)
    answered = api_client.post(
        url, {"body": "Tiers.", "question": question_id, "resolve": True}, format="json"
    )
    assert answered.status_code == 200
    assert answered.json()[0]["status"] == "resolved"
    assert [m["body"] for m in answered.json()[0]["messages"]] == ["Why?", "Tiers."]

    api_client.force_authenticate(other_manager)
    assert api_client.get(url).status_code == 404
    api_client.force_authenticate(rep)
    assert api_client.post(url, {"body": ""}, format="json").status_code == 400
