"""The set-based KPI engine.

For one scope type and one kind of period it runs a handful of SQL GROUP BY passes over the deals
(closed deals, created deals, distinct active customers, first wins) and returns the additive parts of
every (scope, period) in a date window. The same code computes calendar months, quarters and years for
storage and any other date range on demand. Plain SQL, with the few dialect differences between
PostgreSQL and SQLite kept in `Dialect`.
"""

from __future__ import annotations

import datetime
import functools
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from importlib import import_module

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import connection, transaction

from kpis.definitions import Parts
from kpis.models import CustomerFirstWin, PeriodType, ScopeType
from salesteam.models import Campaign

CENTS = Decimal("0.01")


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENTS, rounding=ROUND_HALF_UP)


# How each scope finds its id on a deal row `d` (joined to its customer `c`).
SCOPE_COLUMNS = {
    ScopeType.COMPANY: "0",
    ScopeType.TEAM: "d.team_id",
    ScopeType.REP: "d.rep_id",
    ScopeType.SEGMENT: "c.segment_id",
    ScopeType.CATEGORY: "d.category_id",
    ScopeType.CAMPAIGN: "d.campaign_id",
    ScopeType.TOUCH_POINT: "d.touch_point_id",
}
# Scopes that carry campaign cost: company (all of it), campaign (its own), team (by revenue share).
COSTED_SCOPES = {ScopeType.COMPANY, ScopeType.CAMPAIGN, ScopeType.TEAM}
# Scopes that carry the approved bonus cost: company (all of it), team (its reps' awards).
BONUS_COSTED_SCOPES = {ScopeType.COMPANY, ScopeType.TEAM}


# --- Periods -----------------------------------------------------------------------------------------


def period_start(period_type: str, day: datetime.date) -> datetime.date:
    if period_type == PeriodType.MONTH:
        return day.replace(day=1)
    if period_type == PeriodType.QUARTER:
        return datetime.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return datetime.date(day.year, 1, 1)


@functools.cache
def period_step(period_type: str) -> relativedelta:
    return {
        PeriodType.MONTH: relativedelta(months=1),
        PeriodType.QUARTER: relativedelta(months=3),
        PeriodType.YEAR: relativedelta(years=1),
    }[period_type]


@functools.lru_cache(maxsize=4096)
def period_end(period_type: str, start: datetime.date) -> datetime.date:
    """Exclusive end of the period starting on `start`."""
    return start + period_step(period_type)


@functools.lru_cache(maxsize=4096)
def previous_start(period_type: str, start: datetime.date) -> datetime.date:
    return start - period_step(period_type)


def period_starts(period_type: str, date_from: datetime.date, date_to: datetime.date) -> list[datetime.date]:
    """Starts of the periods that begin in [date_from, date_to)."""
    starts, current = [], period_start(period_type, date_from)
    while current < date_to:
        starts.append(current)
        current += period_step(period_type)
    return starts


@dataclass(frozen=True)
class Range:
    """An arbitrary [start, end) range and the equally long range just before it."""

    start: datetime.date
    end: datetime.date

    @property
    def previous(self) -> Range:
        return Range(self.start - (self.end - self.start), self.start)


# --- SQL dialects ------------------------------------------------------------------------------------


