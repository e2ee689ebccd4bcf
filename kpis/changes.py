"""Incremental KPI runs: what the changed customers changed, applied to the stored rows as differences.

Every stored part but three is a sum over customers: revenue, costs and counts of deals, and the
customer counts too (a customer is active, retained, new or acquired in a scope and period or not,
whatever other customers do). So the stored rows change by what the changed customers' deals give
now minus what they gave when the rows were computed. `CountedDeal` holds the deals as the stored
rows count them; an incremental run computes, in one set of passes over both versions of the changed
deals (as counted with sign -1, as they are now with +1; of all their customers' deals where a pass
compares a deal with the customer's others), what their parts changed by, adds that to the stored rows
and copies the changed deals again, all in one transaction. The other three
are recomputed where they can have moved: the cycle median of each (scope, period) whose won deals'
cycles changed, and the campaign and bonus costs of each month, quarter and year in which a won
campaign deal, a campaign or an approved bonus changed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import itertools
import operator
from collections import defaultdict
from collections.abc import Iterable
from typing import NamedTuple

from django.db import connection
from django.db.models import Max, Min, Q, Subquery
from django.utils import timezone

from kpis import engine
from kpis.definitions import Parts
from kpis.models import CountedDeal, KpiValue, PeriodType, ScopeType
from salesteam.models import Customer, Deal

PART_FIELDS = Parts.field_names()
# The parts that are sums over customers; the others are recomputed where they can have moved.
SUMMED = [f for f in PART_FIELDS if f not in ("cycle_days_median", "campaign_cost", "bonus_cost")]
COLUMNS = [
    "id", "customer_id", "segment_id", "rep_id", "team_id", "campaign_id", "touch_point_id",
    "category_id", "stage", "amount", "cost", "created_on", "closed_on", "first_won_on", "first_win",
]  # fmt: skip
DATES = ("created_on", "closed_on", "first_won_on")
# The column of each scope's id on a counted deal (the company has none), as the engine reads it.
SCOPE_FIELDS = {
    scope_type: engine.counted_source().scope_column(scope_type).removeprefix("d.")
    for scope_type in ScopeType.values
    if scope_type != ScopeType.COMPANY
}
SCOPE_ID_COLUMNS = set(SCOPE_FIELDS.values())
# The passes in which a deal counts by itself, whatever its customer's other deals: the two versions of
# the changed deals alone give what they moved.
BY_DEAL = ("closed_deals", "created_deals")
# What the cycle median of a (scope, period) depends on, of each of its deals.
MEDIAN_FACTS = ["stage", "created_on", "closed_on", *SCOPE_FIELDS.values()]
FRESH = "kpis_fresh_deals"  # a temporary table: the changed customers' deals as they are now
COSTED = engine.COSTED_SCOPES | engine.BONUS_COSTED_SCOPES  # the scope types that carry costs

Key = tuple[str, int, str, datetime.date]  # scope type, scope id, period type, period start


def _as_counted(customers: list[int] | None) -> str:
    """SQL: the deals (all, or the customers') in CountedDeal's columns, with each customer's segment
    and first win."""
    where = "" if customers is None else f" AND d.customer_id IN ({engine.id_list(customers)})"
    return f"""
        SELECT d.id, d.customer_id, c.segment_id, d.rep_id, d.team_id, d.campaign_id, d.touch_point_id,
            d.category_id, d.stage, d.amount, d.cost, d.created_on, d.closed_on,
            fw.closed_on AS first_won_on, CASE WHEN fw.id = d.id THEN TRUE ELSE FALSE END AS first_win
        FROM salesteam_deal d
        JOIN salesteam_customer c ON c.id = d.customer_id
        LEFT JOIN ({engine.first_win_select(customers)}) fw ON fw.customer_id = d.customer_id
        WHERE 1 = 1{where}"""


def count_deals(customers: list[int] | None = None) -> None:
    """Copies the deals (all, or those of the customers given) into CountedDeal, replacing what it held
    of them."""
    insert = f"INSERT INTO kpis_counteddeal ({', '.join(COLUMNS)}) {_as_counted(customers)}"
    with connection.cursor() as cursor:
        if customers is not None:
            cursor.execute(f"DELETE FROM kpis_counteddeal WHERE customer_id IN ({engine.id_list(customers)})")
            cursor.execute(insert)
            return
        if connection.vendor == "postgresql":
            _copy_all(cursor, insert)
        else:
            cursor.execute("DELETE FROM kpis_counteddeal")
            cursor.execute(insert)


def _copy_all(cursor, insert: str) -> None:
    """PostgreSQL: every deal into an empty CountedDeal without its indexes (building them afterwards
    takes half the time of keeping them up to date row by row), in the order of their dates, so that
    a shard reads its dates as runs of pages; then the primary key and the indexes the shards read, and
    statistics for their plans. The index by customer, which only incremental runs read, is left to
    `complete_copy`, in a shard beside the others (building an index lets others read the table; adding
    a primary key would not)."""
    cursor.execute(
        "SELECT i.indexname, c.conname FROM pg_indexes i"
        " LEFT JOIN pg_constraint c ON c.conname = i.indexname AND c.contype = 'p'"
        " WHERE i.schemaname = current_schema() AND i.tablename = 'kpis_counteddeal'"
    )
    indexes = cursor.fetchall()
    cursor.execute("TRUNCATE kpis_counteddeal")
    for name, constraint in indexes:
        if constraint:
            cursor.execute(f'ALTER TABLE kpis_counteddeal DROP CONSTRAINT "{name}"')
        else:
            cursor.execute(f'DROP INDEX "{name}"')
    cursor.execute(f"{insert} ORDER BY COALESCE(d.closed_on, d.created_on)")
    cursor.execute("ALTER TABLE kpis_counteddeal ADD PRIMARY KEY (id)")
    for statement in _counted_deal_indexes(for_shards=True):
        cursor.execute(statement)
    cursor.execute("ANALYZE kpis_counteddeal")


def complete_copy() -> None:
    """Completes a full run's copy of the deals (`count_deals()`): rewrites every customer's first win
    from the counted deals and, on PostgreSQL, builds the counted deals' index by customer (a shard of
    the run does it, beside the others). Idempotent."""
    engine.rewrite_first_wins(counted=True)
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for statement in _counted_deal_indexes(for_shards=False):
            cursor.execute(statement.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1))


def _counted_deal_indexes(*, for_shards: bool) -> list[str]:
    """The CREATE INDEX statements of CountedDeal's indexes as its model declares them (what its
    migrations create), those that shards read (by date) or the others (by customer)."""
    with connection.schema_editor(collect_sql=True, atomic=False) as editor:
        editor.create_model(CountedDeal)
    indexes = [statement for statement in editor.collected_sql if statement.startswith("CREATE INDEX")]
    return [statement for statement in indexes if ('("customer_id")' not in statement) == for_shards]


def changed_customers(since: datetime.datetime) -> set[int]:
    """The customers whose deals may differ from their counted deals: those of every deal created,
    changed or deleted since `since` (before and after the change) and of every customer changed since
    (a new segment). A customer counted twice costs a little time and nothing else."""
    history = Deal.history.model
    changed = history.objects.filter(history_date__gte=since)
    updated = Deal.objects.filter(updated_at__gte=since)  # bulk updates leave no history (team moves)
    customers = set(changed.values_list("customer_id", flat=True))
    customers |= set(updated.values_list("customer_id", flat=True))
    for deals in (changed, updated):  # one query each: an OR of the two would read every counted deal
        counted = CountedDeal.objects.filter(id__in=Subquery(deals.values("id")))
        customers |= set(counted.values_list("customer_id", flat=True))
    customers |= set(
        Customer.history.model.objects.filter(history_date__gte=since).values_list("id", flat=True)
    )
    return customers


def apply_changes(customers: list[int], cost_days: set[datetime.date]) -> int:
    """Brings the stored rows and CountedDeal up to date with the deals of `customers`, and recomputes
    the costs of the periods of `cost_days` (campaigns or approved bonuses changed); returns the number
    of rows written. Run it in a transaction: the rows must never show one half of it.

    The customers' deals are read once, into a temporary table, and compared with their counted deals:
    only the customers with a difference are computed, and only from the first day that differs on
    (nothing before it can have moved).
    """
    with _fresh_deals(customers):
        changed = _changed_deals(customers)
        difference = _recount(changed)

    # The versions of the won deals that changed: their cycles move medians, their amounts campaign costs.
    won = [
        row for pair in changed.values() for row in pair if row and row["stage"] == "won" and row["closed_on"]
    ]
    median_keys = {key for row in won if _cycle_moved(*changed[row["id"]]) for key in _keys(row)}
    cost_periods = {
        (period_type, engine.period_start(period_type, day))
        for day in cost_days | {row["closed_on"] for row in won if row["campaign_id"]}
        for period_type in PeriodType.values
    }

    keys = difference.keys() | median_keys
    stored = _stored(keys, cost_periods)
    result: dict[Key, Parts] = {}
    for key in keys:
        parts = result[key] = _copy(stored.get(key)) or engine.empty_parts(key[0])
        if (change := difference.get(key)) is not None:
            for name in SUMMED:
                if value := getattr(change, name):
                    setattr(parts, name, getattr(parts, name) + value)
    for key, median in _medians(median_keys).items():
        result[key].cycle_days_median = median
    for key, (campaign_cost, bonus_cost) in _costs(cost_periods, stored).items():
        parts = result.get(key) or _copy(stored.get(key)) or engine.empty_parts(key[0])
        parts.campaign_cost, parts.bonus_cost = campaign_cost, bonus_cost
        result[key] = parts

    written = {
        key: parts
        for key, parts in result.items()
        if parts != (stored[key].parts if key in stored else engine.empty_parts(key[0]))
    }
    _write(written, stored)
    return len(written)


@contextlib.contextmanager
def _fresh_deals(customers: list[int]):
    """The customers' deals as they are now, in a temporary table: read once, so that what is compared
    with the counted deals is what is counted. (A failure rolls the table back with the transaction.)"""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {FRESH}")  # left by a failure outside a transaction
        cursor.execute(f"CREATE TEMPORARY TABLE {FRESH} AS {_as_counted(customers)}")
    yield
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {FRESH}")


def _changed_deals(customers: list[int]) -> dict[int, tuple[dict | None, dict | None]]:
    """The customers' deals that differ between CountedDeal and the temporary table, by id: (as counted,
    as they are now), None for a version that does not exist."""
    counted, fresh = (_of(table, customers) for table in ("kpis_counteddeal", FRESH))
    before, after = _rows(f"{counted} EXCEPT {fresh}"), _rows(f"{fresh} EXCEPT {counted}")
    return {deal_id: (before.get(deal_id), after.get(deal_id)) for deal_id in before.keys() | after.keys()}


def _of(table: str, ids: list[int], column: str = "customer_id") -> str:
    """SQL: the deals in `table` (CountedDeal or the temporary table) of the customers given (or with
    the ids given in another `column`), in its columns."""
    return f"SELECT {', '.join(COLUMNS)} FROM {table} WHERE {column} IN ({engine.id_list(ids)})"


def _recount(changed: dict[int, tuple]) -> dict[Key, Parts]:
    """Counts the changed deals again, from the temporary table; returns what their parts changed by
    (after minus before, the rows that changed only), from the passes that read what changed, in the
    periods from the first day a change can have moved on. The passes in which a deal counts by itself
    read the changed deals' two versions; the others (a deal compared with its customer's other deals)
    all deals of their customers, up to the year after the last one (whose first periods' retention
    and churn depend on it). Then replaces the changed deals' counted versions."""
    if not changed:
        return {}
    old = [deal_id for deal_id, (version, _new) in changed.items() if version]
    new = [deal_id for deal_id, (_old, version) in changed.items() if version]
    first = min(day for versions in changed.values() for day in _days_moved(*versions))
    moved = _columns_moved(changed.values())
    passes = [name for name, facts in engine.SUM_PASSES.items() if moved & (facts | SCOPE_ID_COLUMNS)]
    difference: dict[Key, Parts] = {}
    if by_deal := [name for name in passes if name in BY_DEAL]:
        last = max(
            row[day] for versions in changed.values() for row in versions if row for day in DATES if row[day]
        )
        source = engine.difference_source(_of("kpis_counteddeal", old, "id"), _of(FRESH, new, "id"))
        _add(difference, _customer_parts(source, (first, datetime.date(last.year + 1, 1, 1)), by_deal))
    if by_customer := [name for name in passes if name not in BY_DEAL]:
        customers = sorted({row["customer_id"] for versions in changed.values() for row in versions if row})
        before, after = _of("kpis_counteddeal", customers), _of(FRESH, customers)
        last = _last_day(f"{before} UNION ALL {after}")
        source = engine.difference_source(before, after)
        _add(difference, _customer_parts(source, (first, datetime.date(last.year + 2, 1, 1)), by_customer))
    _count_again(old, new)
    return difference


