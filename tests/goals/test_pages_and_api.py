"""Wiring of the goal pages and the API: status codes, scoping (404 outside it) and bounded queries."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from goals import services
from goals.models import Goal, Notification
from tests.factories import MembershipFactory, UserFactory
from tests.goals.helpers import D, draft, submitted

pytestmark = pytest.mark.django_db


def many_goals(team, count, manager):
    for i in range(count):
        rep = UserFactory(username=f"r{i}-{team.pk}-{Goal.objects.count()}")
        MembershipFactory(user=rep, team=team)
        goal = submitted(rep, title=f"Goal {i}")
        if i % 2:
            services.goal_approve(actor=manager, goal=goal)
            services.goal_refresh(goal_id=goal.pk)


def test_pages_render_for_the_owner_and_404_outside_the_scope(client, rep, other_rep, manager, clock):
    goal = submitted(rep)
    services.goal_approve(actor=manager, goal=goal)
    services.goal_refresh(goal_id=goal.pk)
    client.force_login(rep)
    for name in ("goals:goal_list", "goals:goal_create", "goals:notification_list"):
        assert client.get(reverse(name)).status_code == 200
    detail = client.get(reverse("goals:goal_detail", args=[goal.pk]))
    assert detail.status_code == 200
    # One day measured: no chart yet, a note instead; two days make a line.
    assert b"goal-chart" not in detail.content and b"the nightly run adds one point a day" in detail.content
    services.goal_refresh(goal_id=goal.pk, today=timezone.localdate() + datetime.timedelta(days=1))
    detail = client.get(reverse("goals:goal_detail", args=[goal.pk]))
    assert b"goal-chart" in detail.content and b"style=" not in detail.content
    assert client.get(reverse("goals:team_goals")).status_code == 404
    client.force_login(other_rep)
    assert client.get(reverse("goals:goal_detail", args=[goal.pk])).status_code == 404
    assert client.post(reverse("goals:goal_action", args=[goal.pk, "cancel"])).status_code == 404


def test_creating_and_submitting_through_the_pages(client, rep, manager, clock):
    client.force_login(rep)
    response = client.post(
        reverse("goals:goal_create"),
        {
            "title": "Convert more", "owner": f"user:{rep.pk}", "metric": "conversion_ratio",
            "start_on": "2024-01-01", "end_on": "2024-06-30", "target_kind": "absolute",
            "target_value": "27.5", "baseline_kind": "previous", "milestones": "2024-03-31 25",
        },
    )  # fmt: skip
    goal = Goal.objects.get()
    assert response.status_code == 302
    assert goal.target_value == Decimal("0.275")
    assert list(goal.milestones.values_list("value", flat=True)) == [Decimal("0.25")]
    client.post(reverse("goals:goal_action", args=[goal.pk, "submit"]))
    goal.refresh_from_db()
    assert goal.status == Goal.Status.SUBMITTED
    client.force_login(manager)
    queue = client.get(reverse("goals:approval_queue"))
    assert list(queue.context["page"].object_list) == [goal]
    client.post(reverse("goals:goal_action", args=[goal.pk, "approve"]), {"acknowledge_warnings": "on"})
    goal.refresh_from_db()
    assert goal.status == Goal.Status.ACTIVE


def test_list_pages_have_a_bounded_number_of_queries(
    client, manager, team, clock, django_assert_max_num_queries
):
    many_goals(team, 2, manager)
    client.force_login(manager)
    counts = {}
    for name in ("goals:goal_list", "goals:team_goals", "goals:approval_queue"):
        with django_assert_max_num_queries(30) as captured:
            assert client.get(reverse(name)).status_code == 200
        counts[name] = len(captured.captured_queries)
    many_goals(team, 8, manager)
    for name, count in counts.items():
        with django_assert_max_num_queries(count):
            assert client.get(reverse(name)).status_code == 200


def test_the_api_runs_the_whole_workflow(api_client, rep, manager, other_manager, clock):
    api_client.force_authenticate(rep)
    created = api_client.post(
        "/api/v1/goals/",
        {"title": "API goal", "metric": "revenue", "start_on": "2024-01-01", "end_on": "2024-06-30",
         "target_kind": "absolute", "target_value": "5000",
         "milestones": [{"due_on": "2024-03-31", "value": "2000"}]},
        format="json",
    )  # fmt: skip
    assert created.status_code == 201, created.data
    pk = created.data["id"]
    assert created.data["owner_user"] == rep.pk
    assert api_client.post(f"/api/v1/goals/{pk}/submit/", {"comment": "ready"}).data["status"] == "submitted"
    assert api_client.post(f"/api/v1/goals/{pk}/approve/").status_code == 403
    api_client.force_authenticate(other_manager)
    assert api_client.get(f"/api/v1/goals/{pk}/").status_code == 404
    api_client.force_authenticate(manager)
    approved = api_client.post(f"/api/v1/goals/{pk}/approve/", {"comment": "ok"})
    assert approved.status_code == 200 and approved.data["status"] == "active"
    again = api_client.post(f"/api/v1/goals/{pk}/approve/")
    assert again.status_code == 400
    assert "already dealt with this goal" in str(again.data)
    api_client.force_authenticate(rep)
    notifications = api_client.get("/api/v1/notifications/").data["results"]
    assert [n["kind"] for n in notifications] == ["approved"]
    read = api_client.post(f"/api/v1/notifications/{notifications[0]['id']}/read/")
    assert read.data["read_at"] is not None


def test_marking_a_notification_read_with_an_id_that_is_not_a_number_answers_404(
    api_client, rep, manager, clock
):
    submitted(rep)
    api_client.force_authenticate(manager)
    for bad in ("null", "abc", "1.5"):
        assert api_client.post(f"/api/v1/notifications/{bad}/read/").status_code == 404
    notification = api_client.get("/api/v1/notifications/").data["results"][0]
    assert Notification.objects.get(pk=notification["id"]).read_at is None  # the bad ids marked nothing
    assert api_client.post(f"/api/v1/notifications/{notification['id']}/read/").status_code == 200
    assert Notification.objects.get(pk=notification["id"]).read_at is not None


def test_the_api_returns_smart_errors_per_field(api_client, rep, clock):
    api_client.force_authenticate(rep)
    goal = draft(rep, title="", end_on=D(2023, 12, 31), start_on=D(2023, 7, 1))
    response = api_client.post(f"/api/v1/goals/{goal.pk}/submit/")
    assert response.status_code == 400
    assert set(response.data) == {"title", "end_on"}


def test_request_changes_accept_and_cancel_through_the_api(api_client, rep, manager, clock):
    goal = services.goal_submit(actor=manager, goal=draft(manager, owner_user=rep))
    api_client.force_authenticate(rep)
    assert api_client.post(f"/api/v1/goals/{goal.pk}/request-changes/").data["status"] == "draft"
    api_client.force_authenticate(manager)
    api_client.post(f"/api/v1/goals/{goal.pk}/submit/")
    api_client.force_authenticate(rep)
    assert api_client.post(f"/api/v1/goals/{goal.pk}/accept/").data["status"] == "active"
    api_client.force_authenticate(manager)
    assert api_client.post(f"/api/v1/goals/{goal.pk}/cancel/").data["status"] == "cancelled"


def test_a_draft_is_edited_and_checked_on_its_pages(client, rep, manager, clock):
    goal = draft(rep, metric="conversion_ratio", target_value=Decimal("0.3"), title="")
    client.force_login(rep)
    form = client.get(reverse("goals:goal_update", args=[goal.pk]))
    assert form.status_code == 200
    assert form.context["form"].initial["target_value"] == Decimal(30)
    checked = client.get(reverse("goals:goal_detail", args=[goal.pk]), {"check": "1"})
    specific = next(i for i in checked.context["check"]["items"] if i["key"] == "specific")
    assert specific["status"] == "error"  # no title
    client.post(
        reverse("goals:goal_update", args=[goal.pk]),
        {**{k: v for k, v in form.context["form"].initial.items() if v is not None}, "title": "Named"},
    )
    goal.refresh_from_db()
    assert (goal.title, goal.target_value) == ("Named", Decimal("0.3"))
    client.force_login(manager)
    assert client.get(reverse("goals:goal_update", args=[goal.pk])).status_code == 404  # not the editor
