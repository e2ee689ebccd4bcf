"""Every state change of goals and notifications. Each service runs in a transaction.

Workflow (docs/goals.md): draft -> submitted -> approved | rejected | back to draft (changes requested)
-> active -> achieved | missed, and cancelled from any unfinished status. A manager may propose a goal
to a rep (draft -> proposed), which the rep accepts (-> approved) or sends back (-> draft). Each step
locks the goal row and moves it with an update conditioned on its current status, so of two people
deciding at once exactly one wins and the other gets a message saying what happened. Every step is
kept as a GoalTransition (who, when, from, to, comment).
"""

from __future__ import annotations

import datetime
import logging
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from goals import progress, selectors
from goals.models import Goal, GoalSnapshot, GoalTransition, Milestone, Notification
from goals.smart import smart_check
from kpis.definitions import KPI_BY_SLUG
from kpis.templatetags.kpi_format import kpi_value
from salesteam.i18n import Message, in_language_of, render_for
from salesteam.models import Deal, Team, User
from salesteam.selectors import current_team_ids

logger = logging.getLogger(__name__)

GOAL_FIELDS = (
    "title", "why", "owner_user", "owner_team", "metric", "segment", "category", "campaign", "touch_point",
    "start_on", "end_on", "target_kind", "target_value", "relative_change", "baseline_kind", "parent",
)  # fmt: skip
NARROWING = ("segment", "category", "campaign", "touch_point")
REMIND_AFTER = datetime.timedelta(days=2)


# --- Creating and editing ----------------------------------------------------------------------------


def _validate_draft(*, actor: User, goal: Goal, milestones: list[tuple[datetime.date, Decimal]]) -> None:
    """Checks what a draft must satisfy to be saved; the SMART check on submit checks the rest."""
    errors: dict[str, str] = {}
    users, teams = selectors.owner_choices(user=actor)
    if goal.owner_user_id and goal.owner_team_id:
        errors["owner"] = _("A goal belongs to a person or to a team, not both.")
    elif not (goal.owner_user_id or goal.owner_team_id):
        errors["owner"] = _("Choose who owns the goal.")
    elif goal.owner_user_id and goal.owner_user_id not in {u.pk for u in users}:
        errors["owner"] = _("You cannot set goals for this person.")
    elif goal.owner_team_id and goal.owner_team_id not in {t.pk for t in teams}:
        errors["owner"] = _("You cannot set goals for this team.")
    if goal.metric and goal.metric not in KPI_BY_SLUG:
        errors["metric"] = _("Unknown metric “%(metric)s”.") % {"metric": goal.metric}
    if sum(1 for name in NARROWING if getattr(goal, f"{name}_id")) > 1:
        errors["segment"] = _("Narrow the goal to one segment, category, campaign or touch point at most.")
    if goal.start_on and goal.end_on and goal.end_on < goal.start_on:
        errors["end_on"] = _("The end cannot be before the start.")
    if goal.target_kind not in Goal.TargetKind.values:
        errors["target_kind"] = _("Choose a value to reach or a change against a baseline.")
    if goal.baseline_kind not in Goal.Baseline.values:
        errors["baseline_kind"] = _("Choose the baseline period.")
    parent = goal.parent
    if parent is not None:
        if parent.owner_team_id is None or (goal.pk and parent.pk == goal.pk):
            errors["parent"] = _("A goal can only contribute to a team goal.")
        elif parent.status in Goal.FINAL:
            errors["parent"] = _("That team goal is closed.")
        elif goal.owner_team_id:
            errors["parent"] = _("A team goal does not contribute to another goal.")
        elif goal.owner_user_id and parent.owner_team_id not in current_team_ids(goal.owner_user):
            errors["parent"] = _("The team goal must belong to the owner's team.")
    days = [day for day, _value in milestones]
    if len(days) != len(set(days)):
        errors["milestones"] = _("Give each milestone its own date.")
    elif goal.start_on and goal.end_on and any(not goal.start_on <= d <= goal.end_on for d in days):
        errors["milestones"] = _("Milestones must fall within the goal's dates.")
    if errors:
        raise ValidationError(errors)


def _save_milestones(goal: Goal, milestones: list[tuple[datetime.date, Decimal]] | None) -> None:
    if milestones is None:
        return
    goal.milestones.all().delete()
    Milestone.objects.bulk_create(Milestone(goal=goal, due_on=d, value=v) for d, v in sorted(milestones))


