"""PostgreSQL fast paths for writing imported rows: set-based statements instead of model instances.

They write exactly what `bulk_create_with_history` would (one row and one "+" history record naming
who imported it and why) at a fraction of the cost, because no model instance is built per row.
Deal ids are taken from the sequence first so that deals and their history can both be filled by COPY.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.utils import timezone

from salesteam.models import Customer, Deal, User

# The stored fields an import sets, in the model's order; `updated_at` is bumped on change so the KPI
# run sees it.
COMPARED = (
    "title", "rep_id", "team_id", "customer_id", "campaign_id", "touch_point_id", "category_id", "stage",
    "currency", "amount_original", "cost_original", "exchange_rate", "amount", "cost", "created_on",
    "closed_on", "lost_reason",
)  # fmt: skip
_HISTORY_EXTRA = ("history_date", "history_change_reason", "history_type", "history_user_id")

# A field added to Deal must be added to COPY's columns too, or its history rows would go without it.
_TRACKED = {field.attname for field in Deal.history.model.tracked_fields} - {"id"}
if {"source", "external_id", *COMPARED} != _TRACKED:
    raise ImproperlyConfigured("COMPARED must name every tracked Deal field")


def copy_deals_with_history(
    rows: Sequence[tuple[str, tuple[Any, ...]]], *, source: str, actor: User | None, reason: str
) -> None:
    """Inserts one deal per (external_id, values in COMPARED order) and its history record.

    Not idempotent on its own: the caller has checked that none of the (source, external_id) exist, and
    the unique constraint turns a concurrent insert into an IntegrityError that rolls the batch back.
    """
    if not rows:
        return
    columns = ("id", "source", "external_id", *COMPARED)
    deal_table = Deal._meta.db_table
    history_table = Deal.history.model._meta.db_table
    now = timezone.now()
    actor_id = actor.pk if actor is not None else None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [deal_table, len(rows)],
        )
        values = [
            (pk, source, external_id, *fields)
            for (pk,), (external_id, fields) in zip(cursor.fetchall(), rows, strict=True)
        ]
        raw = cursor.cursor
        with raw.copy(f"COPY {deal_table} ({', '.join(columns)}, created_at, updated_at) FROM STDIN") as copy:
            for value in values:
                copy.write_row((*value, now, now))
        with raw.copy(f"COPY {history_table} ({', '.join(columns + _HISTORY_EXTRA)}) FROM STDIN") as copy:
            for value in values:
                copy.write_row((*value, now, reason, "+", actor_id))


def insert_customers_with_history(
    customers: Sequence[tuple[str, str, int | None]], *, actor: User | None, reason: str
) -> list[tuple[str, int]]:
    """Inserts customers given as (external_id, name, segment id) with their history records in one
    statement; returns (external_id, id) of each. A customer that exists already raises IntegrityError."""
    if not customers:
        return []
    history_table = Customer.history.model._meta.db_table
    external_ids, names, segments = zip(*customers, strict=True)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""WITH created AS (
                    INSERT INTO {Customer._meta.db_table} (external_id, name, segment_id)
                    SELECT * FROM unnest(%s::varchar[], %s::varchar[], %s::bigint[])
                    RETURNING id, external_id, name, segment_id
                ), history AS (
                    INSERT INTO {history_table}
                        (id, external_id, name, segment_id, {", ".join(_HISTORY_EXTRA)})
                    SELECT id, external_id, name, segment_id, %s, %s, '+', %s FROM created
                )
                SELECT external_id, id FROM created""",
            [
                list(external_ids),
                list(names),
                list(segments),
                timezone.now(),
                reason,
                actor.pk if actor is not None else None,
            ],
        )
        return cursor.fetchall()
