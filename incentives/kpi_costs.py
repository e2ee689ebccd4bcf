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
from salesteam.services import ReferenceData

ONE_DAY = datetime.timedelta(days=1)


def costs(
    *, start: datetime.date, end: datetime.date
) -> list[tuple[int | None, datetime.date, datetime.date, Decimal]]:
    """The settled awards overlapping [start, end): (team id or None, period start, period end
    (exclusive), total) each. Three queries."""
    awards = list(
        BonusAward.objects.filter(status__in=BonusAward.SETTLED, period_start__lt=end, period_end__gt=start)
        .order_by("pk")
        .values_list("rep_id", "period_start", "period_end", "total")
    )
    if not awards:
        return []
    # The rep's team as the deal services assign it, so that a team's bonus cost and its revenue agree.
    reference = ReferenceData.load(user_ids={rep_id for rep_id, *_rest in awards})
    return [
        (reference.team_on(rep_id, period_end - ONE_DAY), period_start, period_end, total)
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