class Dialect:
    """SQL fragments that differ between PostgreSQL and SQLite."""

    def __init__(self, vendor: str):
        self.pg = vendor == "postgresql"

    def param(self) -> str:
        return "%s::date" if self.pg else "%s"

    def bucket(self, period_type: str, column: str) -> str:
        if self.pg:
            return f"date_trunc('{period_type}', {column}::timestamp)::date"
        if period_type == PeriodType.MONTH:
            return f"date({column}, 'start of month')"
        if period_type == PeriodType.YEAR:
            return f"date({column}, 'start of year')"
        return (
            f"date({column}, 'start of month', '-' || ((CAST(strftime('%%m', {column}) AS INTEGER) - 1) %% 3)"
            " || ' months')"
        )

    def previous(self, period_type: str, column: str) -> str:
        if self.pg:
            step = {"month": "1 month", "quarter": "3 months", "year": "1 year"}[period_type]
            return f"({column} - interval '{step}')::date"
        step = {"month": "-1 month", "quarter": "-3 months", "year": "-1 year"}[period_type]
        return f"date({column}, '{step}')"

    def days_between(self, start: str, end: str) -> str:
        if self.pg:
            return f"({end} - {start})"
        return f"CAST(julianday({end}) - julianday({start}) AS INTEGER)"

    def money_sum(self, expression: str) -> str:
        # SQLite sums decimals as floats; summing whole cents keeps the result exact.
        if self.pg:
            return f"COALESCE(SUM({expression}), 0)"
        return f"COALESCE(SUM(ROUND(({expression}) * 100)), 0)"

    def money(self, value) -> Decimal:
        if self.pg:
            return Decimal(value).quantize(CENTS)
        return (Decimal(int(value)) / 100).quantize(CENTS)

    def date(self, value) -> datetime.date:
        return value if isinstance(value, datetime.date) else datetime.date.fromisoformat(value)


class Bucketing:
    """Maps a date column to the start of its period, for calendar periods or one custom range."""

    def __init__(self, dialect: Dialect, period_type: str | None = None, custom: Range | None = None):
        self.dialect, self.period_type, self.custom = dialect, period_type, custom

    def of(self, column: str) -> tuple[str, list]:
        if self.custom is None:
            return self.dialect.bucket(self.period_type, column), []
        p = self.dialect.param()
        current, previous = self.custom, self.custom.previous
        sql = (
            f"CASE WHEN {column} >= {p} AND {column} < {p} THEN {p} "
            f"WHEN {column} >= {p} AND {column} < {p} THEN {p} END"
        )
        return sql, [current.start, current.end, current.start, previous.start, previous.end, previous.start]

    def previous_of(self, column: str) -> tuple[str, list]:
        if self.custom is None:
            return self.dialect.previous(self.period_type, column), []
        p = self.dialect.param()
        return f"CASE WHEN {column} = {p} THEN {p} END", [self.custom.start, self.custom.previous.start]

    def previous_start(self, start: datetime.date) -> datetime.date:
        return self.custom.previous.start if self.custom else previous_start(self.period_type, start)

    def end(self, start: datetime.date) -> datetime.date:
        if self.custom:
            return self.custom.end if start == self.custom.start else self.custom.start
        return period_end(self.period_type, start)


# --- The passes --------------------------------------------------------------------------------------


def _fetch(sql: str, params: list, *, hashed: bool = False) -> list[tuple]:
    """Runs a query. `hashed` asks PostgreSQL to group by hashing: it cannot estimate how few groups the
    scope expressions give, and would otherwise sort every deal once per scope type."""
    with connection.cursor() as cursor:
        if hashed and connection.vendor == "postgresql":
            cursor.execute("SET enable_sort = off")
            try:
                cursor.execute(sql, params)
                return cursor.fetchall()
            finally:
                cursor.execute("RESET enable_sort")
        cursor.execute(sql, params)
        return cursor.fetchall()