@transaction.atomic
def goal_create(
    *,
    actor: User,
    title: str = "",
    why: str = "",
    owner_user: User | None = None,
    owner_team: Team | None = None,
    metric: str = "",
    segment=None,
    category=None,
    campaign=None,
    touch_point=None,
    start_on: datetime.date | None = None,
    end_on: datetime.date | None = None,
    target_kind: str = Goal.TargetKind.ABSOLUTE,
    target_value: Decimal | None = None,
    relative_change: Decimal | None = None,
    baseline_kind: str = Goal.Baseline.PREVIOUS,
    parent: Goal | None = None,
    milestones: list[tuple[datetime.date, Decimal]] | None = None,
) -> Goal:
    """Creates a draft goal for `owner_user` (by default the actor) or `owner_team`.

    Only the shape is checked here (who may own it, one narrowing, dates in order); the SMART check
    runs on submit. Called by the goal form and the API. Not idempotent: each call is a new goal.
    """
    if owner_user is None and owner_team is None:
        owner_user = actor
    goal = Goal(
        title=title.strip(), why=why, owner_user=owner_user, owner_team=owner_team, metric=metric,
        segment=segment, category=category, campaign=campaign, touch_point=touch_point,
        start_on=start_on, end_on=end_on, target_kind=target_kind, target_value=target_value,
        relative_change=relative_change, baseline_kind=baseline_kind, parent=parent, created_by=actor,
    )  # fmt: skip
    _validate_draft(actor=actor, goal=goal, milestones=milestones or [])
    goal.save()
    _save_milestones(goal, milestones or [])
    GoalTransition.objects.create(
        goal=goal, action="create", from_status="", to_status=goal.status, actor=actor
    )
    return goal


@transaction.atomic
def goal_update(
    *, actor: User, goal: Goal, milestones: list[tuple[datetime.date, Decimal]] | None = None, **changes: Any
) -> Goal:
    """Changes a draft. Refused unless the goal is a draft the actor may edit. Idempotent."""
    goal = Goal.objects.select_for_update().get(pk=goal.pk)
    if not selectors.is_editor(user=actor, goal=goal):
        raise PermissionDenied
    if goal.status != Goal.Status.DRAFT:
        status = goal.get_status_display()
        raise ValidationError(
            _("Only drafts can be changed; this goal is “%(status)s”.") % {"status": status}
        )
    unknown = set(changes) - set(GOAL_FIELDS)
    if unknown:
        raise ValueError(f"not goal fields: {sorted(unknown)}")
    for name, value in changes.items():
        setattr(goal, name, value.strip() if name == "title" and value else value)
    current = list(goal.milestones.values_list("due_on", "value")) if milestones is None else milestones
    _validate_draft(actor=actor, goal=goal, milestones=current)
    goal.save()
    _save_milestones(goal, milestones)
    return goal


# --- Workflow ----------------------------------------------------------------------------------------


def _lock(goal: Goal) -> Goal:
    return (
        Goal.objects.select_for_update(of=("self",))
        .select_related("owner_user", "owner_team")
        .get(pk=goal.pk)
    )


def _status_error(goal: Goal) -> ValidationError:
    """The message for someone acting on a goal that moved on: who moved it, to what, and when."""
    last = (
        goal.transitions.filter(actor__isnull=False)
        .select_related("actor")
        .order_by("-created_at", "-id")
        .first()
    )
    if last is None or last.actor is None:
        return ValidationError(
            _("This goal is “%(status)s” now; that is no longer possible.")
            % {"status": goal.get_status_display()}
        )
    return ValidationError(
        _("%(who)s already dealt with this goal on %(when)s: it is now “%(status)s”.")
        % {
            "who": last.actor.display_name,
            "status": goal.get_status_display(),
            "when": date_format(timezone.localtime(last.created_at), "DATETIME_FORMAT"),
        }
    )


def _move(
    goal: Goal, *, to: str, action: str, actor: User | None, comment: str = "", **updates: Any
) -> GoalTransition:
    """Moves a locked goal to `to`, conditioned on the status it was read with, and records it."""
    moved = Goal.objects.filter(pk=goal.pk, status=goal.status).update(
        status=to, updated_at=timezone.now(), **updates
    )
    if moved != 1:
        goal.refresh_from_db()
        raise _status_error(goal)
    transition = GoalTransition.objects.create(
        goal=goal, action=action, from_status=goal.status, to_status=to, actor=actor, comment=comment
    )
    goal.status = to
    for name, value in updates.items():
        setattr(goal, name, value)
    return transition