def _count_again(old: list[int], new: list[int]) -> None:
    """Replaces the counted versions of the deals `old` by the versions of `new` in the temporary table."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM kpis_counteddeal WHERE id IN ({engine.id_list(old)})")
        cursor.execute(f"INSERT INTO kpis_counteddeal ({', '.join(COLUMNS)}) {_of(FRESH, new, 'id')}")


def _add(total: dict[Key, Parts], more: dict[Key, Parts]) -> None:
    """Adds the summed parts of `more` to those of `total`, key by key."""
    for key, parts in more.items():
        if (into := total.get(key)) is None:
            total[key] = parts
        else:
            for name in SUMMED:
                setattr(into, name, getattr(into, name) + getattr(parts, name))


def _columns_moved(pairs: Iterable[tuple[dict | None, dict | None]]) -> set[str]:
    """The columns in which the two versions of the deals differ: every column for a deal added or
    deleted."""
    moved: set[str] = set()
    for old, new in pairs:
        if old is None or new is None:
            return set(COLUMNS)
        moved.update(column for column in COLUMNS if old[column] != new[column])
    return moved


def _last_day(deals: str) -> datetime.date:
    """The last created, closed or first-win day of the deals of an SQL query in CountedDeal's columns."""
    dialect = engine.Dialect(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(f'MAX({day})' for day in DATES)} FROM ({deals}) deals")
        return max(dialect.date(day) for day in cursor.fetchone() if day is not None)


