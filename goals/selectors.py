"""Reads of goals and notifications, each scoped to what the requesting user may see.

A rep sees their own goals and their team's goals; a manager also the goals of the reps and teams they
manage and of the people whose manager they are; an admin everything. Anything outside that scope
answers 404, like a missing one.
"""

from __future__ import annotations

from django.db.models import BooleanField, Count, ExpressionWrapper, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from goals.models import Goal, GoalTransition, Notification
from salesteam.models import Role, Team, User
from salesteam.selectors import (
    current_team_ids,
    current_teams_subquery,
    managed_team_ids,
    managed_teams_subquery,
    member_ids,
)


def goal_scope(user: User) -> Q:
    """The condition on Goal that `user` may see."""
    if user.is_admin:
        return Q()
    today = timezone.localdate()
    scope = Q(owner_user=user) | Q(created_by=user) | Q(owner_team_id__in=current_teams_subquery(user))
    if user.is_manager:
        managed = managed_teams_subquery(user)
        scope |= Q(owner_user_id__in=member_ids(managed, today)) | Q(owner_team_id__in=managed)
        scope |= approvable_q(user)
    return scope


def approvable_q(user: User) -> Q:
    """The condition on Goal for goals `user` may decide on (approve, reject, send back, cancel).

    The manager of a rep's team decides on the rep's goals; a manager's own goal and a team goal go to
    the manager's own manager (User.manager) or an admin. Nobody decides on their own goal, and the
    managers of a team not on their team's goal.
    """
    if not (user.is_admin or user.is_manager):
        return Q(pk__in=[])
    managed = managed_teams_subquery(user)
    own = Q(owner_user=user) | Q(owner_team_id__in=managed)
    if user.is_admin:
        return ~own
    reps = User.objects.filter(role=Role.REP, pk__in=member_ids(managed))
    mine = (
        Q(owner_user_id__in=reps.values("pk"))
        | Q(owner_user__manager=user)
        | Q(owner_team_id__in=Team.objects.filter(managers__manager=user).values("pk"))
    )
    return mine & ~own


def can_decide(*, user: User, goal: Goal) -> bool:
    return Goal.objects.filter(approvable_q(user), pk=goal.pk).exists()


def is_editor(*, user: User, goal: Goal) -> bool:
    """The goal's owner, its author, a manager of the owning team or an admin."""
    if user.is_admin or user.pk in (goal.owner_user_id, goal.created_by_id):
        return True
    return bool(goal.owner_team_id and goal.owner_team_id in managed_team_ids(user))


def can_edit(*, user: User, goal: Goal) -> bool:
    """Drafts are edited (and submitted) by their editors."""
    return goal.status == Goal.Status.DRAFT and is_editor(user=user, goal=goal)


def approvers_for(goal: Goal) -> list[User]:
    """Who is asked to approve a submitted goal (see `approvable_q`), most specific first."""
    owner = goal.owner_user
    candidates: QuerySet[User] = User.objects.none()
    if owner is not None and owner.role == Role.REP:
        teams = current_team_ids(owner)
        candidates = User.objects.filter(managed_teams__in=teams).exclude(pk=owner.pk)
    elif owner is not None and owner.manager_id and owner.manager_id != owner.pk:
        candidates = User.objects.filter(pk=owner.manager_id)
    elif goal.owner_team_id:
        team_managers = User.objects.filter(managed_teams=goal.owner_team_id)
        candidates = User.objects.filter(pk__in=team_managers.values("manager_id")).exclude(
            pk__in=team_managers.values("pk")
        )
    found = list(candidates.filter(is_active=True).distinct())
    if not found:
        excluded = {owner.pk} if owner else set(_managers_of(goal.owner_team_id))
        admins = User.objects.filter(Q(role=Role.ADMIN) | Q(is_superuser=True), is_active=True)
        found = [u for u in admins.order_by("pk") if u.pk not in excluded]
    return found


def _managers_of(team_id: int | None) -> list[int]:
    if team_id is None:
        return []
    return list(User.objects.filter(managed_teams=team_id).values_list("pk", flat=True))


def owner_recipients(goal: Goal) -> list[User]:
    """Who hears about decisions on a goal: its owner, or the managers of the owning team."""
    if goal.owner_user_id:
        return [goal.owner_user]
    return list(User.objects.filter(managed_teams=goal.owner_team_id, is_active=True))


def owner_choices(*, user: User) -> tuple[list[User], list[Team]]:
    """Whom `user` may create goals for: themselves, the reps of their teams (a proposal) and, for
    managers, the teams they manage; admins anyone."""
    if user.is_admin:
        return list(User.objects.filter(is_active=True)), list(Team.objects.all())
    if user.is_manager:
        managed = managed_team_ids(user)
        reps = User.objects.filter(
            Q(pk=user.pk) | Q(pk__in=member_ids(managed), role=Role.REP),
            is_active=True,
        )
        return list(reps), list(Team.objects.filter(pk__in=managed))
    return [user], []