def _require(goal: Goal, *statuses: str) -> None:
    if goal.status not in statuses:
        raise _status_error(goal)


def _check_or_raise(goal: Goal) -> dict:
    check = smart_check(goal, today=timezone.localdate())
    if check["errors"]:
        raise ValidationError(check["errors"])
    return check


def _freeze_baseline(goal: Goal) -> dict:
    baseline = progress.baseline_value(goal)
    return {
        "baseline_value": progress.q(baseline),
        "target_value": progress.target_from(goal, baseline),
        "baseline_frozen_at": timezone.now(),
    }


def _start_if_due(goal: Goal) -> None:
    if goal.status == Goal.Status.APPROVED and goal.start_on <= timezone.localdate():
        _move(goal, to=Goal.Status.ACTIVE, action="start", actor=None)


def _after_agreement(goal: Goal) -> None:
    from goals.tasks import refresh_goal

    transaction.on_commit(lambda: refresh_goal.delay(goal.pk))


@transaction.atomic
def goal_submit(*, actor: User, goal: Goal, comment: str = "") -> Goal:
    """Runs the SMART check on a draft and sends it on: to the approvers when the owner (or, for a team
    goal, a manager of the team) submits it; to the owner as a proposal when their manager submits it.

    Hard errors raise a ValidationError with a message per field and leave the draft as it was.
    Refused for anything but a draft. Called by the goal page and the API.
    """
    goal = _lock(goal)
    if not selectors.is_editor(user=actor, goal=goal):
        raise PermissionDenied
    _require(goal, Goal.Status.DRAFT)
    check = _check_or_raise(goal)
    now = timezone.now()
    proposal = goal.owner_user_id is not None and goal.owner_user_id != actor.pk
    if proposal:
        if not selectors.can_decide(user=actor, goal=goal):
            raise PermissionDenied
        transition = _move(
            goal, to=Goal.Status.PROPOSED, action="propose", actor=actor, comment=comment,
            smart=check, submitted_at=now, warnings_acknowledged=bool(check["warnings"]),
        )  # fmt: skip
        _notify(
            recipients=[goal.owner_user],
            goal=goal,
            kind="proposed",
            key=f"proposed:{transition.pk}",
            message=lambda: (
                _("%(who)s proposes the goal “%(goal)s” to you: accept it or send it back.")
                % {"who": actor.display_name, "goal": goal}
            ),
        )
        return goal
    transition = _move(
        goal, to=Goal.Status.SUBMITTED, action="submit", actor=actor, comment=comment,
        smart=check, submitted_at=now, warnings_acknowledged=False,
    )  # fmt: skip
    _notify(
        recipients=selectors.approvers_for(goal),
        goal=goal,
        kind="submitted",
        key=f"submitted:{transition.pk}",
        message=lambda: (
            _("%(who)s submitted the goal “%(goal)s” for your approval.")
            % {"who": actor.display_name, "goal": goal}
        ),
    )
    return goal


@transaction.atomic
def goal_approve(*, actor: User, goal: Goal, comment: str = "", acknowledge_warnings: bool = False) -> Goal:
    """Approves a submitted goal and freezes its baseline and target; it becomes active on its start.

    The SMART check runs again: hard errors refuse, and warnings must be acknowledged explicitly.
    Of two approvers acting at once exactly one wins; the other gets a ValidationError naming who
    decided. Called by the approval queue, the goal page and the API.
    """
    goal = _lock(goal)
    if not selectors.can_decide(user=actor, goal=goal):
        raise PermissionDenied
    _require(goal, Goal.Status.SUBMITTED)
    check = _check_or_raise(goal)
    if check["warnings"] and not acknowledge_warnings:
        raise ValidationError(
            {"acknowledge_warnings": [_("Acknowledge the warnings to approve: %(warnings)s")
                                      % {"warnings": " ".join(check["warnings"])}]}
        )  # fmt: skip
    transition = _move(
        goal, to=Goal.Status.APPROVED, action="approve", actor=actor, comment=comment, smart=check,
        decided_by=actor, decided_at=timezone.now(), warnings_acknowledged=bool(check["warnings"]),
        **_freeze_baseline(goal),
    )  # fmt: skip
    _start_if_due(goal)
    _notify_owner(goal, actor, "approved", transition, gettext_lazy("%(who)s approved your goal “%(goal)s”."))
    _after_agreement(goal)
    return goal


