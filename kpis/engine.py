"""The set-based KPI engine.

For the scope types and period types asked for, it runs a handful of SQL passes over the deals (closed
deals, their cycle medians, created deals, distinct active customers, first wins) and adds the campaign
and bonus costs, returning the parts of every (scope, period) in a date window. Every scope type is
grouped in the same statement (`Grouping`), and months, quarters and years come from the same rows
(`Periods`). The same code computes calendar periods for storage (`compute_calendar`, one year per KPI
run shard, reading the deals as the stored rows count them) and any other date range on demand
(`compute_scopes`, reading the deals as they are): `Source` says where the deals are read, or, for an
incremental run, which two versions of some deals to subtract (`difference_source`). Plain SQL, with
the few differences between PostgreSQL and SQLite kept in `Dialect` and `Grouping`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import functools
import itertools
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from importlib import import_module

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import DatabaseError, connection, transaction

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
# --- Where the deals are read ------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """The deals the passes read, each as `d`: the live deal table (ranges computed on demand) or the
    counted deals (KPI runs, see `CountedDeal`), optionally only some customers' deals.

    `deals` is the relation with the customer's first win reachable as `first_won_on`, `plain` the one
    without; `first_wins` reads each customer's first won deal as `d` (its closed_on is the first win)
    under the condition `first_win`. A source with a `sign` holds two versions of some deals, the one
    to subtract with sign -1 (see `difference_source`).
    """

    deals: str
    plain: str
    first_won_on: str
    first_wins: str
    first_win: str
    segment: str
    sign: str | None = None

    def scope_column(self, scope_type: str) -> str:
        return self.segment if scope_type == ScopeType.SEGMENT else SCOPE_COLUMNS[scope_type]


def id_list(ids) -> str:
    """SQL: ids inlined as a list, for IN (…): integers only, so nothing else can get in."""
    return ", ".join(str(int(i)) for i in ids) or "NULL"


def live_source(*, with_segment: bool) -> Source:
    """The deal table as it is now, with the first wins of the last KPI run."""
    join = " JOIN salesteam_customer c ON c.id = d.customer_id" if with_segment else ""
    return Source(
        deals=f"salesteam_deal d{join} LEFT JOIN kpis_customerfirstwin f ON f.customer_id = d.customer_id",
        plain=f"salesteam_deal d{join}",
        first_won_on="f.first_won_on",
        first_wins=f"kpis_customerfirstwin f JOIN salesteam_deal d ON d.id = f.first_deal_id{join}",
        first_win="1 = 1",
        segment="c.segment_id",
    )


def counted_source() -> Source:
    """The deals as the stored KPI rows count them (see `CountedDeal`)."""
    return _counted("kpis_counteddeal d")


def difference_source(before: str, after: str) -> Source:
    """Two versions of some deals, `before` and `after`: SQL queries of them in CountedDeal's columns.
    The passes then return what `after` gives minus what `before` gives, and only the (scope, period)
    rows that differ. Both versions are read first (a few customers' deals, by customer) and the
    passes' dates filter those, never a year of deals."""
    versions = f"SELECT b.*, -1 AS sign FROM ({before}) b UNION ALL SELECT a.*, 1 AS sign FROM ({after}) a"
    source = _counted(f"{Dialect(connection.vendor).fenced(['*'], f'({versions}) versions')} d")
    return dataclasses.replace(source, sign="d.sign")


def _counted(deals: str) -> Source:
    """A source of deals in CountedDeal's columns (each row carries its segment and first win)."""
    return Source(
        deals=deals,
        plain=deals,
        first_won_on="d.first_won_on",
        first_wins=deals,
        first_win="d.first_win",
        segment="d.segment_id",
    )


# Scopes that carry campaign cost: company (all of it), campaign (its own), team (by revenue share).
COSTED_SCOPES = {ScopeType.COMPANY, ScopeType.CAMPAIGN, ScopeType.TEAM}
# Scopes that carry the approved bonus cost: company (all of it), team (its reps' awards).
BONUS_COSTED_SCOPES = {ScopeType.COMPANY, ScopeType.TEAM}
# What each pass that sums over customers reads of a deal besides its scope ids, in CountedDeal's
# columns: a change to none of them cannot move what the pass counts (an incremental run skips it).
SUM_PASSES = {
    "closed_deals": {"stage", "amount", "cost", "created_on", "closed_on", "first_won_on"},
    "created_deals": {"stage", "created_on"},
    "customers": {"stage", "closed_on", "first_won_on", "customer_id"},
    "acquired_customers": {"first_win", "first_won_on"},
}
# Scope types with a handful of scopes, whose cycle medians come from a histogram of cycle days (see
# `_Window.cycle_medians`); reps, teams and campaigns are too many for it.
FEW_SCOPES = {ScopeType.COMPANY, ScopeType.SEGMENT, ScopeType.CATEGORY, ScopeType.TOUCH_POINT}


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
        """A date parameter placeholder."""
        return "%s::date" if self.pg else "%s"

    def literal(self, day: datetime.date) -> str:
        # Dates are inlined (a date's ISO form is digits and dashes only), so that an expression can
        # appear several times in a statement without repeating its parameters.
        if type(day) is not datetime.date:
            raise TypeError(f"a date, not {day!r}")
        return f"DATE '{day.isoformat()}'" if self.pg else f"'{day.isoformat()}'"

    def month_number(self, column: str) -> str:
        """Months since the start of year 0: consecutive months have consecutive numbers."""
        if self.pg:
            return f"(date_part('year', {column}) * 12 + date_part('month', {column}) - 1)::int"
        year, month = (f"CAST(strftime('%%{part}', {column}) AS INTEGER)" for part in "Ym")
        return f"({year} * 12 + {month} - 1)"

    def days_between(self, start: str, end: str) -> str:
        if self.pg:
            return f"({end} - {start})"
        return f"CAST(julianday({end}) - julianday({start}) AS INTEGER)"

    def differs(self, left: str, right: str) -> str:
        """NULL-safe inequality."""
        return f"{left} IS DISTINCT FROM {right}" if self.pg else f"{left} IS NOT {right}"

    def cents(self, column: str) -> str:
        """A money column in whole cents: integers sum exactly and faster than decimals (and SQLite sums
        decimals as floats)."""
        return f"({column} * 100)::bigint" if self.pg else f"CAST(ROUND({column} * 100) AS INTEGER)"

    def money(self, whole_cents) -> Decimal:
        return Decimal(int(whole_cents)).scaleb(-2)  # exactly two places, as quantize(CENTS) gives

    def fenced(self, columns: list[str], source: str, where: str = "") -> str:
        """A subquery that computes each row's values once. PostgreSQL would otherwise fold it into the
        grouping and evaluate the expressions again for every grouping set; OFFSET 0 prevents that."""
        condition = f" WHERE {where}" if where else ""
        return f"(SELECT {', '.join(columns)} FROM {source}{condition}{' OFFSET 0' if self.pg else ''})"

    def date(self, value) -> datetime.date:
        return value if isinstance(value, datetime.date) else datetime.date.fromisoformat(value)


class Periods:
    """How the passes number periods, so that SQL groups by cheap integers.

    Calendar periods are numbered by month (months since year 0); a quarter is a month number // 3 and
    a year // 12, so the passes group by month and quarters and years follow by integer division. A
    custom range is number 1 and the equally long range before it, which it compares with, number 0.
    `targets` are the period types asked for, each with its divisor of the base number.
    """

    DIVISORS = {PeriodType.MONTH: 1, PeriodType.QUARTER: 3, PeriodType.YEAR: 12}

    def __init__(self, dialect: Dialect, period_types: list[str] | None = None, custom: Range | None = None):
        self.dialect, self.custom = dialect, custom
        self.targets = ["custom"] if custom else list(period_types)

    def number(self, column: str) -> str:
        """SQL: the base period number of a date column (NULL outside a custom range and its previous)."""
        if self.custom is None:
            return self.dialect.month_number(column)
        day = self.dialect.literal
        cases = " ".join(
            f"WHEN {column} >= {day(r.start)} AND {column} < {day(r.end)} THEN {n}"
            for n, r in ((1, self.custom), (0, self.custom.previous))
        )
        return f"CASE {cases} END"

    def divisor(self, j: int) -> int:
        return 1 if self.custom else self.DIVISORS[self.targets[j]]

    def of(self, j: int, base: str) -> str:
        """SQL: the period number of target j from a base number."""
        divisor = self.divisor(j)
        return base if divisor == 1 else f"({base} / {divisor})"

    def start(self, j: int, number: int) -> datetime.date | None:
        """The first day of target j's period `number`."""
        if self.custom:
            return {1: self.custom.start, 0: self.custom.previous.start}.get(number)
        months = number * self.divisor(j)
        return datetime.date(months // 12, months % 12 + 1, 1)

    def first(self, j: int, day: datetime.date) -> datetime.date:
        """The start of target j's period that contains `day` (or the custom range)."""
        return day if self.custom else period_start(self.targets[j], day)

    def end(self, j: int, start: datetime.date) -> datetime.date:
        if self.custom:
            return self.custom.end if start == self.custom.start else self.custom.start
        return period_end(self.targets[j], start)

    def previous(self, j: int, start: datetime.date) -> datetime.date:
        return self.custom.previous.start if self.custom else previous_start(self.targets[j], start)

    def starts(self, j: int, date_from: datetime.date, date_to: datetime.date) -> list[datetime.date]:
        return [date_from] if self.custom else period_starts(self.targets[j], date_from, date_to)


class Grouping:
    """Groups rows by each of several scopes and periods in one statement.

    PostgreSQL computes the (scope, bucket) groupings as GROUPING SETS in one pass over the rows;
    SQLite, which has no grouping sets, repeats each row once per pair by a cross join with a small
    constant table. Either way the caller writes the source and the aggregates once, and the statement
    returns (scope index, bucket index, scope id, period number, *keys, *aggregates) for every group
    that has a scope id and a period. `keys` are grouped in every set.

    With `divisors`, the rows are grouped by one base period number (a month) and then summed into
    each target period (number // divisor: month, quarter, year), all in SQL; the aggregates must then
    be sums or counts, and the bucket index is the target's. An aggregate given as fn(j) has a variant
    per bucket (or target) j, of which each row gets its own.

    With `nested`, each bucket determines the ones after it (a month its quarter and year): a bucket's
    sets also group by the later buckets, which changes no group, so that PostgreSQL computes a scope's
    sets from one sort (month, quarter and year as one rollup) instead of one sort each; for aggregates
    that cannot be summed from months, like medians. With `nonzero` (sums into target periods only),
    groups whose aggregates are all zero are left out.
    """

    def __init__(self, dialect, scopes, buckets, keys=(), divisors=None, nested=False, nonzero=False):
        if divisors and len(buckets) != 1:
            raise ValueError("rolling up into target periods needs a single base period column")
        if nonzero and not divisors:
            raise ValueError("leaving out zero groups needs sums into target periods")
        self.dialect, self.scopes, self.buckets, self.keys = dialect, scopes, buckets, list(keys)
        self.divisors, self.nested, self.nonzero = divisors, nested, nonzero
        self.variants = len(divisors) if divisors else len(buckets)
        self.aggregates: list[list[str]] = []

    def aggregate(self, expression) -> None:
        """Adds an aggregate: an SQL expression, or fn(j) for one that depends on the bucket or target j."""
        if callable(expression):
            self.aggregates.append([expression(j) for j in range(self.variants)])
        else:
            self.aggregates.append([expression])

    def select(self, source: str, where: str = "") -> str:
        flat = [a for variants in self.aggregates for a in variants]
        grouped = self._grouped(source, where, flat)
        keys = [f"k{n}" for n in range(len(self.keys))]
        columns, position = [], 0
        for variants in self.aggregates:
            names = [f"a{position + j}" for j in range(len(variants))]
            position += len(variants)
            if self.divisors:
                columns.append(f"SUM({self._pick('t.j', names)})")
            else:
                columns.append(self._pick("bt", names))
        if not self.divisors:
            return f"SELECT st, bt, s, b, {', '.join([*keys, *columns])} FROM ({grouped}) grouped"
        targets = " UNION ALL ".join(f"SELECT {j} AS j" for j in range(len(self.divisors)))
        period = (
            "CASE t.j " + " ".join(f"WHEN {j} THEN b / {d}" for j, d in enumerate(self.divisors)) + " END"
        )
        group = ", ".join(str(n) for n in range(1, 5 + len(keys)))
        having = f" HAVING {' OR '.join(f'{column} <> 0' for column in columns)}" if self.nonzero else ""
        return (
            f"SELECT st, t.j, s, {period}, {', '.join([*keys, *columns])}"
            f" FROM ({grouped}) grouped CROSS JOIN ({targets}) t GROUP BY {group}{having}"
        )

    @staticmethod
    def _pick(index: str, names: list[str]) -> str:
        if len(names) == 1:
            return names[0]
        return f"CASE {index} " + " ".join(f"WHEN {j} THEN {name}" for j, name in enumerate(names)) + " END"

    def _grouped(self, source: str, where: str, aggregates: list[str]) -> str:
        """(st, bt, s, b, k0…, a0…) of every group with a scope id and a period."""
        keys = [f"{key} AS k{n}" for n, key in enumerate(self.keys)]
        named = [f"{a} AS a{n}" for n, a in enumerate(aggregates)]
        condition = f" WHERE {where}" if where else ""
        if not self.dialect.pg:
            expansion, scope, bucket = self._expansion(source, where)
            group = ", ".join(str(n) for n in range(1, 5 + len(keys)))
            columns = ["gs.st AS st", "gs.bt AS bt", f"{scope} AS s", f"{bucket} AS b", *keys, *named]
            return f"SELECT {', '.join(columns)} FROM {expansion} GROUP BY {group}"
        # GROUPING() has a bit for each grouped expression left out of the row's set, the first highest;
        # the company scope (a constant) is simply left out of its sets.
        columns = [s for s in self.scopes if s != "0"]
        grouped = [*columns, *self.buckets]
        width = len(grouped)
        st, bt, s, b = [], [], [], []
        for i, scope in enumerate(self.scopes):
            for j in range(len(self.buckets)):
                kept = {len(columns) + k for k in self._bucket_set(j)}
                kept |= {columns.index(scope)} if scope != "0" else set()
                mask = sum(1 << (width - 1 - k) for k in range(width) if k not in kept)
                st.append(f"WHEN {mask} THEN {i}")
                bt.append(f"WHEN {mask} THEN {j}")
                s.append(f"WHEN {mask} THEN {'0' if scope == '0' else f'g{columns.index(scope)}'}")
                b.append(f"WHEN {mask} THEN g{len(columns) + j}")
        sets = ", ".join(
            "(" + ", ".join([*([scope] if scope != "0" else []), *buckets, *self.keys]) + ")"
            for scope in self.scopes
            for buckets in ([self.buckets[k] for k in self._bucket_set(j)] for j in range(len(self.buckets)))
        )
        inner = ", ".join(
            [
                f"GROUPING({', '.join(grouped)}) AS g",
                *(f"{e} AS g{n}" for n, e in enumerate(grouped)),
                *keys,
                *named,
            ]
        )
        decoded = [
            f"CASE g {' '.join(w)} END AS {name}" for w, name in ((st, "st"), (bt, "bt"), (s, "s"), (b, "b"))
        ]
        passed = [f"k{n}" for n in range(len(keys))] + [f"a{n}" for n in range(len(named))]
        return (
            f"SELECT * FROM (SELECT {', '.join([*decoded, *passed])} FROM ("
            f"SELECT {inner} FROM {source}{condition} GROUP BY GROUPING SETS ({sets})"
            ") sets) decoded WHERE s IS NOT NULL AND b IS NOT NULL"
        )

    def _bucket_set(self, j: int) -> range:
        """The buckets grouped in bucket j's sets: j alone, or with `nested` j and those after it."""
        return range(j, len(self.buckets) if self.nested else j + 1)

    def expanded(self, source: str, columns: list[str]) -> str:
        """SQLite only: the rows of `source`, once per (scope, bucket), as st, bt, s, b, *columns."""
        expansion, scope, bucket = self._expansion(source)
        selected = ["gs.st AS st", "gs.bt AS bt", f"{scope} AS s", f"{bucket} AS b", *columns]
        return f"SELECT {', '.join(selected)} FROM {expansion}"

    def _expansion(self, source: str, where: str = "") -> tuple[str, str, str]:
        """SQLite: `source` cross joined with every (scope, bucket) pair; the pair's scope id and bucket."""
        scope = "CASE gs.st " + " ".join(f"WHEN {i} THEN {s}" for i, s in enumerate(self.scopes)) + " END"
        bucket = "CASE gs.bt " + " ".join(f"WHEN {j} THEN {b}" for j, b in enumerate(self.buckets)) + " END"
        pairs = " UNION ALL ".join(
            f"SELECT {i} AS st, {j} AS bt" for i in range(len(self.scopes)) for j in range(len(self.buckets))
        )
        conditions = [*([where] if where else []), f"{scope} IS NOT NULL", f"{bucket} IS NOT NULL"]
        return f"{source} CROSS JOIN ({pairs}) gs WHERE {' AND '.join(conditions)}", scope, bucket

    def rows(self, sql: str, params: list, *, hashed: bool = True) -> list[tuple]:
        return _fetch(sql, params, hashed=hashed)


# --- The passes --------------------------------------------------------------------------------------


def _fetch(sql: str, params: list, *, hashed: bool = False) -> list[tuple]:
    """Runs a query. `hashed` asks PostgreSQL to group by hashing: it cannot estimate how few groups the
    scope expressions give, and would otherwise sort the rows once per grouping. JIT compilation costs
    more than it saves on these one-off statements."""
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.execute(sql, params)
            return cursor.fetchall()
        cursor.execute("SET jit = off" + ("; SET enable_sort = off" if hashed else ""))
        try:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        except DatabaseError:
            # In an aborted transaction the RESET fails too (the rollback undoes the SET); keep the
            # statement's own error.
            with contextlib.suppress(DatabaseError):
                cursor.execute("RESET jit; RESET enable_sort")
            raise
        cursor.execute("RESET jit; RESET enable_sort")
        return rows


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
    """Parts of every (scope id, period start) of each scope type, for the periods from the one that
    contains date_from to the last one starting before date_to (callers pass whole periods).

    With `custom=True` the single range [date_from, date_to) is one period. Scopes and periods without
    any activity are absent; readers treat them as zero. `scope_ids` (with a single scope type) narrows
    the scopes and `narrow` (a scope type and id, e.g. a segment) the deals, for on-demand use.
    """
    dialect = Dialect(connection.vendor)
    periods = (
        Periods(dialect, custom=Range(date_from, date_to)) if custom else Periods(dialect, [period_type])
    )
    source = live_source(with_segment=ScopeType.SEGMENT in (*scope_types, narrow[0] if narrow else None))
    window = _Window(scope_types, periods, date_from, date_to, source, scope_ids=scope_ids, narrow=narrow)
    window.passes()
    return window.with_costs()[0]


def compute_calendar(
    scope_types: list[str],
    *,
    date_from: datetime.date,
    date_to: datetime.date,
    source: Source | None = None,
    sums_only: bool = False,
    passes=SUM_PASSES,
) -> dict[str, dict[str, dict[tuple[int, datetime.date], Parts]]]:
    """Parts of every scope type for the months, quarters and years starting in [date_from, date_to),
    all period types from the same passes over the deals: period type → scope type → parts.

    Reads the deals as they are unless given another `source` (KPI runs read the counted deals).
    With `sums_only`, only the parts that are sums over customers (of the `passes` of SUM_PASSES
    named): no cycle median, campaign or bonus cost.
    """
    periods = Periods(Dialect(connection.vendor), PeriodType.values)
    window = _Window(scope_types, periods, date_from, date_to, source or live_source(with_segment=True))
    window.passes(medians=not sums_only, only=passes)
    computed = window.found() if sums_only else window.with_costs()
    return dict(zip(PeriodType.values, computed, strict=True))


def cycle_medians(scope_types, date_from, date_to, source: Source) -> dict[str, dict[str, dict]]:
    """The cycle medians alone, of the months, quarters and years from those that contain date_from to
    the last ones starting before date_to, from one pass: period type → scope type → (scope id, period
    start) → parts with only the median set."""
    periods = Periods(Dialect(connection.vendor), PeriodType.values)
    window = _Window(scope_types, periods, date_from, date_to, source)
    window.cycle_medians()
    return dict(zip(PeriodType.values, window.found(), strict=True))


def period_costs(scope_types, period_type, date_from, date_to, source: Source) -> dict[str, dict]:
    """The campaign and bonus costs alone, of the periods of one type that start in [date_from, date_to):
    scope type → (scope id, period start) → parts with only the costs set."""
    periods = Periods(Dialect(connection.vendor), [period_type])
    return _Window(scope_types, periods, date_from, date_to, source).with_costs()[0]


class _Window:
    """One computation: its scopes, periods and dates, the SQL pieces every pass shares, and the parts
    found so far, per target period type (j) and scope type (i)."""

    def __init__(
        self, scope_types, periods, date_from, date_to, source: Source, *, scope_ids=None, narrow=None
    ):
        self.scope_types, self.periods, self.scope_ids, self.narrow = scope_types, periods, scope_ids, narrow
        self.source = source
        self.dialect = dialect = periods.dialect
        self.targets = range(len(periods.targets))
        # Each target's periods run from the one containing date_from to the last one starting before
        # date_to; deals are read up to the end of the last one and, for retention and churn, from the
        # start of the period before the first.
        self.starts = [periods.starts(j, date_from, date_to) for j in self.targets]
        self.wanted = [set(s) for s in self.starts]
        self.slots: list[dict[int, datetime.date | None]] = [{} for _ in self.targets]  # number → start
        self.lo = min(periods.first(j, date_from) for j in self.targets)
        self.hi = max(
            (periods.end(j, s[-1]) for j, s in zip(self.targets, self.starts, strict=True) if s),
            default=date_to,
        )
        self.prev_lo = min(periods.previous(j, periods.first(j, date_from)) for j in self.targets)
        self.divisors = [periods.divisor(j) for j in self.targets]  # months are summed into targets in SQL

        self.deals = source.deals
        self.scopes = [source.scope_column(t) for t in scope_types]
        # Each pass's fenced subquery selects the scope ids as s0, s1…; the company scope is a constant.
        self.ids = [f"{scope} AS s{i}" for i, scope in enumerate(self.scopes) if scope != "0"]
        self.x_scopes = [scope if scope == "0" else f"x.s{i}" for i, scope in enumerate(self.scopes)]
        # Every statement holds `filters` exactly once, so that `params` line up with its placeholders.
        self.filters, self.params = "", []
        if scope_ids is not None:
            if len(scope_types) != 1:
                raise ValueError("scope_ids needs a single scope type")
            placeholders = ", ".join(["%s"] * len(scope_ids))
            self.filters += f" AND {self.scopes[0]} IN ({placeholders})" if scope_ids else " AND 1 = 0"
            self.params = list(scope_ids)
        if narrow is not None:
            self.filters += f" AND {source.scope_column(narrow[0])} = %s"
            self.params.append(narrow[1])
        self.closed = periods.number("d.closed_on")
        self.first_won = periods.number(source.first_won_on)
        self.days = dialect.days_between("d.created_on", "d.closed_on")
        # A difference source: each deal's values count with its version's sign (its fenced rows carry
        # it as `sg`), and the groups that sum to zero are left out.
        self.signed = source.sign is not None
        self.sign_column = [f"{source.sign} AS sg"] if self.signed else []
        self.results = [[defaultdict(Parts) for _ in scope_types] for _ in self.targets]

    def passes(self, *, medians: bool = True, only=SUM_PASSES) -> None:
        """Every pass over the deals (or `only` those of SUM_PASSES named), one after the other."""
        if medians:
            self.cycle_medians()
        for name in SUM_PASSES:
            if name in only:
                getattr(self, name)()

    def found(self) -> list[dict[str, dict[tuple[int, datetime.date], Parts]]]:
        """The parts the passes found, without costs: per target period type, scope type → parts."""
        return [
            {scope_type: dict(self.results[j][i]) for i, scope_type in enumerate(self.scope_types)}
            for j in self.targets
        ]

    def parts_at(self, i: int, j: int, scope_id, number: int) -> Parts | None:
        """The parts of scope type i and target j's period `number`; None outside the window. (Called
        for every row the passes return: each period number's start is looked up once.)"""
        slots = self.slots[j]
        if number not in slots:
            start = self.periods.start(j, number)
            slots[number] = start if start in self.wanted[j] else None
        start = slots[number]
        return None if start is None else self.results[j][i][(int(scope_id), start)]

    def times_sign(self, expression: str, sign: str) -> str:
        """SQL: `expression` counted with its deal's `sign` column, for a difference source."""
        return f"{sign} * {expression}" if self.signed else expression

    def sign_of(self, alias: str) -> list[str]:
        """The sign column carried on from the fenced rows `alias`, for a difference source."""
        return [f"{alias}.sg AS sg"] if self.signed else []

    def closed_between(self, lo: datetime.date) -> str:
        day = self.dialect.literal
        return f"d.closed_on >= {day(lo)} AND d.closed_on < {day(self.hi)}{self.filters}"

    def closed_deals(self) -> None:
        """Deals closed in the period: revenue, cost, won and lost counts, cycle days, and the revenue
        from customers whose first win falls in the same period."""
        dialect, periods, fenced = self.dialect, self.periods, self.dialect.fenced
        raw = fenced(
            [
                *self.ids, f"{self.closed} AS n", f"{self.first_won} AS fn",
                "CASE WHEN d.stage = 'won' THEN 1 ELSE 0 END AS won",
                f"{self.times_sign(dialect.cents('d.amount'), 'd.sign')} AS amount",
                f"{self.times_sign(dialect.cents('d.cost'), 'd.sign')} AS cost",
                "CASE WHEN d.campaign_id IS NOT NULL THEN 1 ELSE 0 END AS via_campaign",
                f"{self.times_sign(self.days, 'd.sign')} AS days", *self.sign_column,
            ],
            self.deals,
            f"d.stage IN ('won', 'lost') AND {self.closed_between(self.lo)}",
        )  # fmt: skip
        new_revenue = [
            f"CASE WHEN raw.won = 1 AND {periods.of(j, 'raw.fn')} = {periods.of(j, 'raw.n')}"
            f" THEN raw.amount END AS new{j}"
            for j in self.targets
        ]
        facts = fenced(
            [
                *(f"raw.s{i}" for i, scope in enumerate(self.scopes) if scope != "0"), "raw.n AS n",
                "CASE WHEN raw.won = 1 THEN raw.amount END AS revenue",
                "CASE WHEN raw.won = 1 THEN raw.cost END AS cost",
                "CASE WHEN raw.won = 1 AND raw.via_campaign = 1 THEN raw.amount END AS campaign",
                f"{self.times_sign('raw.won', 'raw.sg')} AS won",
                f"{self.times_sign('(1 - raw.won)', 'raw.sg')} AS lost",
                "CASE WHEN raw.won = 1 THEN raw.days END AS days",
                *new_revenue,
            ],
            f"{raw} raw",
        )  # fmt: skip
        grouping = Grouping(dialect, self.x_scopes, ["x.n"], divisors=self.divisors, nonzero=self.signed)
        for column in ("revenue", "cost", "campaign", "won", "lost", "days"):
            grouping.aggregate(f"COALESCE(SUM(x.{column}), 0)")
        grouping.aggregate(lambda j: f"COALESCE(SUM(x.new{j}), 0)")
        money = dialect.money
        for i, j, scope_id, number, revenue, cost, campaign, won, lost, cycle, new in grouping.rows(
            grouping.select(f"{facts} x"), self.params
        ):
            if (parts := self.parts_at(i, j, scope_id, number)) is not None:
                parts.revenue, parts.cost, parts.campaign_revenue = (
                    money(revenue),
                    money(cost),
                    money(campaign),
                )
                parts.won_count, parts.lost_count, parts.cycle_days_sum = int(won), int(lost), int(cycle)
                parts.new_customer_revenue = money(new)

    def cycle_medians(self) -> None:
        """The exact median of the cycle days of the deals won, grouped by each target period (medians
        cannot be summed from months): from a histogram for the scope types with few scopes, by sorting
        each scope's deals for the others."""
        if self.signed:
            raise ValueError("medians cannot be subtracted")
        won = self.dialect.fenced(
            [*self.ids, f"{self.closed} AS n", f"{self.days} AS days"],
            self.deals,
            f"d.stage = 'won' AND {self.closed_between(self.lo)}",
        )
        few = [i for i, scope_type in enumerate(self.scope_types) if scope_type in FEW_SCOPES]
        many = [i for i, scope_type in enumerate(self.scope_types) if scope_type not in FEW_SCOPES]
        for indexes, medians in ((few, self._histogram_medians), (many, self._sorted_medians)):
            if not indexes:
                continue
            for k, j, scope_id, number, median in medians(won, [self.x_scopes[i] for i in indexes]):
                if (parts := self.parts_at(indexes[k], j, scope_id, number)) is not None:
                    parts.cycle_days_median = Decimal(str(median)).quantize(Decimal("0.1"))

    def _histogram_medians(self, won: str, scopes: list[str]) -> list[tuple]:
        """(scope index, target, scope id, period number, median) from the number of deals won per scope,
        month and cycle days, summed into each target period: the median is the middle one (or the
        mean of the middle two) of a group's days in order, found by a running count. Far fewer rows
        to sort than deals when the scopes are few."""
        grouping = Grouping(self.dialect, scopes, ["x.n"], keys=("x.days",), divisors=self.divisors)
        grouping.aggregate("COUNT(*)")
        group = "PARTITION BY st, j, s, b"
        sql = f"""
            WITH histogram (st, j, s, b, days, deals) AS ({grouping.select(f"{won} x")})
            SELECT st, j, s, b, (MIN(CASE WHEN seen >= low THEN days END)
                                 + MIN(CASE WHEN seen >= high THEN days END)) / 2.0
            FROM (
                SELECT st, j, s, b, days, seen, (total + 1) / 2 AS low, total / 2 + 1 AS high
                FROM (
                    SELECT st, j, s, b, days, SUM(deals) OVER ({group} ORDER BY days) AS seen,
                        CAST(SUM(deals) OVER ({group}) AS BIGINT) AS total
                    FROM histogram
                ) counted
            ) middle
            GROUP BY st, j, s, b"""
        return _fetch(sql, self.params)

    def _sorted_medians(self, won: str, scopes: list[str]) -> list[tuple]:
        """(scope index, target, scope id, period number, median) from each group's days in order."""
        # Each target's period lies within the next one's (month, quarter, year) when each divisor
        # divides the next: the targets' sets can then nest.
        nested = all(later % earlier == 0 for earlier, later in itertools.pairwise(self.divisors))
        grouping = Grouping(
            self.dialect, scopes, [self.periods.of(j, "x.n") for j in self.targets], nested=nested
        )
        if self.dialect.pg:
            grouping.aggregate("percentile_cont(0.5) WITHIN GROUP (ORDER BY x.days)")
            return grouping.rows(grouping.select(f"{won} x"), self.params, hashed=False)
        # No percentile_cont: the middle one or two of each group's days, numbered in order.
        return _fetch(
            f"""SELECT st, bt, s, b, AVG(days) FROM (
                SELECT st, bt, s, b, days,
                    ROW_NUMBER() OVER (PARTITION BY st, bt, s, b ORDER BY days) AS rn,
                    COUNT(*) OVER (PARTITION BY st, bt, s, b) AS n
                FROM ({grouping.expanded(f"{won} x", ["x.days AS days"])}) expanded
            ) numbered WHERE rn IN ((n + 1) / 2, (n + 2) / 2) GROUP BY 1, 2, 3, 4""",
            self.params,
        )

    def created_deals(self) -> None:
        """Deals created in the period, and how many of them are won by now."""
        day = self.dialect.literal
        created = self.dialect.fenced(
            [
                *self.ids,
                f"{self.periods.number('d.created_on')} AS n",
                "CASE WHEN d.stage = 'won' THEN 1 ELSE 0 END AS won",
                *self.sign_column,
            ],
            self.source.plain,
            f"d.created_on >= {day(self.lo)} AND d.created_on < {day(self.hi)}{self.filters}",
        )
        grouping = Grouping(self.dialect, self.x_scopes, ["x.n"], divisors=self.divisors, nonzero=self.signed)
        grouping.aggregate("SUM(x.sg)" if self.signed else "COUNT(*)")
        grouping.aggregate(f"SUM({self.times_sign('x.won', 'x.sg')})")
        for i, j, scope_id, number, count, won in grouping.rows(grouping.select(f"{created} x"), self.params):
            if (parts := self.parts_at(i, j, scope_id, number)) is not None:
                parts.created_count, parts.created_won_count = int(count), int(won)

    def customers(self) -> None:
        """Distinct active customers, those retained from the previous period, and the new ones (first
        win ever in the period).

        Within each scope, each won deal is compared with the customer's won deal just before it (in
        the order of their period numbers: which of a period's deals comes first does not matter): the
        first deal of a period counts the customer as active, and as retained when the one before it
        falls in the period just before. One sort per scope type, whatever the number of period types;
        the segment needs none of its own, since all of a customer's deals are in its segment.
        """
        dialect, periods, fenced, scopes = self.dialect, self.periods, self.dialect.fenced, self.scopes
        won = fenced(
            [
                *self.ids,
                "d.customer_id AS cu",
                f"{self.closed} AS n",
                f"{self.first_won} AS fn",
                *self.sign_column,
            ],
            self.deals,
            f"d.stage = 'won' AND {self.closed_between(self.prev_lo)}",
        )
        per_customer = ("0", self.source.segment)
        customer = "w.sg, w.cu" if self.signed else "w.cu"  # two versions of a customer's deals are apart
        lags = [
            f"LAG(w.n) OVER (PARTITION BY {customer if scope in per_customer else f'{customer}, w.s{i}'}"
            f" ORDER BY w.n) AS p{i}"
            for i, scope in enumerate(scopes)
        ]
        scope_ids = [f"w.s{i}" for i, scope in enumerate(scopes) if scope != "0"]
        lagged = fenced([*scope_ids, "w.n AS n", "w.fn AS fn", *self.sign_of("w"), *lags], f"{won} w")
        # One row per deal and scope type: the scope id and the customer's previous deal in that scope.
        scope_of = " ".join(f"WHEN {i} THEN {'0' if s == '0' else f'l.s{i}'}" for i, s in enumerate(scopes))
        previous_of = " ".join(f"WHEN {i} THEN l.p{i}" for i in range(len(scopes)))
        per_scope = " UNION ALL ".join(f"SELECT {i} AS st" for i in range(len(scopes)))
        expanded = fenced(
            [
                "sc.st AS st", f"CASE sc.st {scope_of} END AS s", f"CASE sc.st {previous_of} END AS prev",
                "l.n AS n", "l.fn AS fn", *self.sign_of("l"),
            ],
            f"{lagged} l CROSS JOIN ({per_scope}) sc",
        )  # fmt: skip
        grouping = Grouping(
            dialect, ["x.s"], ["x.n"], keys=("x.st",), divisors=self.divisors, nonzero=self.signed
        )
        counted = "x.sg" if self.signed else "1"
        for condition in (
            lambda now, prev, first: dialect.differs(prev, now),  # active: first deal of the period
            lambda now, prev, first: f"{prev} = {now} - 1",  # retained: the one before in the period before
            lambda now, prev, first: f"{dialect.differs(prev, now)} AND {first} = {now}",  # new
        ):
            grouping.aggregate(
                lambda j, condition=condition: (
                    "SUM(CASE WHEN "
                    + condition(periods.of(j, "x.n"), periods.of(j, "x.prev"), periods.of(j, "x.fn"))
                    + f" THEN {counted} ELSE 0 END)"
                )
            )
        rows = grouping.rows(grouping.select(f"{expanded} x", "x.s IS NOT NULL"), self.params, hashed=False)
        for _scope_column, j, scope_id, number, i, active, retained, new in rows:  # i: the key x.st
            if (parts := self.parts_at(i, j, scope_id, number)) is not None:
                parts.active_customers, parts.retained_customers = int(active), int(retained)
                parts.new_customers = int(new)
            if (parts := self.parts_at(i, j, scope_id, number + 1)) is not None:
                parts.prev_active_customers = int(active)

    def acquired_customers(self) -> None:
        """Customers acquired: the first won deal ever of a customer, credited to that deal's scope."""
        day = self.dialect.literal
        acquired = self.dialect.fenced(
            [*self.ids, f"{self.first_won} AS n", *self.sign_column],
            self.source.first_wins,
            f"{self.source.first_win} AND {self.source.first_won_on} >= {day(self.lo)}"
            f" AND {self.source.first_won_on} < {day(self.hi)}{self.filters}",
        )
        grouping = Grouping(self.dialect, self.x_scopes, ["x.n"], divisors=self.divisors, nonzero=self.signed)
        grouping.aggregate("SUM(x.sg)" if self.signed else "COUNT(*)")
        for i, j, scope_id, number, count in grouping.rows(grouping.select(f"{acquired} x"), self.params):
            if (parts := self.parts_at(i, j, scope_id, number)) is not None:
                parts.acquired_customers = int(count)

    def with_costs(self) -> list[dict[str, dict[tuple[int, datetime.date], Parts]]]:
        """The parts found, with the campaign cost spread over the campaigns' days and the approved bonus
        cost added: per target period type, scope type → (scope id, period start) → parts."""
        if self.signed:
            raise ValueError("costs are not computed from a difference of deals")
        team_revenue = None
        costed = COSTED_SCOPES.intersection(self.scope_types)
        campaigns = list(Campaign.objects.filter(start_on__lt=self.hi, end_on__gte=self.lo)) if costed else []
        bonused = BONUS_COSTED_SCOPES.intersection(self.scope_types) and self.narrow is None
        source = bonus_cost_source() if bonused else None
        awards = source.costs(start=self.lo, end=self.hi) if source is not None else []
        computed = []
        for j in self.targets:
            by_type = {}
            for i, scope_type in enumerate(self.scope_types):
                values = self.results[j][i]
                if scope_type in COSTED_SCOPES:
                    if scope_type == ScopeType.TEAM and team_revenue is None:
                        team_revenue = _campaign_revenue_by_team(
                            self.source, self.periods, self.lo, self.hi, unit=min(self.divisors)
                        )
                    _campaign_costs(
                        values,
                        scope_type,
                        self.periods,
                        j,
                        self.starts[j],
                        self.scope_ids,
                        campaigns,
                        team_revenue,
                    )
                if scope_type in BONUS_COSTED_SCOPES:
                    _bonus_costs(values, scope_type, self.periods, j, self.starts[j], self.scope_ids, awards)
                if scope_type in COSTED_SCOPES:  # also the periods that only a bonus brought in
                    for parts in values.values():
                        if parts.campaign_cost is None:
                            parts.campaign_cost = Decimal("0.00")
                by_type[scope_type] = dict(values)
            computed.append(by_type)
        return computed


def campaign_cost_in(campaign: Campaign, start: datetime.date, end: datetime.date) -> Decimal:
    """The part of a campaign's cost that falls in [start, end), pro rata by day (full precision)."""
    overlap_start = max(start, campaign.start_on)
    overlap_end = min(end, campaign.end_on + datetime.timedelta(days=1))
    days = (overlap_end - overlap_start).days
    if days <= 0:
        return Decimal(0)
    return campaign.cost * days / campaign.days


def _campaign_revenue_by_team(
    source: Source, periods: Periods, lo: datetime.date, hi: datetime.date, *, unit: int
) -> list[tuple]:
    """(campaign, team, base period number, revenue in whole cents) of the deals won through campaigns
    in [lo, hi), summed by `unit` base periods (the finest target's: a window of years needs no
    months). Cents sum faster than Decimals, and a share of a cost is the same whatever the unit."""
    dialect = periods.dialect
    number = periods.number("d.closed_on")
    grouped = number if unit == 1 else f"({number}) / {unit} * {unit}"
    sql = f"""
        SELECT d.campaign_id, d.team_id, {grouped}, SUM({dialect.cents("d.amount")})
        FROM {source.plain}
        WHERE d.stage = 'won' AND d.campaign_id IS NOT NULL
          AND d.closed_on >= {dialect.literal(lo)} AND d.closed_on < {dialect.literal(hi)}
        GROUP BY 1, 2, 3
    """
    return [
        (campaign_id, team_id, n, int(amount))
        for campaign_id, team_id, n, amount in _fetch(sql, [])
        if n is not None
    ]


def _campaign_costs(results, scope_type, periods, j, starts, scope_ids, campaigns, team_revenue) -> None:
    """Each period's part of the campaigns' cost (the window's campaigns, read once) for the company,
    each campaign, or each team by its share of the campaign's revenue."""
    if not starts:
        return
    lo, hi = starts[0], periods.end(j, starts[-1])
    campaigns = [c for c in campaigns if c.start_on < hi and c.end_on >= lo]
    if scope_ids is not None and scope_type == ScopeType.CAMPAIGN:
        campaigns = [c for c in campaigns if c.pk in scope_ids]
    cost = {(c.pk, s): campaign_cost_in(c, s, periods.end(j, s)) for c in campaigns for s in starts}

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
        revenue: dict = defaultdict(int)
        by_team: dict = defaultdict(int)
        divisor, starts_of = periods.divisor(j), {}
        for campaign_id, team_id, number, amount in team_revenue:
            if (start := starts_of.get(number)) is None:
                start = starts_of[number] = periods.start(j, number // divisor)
            revenue[(campaign_id, start)] += amount  # deals without a team count in the campaign's total
            if team_id is not None:
                by_team[(campaign_id, team_id, start)] += amount
        shares: dict = defaultdict(Decimal)
        for (campaign_id, team_id, start), amount in by_team.items():
            if (campaign_id, start) in cost and revenue[(campaign_id, start)]:
                shares[(team_id, start)] += (
                    cost[(campaign_id, start)] * amount / revenue[(campaign_id, start)]
                )
        for key in list(results):
            results[key].campaign_cost = cents(shares.get(key, Decimal(0)))
        for (team_id, start), value in shares.items():
            if scope_ids is None or team_id in scope_ids:
                results[(team_id, start)].campaign_cost = cents(value)


def bonus_cost_source():
    """The module that knows the approved bonus cost (settings.KPI_BONUS_COSTS), or None."""
    name = getattr(settings, "KPI_BONUS_COSTS", "")
    return import_module(name) if name else None


def _bonus_costs(results, scope_type, periods, j, starts, scope_ids, awards) -> None:
    """Adds the approved bonus cost of each period, every award (the window's awards, read once) spread
    over its own period by day."""
    if not awards or not starts:
        return
    totals: dict[tuple[int, datetime.date], Decimal] = defaultdict(Decimal)
    for team_id, award_start, award_end, amount in awards:
        scope_id = 0 if scope_type == ScopeType.COMPANY else team_id
        if scope_id is None or (scope_ids is not None and scope_id not in scope_ids):
            continue
        days = (award_end - award_start).days
        for s in starts:
            overlap = (min(award_end, periods.end(j, s)) - max(award_start, s)).days
            if overlap > 0:
                totals[(scope_id, s)] += amount * overlap / days
    for key, value in totals.items():
        results[key].bonus_cost = cents(value)


# --- First wins --------------------------------------------------------------------------------------


def first_win_select(customers: list[int] | None = None) -> str:
    """SQL: (customer_id, closed_on, id) of the first won deal of every customer, or of those given
    (whose deals are read by customer first: a plan that combines the customers' deals with every
    won deal's costs more than it saves)."""
    deals = "salesteam_deal"
    if customers is not None:
        deals = Dialect(connection.vendor).fenced(
            ["customer_id", "closed_on", "id", "stage"], deals, f"customer_id IN ({id_list(customers)})"
        )
    return f"""
        SELECT customer_id, closed_on, id FROM (
            SELECT customer_id, closed_on, id,
                   ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY closed_on, id) AS rn
            FROM {deals} d WHERE stage = 'won'
        ) ranked WHERE rn = 1"""


# Each customer's first won deal as the counted deals mark it, in first_win_select's columns.
COUNTED_FIRST_WIN_SELECT = (
    "SELECT customer_id, first_won_on AS closed_on, id FROM kpis_counteddeal WHERE first_win"
)


def rewrite_first_wins(*, counted: bool = False) -> None:
    """Brings every customer's first won deal up to date, set-based, for a full run (which recomputes
    every period, whichever first wins moved): from the deals, or with `counted` from the deals as the
    run counted them (which mark their first wins: no sort). Only the rows that changed are written."""
    moved = " OR ".join(
        Dialect(connection.vendor).differs(f"f.{column}", f"w.{fresh}")
        for column, fresh in (("first_won_on", "closed_on"), ("first_deal_id", "id"))
    )
    deals, won = ("kpis_counteddeal", "d.first_win") if counted else ("salesteam_deal", "d.stage = 'won'")
    first_wins = COUNTED_FIRST_WIN_SELECT if counted else first_win_select()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM kpis_customerfirstwin WHERE NOT EXISTS (SELECT 1 FROM {deals} d"
            f" WHERE d.customer_id = kpis_customerfirstwin.customer_id AND {won})"
        )
        cursor.execute(
            f"""INSERT INTO kpis_customerfirstwin (customer_id, first_won_on, first_deal_id)
            SELECT w.customer_id, w.closed_on, w.id FROM ({first_wins}) w
            LEFT JOIN kpis_customerfirstwin f ON f.customer_id = w.customer_id
            WHERE f.customer_id IS NULL OR {moved}
            ON CONFLICT (customer_id) DO UPDATE
            SET first_won_on = excluded.first_won_on, first_deal_id = excluded.first_deal_id"""
        )


def refresh_first_wins(customer_ids: list[int]) -> set[datetime.date]:
    """Brings the first won deal of the customers given up to date. Idempotent.

    Only rows that changed are written. Returns the days of the first wins that changed (old and
    new), whose periods must be recomputed.
    """
    if not customer_ids:
        return set()
    dialect = Dialect(connection.vendor)
    current = (
        "SELECT customer_id, first_won_on, first_deal_id FROM kpis_customerfirstwin"
        f" WHERE customer_id IN ({id_list(customer_ids)})"
    )
    before = {row[0]: (dialect.date(row[1]), row[2]) for row in _fetch(current, [])}
    after = {row[0]: (dialect.date(row[1]), row[2]) for row in _fetch(first_win_select(customer_ids), [])}
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