def goal_list(*, user: User) -> QuerySet[Goal]:
    return (
        Goal.objects.filter(goal_scope(user))
        .select_related(
            "owner_user", "owner_team", "segment", "category", "campaign", "touch_point", "created_by"
        )
        .order_by("-created_at", "-id")
    )


def goal_get(*, user: User, pk: int) -> Goal:
    return get_object_or_404(goal_list(user=user).select_related("parent", "decided_by"), pk=pk)


def _mine(user: User) -> Q:
    return Q(owner_user=user) | Q(owner_team_id__in=current_teams_subquery(user))


def _others(user: User) -> Q:
    return ~Q(owner_user=user)


def _waiting_for(user: User) -> Q:
    return approvable_q(user) & Q(status=Goal.Status.SUBMITTED)


def _proposed_to(user: User) -> Q:
    return Q(owner_user=user, status=Goal.Status.PROPOSED)


def my_goals(*, user: User) -> QuerySet[Goal]:
    """The user's own goals and their team's, newest period first; cancelled and rejected ones last."""
    return goal_list(user=user).filter(_mine(user)).order_by("-end_on", "-id")


def team_goals(*, user: User, status: str = "") -> QuerySet[Goal]:
    """Goals of other people and of teams that a manager or admin oversees."""
    goals = goal_list(user=user).filter(_others(user))
    if status:
        goals = goals.filter(status=status)
    return goals


def approval_queue(*, user: User) -> QuerySet[Goal]:
    """Submitted goals waiting for `user`'s decision, oldest first."""
    return goal_list(user=user).filter(_waiting_for(user)).order_by("submitted_at", "id")


def proposals_for(*, user: User) -> QuerySet[Goal]:
    """Goals a manager proposed to `user`, waiting for them to accept or send back."""
    return goal_list(user=user).filter(_proposed_to(user))


# What attention_counts counts (the user's running goals under their pace's name), of these statuses.
ATTENTION_COUNTS = [
    *Goal.Pace.values,
    "drafts",
    "proposals",
    "others_at_risk",
    "others_off_track",
    "waiting_for_me",
]
ATTENTION_STATUSES = [Goal.Status.ACTIVE, Goal.Status.DRAFT, Goal.Status.PROPOSED, Goal.Status.SUBMITTED]


def attention_counts(*, user: User) -> dict[str, int]:
    """In one query: the user's running goals by pace and their drafts, proposals to answer, goals
    waiting for their decision (managers and admins), and other people's running goals behind pace.

    The goals are grouped by status, pace and what each condition says of them, so that each condition
    (some of them subqueries) is written into the query once; the few groups are tallied here.
    """
    conditions = {"mine": _mine(user), "owned": Q(owner_user=user)}
    if user.is_admin or user.is_manager:
        conditions["waiting"] = _waiting_for(user)
    groups = (
        Goal.objects.filter(goal_scope(user), status__in=ATTENTION_STATUSES)
        .annotate(
            **{name: ExpressionWrapper(q, output_field=BooleanField()) for name, q in conditions.items()}
        )
        .values("status", "pace", *conditions)
        .annotate(count=Count("pk"))
        .order_by()
    )
    counts = dict.fromkeys(ATTENTION_COUNTS, 0)
    for group in groups:
        status, pace, count = group["status"], group["pace"], group["count"]
        running = status == Goal.Status.ACTIVE
        if group["mine"] and running and pace:
            counts[pace] += count
        if group["mine"] and status == Goal.Status.DRAFT:
            counts["drafts"] += count
        if group["owned"] and status == Goal.Status.PROPOSED:
            counts["proposals"] += count
        if not group["owned"] and running and pace in (Goal.Pace.AT_RISK, Goal.Pace.OFF_TRACK):
            counts[f"others_{pace}"] += count
        if group.get("waiting"):
            counts["waiting_for_me"] += count
    return counts


def my_day(*, user: User) -> dict:
    """A summary for the goals page: running goals by pace, proposals and approvals waiting."""
    counts = attention_counts(user=user)
    return {
        name: counts[name]
        for name in ("on_track", "at_risk", "off_track", "proposals", "drafts", "waiting_for_me")
    }


def goal_history(*, goal: Goal) -> QuerySet[GoalTransition]:
    return goal.transitions.select_related("actor").order_by("created_at", "id")


def goal_chart(*, goal: Goal) -> list:
    return list(goal.snapshots.order_by("day").values_list("day", "value", "expected"))


def notification_list(*, user: User) -> QuerySet[Notification]:
    return Notification.objects.filter(recipient=user).select_related("goal").order_by("-created_at", "-id")


def notification_get(*, user: User, pk: int) -> Notification:
    return get_object_or_404(notification_list(user=user), pk=pk)


def unread_count(*, user: User) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()