@transaction.atomic
def goal_accept(*, actor: User, goal: Goal, comment: str = "") -> Goal:
    """The owner accepts a goal their manager proposed; it is then approved, its baseline frozen."""
    goal = _lock(goal)
    if actor.pk != goal.owner_user_id:
        raise PermissionDenied
    _require(goal, Goal.Status.PROPOSED)
    check = _check_or_raise(goal)
    transition = _move(
        goal, to=Goal.Status.APPROVED, action="accept", actor=actor, comment=comment, smart=check,
        decided_by=goal.created_by, decided_at=timezone.now(), **_freeze_baseline(goal),
    )  # fmt: skip
    _start_if_due(goal)
    _notify(
        recipients=[goal.created_by],
        goal=goal,
        kind="accepted",
        key=f"accepted:{transition.pk}",
        message=lambda: (
            _("%(who)s accepted the goal “%(goal)s”.") % {"who": actor.display_name, "goal": goal}
        ),
    )
    _after_agreement(goal)
    return goal


@transaction.atomic
def goal_reject(*, actor: User, goal: Goal, comment: str = "") -> Goal:
    """Rejects a submitted goal for good (the owner may start a new one)."""
    goal = _lock(goal)
    if not selectors.can_decide(user=actor, goal=goal):
        raise PermissionDenied
    _require(goal, Goal.Status.SUBMITTED)
    transition = _move(
        goal, to=Goal.Status.REJECTED, action="reject", actor=actor, comment=comment,
        decided_by=actor, decided_at=timezone.now(),
    )  # fmt: skip
    _notify_owner(goal, actor, "rejected", transition, gettext_lazy("%(who)s rejected your goal “%(goal)s”."))
    return goal


@transaction.atomic
def goal_request_changes(*, actor: User, goal: Goal, comment: str = "") -> Goal:
    """Sends a goal back to draft: a submitted goal by its approver, a proposed goal by its owner."""
    goal = _lock(goal)
    if goal.status == Goal.Status.PROPOSED:
        if actor.pk != goal.owner_user_id:
            raise PermissionDenied
        transition = _move(goal, to=Goal.Status.DRAFT, action="send_back", actor=actor, comment=comment)
        _notify(
            recipients=[goal.created_by],
            goal=goal,
            kind="sent_back",
            key=f"sent_back:{transition.pk}",
            message=lambda: (
                _("%(who)s sent the proposed goal “%(goal)s” back to you.")
                % {"who": actor.display_name, "goal": goal}
            ),
        )
        return goal
    if not selectors.can_decide(user=actor, goal=goal):
        raise PermissionDenied
    _require(goal, Goal.Status.SUBMITTED)
    transition = _move(goal, to=Goal.Status.DRAFT, action="request_changes", actor=actor, comment=comment)
    _notify_owner(
        goal,
        actor,
        "changes_requested",
        transition,
        gettext_lazy("%(who)s asks for changes to your goal “%(goal)s”."),
    )
    return goal


@transaction.atomic
def goal_cancel(*, actor: User, goal: Goal, comment: str = "") -> Goal:
    """Cancels an unfinished goal. A goal not yet agreed may be cancelled by whoever may edit it or
    decide on it; an agreed (approved or active) goal only by someone who may decide on it."""
    goal = _lock(goal)
    decider = selectors.can_decide(user=actor, goal=goal)
    editor = selectors.is_editor(user=actor, goal=goal)
    if goal.status in Goal.RUNNING and not decider:
        raise PermissionDenied
    if not (decider or editor):
        raise PermissionDenied
    _require(goal, *Goal.OPEN, *Goal.RUNNING)
    transition = _move(
        goal,
        to=Goal.Status.CANCELLED,
        action="cancel",
        actor=actor,
        comment=comment,
        closed_at=timezone.now(),
    )
    _notify_owner(
        goal, actor, "cancelled", transition, gettext_lazy("%(who)s cancelled the goal “%(goal)s”.")
    )
    return goal


# --- Progress and closing ----------------------------------------------------------------------------