def _rows(deals: str) -> dict[int, dict]:
    """The deals of an SQL query in CountedDeal's columns, by id, as dicts (dates as dates)."""
    dialect = engine.Dialect(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(deals)
        rows = [dict(zip(COLUMNS, values, strict=True)) for values in cursor.fetchall()]
    for row in rows:
        for day in DATES:
            row[day] = dialect.date(row[day]) if row[day] is not None else None
        row["first_win"] = bool(row["first_win"])
    return {row["id"]: row for row in rows}


def _days_moved(old: dict | None, new: dict | None) -> list[datetime.date]:
    """The days from which a deal's change can move a period: its days before and after, and its
    customer's first win before and after if that moved."""
    versions = [version for version in (old, new) if version]
    moved = (
        ("created_on", "closed_on") if old and new and old["first_won_on"] == new["first_won_on"] else DATES
    )
    return [version[day] for version in versions for day in moved if version[day]]


def _cycle_moved(old: dict | None, new: dict | None) -> bool:
    """Whether a deal's two versions differ in what a cycle median depends on."""
    return old is None or new is None or any(old[name] != new[name] for name in MEDIAN_FACTS)


def deal_days(customers: list[int]) -> set[datetime.date]:
    """The first and the last created or closed day of the customers' deals, counted and live: the
    days a run's windows must cover."""
    days: set[datetime.date] = set()
    for model in (CountedDeal, Deal):
        bounds = model.objects.filter(customer_id__in=customers).aggregate(
            Min("created_on"), Max("created_on"), Min("closed_on"), Max("closed_on")
        )
        days.update(day for day in bounds.values() if day)
    return days


def _customer_parts(
    source: engine.Source, window: tuple[datetime.date, datetime.date], passes: list[str]
) -> dict[Key, Parts]:
    """The parts the deals of `source` give (here, a difference), without costs, in the periods that
    start in the window (or contain its first day), from the `passes` named."""
    computed = engine.compute_calendar(
        ScopeType.values,
        date_from=window[0],
        date_to=window[1],
        source=source,
        sums_only=True,
        passes=passes,
    )
    return {
        (scope_type, scope_id, period_type, start): parts
        for period_type, by_scope in computed.items()
        for scope_type, values in by_scope.items()
        for (scope_id, start), parts in values.items()
    }


def _keys(facts: dict) -> list[Key]:
    """The (scope, period) rows a won deal counts in."""
    scopes = [(ScopeType.COMPANY, 0)] + [
        (scope_type, facts[field]) for scope_type, field in SCOPE_FIELDS.items() if facts[field] is not None
    ]
    return [
        (scope_type, scope_id, period_type, engine.period_start(period_type, facts["closed_on"]))
        for scope_type, scope_id in scopes
        for period_type in PeriodType.values
    ]


class Stored(NamedTuple):
    """A stored KPI row: its primary key and its parts."""

    pk: int
    parts: Parts


STORED_COLUMNS = ["id", "scope_type", "scope_id", "period_type", "period_start", *PART_FIELDS]


def _stored(keys: set[Key], cost_periods: set[tuple[str, datetime.date]]) -> dict[Key, Stored]:
    """The stored rows of `keys`, and every costed scope's rows of the periods given."""
    costed = Q(pk__in=[])
    for period_type in PeriodType.values:
        if starts := {start for kind, start in cost_periods if kind == period_type}:
            costed |= Q(scope_type__in=COSTED, period_type=period_type, period_start__in=starts)
    found = {}
    for pk, scope_type, scope_id, period_type, start, *parts in itertools.chain(
        KpiValue.objects.filter(costed).values_list(*STORED_COLUMNS), _stored_rows(keys)
    ):
        key = (scope_type, scope_id, period_type, start)
        if key in keys or (period_type, start) in cost_periods:
            found[key] = Stored(pk, Parts(*parts))
    return found


def _stored_rows(keys: set[Key]) -> Iterable[tuple]:
    """The stored rows of `keys`, in STORED_COLUMNS: on PostgreSQL one lookup per key in the unique
    index (combined IN lists read every rep's rows of the periods, scattered over the table; a join
    would hash the whole table: LIMIT 1, a key's one row, keeps each lookup apart); elsewhere those of
    the keys' scope ids and periods, a few more than asked."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {', '.join(f'v.{column}' for column in STORED_COLUMNS)}"
                " FROM unnest(%s::varchar[], %s::bigint[], %s::varchar[], %s::date[])"
                " AS k (scope_type, scope_id, period_type, period_start)"
                " CROSS JOIN LATERAL (SELECT * FROM kpis_kpivalue v WHERE v.scope_type = k.scope_type"
                " AND v.scope_id = k.scope_id AND v.period_type = k.period_type"
                " AND v.period_start = k.period_start LIMIT 1) v",
                [list(column) for column in zip(*keys, strict=True)] if keys else [[], [], [], []],
            )
            return cursor.fetchall()
    wanted: dict[tuple[str, str], tuple[set, set]] = defaultdict(lambda: (set(), set()))
    for scope_type, scope_id, period_type, start in keys:
        ids, starts = wanted[(scope_type, period_type)]
        ids.add(scope_id)
        starts.add(start)
    condition = Q(pk__in=[])
    for (scope_type, period_type), (ids, starts) in wanted.items():
        condition |= Q(
            scope_type=scope_type, period_type=period_type, scope_id__in=ids, period_start__in=starts
        )
    return KpiValue.objects.filter(condition).values_list(*STORED_COLUMNS)


def _copy(row: Stored | None) -> Parts | None:
    return dataclasses.replace(row.parts) if row is not None else None


def _medians(keys: set[Key]) -> dict[Key, object]:
    """The cycle median of each (scope, period) given, over all counted deals: one pass for every period
    type, over the periods from the first to the last one asked for."""
    medians: dict[Key, object] = dict.fromkeys(keys)
    if not keys:
        return medians
    first = min(start for _scope_type, _scope_id, _period_type, start in keys)
    end = max(engine.period_end(period_type, start) for _scope_type, _scope_id, period_type, start in keys)
    scope_types = sorted({key[0] for key in keys})
    found = engine.cycle_medians(scope_types, first, end, engine.counted_source())
    for period_type, by_scope in found.items():
        for scope_type, values in by_scope.items():
            for (scope_id, start), parts in values.items():
                if (key := (scope_type, scope_id, period_type, start)) in medians:
                    medians[key] = parts.cycle_days_median
    return medians


def _spans(periods) -> list[tuple[str, datetime.date, datetime.date]]:
    """Per period type, the starts of the (period type, start) pairs given as a span [first, last]:
    (period type, first start, the day after the last start)."""
    starts: dict[str, list[datetime.date]] = defaultdict(list)
    for period_type, start in periods:
        starts[period_type].append(start)
    return [(kind, min(days), max(days) + datetime.timedelta(days=1)) for kind, days in starts.items()]


def _costs(periods: set[tuple[str, datetime.date]], stored: dict[Key, Stored]) -> dict[Key, tuple]:
    """The campaign and bonus costs of every costed row of the periods given, as a full run computes
    them: what the costs give, and zero for the stored rows they no longer reach. One computation per
    period type, over the periods from the first to the last one given."""
    costs: dict[Key, tuple] = {}
    for period_type, first, end in _spans(periods):
        computed = engine.period_costs(sorted(COSTED), period_type, first, end, engine.counted_source())
        for scope_type, values in computed.items():
            for (scope_id, start), parts in values.items():
                if (period_type, start) in periods:
                    costs[(scope_type, scope_id, period_type, start)] = (
                        parts.campaign_cost,
                        parts.bonus_cost,
                    )
    for key in stored:
        if (key[2], key[3]) in periods and key[0] in COSTED and key not in costs:
            costs[key] = (engine.empty_parts(key[0]).campaign_cost, Parts().bonus_cost)
    return costs


def _write(changed: dict[Key, Parts], stored: dict[Key, Stored]) -> None:
    """Replaces the changed rows; drops those that a full run would not write (nothing left in them)."""
    KpiValue.objects.filter(pk__in=[stored[key].pk for key in changed if key in stored]).delete()
    write_values(
        (key, parts)
        for key, parts in changed.items()
        if key[0] == ScopeType.COMPANY or parts != engine.empty_parts(key[0])
    )


def write_values(rows: Iterable[tuple[Key, Parts]]) -> int:
    """Inserts rows, each ((scope type, scope id, period type, period start), parts), in one statement
    on PostgreSQL; returns how many."""
    columns = ["scope_type", "scope_id", "period_type", "period_start", *PART_FIELDS, "computed_at"]
    now, written, values_of = timezone.now(), 0, operator.attrgetter(*PART_FIELDS)
    if connection.vendor == "postgresql":
        # COPY is an order of magnitude faster than INSERT for the ~10^5 rows of a full run.
        with (
            connection.wrap_database_errors,  # as django.db errors, like every other query's
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY kpis_kpivalue ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for key, parts in rows:
                copy.write_row((*key, *values_of(parts), now))
                written += 1
        return written
    values = [
        KpiValue(
            scope_type=scope_type,
            scope_id=scope_id,
            period_type=period_type,
            period_start=start,
            **{f: getattr(parts, f) for f in PART_FIELDS},
        )
        for (scope_type, scope_id, period_type, start), parts in rows
    ]
    KpiValue.objects.bulk_create(values, batch_size=2000)
    return len(values)
