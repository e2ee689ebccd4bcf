"""Credited revenue and cost of the participants of a plan: what credit splits change in a bonus.

A won deal credits its rep with 100 % of its amount and cost, unless it has a credit split
(`salesteam.models.DealCredit`): then each credited rep gets their share. Commission and quota
attainment count these credited figures, while the KPI engine keeps attributing every deal to its rep.

`credited_totals` is one SQL statement per plan evaluation, for all participants and their date ranges
(prorated reps have their own), with a column pair per narrowed commission, on PostgreSQL and SQLite.
Its Decimal sums are exact: each line is amount in cents × share in hundredths of a percent, an integer.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.db import connection

from incentives.bonus_rules import RepInputs
from kpis.engine import SCOPE_COLUMNS, Dialect
from kpis.models import CustomerFirstWin
from salesteam.models import Customer, Deal, DealCredit, Stage

CENT = Decimal("0.01")
# amount in cents × share in hundredths of a percent = the credited amount in millionths.
SCALE = Decimal(1_000_000)
Narrow = tuple[str, int]


def _exact(units) -> Decimal:
    """A sum of millionths as Decimal: cents when that is exact, full precision otherwise."""
    value = Decimal(units or 0) / SCALE
    cents = value.quantize(CENT)
    return cents if cents == value else value.normalize()


@dataclass
class CreditedTotals:
    """One participant's credited money of won deals over their days in the plan."""

    revenue: Decimal = Decimal("0.00")
    cost: Decimal = Decimal("0.00")
    campaign_revenue: Decimal = Decimal("0.00")
    new_customer_revenue: Decimal = Decimal("0.00")
    narrowed: dict[Narrow, tuple[Decimal, Decimal]] = field(default_factory=dict)  # revenue, cost
    lines: list[dict] = field(default_factory=list)  # one breakdown line per split deal

    def apply_to(self, inputs: RepInputs) -> None:
        """Puts the credited money in place of the deal rep's KPI money; counts and customers stay."""
        inputs.parts = replace(
            inputs.parts,
            revenue=self.revenue,
            cost=self.cost,
            campaign_revenue=self.campaign_revenue,
            new_customer_revenue=self.new_customer_revenue,
        )
        inputs.narrowed = {
            narrow: replace(parts, revenue=self.narrowed[narrow][0], cost=self.narrowed[narrow][1])
            for narrow, parts in inputs.narrowed.items()
        }
        inputs.credit_lines = self.lines


def credited_totals(
    *,
    participants: dict[int, list[tuple[datetime.date, datetime.date]]],
    start: datetime.date,
    end: datetime.date,
    narrows: set[Narrow] | frozenset[Narrow] = frozenset(),
) -> dict[int, CreditedTotals]:
    """Each participant's credited revenue and cost of the deals won in their date ranges, in total and
    for each narrow (a scope type and id, e.g. a segment), with a breakdown line per split deal.

    For the nightly evaluation and simulations, not scoped to a user. Every participant gets an entry,
    zero when nothing is credited to them.
    """
    totals = {rep_id: CreditedTotals() for rep_id in participants}
    ranges = [(rep_id, lo, hi) for rep_id, spans in participants.items() for lo, hi in spans if lo < hi]
    if not ranges:
        return totals
    narrows = sorted(narrows)
    dialect = Dialect(connection.vendor)
    p = dialect.param()
    values = ", ".join(f"(%s, {p}, {p})" for _ in ranges)
    # The line's credited amount in millionths: whole cents times hundredths of a percent.
    share = "CAST(ROUND(COALESCE(dc.share, 100) * 100) AS BIGINT)"
    revenue = f"CAST(ROUND(d.amount * 100) AS BIGINT) * {share}"
    cost = f"CAST(ROUND(d.cost * 100) AS BIGINT) * {share}"
    new_customer = "f.first_won_on >= r.lo AND f.first_won_on < r.hi"
    narrow_sums, narrow_params = [], []
    for scope, scope_id in narrows:
        column = SCOPE_COLUMNS[scope]
        narrow_sums += [f"SUM(CASE WHEN {column} = %s THEN {revenue} END)"]
        narrow_sums += [f"SUM(CASE WHEN {column} = %s THEN {cost} END)"]
        narrow_params += [scope_id, scope_id]
    narrow_columns = "".join(f", {sql}" for sql in narrow_sums)
    customer_join = (
        f" JOIN {Customer._meta.db_table} c ON c.id = d.customer_id"
        if any(scope == "segment" for scope, _id in narrows)
        else ""
    )
    sql = f"""
        WITH r (rep_id, lo, hi) AS (VALUES {values})
        SELECT r.rep_id, CASE WHEN dc.id IS NOT NULL THEN d.id END AS split_deal,
            SUM({revenue}), SUM({cost}),
            SUM(CASE WHEN d.campaign_id IS NOT NULL THEN {revenue} END),
            SUM(CASE WHEN {new_customer} THEN {revenue} END),
            MAX(dc.share), MAX(d.amount), MAX(d.closed_on), MAX(d.title), MAX(d.source), MAX(d.external_id)
            {narrow_columns}
        FROM {Deal._meta.db_table} d
        LEFT JOIN {DealCredit._meta.db_table} dc ON dc.deal_id = d.id
        JOIN r ON r.rep_id = COALESCE(dc.rep_id, d.rep_id) AND d.closed_on >= r.lo AND d.closed_on < r.hi
        LEFT JOIN {CustomerFirstWin._meta.db_table} f ON f.customer_id = d.customer_id{customer_join}
        WHERE d.stage = %s AND d.closed_on >= {p} AND d.closed_on < {p}
        GROUP BY 1, 2
    """
    params = [value for row in ranges for value in row]
    params += [*narrow_params, Stage.WON, start, end]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    found: dict[int, list] = {}
    for row in rows:
        rep_id, split_deal = int(row[0]), row[1]
        sums = found.setdefault(rep_id, [0] * (4 + len(narrow_sums)))
        for index, units in enumerate([*row[2:6], *row[12:]]):
            sums[index] += int(units or 0)
        if split_deal is not None:
            title, source, external_id = row[9], row[10], row[11]
            totals[rep_id].lines.append(
                {
                    "rule": None,
                    "type": "credit",
                    "inputs": {
                        "deal": int(split_deal),
                        "deal_name": title or f"{source}:{external_id}",
                        "share": str(Decimal(str(row[6])).quantize(CENT)),
                        "revenue": str(_exact(row[2])),
                        "deal_revenue": str(Decimal(str(row[7])).quantize(CENT)),
                        "closed_on": dialect.date(row[8]).isoformat(),
                    },
                    "tier": None,
                    "rate": None,
                    "amount": "0",
                }
            )
    for rep_id, sums in found.items():
        entry = totals[rep_id]
        entry.revenue, entry.cost = _exact(sums[0]), _exact(sums[1])
        entry.campaign_revenue, entry.new_customer_revenue = _exact(sums[2]), _exact(sums[3])
        entry.narrowed = {
            narrow: (_exact(sums[4 + 2 * n]), _exact(sums[5 + 2 * n])) for n, narrow in enumerate(narrows)
        }
        entry.lines.sort(key=lambda line: (line["inputs"]["closed_on"], line["inputs"]["deal"]))
    for entry in totals.values():
        for narrow in narrows:
            entry.narrowed.setdefault(narrow, (Decimal("0.00"), Decimal("0.00")))
    return totals