def goal_refresh(*, goal_id: int, today: datetime.date | None = None) -> Goal | None:
    """Recomputes a running goal's progress from the engine, starts it on its first day and closes it
    as achieved or missed once its period has ended, whatever happened in it (no activity at all
    means the value the engine gives for an empty range).

    Idempotent: the progress is replaced, the day's snapshot is keyed by (goal, day), and a closed goal
    is left alone. Called by the nightly follow-up, the per-minute refresh and after approval.
    Returns None if the goal is gone.
    """
    today = today or timezone.localdate()
    with transaction.atomic():
        goal = (
            Goal.objects.select_for_update(of=("self",))
            .select_related("owner_user", "owner_team")
            .filter(pk=goal_id)
        )
        goal = goal.first()
        if goal is None:
            return None
        if goal.status not in Goal.RUNNING:
            return goal
        if goal.status == Goal.Status.APPROVED and goal.start_on <= today:
            _move(goal, to=Goal.Status.ACTIVE, action="start", actor=None)
        # Stamped before measuring: a deal saved while the engine reads is caught by the next refresh.
        started = timezone.now()
        measured = progress.measure(goal, today=today)
        fields = {
            "current_value": measured.value,
            "expected_value": measured.expected,
            "forecast_value": measured.forecast,
            "percent_of_target": measured.percent_of_target,
            "elapsed": measured.elapsed,
            "pace_basis": measured.basis,
            "pace": measured.pace,
            "progress_refreshed_at": started,
        }
        Goal.objects.filter(pk=goal.pk).update(**fields)
        for name, value in fields.items():
            setattr(goal, name, value)
        if today >= goal.start_on:
            GoalSnapshot.objects.update_or_create(
                goal=goal,
                day=min(today, goal.end_on),
                defaults={"value": measured.value, "expected": measured.expected},
            )
        if measured.finished and goal.status == Goal.Status.ACTIVE:
            to = Goal.Status.ACHIEVED if measured.achieved else Goal.Status.MISSED
            kpi = goal.kpi

            def final_note() -> str:
                return _("Final value %(value)s against a target of %(target)s.") % {
                    "value": kpi_value(measured.value, kpi.unit),
                    "target": kpi_value(measured.target, kpi.unit),
                }

            def message() -> str:
                text = (
                    _("Well done: your goal “%(goal)s” is achieved. %(note)s")
                    if to == Goal.Status.ACHIEVED
                    else _("Your goal “%(goal)s” ended without reaching its target. %(note)s")
                )
                return text % {"goal": goal, "note": final_note()}

            transition = _move(
                goal, to=to, action="close", actor=None, comment=final_note(), closed_at=timezone.now()
            )
            _notify(
                recipients=selectors.owner_recipients(goal),
                goal=goal,
                kind=to,
                key=f"{to}:{transition.pk}",
                message=message,
            )
    return goal


def goals_refresh_all(*, today: datetime.date | None = None) -> dict[str, int]:
    """Refreshes every approved and active goal, starting and closing them as due. Idempotent.

    Called by the follow-up task of each published KPI run (nightly). Each goal is refreshed in its
    own transaction, so one failing goal does not hold back the others.
    """
    today = today or timezone.localdate()
    counts = {"refreshed": 0, "achieved": 0, "missed": 0}
    ids = list(Goal.objects.filter(status__in=Goal.RUNNING).order_by("pk").values_list("pk", flat=True))
    for goal_id in ids:
        goal = goal_refresh(goal_id=goal_id, today=today)
        if goal is None:
            continue
        counts["refreshed"] += 1
        if goal.status in counts:
            counts[str(goal.status)] += 1
    return counts


