"""Goal pages: my goals, the team's goals, the approval queue, a goal's detail, its form and decisions,
and the notifications. Each view checks access, parses input, calls one service or selector, renders."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from goals import selectors, services
from goals.forms import DecisionForm, GoalForm
from goals.models import Goal
from goals.smart import smart_check
from salesteam.views import add_service_errors

PAGE_SIZE = 12

ACTIONS = {
    "submit": (services.goal_submit, gettext_lazy("Goal submitted.")),
    "approve": (services.goal_approve, gettext_lazy("Goal approved.")),
    "reject": (services.goal_reject, gettext_lazy("Goal rejected.")),
    "request-changes": (services.goal_request_changes, gettext_lazy("Goal sent back for changes.")),
    "accept": (services.goal_accept, gettext_lazy("Goal accepted.")),
    "cancel": (services.goal_cancel, gettext_lazy("Goal cancelled.")),
}


def _page(request: HttpRequest, items, size: int = PAGE_SIZE):
    return Paginator(items, size).get_page(request.GET.get("page"))


@login_required
def goal_list(request: HttpRequest) -> HttpResponse:
    """My goals: a summary of the day, proposals waiting, and a card per goal."""
    return render(
        request,
        "goals/goal_list.html",
        {
            "day": selectors.my_day(user=request.user),
            "proposals": selectors.proposals_for(user=request.user)[:5],
            "page": _page(request, selectors.my_goals(user=request.user)),
        },
    )


@login_required
def team_goals(request: HttpRequest) -> HttpResponse:
    if not (request.user.is_manager or request.user.is_admin):
        raise Http404
    status = request.GET.get("status", "")
    if status not in Goal.Status.values:
        status = ""
    return render(
        request,
        "goals/team_goals.html",
        {
            "page": _page(request, selectors.team_goals(user=request.user, status=status), 25),
            "status": status,
            "statuses": Goal.Status.choices,
            "query": f"status={status}" if status else "",
        },
    )


@login_required
def approval_queue(request: HttpRequest) -> HttpResponse:
    if not (request.user.is_manager or request.user.is_admin):
        raise Http404
    return render(
        request,
        "goals/approval_queue.html",
        {"page": _page(request, selectors.approval_queue(user=request.user), 10), "form": DecisionForm()},
    )


@login_required
def goal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    goal = selectors.goal_get(user=request.user, pk=pk)
    user = request.user
    check = goal.smart or None
    if goal.status == Goal.Status.DRAFT and request.GET.get("check"):
        check = smart_check(goal, today=timezone.localdate())
    decider = selectors.can_decide(user=user, goal=goal)
    return render(
        request,
        "goals/goal_detail.html",
        {
            "goal": goal,
            "check": check,
            "history": selectors.goal_history(goal=goal),
            "milestones": list(goal.milestones.all()),
            "points": selectors.goal_chart(goal=goal),
            "children": selectors.goal_list(user=user).filter(parent=goal),
            "can_edit": selectors.can_edit(user=user, goal=goal),
            "can_decide": decider and goal.status == Goal.Status.SUBMITTED,
            "can_accept": goal.status == Goal.Status.PROPOSED and goal.owner_user_id == user.pk,
            "can_cancel": not goal.is_final and (decider or (goal.status in Goal.OPEN and (
                user.is_admin or user.pk in (goal.owner_user_id, goal.created_by_id)))),
            "form": DecisionForm(),
        },
    )  # fmt: skip


@login_required
def goal_create(request: HttpRequest) -> HttpResponse:
    form = GoalForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            goal = services.goal_create(actor=request.user, **form.service_values())
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Draft saved. Check it and submit it when it is ready."))
            return redirect("goals:goal_detail", pk=goal.pk)
    return render(request, "goals/goal_form.html", {"form": form})


@login_required
def goal_update(request: HttpRequest, pk: int) -> HttpResponse:
    goal = selectors.goal_get(user=request.user, pk=pk)
    if not selectors.can_edit(user=request.user, goal=goal):
        raise Http404
    form = GoalForm(request.POST or None, user=request.user, goal=goal)
    if request.method == "POST" and form.is_valid():
        try:
            services.goal_update(actor=request.user, goal=goal, **form.service_values())
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Draft saved."))
            return redirect("goals:goal_detail", pk=goal.pk)
    return render(request, "goals/goal_form.html", {"form": form, "goal": goal})


@login_required
@require_POST
def goal_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Submit, approve, reject, request changes, accept or cancel, with an optional comment."""
    goal = selectors.goal_get(user=request.user, pk=pk)
    if action not in ACTIONS:
        raise Http404
    service, done = ACTIONS[action]
    form = DecisionForm(request.POST)
    form.is_valid()
    extra = {"acknowledge_warnings": form.cleaned_data.get("acknowledge_warnings", False)}
    try:
        service(
            actor=request.user,
            goal=goal,
            comment=form.cleaned_data.get("comment", ""),
            **(extra if action == "approve" else {}),
        )
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, done)
    if request.POST.get("next") == "queue":
        return redirect("goals:approval_queue")
    return redirect("goals:goal_detail", pk=goal.pk)


@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "goals/notification_list.html",
        {"page": _page(request, selectors.notification_list(user=request.user), 25)},
    )


@login_required
@require_POST
def notification_read(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    notification = selectors.notification_get(user=request.user, pk=pk) if pk else None
    services.notification_mark_read(actor=request.user, notification=notification)
    if notification is not None and notification.goal_id:
        return redirect("goals:goal_detail", pk=notification.goal_id)
    return redirect("goals:notification_list")