def histogram_median(histogram: list[tuple[int, int]]) -> Decimal:
    """The median of values given as (value, count) pairs, to 0.1."""
    histogram.sort()
    total = sum(count for _value, count in histogram)
    wanted = [(total - 1) // 2, total // 2]  # the middle position, or the two middle ones
    found, seen = [], 0
    for value, count in histogram:
        while wanted and wanted[0] < seen + count:
            found.append(value)
            wanted.pop(0)
        seen += count
    return (Decimal(found[0] + found[1]) / 2).quantize(Decimal("0.1"))


def _expand_scopes(scope_types: list[str]) -> tuple[str, str, str]:
    """SQL that repeats each deal row once per scope type: (join clause, scope index, scope id).

    A cross join with a small constant table lets one pass over the deals group every scope type at
    once, on PostgreSQL and SQLite alike.
    """
    if len(scope_types) == 1:
        return "", "0", SCOPE_COLUMNS[scope_types[0]]
    table = " UNION ALL ".join(f"SELECT {index} AS st" for index in range(len(scope_types)))
    case = " ".join(f"WHEN {index} THEN {SCOPE_COLUMNS[t]}" for index, t in enumerate(scope_types))
    return f" CROSS JOIN ({table}) sc", "sc.st", f"CASE sc.st {case} END"


def compute(scope_type: str, **kwargs) -> dict[tuple[int, datetime.date], Parts]:
    """Parts of one scope type; see `compute_scopes`."""
    return compute_scopes([scope_type], **kwargs)[scope_type]


def compute_scopes(
    scope_types: list[str],
    *,
    period_type: str | None = None,
    date_from: datetime.date,
    date_to: datetime.date,
    custom: bool = False,
    scope_ids: list[int] | None = None,
    narrow: tuple[str, int] | None = None,
) -> dict[str, dict[tuple[int, datetime.date], Parts]]:
    """Parts of every (scope id, period start) of each scope type, periods starting in [date_from, date_to).

    With `custom=True` the single range [date_from, date_to) is one period. Scopes and periods without
    any activity are absent; readers treat them as zero. `scope_ids` (with a single scope type) narrows
    the scopes and `narrow` (a scope type and id, e.g. a segment) the deals, for on-demand use.
    """
    dialect = Dialect(connection.vendor)
    bucketing = Bucketing(dialect, period_type, Range(date_from, date_to) if custom else None)
    if custom:
        lo, hi = date_from, date_to
    else:
        lo, hi = period_start(period_type, date_from), date_to
    prev_lo = bucketing.previous_start(lo)
    p = dialect.param()
    needs_customer = ScopeType.SEGMENT in (*scope_types, narrow[0] if narrow else None)
    customer_join = " JOIN salesteam_customer c ON c.id = d.customer_id" if needs_customer else ""
    expansion, st, scope = _expand_scopes(scope_types)
    source = f"salesteam_deal d{customer_join}{expansion}"
    scope_filter, scope_params = f"{scope} IS NOT NULL", []
    if scope_ids is not None:
        if len(scope_types) != 1:
            raise ValueError("scope_ids needs a single scope type")
        scope_filter += (
            f" AND {scope} IN ({', '.join(['%s'] * len(scope_ids))})" if scope_ids else " AND 1 = 0"
        )
        scope_params = list(scope_ids)
    if narrow is not None:
        scope_filter += f" AND {SCOPE_COLUMNS[narrow[0]]} = %s"
        scope_params.append(narrow[1])
    results: list[dict[tuple[int, datetime.date], Parts]] = [defaultdict(Parts) for _ in scope_types]
    as_date = dialect.date

    def parts_at(index, scope_id, start) -> Parts | None:
        start = as_date(start) if start is not None else None
        if start is None or not (lo <= start < hi):
            return None
        return results[index][(int(scope_id), start)]

    # 1. Deals closed in the period: revenue, cost, won and lost counts, cycle days, new-customer revenue.
    closed_bucket, closed_params = bucketing.of("d.closed_on")
    first_bucket, first_params = bucketing.of("f.first_won_on")
    won = "d.stage = 'won'"
    days = dialect.days_between("d.created_on", "d.closed_on")
    sql = f"""
        SELECT {st}, {scope}, {closed_bucket},
            {dialect.money_sum(f"CASE WHEN {won} THEN d.amount END")},
            {dialect.money_sum(f"CASE WHEN {won} THEN d.cost END")},
            {dialect.money_sum(f"CASE WHEN {won} AND d.campaign_id IS NOT NULL THEN d.amount END")},
            SUM(CASE WHEN {won} THEN 1 ELSE 0 END),
            SUM(CASE WHEN d.stage = 'lost' THEN 1 ELSE 0 END),
            COALESCE(SUM(CASE WHEN {won} THEN {days} END), 0),
            {dialect.money_sum(f"CASE WHEN {won} AND {first_bucket} = {closed_bucket} THEN d.amount END")}
        FROM {source} LEFT JOIN kpis_customerfirstwin f ON f.customer_id = d.customer_id
        WHERE d.stage IN ('won', 'lost') AND d.closed_on >= {p} AND d.closed_on < {p} AND {scope_filter}
        GROUP BY 1, 2, 3
    """
    params = [*closed_params, *first_params, *closed_params, lo, hi, *scope_params]
    money = dialect.money
    for row in _fetch(sql, params, hashed=True):
        parts = parts_at(row[0], row[1], row[2])
        if parts is None:
            continue
        parts.revenue, parts.cost, parts.campaign_revenue = money(row[3]), money(row[4]), money(row[5])
        parts.won_count, parts.lost_count, parts.cycle_days_sum = int(row[6]), int(row[7]), int(row[8])
        parts.new_customer_revenue = money(row[9])

    # The exact median of the cycle days, from a histogram per group: a hash aggregate on
    # (scope, period, days) is much cheaper than sorting every won deal once per scope type.
    sql = f"""
        SELECT {st}, {scope}, {closed_bucket}, {days}, COUNT(*) FROM {source}
        WHERE {won} AND d.closed_on >= {p} AND d.closed_on < {p} AND {scope_filter}
        GROUP BY 1, 2, 3, 4
    """
    histograms: dict = defaultdict(list)
    for index, scope_id, start, value, count in _fetch(
        sql, [*closed_params, lo, hi, *scope_params], hashed=True
    ):
        histograms[(index, scope_id, start)].append((int(value), int(count)))
    for (index, scope_id, start), histogram in histograms.items():
        if (parts := parts_at(index, scope_id, start)) is not None:
            parts.cycle_days_median = histogram_median(histogram)

    # 2. Deals created in the period, and how many of them are won by now.
    created_bucket, created_params = bucketing.of("d.created_on")
    sql = f"""
        SELECT {st}, {scope}, {created_bucket}, COUNT(*), SUM(CASE WHEN {won} THEN 1 ELSE 0 END)
        FROM {source}
        WHERE d.created_on >= {p} AND d.created_on < {p} AND {scope_filter}
        GROUP BY 1, 2, 3
    """
    for row in _fetch(sql, [*created_params, lo, hi, *scope_params], hashed=True):
        if (parts := parts_at(row[0], row[1], row[2])) is not None:
            parts.created_count, parts.created_won_count = int(row[3]), int(row[4])

    # 3. Distinct active customers, retained from the previous period, and new (first win ever in it).
    # A customer is retained when their previous active period, within the scope, is the one just before.
    prev_bucket, prev_params = bucketing.previous_of("a.p")
    first_of_active, first_active_params = bucketing.of("f.first_won_on")
    sql = f"""
        WITH act AS (
            SELECT DISTINCT {st} AS st, {scope} AS s, d.customer_id AS cu, {closed_bucket} AS p
            FROM {source}
            WHERE {won} AND d.closed_on >= {p} AND d.closed_on < {p} AND {scope_filter}
        ), flagged AS (
            SELECT st, s, cu, p, LAG(p) OVER (PARTITION BY st, s, cu ORDER BY p) AS before FROM act
        )
        SELECT a.st, a.s, a.p, COUNT(*),
            SUM(CASE WHEN a.before = {prev_bucket} THEN 1 ELSE 0 END),
            SUM(CASE WHEN {first_of_active} = a.p THEN 1 ELSE 0 END)
        FROM flagged a LEFT JOIN kpis_customerfirstwin f ON f.customer_id = a.cu
        GROUP BY a.st, a.s, a.p
    """
    params = [*closed_params, prev_lo, hi, *scope_params, *prev_params, *first_active_params]
    for index, scope_id, start, active, retained, new in _fetch(sql, params):
        start = as_date(start)
        if (parts := parts_at(index, scope_id, start)) is not None:
            parts.active_customers, parts.retained_customers, parts.new_customers = active, retained, new or 0
        following = bucketing.end(start) if not custom else (date_from if start < date_from else None)
        if following is not None and (parts := parts_at(index, scope_id, following)) is not None:
            parts.prev_active_customers = active

    # 4. Customers acquired: the first won deal ever of a customer, credited to that deal's scope.
    sql = f"""
        SELECT {st}, {scope}, {first_bucket}, COUNT(*)
        FROM kpis_customerfirstwin f JOIN salesteam_deal d ON d.id = f.first_deal_id{customer_join}{expansion}
        WHERE f.first_won_on >= {p} AND f.first_won_on < {p} AND {scope_filter}
        GROUP BY 1, 2, 3
    """
    for row in _fetch(sql, [*first_params, lo, hi, *scope_params], hashed=True):
        if (parts := parts_at(row[0], row[1], row[2])) is not None:
            parts.acquired_customers = int(row[3])

    # 5. Campaign cost spread over the campaign's days.
    def in_window(scope_id, start) -> tuple[int, datetime.date] | None:
        return (int(scope_id), start) if lo <= start < hi else None

    by_type = dict(zip(scope_types, results, strict=True))
    for scope_type, computed in by_type.items():
        if scope_type in COSTED_SCOPES:
            _campaign_costs(computed, scope_type, bucketing, dialect, lo, hi, in_window, scope_ids)
            for parts in computed.values():
                if parts.campaign_cost is None:
                    parts.campaign_cost = Decimal("0.00")
        if scope_type in BONUS_COSTED_SCOPES and narrow is None:
            _bonus_costs(computed, scope_type, bucketing, lo, hi, scope_ids)
    return {scope_type: dict(computed) for scope_type, computed in by_type.items()}


def campaign_cost_in(campaign: Campaign, start: datetime.date, end: datetime.date) -> Decimal:
    """The part of a campaign's cost that falls in [start, end), pro rata by day (full precision)."""
    overlap_start = max(start, campaign.start_on)
    overlap_end = min(end, campaign.end_on + datetime.timedelta(days=1))
    days = (overlap_end - overlap_start).days
    if days <= 0:
        return Decimal(0)
    return campaign.cost * days / campaign.days


def _campaign_costs(results, scope_type, bucketing, dialect, lo, hi, key, scope_ids) -> None:
    campaigns = list(Campaign.objects.filter(start_on__lt=hi, end_on__gte=lo))
    if scope_ids is not None and scope_type == ScopeType.CAMPAIGN:
        campaigns = [c for c in campaigns if c.pk in scope_ids]
    starts = []
    start = lo
    while start < hi:
        starts.append(start)
        start = bucketing.end(start)
    cost = {(c.pk, s): campaign_cost_in(c, s, bucketing.end(s)) for c in campaigns for s in starts}

    if scope_type == ScopeType.COMPANY:
        for s in starts:
            results[(0, s)].campaign_cost = cents(sum((cost[(c.pk, s)] for c in campaigns), Decimal(0)))
    elif scope_type == ScopeType.CAMPAIGN:
        for c in campaigns:
            for s in starts:
                if cost[(c.pk, s)] or (c.pk, s) in results:
                    results[(c.pk, s)].campaign_cost = cents(cost[(c.pk, s)])
    else:
        # A team carries each campaign's cost in proportion to the revenue it won through it.
        bucket, params = bucketing.of("d.closed_on")
        sql = f"""
            SELECT d.campaign_id, d.team_id, {bucket}, {dialect.money_sum("d.amount")}
            FROM salesteam_deal d
            WHERE d.stage = 'won' AND d.campaign_id IS NOT NULL AND d.closed_on >= {dialect.param()}
              AND d.closed_on < {dialect.param()}
            GROUP BY 1, 2, 3
        """
        revenue: dict = defaultdict(Decimal)
        per_team: list = []
        for campaign_id, team_id, start, amount in _fetch(sql, [*params, lo, hi]):
            start, amount = dialect.date(start), dialect.money(amount)
            revenue[(campaign_id, start)] += amount
            per_team.append((campaign_id, team_id, start, amount))
        shares: dict = defaultdict(Decimal)
        for campaign_id, team_id, start, amount in per_team:
            if team_id is not None and (campaign_id, start) in cost and revenue[(campaign_id, start)]:
                shares[(team_id, start)] += (
                    cost[(campaign_id, start)] * amount / revenue[(campaign_id, start)]
                )
        for k in list(results):
            results[k].campaign_cost = cents(shares.get(k, Decimal(0)))
        for (team_id, start), value in shares.items():
            if (k := key(team_id, start)) is not None and (scope_ids is None or team_id in scope_ids):
                results[k].campaign_cost = cents(value)


def bonus_cost_source():
    """The module that knows the approved bonus cost (settings.KPI_BONUS_COSTS), or None."""
    name = getattr(settings, "KPI_BONUS_COSTS", "")
    return import_module(name) if name else None


def _bonus_costs(results, scope_type, bucketing, lo, hi, scope_ids) -> None:
    """Adds the approved bonus cost of each period, every award spread over its own period by day."""
    source = bonus_cost_source()
    if source is None:
        return
    starts = []
    start = lo
    while start < hi:
        starts.append(start)
        start = bucketing.end(start)
    totals: dict[tuple[int, datetime.date], Decimal] = defaultdict(Decimal)
    for team_id, period_start, period_end, amount in source.costs(start=lo, end=hi):
        scope_id = 0 if scope_type == ScopeType.COMPANY else team_id
        if scope_id is None or (scope_ids is not None and scope_id not in scope_ids):
            continue
        days = (period_end - period_start).days
        for s in starts:
            overlap = (min(period_end, bucketing.end(s)) - max(period_start, s)).days
            if overlap > 0:
                totals[(scope_id, s)] += amount * overlap / days
    for key, value in totals.items():
        results[key].bonus_cost = cents(value)


# --- First wins --------------------------------------------------------------------------------------

FIRST_WIN_SELECT = """
    SELECT customer_id, closed_on, id FROM (
        SELECT customer_id, closed_on, id,
               ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY closed_on, id) AS rn
        FROM salesteam_deal WHERE stage = 'won' {where}
    ) ranked WHERE rn = 1
"""


def refresh_first_wins(customer_ids: list[int] | None = None) -> set[datetime.date]:
    """Brings customers' first won deal up to date (all customers, or those given). Idempotent.

    Only rows that changed are written. Returns the days of the first wins that changed (old and
    new), whose periods must be recomputed.
    """
    if customer_ids is not None and not customer_ids:
        return set()
    where, params = "", []
    if customer_ids is not None:
        where = f"customer_id IN ({', '.join(['%s'] * len(customer_ids))})"
        params = list(customer_ids)
    dialect = Dialect(connection.vendor)
    owned = f"WHERE {where}" if where else ""
    current = f"SELECT customer_id, first_won_on, first_deal_id FROM kpis_customerfirstwin {owned}"
    before = {row[0]: (dialect.date(row[1]), row[2]) for row in _fetch(current, params)}
    fresh = FIRST_WIN_SELECT.format(where=f"AND {where}" if where else "")
    after = {row[0]: (dialect.date(row[1]), row[2]) for row in _fetch(fresh, params)}
    gone = [customer for customer in before if customer not in after]
    changed = [customer for customer, value in after.items() if before.get(customer) != value]
    with transaction.atomic():
        CustomerFirstWin.objects.filter(customer_id__in=gone).delete()
        CustomerFirstWin.objects.bulk_create(
            [
                CustomerFirstWin(customer_id=c, first_won_on=after[c][0], first_deal_id=after[c][1])
                for c in changed
            ],
            update_conflicts=True,
            unique_fields=["customer"],
            update_fields=["first_won_on", "first_deal"],
            batch_size=5000,
        )
    days: set[datetime.date] = set()
    for customer in (*gone, *changed):
        days.update(value[0] for value in (before.get(customer), after.get(customer)) if value)
    return days


def empty_parts(scope_type: str) -> Parts:
    """What a (scope, period) without any row reads as: zero, with zero campaign cost where costed."""
    return Parts(campaign_cost=Decimal("0.00") if scope_type in COSTED_SCOPES else None)
