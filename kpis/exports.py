"""Writes KPI rows (kpis.selectors.kpi_rows) as CSV or JSON for BI tools."""

import csv
import json
from collections.abc import Iterable
from typing import IO

COLUMNS = [
    "kpi",
    "scope",
    "scope_id",
    "scope_name",
    "period",
    "start",
    "end",
    "value",
    "numerator",
    "denominator",
]


def _plain(value):
    if value is None:
        return ""
    return str(value)


def write_csv(rows: Iterable[dict], out: IO[str]) -> None:
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_plain(row[column]) for column in COLUMNS])


def write_json(rows: Iterable[dict], out: IO[str]) -> None:
    """Numbers as strings, so that decimals keep their exact value; missing values as null."""
    json.dump(
        [{c: row[c] if row[c] is None or c == "scope_id" else str(row[c]) for c in COLUMNS} for row in rows],
        out,
        indent=1,
    )