def goals_refresh_changed(*, today: datetime.date | None = None) -> list[int]:
    """Refreshes the running goals whose owner's deals changed (created, edited or deleted) since the
    goal was last refreshed, and those never refreshed. Called every minute by Celery beat. Idempotent.
    """
    history = Deal.history.model
    refreshed = OuterRef("progress_refreshed_at")
    by_rep = Q(owner_user__isnull=False) & (
        Exists(Deal.objects.filter(rep_id=OuterRef("owner_user_id"), updated_at__gt=refreshed))
        | Exists(history.objects.filter(rep_id=OuterRef("owner_user_id"), history_date__gt=refreshed))
    )
    by_team = Q(owner_team__isnull=False) & (
        Exists(Deal.objects.filter(team_id=OuterRef("owner_team_id"), updated_at__gt=refreshed))
        | Exists(history.objects.filter(team_id=OuterRef("owner_team_id"), history_date__gt=refreshed))
    )
    ids = list(
        Goal.objects.filter(status__in=Goal.RUNNING)
        .filter(Q(progress_refreshed_at__isnull=True) | by_rep | by_team)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for goal_id in ids:
        goal_refresh(goal_id=goal_id, today=today)
    return ids


@transaction.atomic
def goals_remind_waiting(*, now: datetime.datetime | None = None) -> int:
    """Reminds approvers of goals submitted more than two days ago, and owners of proposals waiting as
    long; at most once a day per goal and person (keyed by the day). Called daily by Celery beat.
    Returns the number of reminders created."""
    now = now or timezone.now()
    day = timezone.localdate(now).isoformat()
    created = 0
    waiting = Goal.objects.filter(
        status__in=[Goal.Status.SUBMITTED, Goal.Status.PROPOSED], submitted_at__lt=now - REMIND_AFTER
    ).select_related("owner_user", "owner_team")
    for goal in waiting:
        if goal.status == Goal.Status.SUBMITTED:
            recipients = selectors.approvers_for(goal)
            template = gettext_lazy(
                "Reminder: the goal “%(goal)s” has been waiting for your approval since %(since)s."
            )
        else:
            recipients = [goal.owner_user]
            template = gettext_lazy(
                "Reminder: the goal “%(goal)s” proposed to you on %(since)s is waiting for you."
            )

        def message(goal=goal, template=template) -> str:
            since = date_format(timezone.localtime(goal.submitted_at), "DATE_FORMAT")
            return template % {"goal": goal, "since": since}

        created += len(
            _notify(
                recipients=recipients,
                goal=goal,
                kind="reminder",
                key=f"reminder:{goal.pk}:{day}",
                message=message,
            )
        )
    return created


# --- Notifications -----------------------------------------------------------------------------------


def _notify_owner(goal: Goal, actor: User, kind: str, transition: GoalTransition, template: Promise) -> None:
    """Notifies the goal's owner (or its team's managers), but not the actor; `template` is a lazy
    translation with %(who)s and %(goal)s, rendered in each recipient's language."""
    recipients = [u for u in selectors.owner_recipients(goal) if u.pk != actor.pk]
    _notify(
        recipients=recipients,
        goal=goal,
        kind=kind,
        key=f"{kind}:{transition.pk}",
        message=lambda: template % {"who": actor.display_name, "goal": goal},
    )


def _notify(
    *, recipients: list[User], goal: Goal | None, kind: str, key: str, message: Message
) -> list[Notification]:
    """Creates one notification per recipient, unless one with the same key exists (so repeats are
    no-ops), and e-mails each new one after commit. A callable `message` is written in each
    recipient's language."""
    from goals.tasks import send_notification_email

    created = []
    for recipient in {r.pk: r for r in recipients if r is not None}.values():
        notification, is_new = Notification.objects.get_or_create(
            recipient=recipient,
            key=key,
            defaults={"goal": goal, "kind": kind, "message": render_for(recipient, message)[:500]},
        )
        if is_new:
            created.append(notification)
            if recipient.email:
                transaction.on_commit(lambda pk=notification.pk: send_notification_email.delay(pk))
    return created


def notification_send_email(*, notification_id: int) -> bool:
    """E-mails one notification, once: the row is claimed by setting `emailed_at` with a conditional
    update, and released again if sending fails so that the task's retry sends it. Returns whether an
    e-mail went out. Called by the `send_notification_email` task."""
    claimed = Notification.objects.filter(pk=notification_id, emailed_at__isnull=True).update(
        emailed_at=timezone.now()
    )
    if not claimed:
        return False
    notification = Notification.objects.select_related("recipient").get(pk=notification_id)
    link = reverse("goals:goal_detail", args=[notification.goal_id]) if notification.goal_id else ""
    with in_language_of(notification.recipient):
        subject = _("Salesteam: %(message)s") % {"message": notification.message[:120]}
    try:
        send_mail(
            subject=subject,
            message=f"{notification.message}\n\n{link}".strip(),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[notification.recipient.email],
        )
    except Exception:
        Notification.objects.filter(pk=notification_id).update(emailed_at=None)
        raise
    return True


@transaction.atomic
def notification_mark_read(*, actor: User, notification: Notification | None = None) -> int:
    """Marks one notification of the actor read, or all of them; returns how many changed. Idempotent."""
    unread = Notification.objects.filter(recipient=actor, read_at__isnull=True)
    if notification is not None:
        unread = unread.filter(pk=notification.pk)
    return unread.update(read_at=timezone.now())
