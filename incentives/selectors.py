"""Reads of recognition: feeds, profiles, streaks, badges and kudos, scoped to what the user may see.

A rep sees the recognition of their current teams, a manager also that of the teams they manage, an
admin everything. A person, team or kudos outside that scope answers 404, like a missing one.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Coalesce, TruncDate
from django.shortcuts import get_object_or_404
from django.utils import timezone

from incentives.models import Badge, Kudos, KudosReaction, NotificationPreference, TeamHoliday, WallboardLink
from salesteam import selectors as sales_selectors
from salesteam.models import Deal, Membership, Team, User

# How far back activity streaks look: a longer streak shows as this many days.
STREAK_WINDOW_DAYS = 366


# --- Access ------------------------------------------------------------------------------------------


def visible_team_ids(user: User) -> list[int] | None:
    """Teams whose recognition the user may see; None means every team."""
    if user.is_admin:
        return None
    ids = set(sales_selectors.current_team_ids(user))
    if user.is_manager:
        ids |= set(sales_selectors.managed_team_ids(user))
    return sorted(ids)


def team_list(*, user: User) -> QuerySet[Team]:
    ids = visible_team_ids(user)
    teams = Team.objects.order_by("name")
    return teams if ids is None else teams.filter(pk__in=ids)


def team_get(*, user: User, pk: int) -> Team:
    return get_object_or_404(team_list(user=user), pk=pk)


def team_members(*, team: Team, day: datetime.date | None = None) -> list[User]:
    day = day or timezone.localdate()
    ids = Membership.objects.on(day).filter(team=team).values("user_id")
    return list(User.objects.filter(pk__in=ids, is_active=True).order_by("full_name", "username"))


def person_get(*, user: User, pk: int) -> User:
    """A person whose profile the user may open: themselves or a current member of a visible team."""
    if pk == user.pk:
        return user
    ids = visible_team_ids(user)
    members = Membership.objects.on(timezone.localdate())
    if ids is not None:
        members = members.filter(team_id__in=ids)
    return get_object_or_404(User.objects.filter(pk__in=members.values("user_id")), pk=pk)


def main_team_ids(user_ids: list[int], day: datetime.date) -> dict[int, int]:
    """Each user's current team (the one joined last), in one query."""
    rows = (
        Membership.objects.on(day)
        .filter(user_id__in=user_ids)
        .order_by("user_id", "valid_from")
        .values_list("user_id", "team_id")
    )
    return dict(rows)


# --- Kudos -------------------------------------------------------------------------------------------


def kudos_scope(user: User) -> Q:
    ids = visible_team_ids(user)
    if ids is None:
        return Q()
    return Q(team_id__in=ids) | Q(sender=user) | Q(recipient=user)


def kudos_list(*, user: User) -> QuerySet[Kudos]:
    return (
        Kudos.objects.filter(kudos_scope(user))
        .select_related("sender", "recipient", "team", "deal", "goal")
        .prefetch_related("reactions")
        .order_by("-created_at", "-id")
    )


def kudos_get(*, user: User, pk: int) -> Kudos:
    return get_object_or_404(kudos_list(user=user), pk=pk)


def reaction_counts(kudos: Kudos) -> list[dict]:
    """Counts per emoji from the prefetched reactions (no query)."""
    counts: dict[str, int] = defaultdict(int)
    for reaction in kudos.reactions.all():
        counts[reaction.emoji] += 1
    return [
        {"emoji": value, "label": label, "count": counts.get(value, 0)}
        for value, label in KudosReaction.Emoji.choices
    ]


def kudos_recipient_choices(*, user: User) -> QuerySet[User]:
    """Colleagues the user can thank: every active person in the company except themselves."""
    return User.objects.filter(is_active=True).exclude(pk=user.pk).order_by("full_name", "username")


def shout_out_team_ids(user: User) -> list[int]:
    """Teams the user may post a shout-out to: managed teams; every team for admins."""
    if user.is_admin:
        return list(Team.objects.values_list("pk", flat=True))
    return sales_selectors.managed_team_ids(user) if user.is_manager else []


