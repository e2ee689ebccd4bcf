"""Reps hear about decisions on their awards and answers to their questions; managers about questions."""

import datetime

import pytest
from django.core import mail
from django.urls import reverse

from goals.models import Notification
from incentives import bonus_services, services
from incentives.models import BonusAward
from salesteam.models import Membership, Role
from tests.factories import UserFactory
from tests.incentives.bonus_helpers import make_plan
from tests.incentives.conftest import deal

D = datetime.date
pytestmark = pytest.mark.django_db


@pytest.fixture
def award(clock, nightly, team, rep):
    make_plan(rules=[{"type": "commission", "rate": "0.10"}], teams=[team])
    deal(rep, "1000.00")
    clock(D(2024, 4, 2))
    nightly()
    return BonusAward.objects.get(rep=rep, period_start=D(2024, 3, 1))


def test_an_approval_is_notified_in_the_app_and_by_e_mail(
    award, rep, manager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        bonus_services.award_approve(actor=manager, award=award)

    note = Notification.objects.get(recipient=rep)
    assert note.kind == "award_approved"
    assert (
        note.message == "Your bonus of EUR 100.00 (Sales plan, March 1, 2024 – March 31, 2024) was approved."
    )
    assert [m.to for m in mail.outbox] == [[rep.email]]
    assert not Notification.objects.exclude(recipient=rep).exists()


def test_a_rejection_is_notified_with_its_reason(award, rep, manager, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        bonus_services.award_reject(actor=manager, award=award, reason="The Acme deal was cancelled.")

    note = Notification.objects.get(recipient=rep)
    assert note.kind == "award_rejected"
    assert note.message.endswith("was rejected: The Acme deal was cancelled.")
    assert len(mail.outbox) == 1


def test_a_rep_who_opted_out_of_e_mail_is_still_notified_in_the_app(
    award, rep, manager, client, django_capture_on_commit_callbacks
):
    client.force_login(rep)
    assert client.post(reverse("incentives:preferences"), {}).status_code == 302  # e-mail off

    with django_capture_on_commit_callbacks(execute=True):
        bonus_services.award_approve(actor=manager, award=award)

    assert Notification.objects.filter(recipient=rep, kind="award_approved").count() == 1
    assert mail.outbox == []


def test_bulk_approval_notifies_each_rep_once(clock, nightly, team, manager, client):
    reps = [UserFactory(username=f"r{n}") for n in range(3)]
    for member in reps:
        Membership.objects.create(user=member, team=team, valid_from=D(2020, 1, 1))
        deal(member, "1000.00")
    make_plan(rules=[{"type": "commission", "rate": "0.05"}], teams=[team])
    clock(D(2024, 4, 3))
    nightly()
    march = list(BonusAward.objects.filter(period_start=D(2024, 3, 1)).values_list("pk", flat=True))
    client.force_login(manager)

    client.post(reverse("bonuses:approval_queue"), {"award": march})
    client.post(reverse("bonuses:approval_queue"), {"award": march})  # again: already decided

    approved = Notification.objects.filter(kind="award_approved")
    assert sorted(n.recipient.username for n in approved) == ["r0", "r1", "r2"]


def test_a_question_goes_to_the_reps_managers_and_the_answer_to_the_rep(
    award, rep, manager, other_manager, admin_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        question = bonus_services.award_question_ask(actor=rep, award=award, body="Is the Acme deal in?")

    asked = Notification.objects.get(kind="award_question")
    assert asked.recipient == manager  # not the other team's manager, not the admin
    assert asked.message == (
        f"{rep.display_name} asks about their bonus (Sales plan, March 1, 2024 – March 31, 2024): "
        "Is the Acme deal in?"
    )
    assert [m.to for m in mail.outbox] == [[manager.email]]

    bonus_services.award_question_reply(actor=manager, question=question, body="Yes, line 1.", resolve=True)

    answer = Notification.objects.filter(kind="award_question", recipient=rep).get()
    assert answer.message.startswith(f"{manager.display_name} answered your question on your bonus")
    assert answer.message.endswith(": Yes, line 1.")
    bonus_services.award_question_reply(actor=rep, question=question, body="Thanks, one more thing")
    assert Notification.objects.filter(kind="award_question", recipient=manager).count() == 2


def test_a_question_of_a_rep_without_a_manager_goes_to_the_admins(clock, admin_user, rep, team):
    make_plan(rules=[{"type": "commission", "rate": "0.10"}], reps=[rep])
    Membership.objects.filter(user=rep).delete()
    clock(D(2024, 4, 2))
    bonus_services.award_evaluate(period_start=D(2024, 3, 1))
    lonely = BonusAward.objects.get(rep=rep)
    other_admin = UserFactory(username="admin2", role=Role.ADMIN)

    bonus_services.award_question_ask(actor=rep, award=lonely, body="Who checks this?")

    assert set(Notification.objects.values_list("recipient__username", flat=True)) == {
        admin_user.username,
        other_admin.username,
    }


def test_notify_sends_nothing_twice_for_the_same_decision(award, rep, manager):
    bonus_services.award_approve(actor=manager, award=award)
    again = services.notify(
        recipients=[rep], kind="award_approved", key=f"award:{award.pk}:approved", message="again"
    )
    assert again == 0
    assert Notification.objects.filter(recipient=rep).count() == 1


def test_each_recipient_reads_the_dates_and_amounts_of_their_own_language(award, rep, manager):
    rep.language = "nl"
    rep.save(update_fields=["language"])

    bonus_services.award_approve(actor=manager, award=award)  # the manager works in English

    assert "(Sales plan, 1 maart 2024 – 31 maart 2024)" in Notification.objects.get(recipient=rep).message
