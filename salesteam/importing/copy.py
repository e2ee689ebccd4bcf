"""PostgreSQL fast path for inserting imported deals: COPY for the deals and for their history rows.

It writes exactly what `bulk_create_with_history` would (one deal row and one "+" history record naming
who imported it and why) at a fraction of the cost, because no model instance is built per row.
Ids are taken from the deal sequence first so both tables can be filled with COPY.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.utils import timezone

from salesteam.models import Deal, User

_TRACKED = [field.attname for field in Deal.history.model.tracked_fields if field.attname != "id"]
_HISTORY_EXTRA = ["history_date", "history_change_reason", "history_type", "history_user_id"]


def copy_deals_with_history(
    rows: list[dict[str, Any]], *, source: str, actor: User | None, reason: str
) -> None:
    """Inserts one deal per dict of field values (attnames, with external_id) and its history record.

    Not idempotent on its own: the caller has checked that none of the (source, external_id) exist, and
    the unique constraint turns a concurrent insert into an IntegrityError that rolls the batch back.
    """
    if not rows:
        return
    deal_table = Deal._meta.db_table
    history_table = Deal.history.model._meta.db_table
    deal_columns = ["id", *_TRACKED, "created_at", "updated_at"]
    history_columns = ["id", *_TRACKED, *_HISTORY_EXTRA]
    now = timezone.now()
    actor_id = actor.pk if actor is not None else None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [deal_table, len(rows)],
        )
        ids = [pk for (pk,) in cursor.fetchall()]
        values = []
        for pk, row in zip(ids, rows, strict=True):
            row["source"] = source
            values.append((pk, *[row[name] for name in _TRACKED]))
        raw = cursor.cursor
        with raw.copy(f"COPY {deal_table} ({', '.join(deal_columns)}) FROM STDIN") as copy:
            for value in values:
                copy.write_row((*value, now, now))
        with raw.copy(f"COPY {history_table} ({', '.join(history_columns)}) FROM STDIN") as copy:
            for value in values:
                copy.write_row((*value, now, reason, "+", actor_id))
