"""The deal import engine: maps a file's rows to deals, validates them with `services.prepare_deal`,
and writes them batch by batch.

Lookups (reps, customers, categories, campaigns, ...) are resolved through in-memory dicts: small tables
are loaded once, customers once per batch for the ids not seen before, so a batch costs a handful of
queries whatever its size. Deals are keyed by (source, external_id): a row whose deal exists and has the
same values changes nothing, which makes re-running an import safe.

An optional `credits` column holds the deal's credit split as "alice:60;bob:40" (rep as in the rep
column, share in percent); it is checked by `services.deal_credits_validate` like the form's, and an
empty cell means no split. Without the column, splits made in the app are left as they are.

Most rows of a real file are good. `_quick_fields` computes what `prepare_deal` would return for a row
that breaks none of its rules, without building its dicts or a ValidationError; any other row goes
through `prepare_deal` itself, which stays the one place the rules and their messages are written.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from salesteam import selectors, services
from salesteam.importing.copy import COMPARED, copy_deals_with_history, insert_customers_with_history
from salesteam.importing.values import needs_rounding, parse_amount, parse_date, text, username_from
from salesteam.models import (
    CLOSED_STAGES,
    Campaign,
    Category,
    Customer,
    Deal,
    DealCredit,
    Role,
    Segment,
    Stage,
    Team,
    TouchPoint,
    User,
)
from salesteam.services import (
    HUNDRED,
    MAX_MONEY,
    CreditInput,
    ReferenceData,
    deal_credits_validate,
    prepare_deal,
    round_money,
)

UPDATE_FIELDS = [name.removesuffix("_id") for name in COMPARED] + ["updated_at"]

# prepare_deal names fields after the model; the user knows them by the import's column names.
FIELD_TO_COLUMN = {
    "rep": "rep",
    "customer": "customer_id",
    "campaign": "campaign",
    "touch_point": "touch_point",
    "category": "category",
    "stage": "stage",
    "currency": "currency",
    "amount_original": "amount",
    "cost_original": "cost",
    "created_on": "created_on",
    "closed_on": "closed_on",
    "lost_reason": "lost_reason",
    "title": "title",
}
PLACEHOLDER = -1  # the id of something a dry run with create-missing would create
MAX_CACHED_CUSTOMERS = 200_000
STAGES = frozenset(Stage.values)
CLOSED = frozenset(stage.value for stage in CLOSED_STAGES)
ZERO = Decimal(0)
ONE = Decimal(1)


def stored_fields(prepared: dict[str, Any]) -> tuple:
    """The result of `prepare_deal` as the values of COMPARED, in that order."""
    return (
        prepared["title"], prepared["rep"].pk, prepared["team_id"], prepared["customer"],
        prepared["campaign"], prepared["touch_point"], prepared["category"], prepared["stage"],
        prepared["currency"], prepared["amount_original"], prepared["cost_original"],
        prepared["exchange_rate"], prepared["amount"], prepared["cost"], prepared["created_on"],
        prepared["closed_on"], prepared["lost_reason"],
    )  # fmt: skip


@dataclass
class RowError:
    line: int
    column: str
    value: str
    message: str


@dataclass
class Counts:
    processed: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: int = 0
    rounded: int = 0

    def add(self, other: Counts) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class DealImportSettings:
    source: str
    columns: dict[str, str]
    stages: dict[str, str] = field(default_factory=dict)
    dayfirst: bool = False
    decimal_comma: bool = False
    create_missing: bool = False
    commit: bool = True


@dataclass
class BatchResult:
    counts: Counts = field(default_factory=Counts)
    errors: list[RowError] = field(default_factory=list)
    new: list[tuple[str, tuple]] = field(default_factory=list)  # (external_id, values in COMPARED order)
    changed: list[Deal] = field(default_factory=list)
    # external_id -> (the deal's rep id, its split) for the deals whose credit split is to be replaced
    credits: dict[str, tuple[int, list[tuple[User, Decimal]]]] = field(default_factory=dict)


@dataclass
class _Row:
    line: int
    raw: dict[str, Any]
    external_id: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    credit_keys: list[tuple[str, Decimal]] = field(default_factory=list)  # (rep as written, share)
    failed: bool = False


class DealImport:
    """One run over one file. Holds the lookups; `process` handles a batch of (line, cells) rows."""

    def __init__(
        self, *, options: DealImportSettings, headers: list[str], actor: User | None, reason: str = ""
    ) -> None:
        self.options = options
        self.actor = actor
        self.reason = reason or _("import")
        self.header_of = {canonical: header for header, canonical in options.columns.items() if canonical}
        self.index = [
            (canonical, headers.index(header))
            for canonical, header in self.header_of.items()
            if header in headers
        ]
        self.stage_map = {str(raw): stage for raw, stage in options.stages.items() if stage}
        self.maps_credits = "credits" in self.header_of
        self.seen: set[str] = set()
        self.batch_seen: list[str] = []
        self.allowed_rep_ids: set[int] | None = None
        if actor is not None and not actor.is_admin:
            self.allowed_rep_ids = set(selectors.rep_choices(user=actor).values_list("pk", flat=True))
        self.reload()

    # --- lookups ---------------------------------------------------------------------------------

    def reload(self) -> None:
        """(Re)loads the lookups; called at the start and after a batch was rolled back."""
        for external_id in getattr(self, "batch_seen", ()):
            self.seen.discard(external_id)
        self.batch_seen = []
        self.ref = ReferenceData.load()
        self.users: dict[str, User] = {}
        by_name: dict[str, list[User]] = {}
        for user in User.objects.only("id", "username", "email", "full_name", "first_name", "last_name"):
            self.users[user.username.lower()] = user
            if user.email:
                self.users.setdefault(user.email.lower(), user)
            name = (user.full_name or user.get_full_name()).strip().lower()
            if name:
                by_name.setdefault(name, []).append(user)
        for name, users in by_name.items():
            if len(users) == 1:  # a name shared by two people identifies neither
                self.users.setdefault(name, users[0])
        self.teams = {name.lower(): pk for pk, name in Team.objects.values_list("pk", "name")}
        self.segments = {name.lower(): pk for pk, name in Segment.objects.values_list("pk", "name")}
        self.categories = {name.lower(): pk for pk, name in Category.objects.values_list("pk", "name")}
        self.campaigns = {code.lower(): pk for pk, code in Campaign.objects.values_list("pk", "code")}
        self.touch_points: dict[str, int] = {}
        for pk, code, name in TouchPoint.objects.values_list("pk", "code", "name"):
            self.touch_points[code.lower()] = pk
            self.touch_points.setdefault(name.lower(), pk)
        self.customers: dict[str, int] = {}

    def _rep(self, key: str) -> User | None:
        lowered = key.lower()
        return self.users.get(lowered) or self.users.get(username_from(key))

    # --- one batch -------------------------------------------------------------------------------

    def process(self, batch: Iterable[tuple[int, list]]) -> BatchResult:
        """Parses, resolves and validates a batch; in commit mode creates missing reference data and
        returns the deals to insert and update (written by `write`)."""
        result = BatchResult()
        self.batch_seen = []
        rows = [self._parse(line, cells, result) for line, cells in batch]
        result.counts.processed = len(rows)
        self._resolve(rows, result)
        valid = [row for row in rows if not row.failed]
        existing = self._existing([row.external_id for row in valid]) if valid else {}
        credits = self._stored_credits([stored[0] for stored in existing.values()])
        changed: dict[int, dict[str, Any]] = {}
        today = timezone.localdate()
        for row in valid:
            stored = existing.get(row.external_id)
            current = credits.get(stored[0], []) if stored else []
            self._validate(row, stored, changed, result, today, current)
        if changed and self.options.commit:
            now = timezone.now()
            for deal in Deal.objects.filter(pk__in=list(changed)):
                for name, value in changed[deal.pk].items():
                    setattr(deal, name, value)
                deal.updated_at = now
                result.changed.append(deal)
        result.counts.errors = sum(1 for row in rows if row.failed)
        return result

    def _existing(self, external_ids: list[str]) -> dict[str, tuple]:
        """(id, *COMPARED) of the batch's deals that exist already, by external id, in one query."""
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT external_id, id, {', '.join(COMPARED)} FROM {Deal._meta.db_table} "
                    "WHERE source = %s AND external_id = ANY(%s)",
                    [self.options.source, external_ids],
                )
                rows = cursor.fetchall()
        else:
            rows = Deal.objects.filter(source=self.options.source, external_id__in=external_ids).values_list(
                "external_id", "pk", *COMPARED
            )
        return {external_id: tuple(stored) for external_id, *stored in rows}

    def _stored_credits(self, deal_ids: list[int]) -> dict[int, list[CreditInput]]:
        """The stored splits of the batch's existing deals, in one query (none without the column)."""
        if not self.maps_credits or not deal_ids:
            return {}
        splits: dict[int, list[CreditInput]] = {}
        for credit in DealCredit.objects.filter(deal_id__in=deal_ids).select_related("rep").order_by():
            splits.setdefault(credit.deal_id, []).append(CreditInput(credit.rep, credit.share))
        return splits

    def _error(self, row: _Row, result: BatchResult, column: str, message: str) -> None:
        value = row.raw.get(column, "")
        result.errors.append(
            RowError(row.line, self.header_of.get(column, column), text(value)[:255], str(message)[:500])
        )
        row.failed = True

    def _parse(self, line: int, cells: list, result: BatchResult) -> _Row:
        size = len(cells)
        raw = {name: (cells[index] if index < size else "") for name, index in self.index}
        row = _Row(line=line, raw=raw)
        options = self.options
        external_id = text(raw.get("external_id"))
        if not external_id:
            self._error(row, result, "external_id", _("Enter an external id."))
        elif len(external_id) > 100:
            self._error(row, result, "external_id", _("The external id is longer than 100 characters."))
        elif external_id in self.seen:
            self._error(row, result, "external_id", _("This external id appears more than once in the file."))
        else:
            self.seen.add(external_id)
            self.batch_seen.append(external_id)
        row.external_id = external_id

        values = row.values
        stage_raw = text(raw.get("stage"))
        stage = self.stage_map.get(stage_raw) or (stage_raw.lower() if stage_raw.lower() in STAGES else "")
        if not stage:
            if stage_raw:
                message = _("Unknown stage “%(value)s”: map it to a stage on the preview page.")
                self._error(row, result, "stage", message % {"value": stage_raw})
            else:
                self._error(row, result, "stage", _("Enter a stage."))
        values["stage"] = stage
        for name, target in (("amount", "amount_original"), ("cost", "cost_original")):
            try:
                values[target] = parse_amount(raw.get(name), decimal_comma=options.decimal_comma)
            except ValueError as exc:
                self._error(row, result, name, str(exc))
        for name in ("created_on", "closed_on"):
            try:
                values[name] = parse_date(raw.get(name), dayfirst=options.dayfirst)
            except ValueError as exc:
                self._error(row, result, name, str(exc))
        for name, limit in (("title", 200), ("lost_reason", 200)):
            value = text(raw.get(name))
            if len(value) > limit:
                message = _("Longer than %(limit)s characters.") % {"limit": limit}
                self._error(row, result, name, message)
            values[name] = value
        currency = text(raw.get("currency"))
        values["currency"] = currency.upper() if currency else None
        for name in ("rep", "customer_id", "team", "segment", "category", "campaign", "touch_point"):
            value = text(raw.get(name))
            if value:
                row.keys[name] = value
        if self.maps_credits:
            self._parse_credits(row, result)
        return row

    def _parse_credits(self, row: _Row, result: BatchResult) -> None:
        """ "alice:60; bob:40" -> [("alice", 60), ("bob", 40)]; the rep is what precedes the last colon."""
        for entry in filter(None, (part.strip() for part in text(row.raw.get("credits")).split(";"))):
            rep_key, colon, share_text = entry.rpartition(":")
            if not colon or not rep_key.strip():
                message = _(
                    "Write the credit split as rep:share separated by semicolons, e.g. alice:60;bob:40."
                )
                self._error(row, result, "credits", message)
                return
            try:
                share = parse_amount(
                    share_text.strip().removesuffix("%"), decimal_comma=self.options.decimal_comma
                )
            except ValueError as exc:
                self._error(row, result, "credits", str(exc))
                return
            if share is None:
                self._error(row, result, "credits", _("Give %(rep)s a share.") % {"rep": rep_key.strip()})
                return
            row.credit_keys.append((rep_key.strip(), share))

    def _resolve(self, rows: list[_Row], result: BatchResult) -> None:
        """Turns names and codes into ids, creating what is missing when asked to."""
        create = self.options.create_missing
        commit = self.options.commit
        wanted = {row.keys["customer_id"] for row in rows if "customer_id" in row.keys}
        unknown = [key for key in wanted if key not in self.customers]
        if unknown:
            if len(self.customers) > MAX_CACHED_CUSTOMERS:
                self.customers = {}
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"SELECT external_id, id FROM {Customer._meta.db_table} WHERE external_id = ANY(%s)",
                        [unknown],
                    )
                    self.customers.update(cursor.fetchall())
            else:
                for start in range(0, len(unknown), 5000):
                    chunk = unknown[start : start + 5000]
                    self.customers.update(
                        Customer.objects.filter(external_id__in=chunk).values_list("external_id", "pk")
                    )
        if create:
            self._create_missing(rows, commit)
        lookups = {
            "team": self.teams,
            "segment": self.segments,
            "category": self.categories,
            "campaign": self.campaigns,
            "touch_point": self.touch_points,
        }
        labels = {
            "team": _("team"),
            "segment": _("segment"),
            "category": _("category"),
            "campaign": _("campaign"),
            "touch_point": _("touch point"),
        }
        for row in rows:
            keys = row.keys
            values = row.values
            rep_key = keys.get("rep")
            rep = self._rep(rep_key) if rep_key else None
            if rep_key and rep is None:
                self._error(row, result, "rep", self._unknown(_("rep"), rep_key))
            elif (
                rep is not None
                and self.allowed_rep_ids is not None
                and rep.pk is not None
                and rep.pk not in self.allowed_rep_ids
            ):
                message = _("Line %(line)s: “%(rep)s” is not a rep of a team you manage.")
                self._error(row, result, "rep", message % {"line": row.line, "rep": rep_key})
            values["rep"] = rep
            credits = []
            for credit_key, share in row.credit_keys:
                credited = self._rep(credit_key)
                if credited is None:
                    message = _("Unknown rep “%(value)s” in the credit split.") % {"value": credit_key}
                    self._error(row, result, "credits", message)
                credits.append(CreditInput(credited, share))
            values["credits"] = credits
            customer_key = keys.get("customer_id")
            customer = self.customers.get(customer_key) if customer_key else None
            if customer_key and customer is None:
                self._error(row, result, "customer_id", self._unknown(_("customer"), customer_key))
            values["customer"] = customer
            for name, lookup in lookups.items():
                key = keys.get(name)
                pk = lookup.get(key.lower()) if key else None
                if key and pk is None:
                    if name == "touch_point":
                        message = _("Unknown touch point “%(value)s”: an admin can add it.") % {"value": key}
                        self._error(row, result, name, message)
                    else:
                        self._error(row, result, name, self._unknown(labels[name], key))
                values[name] = pk

    def _unknown(self, what: str, key: str) -> str:
        return _("Unknown %(what)s “%(value)s”. An admin can import with “create missing” to add it.") % {
            "what": what,
            "value": key,
        }

    def _create_missing(self, rows: list[_Row], commit: bool) -> None:
        for name, lookup, model in (
            ("team", self.teams, Team),
            ("segment", self.segments, Segment),
            ("category", self.categories, Category),
        ):
            for key in sorted({row.keys[name] for row in rows if name in row.keys}):
                if key.lower() in lookup or len(key) > 100:
                    continue
                lookup[key.lower()] = model.objects.get_or_create(name=key)[0].pk if commit else PLACEHOLDER

        campaign_days: dict[str, list[datetime.date]] = {}
        for row in rows:
            key = row.keys.get("campaign")
            if key and key.lower() not in self.campaigns and len(key) <= 50:
                days = campaign_days.setdefault(key, [])
                days.extend(day for day in (row.values.get("created_on"), row.values.get("closed_on")) if day)
        for key, days in campaign_days.items():
            if not commit:
                self.campaigns[key.lower()] = PLACEHOLDER
                continue
            today = timezone.localdate()
            campaign = Campaign(
                code=key, name=key, start_on=min(days, default=today), end_on=max(days, default=today)
            )
            campaign._history_user = self.actor
            campaign.save()
            self.campaigns[key.lower()] = campaign.pk

        new_reps: dict[str, _Row] = {}
        for row in rows:
            key = row.keys.get("rep")
            if key and self._rep(key) is None:
                first = new_reps.setdefault(key, row)
                if (row.values.get("created_on") or datetime.date.max) < (
                    first.values.get("created_on") or datetime.date.max
                ):
                    new_reps[key] = row
        for key, row in new_reps.items():
            username = username_from(key)
            full_name = key if " " in key.strip() else ""
            email = key if "@" in key else ""
            if not commit:
                self.users[key.lower()] = User(username=username, full_name=full_name, email=email)
                continue
            team_key = row.keys.get("team")
            team_pk = self.teams.get(team_key.lower()) if team_key else None
            user, _changed = services.user_upsert(
                actor=self.actor,
                username=username,
                email=email,
                full_name=full_name,
                role=Role.REP,
                team=Team.objects.get(pk=team_pk) if team_pk else None,
                team_from=row.values.get("created_on"),
            )
            self.users[key.lower()] = user
            self.users[user.username.lower()] = user
            self.ref.memberships.update(ReferenceData.load(user_ids=[user.pk]).memberships)

        new_customers: dict[str, tuple[str, str, int | None]] = {}  # external id, name, segment
        for row in rows:
            key = row.keys.get("customer_id")
            if not key or key in self.customers or key in new_customers or len(key) > 100:
                continue
            segment_key = row.keys.get("segment")
            segment_pk = self.segments.get(segment_key.lower()) if segment_key else None
            name = text(row.raw.get("customer_name")) or key
            segment_id = segment_pk if segment_pk and segment_pk != PLACEHOLDER else None
            new_customers[key] = (key, name[:200], segment_id)
        if not new_customers:
            return
        if not commit:
            self.customers.update(dict.fromkeys(new_customers, PLACEHOLDER))
        elif connection.vendor == "postgresql":
            created_ids = insert_customers_with_history(
                list(new_customers.values()), actor=self.actor, reason=self.reason
            )
            self.customers.update(created_ids)
        else:
            created = bulk_create_with_history(
                [
                    Customer(external_id=key, name=name, segment_id=segment_id)
                    for key, name, segment_id in new_customers.values()
                ],
                Customer,
                batch_size=1000,
                default_user=self.actor,
                default_change_reason=self.reason,
            )
            self.customers.update((customer.external_id, customer.pk) for customer in created)

    def _validate(
        self,
        row: _Row,
        stored: tuple | None,
        changed: dict[int, dict[str, Any]],
        result: BatchResult,
        today: datetime.date,
        current: list[CreditInput],
    ) -> None:
        """Validates one row and sorts it into new, changed or unchanged."""
        values = row.values
        fields = self._quick_fields(values, today)
        if fields is None:
            try:
                prepared = prepare_deal(values, self.ref)
            except ValidationError as error:
                for name, messages in error.message_dict.items():
                    self._error(row, result, FIELD_TO_COLUMN.get(name, name), " ".join(messages))
                return
            fields = stored_fields(prepared)
        split_changed = False
        if self.maps_credits:
            try:
                split = deal_credits_validate(
                    credits=values["credits"], current=current, allowed_rep_ids=self.allowed_rep_ids
                )
            except ValidationError as error:
                self._error(row, result, "credits", " ".join(error.messages))
                return
            split_changed = _shares(split, fields[1]) != _shares(
                [(c.rep, c.share) for c in current], fields[1]
            )
            if split_changed and self.options.commit:
                result.credits[row.external_id] = (fields[1], split)
        if needs_rounding(values["amount_original"]) or needs_rounding(values["cost_original"]):
            result.counts.rounded += 1
        if stored is None:
            result.counts.created += 1
            if self.options.commit:
                result.new.append((row.external_id, fields))
            return
        pk, *old = stored
        if tuple(old) == fields and not split_changed:
            result.counts.unchanged += 1
            return
        result.counts.updated += 1
        if tuple(old) != fields:
            changed[pk] = dict(zip(COMPARED, fields, strict=True))

    def _quick_fields(self, values: dict[str, Any], today: datetime.date) -> tuple | None:
        """What `prepare_deal` returns for a row that breaks none of its rules, in COMPARED order, or
        None when the row might break one (prepare_deal then decides and words the message).

        Written for speed and kept equal to prepare_deal by tests/salesteam/test_import_fast_path.py.
        """
        stage = values["stage"]
        created_on = values["created_on"]
        closed_on = values["closed_on"]
        amount = values["amount_original"]
        cost = values["cost_original"]
        rep = values["rep"]
        if (
            rep is None
            or values["customer"] is None
            or stage not in STAGES
            or created_on is None
            or (closed_on is None) == (stage in CLOSED)
            or (closed_on is not None and closed_on < created_on)
            or amount is None
            or not ZERO <= amount <= MAX_MONEY
            or (cost is not None and not ZERO <= cost <= MAX_MONEY)
        ):
            return None
        currency = values["currency"] or self.ref.reporting_currency
        if currency == self.ref.reporting_currency:
            rate = ONE
        elif len(currency) != 3 or not currency.isalpha() or not currency.isupper():
            return None
        else:
            rate = self.ref.rate_on(currency, closed_on or created_on)
            if rate is None:
                return None
        amount = round_money(amount)
        cost = round_money(cost or ZERO)
        return (
            values["title"] or "",
            rep.pk,
            self.ref.team_on(rep.pk, closed_on or today),
            values["customer"],
            values["campaign"],
            values["touch_point"],
            values["category"],
            stage,
            currency,
            amount,
            cost,
            rate,
            round_money(amount * rate),
            round_money(cost * rate),
            created_on,
            closed_on,
            values["lost_reason"] or "",
        )

    def write(self, result: BatchResult) -> None:
        """Inserts and updates the batch's deals, with one history record each. Call in a transaction."""
        if (result.new or result.changed) and connection.vendor == "postgresql":
            # A crash right after commit may lose the last batches; the job's progress is in the same
            # transactions, so running the job again (it is idempotent) imports them again.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
        if result.new and connection.vendor == "postgresql":
            copy_deals_with_history(
                result.new, source=self.options.source, actor=self.actor, reason=self.reason
            )
        elif result.new:
            source = self.options.source
            bulk_create_with_history(
                [
                    Deal(source=source, external_id=external_id, **dict(zip(COMPARED, fields, strict=True)))
                    for external_id, fields in result.new
                ],
                Deal,
                batch_size=1000,
                default_user=self.actor,
                default_change_reason=self.reason,
            )
        if result.changed:
            bulk_update_with_history(
                result.changed,
                Deal,
                UPDATE_FIELDS,
                batch_size=500,
                default_user=self.actor,
                default_change_reason=self.reason,
            )
        if result.credits:
            ids = dict(
                Deal.objects.filter(
                    source=self.options.source, external_id__in=list(result.credits)
                ).values_list("external_id", "pk")
            )
            services.deal_credits_replace(
                actor=self.actor,
                splits={ids[external_id]: split for external_id, split in result.credits.items()},
                reason=self.reason,
            )


def _shares(split: Iterable[tuple[User, Decimal]], rep_id: int) -> dict:
    """A split as {rep: share} to compare; the deal's own rep with 100 % is no split."""
    shares = {rep.pk if rep.pk is not None else f"new:{rep.username}": share for rep, share in split}
    return {} if shares == {rep_id: HUNDRED} else shares
