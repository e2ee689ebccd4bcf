"""Notifications: in the app and by e-mail (unless the user opted out) on a badge, kudos and a top 3."""

import datetime

import pytest
from django.core import mail
from django.urls import reverse

from goals.models import Notification
from incentives import services
from incentives.models import BadgeKind, BadgeRule
from tests.factories import MembershipFactory, UserFactory
from tests.incentives.conftest import deal

pytestmark = pytest.mark.django_db
D = datetime.date


def test_kudos_are_notified_in_the_app_and_by_e_mail(django_capture_on_commit_callbacks, rep, team):
    colleague = UserFactory(username="colleague")
    MembershipFactory(user=colleague, team=team)
    with django_capture_on_commit_callbacks(execute=True):
        services.kudos_give(sender=rep, recipient=colleague, message="Thanks")
    assert Notification.objects.filter(recipient=colleague, kind="kudos").count() == 1
    assert [m.to for m in mail.outbox] == [[colleague.email]]


def test_an_opted_out_user_gets_no_e_mail(client, django_capture_on_commit_callbacks, rep, team):
    colleague = UserFactory(username="colleague")
    MembershipFactory(user=colleague, team=team)
    client.force_login(colleague)
    assert client.post(reverse("incentives:preferences"), {}).status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        services.kudos_give(sender=rep, recipient=colleague, message="Thanks")
    assert Notification.objects.filter(recipient=colleague).count() == 1
    assert mail.outbox == []


def test_a_badge_is_notified(clock, nightly, rep):
    BadgeRule.objects.create(name="First win", kind=BadgeKind.FIRST_WON_DEAL, icon="🥇")
    deal(rep)
    nightly()
    note = Notification.objects.get(recipient=rep, kind="badge")
    assert "First win" in note.message


def test_moving_into_the_top_3_is_notified_once(clock, nightly, team):
    reps = [UserFactory(username=f"r{i}") for i in range(5)]
    for index, rep in enumerate(reps):
        MembershipFactory(user=rep, team=team)
        deal(rep, f"{(5 - index) * 100}.00")  # r0 first ... r4 last
    nightly()
    assert not Notification.objects.filter(kind="top3").exists()  # the first run has nothing to compare
    deal(reps[4], "1000.00")
    clock(D(2024, 3, 21))
    nightly()
    # r4 moves in on revenue in the company and in the team; r2 drops out and is not notified.
    moved = Notification.objects.filter(kind="top3")
    assert {n.recipient.username for n in moved} == {"r4"}
    revenue = [n for n in moved if "Revenue" in n.message]
    assert len(revenue) == 2
    count = moved.count()
    clock(D(2024, 3, 22))
    nightly()
    assert Notification.objects.filter(kind="top3").count() == count
