"""Approved bonus cost for the KPI engine's net margin (settings.KPI_BONUS_COSTS names this module).

Net margin is gross margin minus campaign cost minus the approved bonus cost of the period, for the
company and team scopes. An award counts once approved or paid (adjustments too, with their sign),
spread over its plan period day by day like a campaign's cost, and belongs to the team the rep was in
on the last day of that period. Pending and rejected awards cost nothing.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.db.models import Max, Min, Q

from incentives.models import AwardDecision, BonusAward
from salesteam.models import Membership

ONE_DAY = datetime.timedelta(days=1)


def costs(
    *, start: datetime.date, end: datetime.date
) -> list[tuple[int | None, datetime.date, datetime.date, Decimal]]:
    """The settled awards overlapping [start, end): (team id or None, period start, period end
    (exclusive), total) each. Two queries."""
    awards = list(
        BonusAward.objects.filter(status__in=BonusAward.SETTLED, period_start__lt=end, period_end__gt=start)
        .order_by("pk")
        .values_list("rep_id", "period_start", "period_end", "total")
    )
    if not awards:
        return []
    last_day = max(period_end for _rep, _start, period_end, _total in awards) - ONE_DAY
    first_day = min(period_end for _rep, _start, period_end, _total in awards) - ONE_DAY
    memberships: dict[int, list[tuple[datetime.date, datetime.date | None, int]]] = {}
    for user_id, valid_from, valid_to, team_id in (
        Membership.objects.filter(user_id__in={a[0] for a in awards}, valid_from__lte=last_day)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=first_day))
        .order_by("valid_from")
        .values_list("user_id", "valid_from", "valid_to", "team_id")
    ):
        memberships.setdefault(user_id, []).append((valid_from, valid_to, team_id))

    def team_on(rep_id: int, day: datetime.date) -> int | None:
        teams = [t for lo, hi, t in memberships.get(rep_id, []) if lo <= day and (hi is None or day < hi)]
        return teams[-1] if teams else None  # the team joined last

    return [
        (team_on(rep_id, period_end - ONE_DAY), period_start, period_end, total)
        for rep_id, period_start, period_end, total in awards
    ]


def period_bounds() -> list[datetime.date]:
    """The first and last day that settled awards cover, for a full KPI run's window (empty if none)."""
    bounds = BonusAward.objects.filter(status__in=BonusAward.SETTLED).aggregate(
        first=Min("period_start"), end=Max("period_end")
    )
    return [bounds["first"], bounds["end"] - ONE_DAY] if bounds["first"] else []


def days_changed_since(since: datetime.datetime) -> set[datetime.date]:
    """First and last days of the award periods whose cost changed since `since`: an award became
    approved or paid, or stopped being so. New pending awards cost nothing and touch nothing. The KPI
    run recomputes the periods these days fall in."""
    settled = Q(to_status__in=BonusAward.SETTLED) | Q(from_status__in=BonusAward.SETTLED)
    days: set[datetime.date] = set()
    for period_start, period_end in (
        AwardDecision.objects.filter(settled, at__gte=since)
        .values_list("award__period_start", "award__period_end")
        .distinct()
    ):
        days.update((period_start, period_end - ONE_DAY))
    return days
