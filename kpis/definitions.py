"""The KPI catalogue: every KPI's name, unit, direction and how it derives from stored parts.

Definitions follow DESIGN.md ("The nine KPIs"). Ratios are computed from additive parts, never averaged,
and a ratio whose denominator is zero is None (shown as "—").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext_lazy as _

RATIO_PLACES = Decimal("0.000001")


@dataclass
class Parts:
    """The additive parts of one (scope, period); see KpiValue for their storage."""

    revenue: Decimal = Decimal("0.00")
    cost: Decimal = Decimal("0.00")
    campaign_revenue: Decimal = Decimal("0.00")
    campaign_cost: Decimal | None = None
    bonus_cost: Decimal = Decimal("0.00")
    won_count: int = 0
    lost_count: int = 0
    cycle_days_sum: int = 0
    cycle_days_median: Decimal | None = None
    created_count: int = 0
    created_won_count: int = 0
    active_customers: int = 0
    prev_active_customers: int = 0
    retained_customers: int = 0
    new_customers: int = 0
    new_customer_revenue: Decimal = Decimal("0.00")
    acquired_customers: int = 0

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def from_obj(cls, obj) -> Parts:
        return cls(**{name: getattr(obj, name) for name in cls.field_names()})


def ratio(numerator, denominator) -> Decimal | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(RATIO_PLACES, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Kpi:
    slug: str
    name: str
    unit: str  # money, percent, days, count
    higher_is_better: bool
    explanation: str
    parts: Callable[[Parts], tuple]  # -> (numerator, denominator) or (value, None) for plain values
    is_ratio: bool = True

    def evaluate(self, p: Parts) -> dict:
        """Value, numerator and denominator of this KPI for one (scope, period)."""
        numerator, denominator = self.parts(p)
        if not self.is_ratio:
            return {"value": numerator, "numerator": numerator, "denominator": None}
        return {"value": ratio(numerator, denominator), "numerator": numerator, "denominator": denominator}


def _gross_margin(p: Parts) -> Decimal:
    return p.revenue - p.cost


def _net_margin(p: Parts) -> Decimal | None:
    if p.campaign_cost is None:
        return None
    return _gross_margin(p) - p.campaign_cost - p.bonus_cost


def _campaign_return(p: Parts) -> Decimal | None:
    return None if p.campaign_cost is None else p.campaign_revenue - p.campaign_cost


def _churned(p: Parts) -> int:
    return p.prev_active_customers - p.retained_customers


KPIS: list[Kpi] = [
    Kpi("revenue", _("Revenue"), "money", True, _("Sum of the amounts of deals won in the period."),
        lambda p: (p.revenue, None), is_ratio=False),
    Kpi("gross_margin", _("Gross margin"), "money", True, _("Revenue minus the cost of the deals won."),
        lambda p: (_gross_margin(p), None), is_ratio=False),
    Kpi("gross_margin_pct", _("Gross margin %"), "percent", True, _("Gross margin as a share of revenue."),
        lambda p: (_gross_margin(p), p.revenue)),
    Kpi("net_margin", _("Net margin"), "money", True,
        _("Gross margin minus campaign costs and approved bonuses of the period."),
        lambda p: (_net_margin(p), None), is_ratio=False),
    Kpi("net_margin_pct", _("Net margin %"), "percent", True, _("Net margin as a share of revenue."),
        lambda p: (_net_margin(p), p.revenue)),
    Kpi("cac", _("Customer acquisition cost"), "money", False,
        _("Campaign cost of the period per customer won for the first time through it."),
        lambda p: (p.campaign_cost, p.acquired_customers)),
    Kpi("roi", _("Campaign ROI"), "percent", True,
        _("Revenue won through campaigns minus their cost, per euro of cost."),
        lambda p: (_campaign_return(p), p.campaign_cost)),
    Kpi("conversion_ratio", _("Conversion ratio"), "percent", True,
        _("Deals won as a share of deals closed (won or lost) in the period."),
        lambda p: (p.won_count, p.won_count + p.lost_count)),
    Kpi("lead_conversion", _("Lead conversion"), "percent", True,
        _("Of the deals created in the period, the share won so far."),
        lambda p: (p.created_won_count, p.created_count)),
    Kpi("sales_cycle_days", _("Sales cycle (mean)"), "days", False,
        _("Mean days from creation to closing over the deals won."),
        lambda p: (p.cycle_days_sum, p.won_count)),
    Kpi("sales_cycle_median_days", _("Sales cycle (median)"), "days", False,
        _("Median days from creation to closing over the deals won."),
        lambda p: (p.cycle_days_median, None), is_ratio=False),
    Kpi("average_order_value", _("Average order value"), "money", True, _("Revenue per deal won."),
        lambda p: (p.revenue, p.won_count)),
    Kpi("retention_rate", _("Retention rate"), "percent", True,
        _("Customers active in the previous period who bought again in this one."),
        lambda p: (p.retained_customers, p.prev_active_customers)),
    Kpi("churn_rate", _("Churn rate"), "percent", False,
        _("Customers active in the previous period who did not buy in this one."),
        lambda p: (_churned(p), p.prev_active_customers)),
    Kpi("customer_base_growth", _("Customer base growth"), "percent", True,
        _("Active customers now against the previous period; counts new customers too, unlike retention."),
        lambda p: (p.active_customers, p.prev_active_customers)),
    Kpi("new_customers", _("New customers"), "count", True,
        _("Active customers whose first deal ever was won in this period."),
        lambda p: (p.new_customers, None), is_ratio=False),
    Kpi("existing_customers", _("Existing customers"), "count", True,
        _("Active customers who had bought before this period."),
        lambda p: (p.active_customers - p.new_customers, None), is_ratio=False),
    Kpi("new_customer_share", _("Share of new customers"), "percent", True,
        _("New customers as a share of active customers."),
        lambda p: (p.new_customers, p.active_customers)),
    Kpi("new_customer_revenue", _("Revenue from new customers"), "money", True,
        _("Revenue won from customers new in this period."),
        lambda p: (p.new_customer_revenue, None), is_ratio=False),
    Kpi("existing_customer_revenue", _("Revenue from existing customers"), "money", True,
        _("Revenue won from customers who had bought before."),
        lambda p: (p.revenue - p.new_customer_revenue, None), is_ratio=False),
    Kpi("deals_won", _("Deals won"), "count", True, _("Number of deals won in the period."),
        lambda p: (p.won_count, None), is_ratio=False),
    Kpi("deals_lost", _("Deals lost"), "count", False, _("Number of deals lost in the period."),
        lambda p: (p.lost_count, None), is_ratio=False),
    Kpi("active_customers", _("Active customers"), "count", True,
        _("Customers with at least one deal won in the period."),
        lambda p: (p.active_customers, None), is_ratio=False),
]  # fmt: skip

KPI_BY_SLUG: dict[str, Kpi] = {kpi.slug: kpi for kpi in KPIS}

# The nine KPIs of the playbook, in the order the dashboard shows them.
HEADLINE_KPIS = [
    "revenue",
    "gross_margin_pct",
    "net_margin",
    "cac",
    "conversion_ratio",
    "sales_cycle_days",
    "average_order_value",
    "retention_rate",
    "new_customer_share",
]


def evaluate_all(p: Parts) -> dict[str, dict]:
    return {kpi.slug: kpi.evaluate(p) for kpi in KPIS}
