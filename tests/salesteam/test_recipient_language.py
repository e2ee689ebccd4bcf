"""Messages reach each person in their own language, whoever caused them and in whatever language."""

import datetime

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone, translation

from goals import services as goal_services
from goals.models import Notification
from incentives import services as incentive_services
from salesteam.models import User
from tests.factories import MembershipFactory, UserFactory
from tests.goals.helpers import submitted

pytestmark = pytest.mark.django_db


def test_logging_in_remembers_the_browsers_language(client, rep):
    client.post(
        reverse("login"),
        {"username": rep.username, "password": "pw-for-tests-1"},
        HTTP_ACCEPT_LANGUAGE="nl-BE,nl;q=0.9",
    )

    rep.refresh_from_db()
    assert rep.language == "nl"


def test_switching_languages_remembers_the_choice(client, rep):
    rep.language = "nl"
    rep.save(update_fields=["language"])
    client.force_login(rep)

    response = client.post(reverse("set_language"), {"language": "en", "next": "/deals/"})

    assert response.status_code == 302
    assert response.url == "/deals/"
    rep.refresh_from_db()
    assert rep.language == "en"


def test_an_unknown_language_is_not_remembered(client, rep):
    client.force_login(rep)

    client.post(reverse("set_language"), {"language": "xx", "next": "/"})

    rep.refresh_from_db()
    assert rep.language == ""


def test_a_goal_decision_reaches_a_dutch_rep_in_dutch_and_an_english_one_in_english(rep, manager, team):
    dutch_rep = UserFactory(username="dutch", language="nl")
    MembershipFactory(user=dutch_rep, team=team)
    today = timezone.localdate()
    for owner in (rep, dutch_rep):
        goal = submitted(
            owner,
            title=f"Goal of {owner.username}",
            start_on=today,
            end_on=today + datetime.timedelta(days=90),
        )
        with translation.override("en"):  # the manager works in English
            goal_services.goal_approve(actor=manager, goal=goal, acknowledge_warnings=True)

    english = Notification.objects.get(recipient=rep, kind="approved")
    dutch = Notification.objects.get(recipient=dutch_rep, kind="approved")
    assert english.message == f"{manager.display_name} approved your goal “Goal of rep”."
    assert dutch.message == f"{manager.display_name} heeft je doel “Goal of dutch” goedgekeurd."


def test_kudos_from_an_english_speaker_reach_a_dutch_colleague_in_dutch(
    rep, team, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    colleague = UserFactory(username="colleague", language="nl", email="colleague@example.com")
    MembershipFactory(user=colleague, team=team)

    with translation.override("en"), django_capture_on_commit_callbacks(execute=True):
        incentive_services.kudos_give(sender=rep, recipient=colleague, message="Great demo!")

    notification = Notification.objects.get(recipient=colleague, kind="kudos")
    assert notification.message == f"{rep.display_name} stuurde je kudos: Great demo!"
    [email] = mail.outbox
    assert notification.message in email.subject
    assert User.objects.get(pk=colleague.pk).language == "nl"
