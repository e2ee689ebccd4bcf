"""Reads of stored KPI values, scoped to what the requesting user may see.

A rep sees their own KPIs and the totals of their team and the company; a manager also each rep and
the totals of the teams they manage; an admin everything, including the breakdowns by segment,
category, campaign and touch point. A (scope, period) without a stored row reads as zero.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Q
from django.http import Http404
from django.utils import timezone
from django.utils.module_loading import import_string

from kpis import engine
from kpis.definitions import HEADLINE_KPIS, KPI_BY_SLUG, KPIS, Parts
from kpis.models import KpiRun, KpiValue, PeriodType, ScopeType
from salesteam import selectors as sales_selectors
from salesteam.models import Campaign, Category, Deal, Segment, Stage, Team, TouchPoint, User

BREAKDOWN_SCOPES = [ScopeType.SEGMENT, ScopeType.CATEGORY, ScopeType.CAMPAIGN, ScopeType.TOUCH_POINT]
SCOPE_MODELS = {
    ScopeType.TEAM: Team,
    ScopeType.REP: User,
    ScopeType.SEGMENT: Segment,
    ScopeType.CATEGORY: Category,
    ScopeType.CAMPAIGN: Campaign,
    ScopeType.TOUCH_POINT: TouchPoint,
}


@dataclass(frozen=True)
class Scope:
    type: str
    id: int
    name: str


# --- Access ------------------------------------------------------------------------------------------


def visible_scope_ids(*, user: User, scope_type: str) -> list[int] | None:
    """Ids of `scope_type` the user may see; None means all of them."""
    if user.is_admin:
        return None
    if scope_type == ScopeType.COMPANY:
        return [0]
    if scope_type == ScopeType.REP:
        if user.is_manager:
            return list(sales_selectors.rep_choices(user=user).values_list("pk", flat=True))
        return [user.pk]
    if scope_type == ScopeType.TEAM:
        own = sales_selectors.current_team_ids(user)
        return sorted(set(own) | set(sales_selectors.managed_team_ids(user) if user.is_manager else []))
    if user.is_manager:  # company-wide breakdowns
        return None
    return []


def scope_get(*, user: User, scope_type: str, scope_id: int) -> Scope:
    """The scope, if the user may see it; 404 otherwise, like a missing one."""
    if scope_type not in ScopeType.values:
        raise Http404
    allowed = visible_scope_ids(user=user, scope_type=scope_type)
    if allowed is not None and scope_id not in allowed:
        raise Http404
    name = scope_names(scope_type, [scope_id], display=True).get(scope_id)
    if name is None:
        raise Http404
    return Scope(scope_type, scope_id, name)


def scope_names(scope_type: str, ids: list[int] | None = None, *, display: bool = False) -> dict[int, str]:
    """Names by id. Reps are named by username (what exports carry), or by full name for `display`."""
    if scope_type == ScopeType.COMPANY:
        return {0: str(ScopeType.COMPANY.label)}
    model = SCOPE_MODELS[scope_type]
    objects = model.objects.all() if ids is None else model.objects.filter(pk__in=ids)
    if model is User:
        if display:
            return sales_selectors.display_names(objects)
        return dict(objects.values_list("pk", "username"))
    return {o.pk: str(o) for o in objects}


def default_scope(*, user: User) -> Scope:
    if user.is_admin or user.is_manager:
        return Scope(ScopeType.COMPANY, 0, str(ScopeType.COMPANY.label))
    return Scope(ScopeType.REP, user.pk, user.display_name)


# --- Values ------------------------------------------------------------------------------------------


def parts_for(
    *, scope_type: str, scope_ids: list[int], period_type: str, starts: list[datetime.date]
) -> dict[tuple[int, datetime.date], Parts]:
    """Stored parts for every requested (scope id, period start), zero where nothing is stored."""
    rows = KpiValue.objects.filter(
        scope_type=scope_type, scope_id__in=scope_ids, period_type=period_type, period_start__in=starts
    ).values_list("scope_id", "period_start", *Parts.field_names())
    found = {(scope_id, start): Parts(*values) for scope_id, start, *values in rows}
    return {
        (scope_id, start): found.get((scope_id, start)) or engine.empty_parts(scope_type)
        for scope_id in scope_ids
        for start in starts
    }


def parts_for_range(
    *,
    scope_type: str,
    scope_id: int,
    start: datetime.date,
    end: datetime.date,
    narrow: tuple[str, int] | None = None,
) -> Parts:
    """Parts of any date range [start, end), computed on demand by the engine."""
    computed = engine.compute(
        scope_type, date_from=start, date_to=end, custom=True, scope_ids=[scope_id], narrow=narrow
    )
    return computed.get((scope_id, start)) or engine.empty_parts(scope_type)


def kpi_rows(
    *,
    user: User,
    scope_type: str,
    scope_id: int | None,
    period_type: str,
    date_from: datetime.date,
    date_to: datetime.date,
    kpi: str | None = None,
) -> list[dict]:
    """One row per (kpi, scope, period) for the API and exports, scoped to the user."""
    allowed = visible_scope_ids(user=user, scope_type=scope_type)
    if scope_id is not None:
        if allowed is not None and scope_id not in allowed:
            raise Http404
        ids = [scope_id]
    elif allowed is None:
        ids = sorted(
            set(
                KpiValue.objects.filter(scope_type=scope_type, period_type=period_type).values_list(
                    "scope_id", flat=True
                )
            )
            | (set(scope_names(scope_type)) if scope_type != ScopeType.COMPANY else {0})
        )
    else:
        ids = allowed
    starts = engine.period_starts(period_type, date_from, date_to)
    names = scope_names(scope_type, ids)
    parts = parts_for(scope_type=scope_type, scope_ids=ids, period_type=period_type, starts=starts)
    kpis = [KPI_BY_SLUG[kpi]] if kpi else KPIS
    rows = []
    for scope_id_ in ids:
        for start in starts:
            p = parts[(scope_id_, start)]
            for definition in kpis:
                rows.append(
                    {
                        "kpi": definition.slug,
                        "scope": scope_type,
                        "scope_id": scope_id_,
                        "scope_name": names.get(scope_id_, ""),
                        "period": period_type,
                        "start": start,
                        "end": engine.period_end(period_type, start),
                        **definition.evaluate(p),
                    }
                )
    return rows


# --- Dashboard ---------------------------------------------------------------------------------------


def _change(current, previous, higher_is_better: bool) -> dict | None:
    if current is None or previous is None:
        return None
    delta = Decimal(current) - Decimal(previous)
    if delta == 0:
        return {"delta": delta, "direction": "flat", "good": None}
    up = delta > 0
    return {"delta": delta, "direction": "up" if up else "down", "good": up == higher_is_better}


def dashboard(*, user: User, scope: Scope, period_type: str, day: datetime.date) -> dict:
    """Everything the KPI dashboard shows for one scope and the period containing `day`."""
    start = engine.period_start(period_type, day)
    previous = engine.previous_start(period_type, start)
    last_year = start.replace(year=start.year - 1)
    months = [engine.period_start(PeriodType.MONTH, day)]
    for _ in range(11):
        months.insert(0, engine.previous_start(PeriodType.MONTH, months[0]))

    values = parts_for(
        scope_type=scope.type,
        scope_ids=[scope.id],
        period_type=period_type,
        starts=[start, previous, last_year],
    )
    trend_parts = parts_for(scope_type=scope.type, scope_ids=[scope.id], period_type="month", starts=months)
    current, prev, year_ago = (values[(scope.id, s)] for s in (start, previous, last_year))
    cards = []
    for slug in HEADLINE_KPIS + [k.slug for k in KPIS if k.slug not in HEADLINE_KPIS]:
        kpi = KPI_BY_SLUG[slug]
        now_value = kpi.evaluate(current)["value"]
        prev_value = kpi.evaluate(prev)["value"]
        year_value = kpi.evaluate(year_ago)["value"]
        cards.append(
            {
                "kpi": kpi,
                "headline": slug in HEADLINE_KPIS,
                "value": now_value,
                "previous": prev_value,
                "last_year": year_value,
                "vs_previous": _change(now_value, prev_value, kpi.higher_is_better),
                "vs_last_year": _change(now_value, year_value, kpi.higher_is_better),
                "trend": [(m, kpi.evaluate(trend_parts[(scope.id, m)])["value"]) for m in months],
            }
        )
    return {
        "scope": scope,
        "period_type": period_type,
        "start": start,
        "end": engine.period_end(period_type, start),
        "previous_start": previous,
        "cards": cards,
        "breakdowns": breakdowns(user=user, period_type=period_type, start=start),
        "funnel": funnel(user=user, scope=scope, start=start, end=engine.period_end(period_type, start)),
        "reps": team_reps(user=user, scope=scope, period_type=period_type, start=start),
    }


def breakdowns(*, user: User, period_type: str, start: datetime.date) -> list[dict]:
    """Company-wide tables by segment, category, campaign and touch point (managers and admins)."""
    if not (user.is_admin or user.is_manager):
        return []
    rows = KpiValue.objects.filter(
        period_type=period_type, period_start=start, scope_type__in=BREAKDOWN_SCOPES
    )
    by_scope: dict[str, list] = {scope_type: [] for scope_type in BREAKDOWN_SCOPES}
    for row in rows:
        by_scope[row.scope_type].append(row)
    names = {scope_type: scope_names(scope_type) for scope_type in BREAKDOWN_SCOPES}
    tables = []
    for scope_type in BREAKDOWN_SCOPES:
        lines = []
        for row in sorted(by_scope[scope_type], key=lambda r: r.revenue, reverse=True):
            p = Parts.from_obj(row)
            lines.append(
                {
                    "name": names[scope_type].get(row.scope_id, "?"),
                    "revenue": p.revenue,
                    "deals_won": p.won_count,
                    "conversion_ratio": KPI_BY_SLUG["conversion_ratio"].evaluate(p)["value"],
                    "gross_margin_pct": KPI_BY_SLUG["gross_margin_pct"].evaluate(p)["value"],
                    "new_customers": p.new_customers,
                    "roi": KPI_BY_SLUG["roi"].evaluate(p)["value"]
                    if scope_type == ScopeType.CAMPAIGN
                    else None,
                }
            )
        tables.append({"scope_type": scope_type, "label": ScopeType(scope_type).label, "lines": lines})
    return tables


def funnel(*, user: User, scope: Scope, start: datetime.date, end: datetime.date) -> list[dict]:
    """Deals created in the period by their current stage, within the scope and what the user may see."""
    deals = Deal.objects.filter(sales_selectors.deal_scope(user), created_on__gte=start, created_on__lt=end)
    column = {
        ScopeType.TEAM: "team_id",
        ScopeType.REP: "rep_id",
        ScopeType.SEGMENT: "customer__segment_id",
        ScopeType.CATEGORY: "category_id",
        ScopeType.CAMPAIGN: "campaign_id",
        ScopeType.TOUCH_POINT: "touch_point_id",
    }.get(scope.type)
    if column:
        deals = deals.filter(**{column: scope.id})
    counts = dict(deals.values_list("stage").annotate(n=Count("pk")).values_list("stage", "n"))
    total = sum(counts.values()) or 0
    return [
        {
            "stage": stage,
            "label": stage.label,
            "count": counts.get(stage, 0),
            "share": ratio_or_none(counts.get(stage, 0), total),
        }
        for stage in Stage
    ]


def ratio_or_none(a: int, b: int) -> Decimal | None:
    return Decimal(a) / Decimal(b) if b else None


def team_reps(*, user: User, scope: Scope, period_type: str, start: datetime.date) -> list[dict]:
    """For a team dashboard: each rep of the team with their headline figures (managers and admins)."""
    if scope.type != ScopeType.TEAM or not (user.is_admin or user.is_manager):
        return []
    today = timezone.localdate()
    members = list(
        User.objects.filter(
            Q(memberships__team_id=scope.id, memberships__valid_from__lte=today)
            & (Q(memberships__valid_to__isnull=True) | Q(memberships__valid_to__gt=today))
        )
        .distinct()
        .order_by("username")
    )
    allowed = visible_scope_ids(user=user, scope_type=ScopeType.REP)
    members = [m for m in members if allowed is None or m.pk in allowed]
    parts = parts_for(
        scope_type=ScopeType.REP, scope_ids=[m.pk for m in members], period_type=period_type, starts=[start]
    )
    rows = []
    for member in members:
        p = parts[(member.pk, start)]
        rows.append(
            {
                "rep": member,
                "revenue": p.revenue,
                "deals_won": p.won_count,
                "conversion_ratio": KPI_BY_SLUG["conversion_ratio"].evaluate(p)["value"],
                "average_order_value": KPI_BY_SLUG["average_order_value"].evaluate(p)["value"],
            }
        )
    return sorted(rows, key=lambda r: r["revenue"], reverse=True)


def scope_choices(*, user: User) -> list[tuple[str, list[Scope]]]:
    """The scopes the user can pick on the dashboard, grouped by type."""
    groups = []
    for scope_type in (ScopeType.COMPANY, ScopeType.TEAM, ScopeType.REP):
        allowed = visible_scope_ids(user=user, scope_type=scope_type)
        names = scope_names(scope_type, allowed, display=True)
        groups.append(
            (
                scope_type,
                [Scope(scope_type, pk, name) for pk, name in sorted(names.items(), key=lambda i: i[1])],
            )
        )
    return groups


def last_run() -> KpiRun | None:
    return KpiRun.objects.select_related("started_by").first()


def last_successful_run() -> KpiRun | None:
    return KpiRun.objects.filter(status=KpiRun.Status.SUCCEEDED).first()


def agenda(*, user: User) -> list[dict]:
    """What needs the user's attention today, gathered from the apps listed in DASHBOARD_AGENDA."""
    return [item for name in settings.DASHBOARD_AGENDA for item in import_string(name)(user=user)]
