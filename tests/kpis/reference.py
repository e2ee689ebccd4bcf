"""An obviously correct, slow computation of KPI parts: plain Python loops over the deal rows.

The engine's SQL must agree with this for every scope, period and KPI.
"""

import datetime
import statistics
from decimal import ROUND_HALF_UP, Decimal

from kpis.definitions import Parts
from kpis.models import ScopeType
from salesteam.models import Campaign, Deal

CENTS = Decimal("0.01")


def scope_of(deal: Deal, scope_type: str):
    return {
        ScopeType.COMPANY: 0,
        ScopeType.TEAM: deal.team_id,
        ScopeType.REP: deal.rep_id,
        ScopeType.SEGMENT: deal.customer.segment_id,
        ScopeType.CATEGORY: deal.category_id,
        ScopeType.CAMPAIGN: deal.campaign_id,
        ScopeType.TOUCH_POINT: deal.touch_point_id,
    }[scope_type]


def cost_in(campaign: Campaign, start: datetime.date, end: datetime.date) -> Decimal:
    """Cost of the campaign's days that fall in [start, end): cost / days × overlapping days."""
    day, total = campaign.start_on, Decimal(0)
    per_day = campaign.cost / campaign.days
    while day <= campaign.end_on:
        if start <= day < end:
            total += per_day
        day += datetime.timedelta(days=1)
    return total


class Snapshot:
    """All deals and campaigns, loaded once, with each customer's first win (day, deal id)."""

    def __init__(self):
        self.deals = list(Deal.objects.select_related("customer"))
        self.campaigns = list(Campaign.objects.all())
        self.first_win: dict[int, tuple] = {}
        for d in self.deals:
            if d.stage == "won":
                current = self.first_win.get(d.customer_id, (d.closed_on, d.id))
                self.first_win[d.customer_id] = min(current, (d.closed_on, d.id))


def reference_parts(data: Snapshot, scope_type: str, scope_id: int, start, end, prev_start) -> Parts:
    deals, first_win, campaigns = data.deals, data.first_win, data.campaigns
    mine = [d for d in deals if scope_of(d, scope_type) == scope_id]
    won = [d for d in mine if d.stage == "won" and start <= d.closed_on < end]
    lost = [d for d in mine if d.stage == "lost" and start <= d.closed_on < end]
    created = [d for d in mine if start <= d.created_on < end]
    active = {d.customer_id for d in won}
    prev_active = {d.customer_id for d in mine if d.stage == "won" and prev_start <= d.closed_on < start}
    new = {c for c in active if start <= first_win[c][0] < end}
    first_deal_ids = {deal_id for _, deal_id in first_win.values()}
    acquired = [d for d in mine if d.id in first_deal_ids and start <= d.closed_on < end]
    cycle = [(d.closed_on - d.created_on).days for d in won]

    parts = Parts(
        revenue=sum((d.amount for d in won), Decimal("0.00")),
        cost=sum((d.cost for d in won), Decimal("0.00")),
        campaign_revenue=sum((d.amount for d in won if d.campaign_id), Decimal("0.00")),
        won_count=len(won),
        lost_count=len(lost),
        cycle_days_sum=sum(cycle),
        cycle_days_median=Decimal(str(statistics.median(cycle))).quantize(Decimal("0.1")) if cycle else None,
        created_count=len(created),
        created_won_count=sum(1 for d in created if d.stage == "won"),
        active_customers=len(active),
        prev_active_customers=len(prev_active),
        retained_customers=len(active & prev_active),
        new_customers=len(new),
        new_customer_revenue=sum((d.amount for d in won if d.customer_id in new), Decimal("0.00")),
        acquired_customers=len(acquired),
    )
    if scope_type == ScopeType.COMPANY:
        parts.campaign_cost = sum((cost_in(c, start, end) for c in campaigns), Decimal(0))
    elif scope_type == ScopeType.CAMPAIGN:
        parts.campaign_cost = sum((cost_in(c, start, end) for c in campaigns if c.pk == scope_id), Decimal(0))
    elif scope_type == ScopeType.TEAM:
        share = Decimal(0)
        for c in campaigns:
            through = [
                d for d in deals if d.stage == "won" and d.campaign_id == c.pk and start <= d.closed_on < end
            ]
            total = sum((d.amount for d in through), Decimal(0))
            team_part = sum((d.amount for d in through if d.team_id == scope_id), Decimal(0))
            if total:
                share += cost_in(c, start, end) * team_part / total
        parts.campaign_cost = share
    if parts.campaign_cost is not None:
        parts.campaign_cost = parts.campaign_cost.quantize(CENTS, rounding=ROUND_HALF_UP)
    return parts


def all_scope_ids(data: Snapshot, scope_type: str) -> set:
    ids = {scope_of(d, scope_type) for d in data.deals}
    if scope_type == ScopeType.CAMPAIGN:
        ids |= {c.pk for c in data.campaigns}
    ids.discard(None)
    return ids