def deal_visible_to(*, deal_id: int, users: list[User]) -> bool:
    return all(Deal.objects.filter(sales_selectors.deal_scope(u), pk=deal_id).exists() for u in users)


def goal_visible_to(*, goal_id: int, users: list[User]) -> bool:
    from goals.models import Goal
    from goals.selectors import goal_scope

    return all(Goal.objects.filter(goal_scope(u), pk=goal_id).exists() for u in users)


# --- Badges ------------------------------------------------------------------------------------------


def badge_list(*, user: User) -> QuerySet[Badge]:
    """Badges of the people in the teams the user sees, and the user's own."""
    ids = visible_team_ids(user)
    badges = Badge.objects.select_related("rule", "user").order_by("-awarded_on", "-id")
    if ids is None:
        return badges
    members = Membership.objects.on(timezone.localdate()).filter(team_id__in=ids).values("user_id")
    return badges.filter(Q(user=user) | Q(user_id__in=members))


# --- Streaks -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Streak:
    length: int
    started_on: datetime.date | None


def holidays_by_user(user_ids: list[int], day: datetime.date) -> dict[int, set[datetime.date]]:
    """The holidays of each user's current teams, in two queries."""
    team_of = defaultdict(set)
    for user_id, team_id in (
        Membership.objects.on(day).filter(user_id__in=user_ids).values_list("user_id", "team_id")
    ):
        team_of[team_id].add(user_id)
    days: dict[int, set[datetime.date]] = defaultdict(set)
    since = day - datetime.timedelta(days=STREAK_WINDOW_DAYS)
    for team_id, holiday in TeamHoliday.objects.filter(team_id__in=list(team_of), day__gte=since).values_list(
        "team_id", "day"
    ):
        for user_id in team_of[team_id]:
            days[user_id].add(holiday)
    return days


def active_days(user_ids: list[int], since: datetime.date) -> dict[int, set[datetime.date]]:
    """Days (in the installation's time zone) on which each user logged or changed a deal: a deal
    history row made by them, or, for rows without a user (imports, the shell), on their deal."""
    start = timezone.make_aware(datetime.datetime.combine(since, datetime.time.min))
    rows = (
        Deal.history.filter(history_date__gte=start)
        .filter(Q(history_user_id__in=user_ids) | Q(history_user__isnull=True, rep_id__in=user_ids))
        .annotate(who=Coalesce("history_user_id", "rep_id"), day=TruncDate("history_date"))
        .order_by()
        .values_list("who", "day")
        .distinct()
    )
    days: dict[int, set[datetime.date]] = defaultdict(set)
    for who, day in rows:
        days[who].add(day)
    return days


def working_day_streak(
    active: set[datetime.date], holidays: set[datetime.date], today: datetime.date
) -> Streak:
    """Consecutive working days with activity, back from today. Weekends and holidays are skipped
    (they neither count nor break the streak); today counts if active and does not break it if not."""
    length, started, day = 0, None, today
    floor = today - datetime.timedelta(days=STREAK_WINDOW_DAYS)
    while day > floor:
        if day.weekday() < 5 and day not in holidays:
            if day in active:
                length, started = length + 1, day
            elif day != today:
                break
        day -= datetime.timedelta(days=1)
    return Streak(length, started)


def activity_streaks(*, user_ids: list[int], today: datetime.date | None = None) -> dict[int, Streak]:
    """Each user's current streak of working days with deal activity; three queries for any number."""
    today = today or timezone.localdate()
    since = today - datetime.timedelta(days=STREAK_WINDOW_DAYS)
    active = active_days(user_ids, since)
    holidays = holidays_by_user(user_ids, today)
    return {
        user_id: working_day_streak(active.get(user_id, set()), holidays.get(user_id, set()), today)
        for user_id in user_ids
    }


