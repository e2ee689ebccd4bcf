"""Notifications in the app (the bell) and by e-mail: to the approver on submit, to the owner on every
decision, reminders for goals waiting more than two days (once a day), and when a goal closes."""

import datetime

import pytest
from django.core import mail
from django.urls import reverse

from goals import services, tasks
from goals.models import Notification
from tests.goals.helpers import D, draft, submitted

pytestmark = pytest.mark.django_db


def test_the_approver_is_mailed_on_submit_and_the_owner_on_the_decision(
    rep, manager, clock, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        goal = submitted(rep)
    assert [m.to for m in mail.outbox] == [[manager.email]]
    assert "submitted the goal “More revenue”" in mail.outbox[0].body
    assert reverse("goals:goal_detail", args=[goal.pk]) in mail.outbox[0].body
    with django_capture_on_commit_callbacks(execute=True):
        services.goal_request_changes(actor=manager, goal=goal, comment="More detail")
    assert mail.outbox[-1].to == [rep.email]
    with django_capture_on_commit_callbacks(execute=True):
        goal = services.goal_submit(actor=rep, goal=goal)
        services.goal_approve(actor=manager, goal=goal)
    assert [m.to for m in mail.outbox] == [[manager.email], [rep.email], [manager.email], [rep.email]]
    kinds = list(Notification.objects.filter(recipient=rep).order_by("id").values_list("kind", flat=True))
    assert kinds == ["changes_requested", "approved"]


def test_an_email_task_run_twice_sends_once(rep, manager, clock):
    submitted(rep)
    notification = Notification.objects.get(recipient=manager)
    assert tasks.send_notification_email(notification.pk) is True
    assert tasks.send_notification_email(notification.pk) is False
    assert len(mail.outbox) == 1


def test_the_bell_shows_the_unread_count_and_reading_clears_it(client, rep, manager, clock):
    submitted(rep)
    submitted(rep, title="Second")
    client.force_login(manager)
    page = client.get(reverse("goals:notification_list"))
    assert page.context["unread_notifications"] == 2
    assert b'class="badge">2<' in page.content
    first = Notification.objects.filter(recipient=manager).first()
    client.post(reverse("goals:notification_read", args=[first.pk]))
    assert client.get(reverse("goals:goal_list")).context["unread_notifications"] == 1
    client.post(reverse("goals:notifications_read_all"))
    assert client.get(reverse("goals:goal_list")).context["unread_notifications"] == 0


def test_reminders_go_out_after_two_days_once_a_day(rep, manager, clock):
    goal = submitted(rep)
    submitted_at = goal.submitted_at
    assert services.goals_remind_waiting(now=submitted_at + datetime.timedelta(days=1)) == 0
    later = submitted_at + datetime.timedelta(days=2, hours=1)
    created = services.goals_remind_waiting(now=later)
    again = services.goals_remind_waiting(now=later + datetime.timedelta(hours=1))
    assert (created, again) == (1, 0)
    assert Notification.objects.filter(recipient=manager, kind="reminder").count() == 1


def test_the_owner_hears_when_a_goal_closes(rep, manager, clock):
    services.goal_approve(actor=manager, goal=submitted(rep))
    clock(D(2024, 7, 1))
    services.goals_refresh_all()
    services.goals_refresh_all()
    assert Notification.objects.filter(recipient=rep, kind="missed").count() == 1


def test_a_rep_hears_about_a_proposal(rep, manager, clock):
    services.goal_submit(actor=manager, goal=draft(manager, owner_user=rep))
    assert Notification.objects.get(recipient=rep).kind == "proposed"