def goal_streaks(*, user_ids: list[int]) -> dict[int, tuple[int, int | None]]:
    """Each user's goals achieved in a row: the rep's individual goals that ended (achieved or missed),
    by end date; the streak counts the achieved ones since the last missed. {user: (length, first id)}."""
    from goals.models import Goal

    rows = (
        Goal.objects.filter(owner_user_id__in=user_ids, status__in=[Goal.Status.ACHIEVED, Goal.Status.MISSED])
        .order_by("owner_user_id", "-end_on", "-id")
        .values_list("owner_user_id", "pk", "status")
    )
    streaks: dict[int, tuple[int, int | None]] = dict.fromkeys(user_ids, (0, None))
    broken: set[int] = set()
    for owner, pk, status in rows:
        if owner in broken:
            continue
        if status != Goal.Status.ACHIEVED:
            broken.add(owner)
            continue
        length, _first = streaks[owner]
        streaks[owner] = (length + 1, pk)  # walking back: the last one seen starts the streak
    return streaks


# --- Feed and profile --------------------------------------------------------------------------------


def feed(*, user: User, team: Team, limit: int = 30) -> list[dict]:
    """Recent badges and kudos of a team (already checked visible through `team_get`), newest first."""
    today = timezone.localdate()
    members = Membership.objects.on(today).filter(team=team).values("user_id")
    badges = list(
        Badge.objects.filter(user_id__in=members)
        .select_related("rule", "user")
        .order_by("-created_at")[:limit]
    )
    kudos = list(
        Kudos.objects.filter(team=team)
        .select_related("sender", "recipient", "deal", "goal")
        .prefetch_related("reactions")
        .order_by("-created_at")[:limit]
    )
    items = [{"kind": "badge", "when": b.created_at, "badge": b} for b in badges]
    items += [
        {"kind": "kudos", "when": k.created_at, "kudos": k, "reactions": reaction_counts(k)} for k in kudos
    ]
    return sorted(items, key=lambda item: item["when"], reverse=True)[:limit]


def goals_achieved(*, user_ids: list[int], since: datetime.date | None = None):
    from goals.models import Goal

    goals = Goal.objects.filter(owner_user_id__in=user_ids, status=Goal.Status.ACHIEVED).select_related(
        "owner_user"
    )
    if since is not None:
        goals = goals.filter(end_on__gte=since)
    return goals.order_by("-end_on", "-id")


def profile(*, user: User, person: User) -> dict:
    """A person's recognition: badges, streaks, goals achieved and kudos received (those the user sees)."""
    today = timezone.localdate()
    return {
        "person": person,
        "badges": list(
            Badge.objects.filter(user=person).select_related("rule").order_by("-awarded_on", "-id")
        ),
        "streak": activity_streaks(user_ids=[person.pk], today=today)[person.pk],
        "goal_streak": goal_streaks(user_ids=[person.pk])[person.pk][0],
        "goals": list(goals_achieved(user_ids=[person.pk])[:20]),
        "kudos": [
            {"kudos": k, "reactions": reaction_counts(k)}
            for k in kudos_list(user=user).filter(recipient=person)[:30]
        ],
        "kudos_count": Kudos.objects.filter(recipient=person).count(),
        "badge_counts": list(
            Badge.objects.filter(user=person)
            .values("rule__name", "rule__icon")
            .annotate(n=Count("id"))
            .order_by("-n")
        ),
    }


def preference_get(*, user: User) -> NotificationPreference:
    return NotificationPreference.objects.filter(user=user).first() or NotificationPreference(user=user)


def email_opted_out(user_ids: list[int]) -> set[int]:
    return set(
        NotificationPreference.objects.filter(user_id__in=user_ids, email=False).values_list(
            "user_id", flat=True
        )
    )


def wallboard_get(*, token: str) -> WallboardLink:
    """The active link with this token; 404 for an unknown or revoked one."""
    return get_object_or_404(
        WallboardLink.objects.select_related("team"), token=token, revoked_at__isnull=True
    )
