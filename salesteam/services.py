"""Every state change of the core domain. Each service runs in a transaction and leaves history.

Deal validation is written once, in `prepare_deal`, and shared by the form, the API and the import.
It works on plain values and a `ReferenceData` snapshot so that an import validates thousands of rows
without a query per row.
"""

from __future__ import annotations

import bisect
import datetime
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, NamedTuple

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from salesteam.models import (
    CLOSED_STAGES,
    Deal,
    DealCredit,
    ExchangeRate,
    Membership,
    Role,
    Stage,
    Team,
    User,
)

CENT = Decimal("0.01")
MAX_MONEY = Decimal("999999999999.99")


def round_money(value: Decimal) -> Decimal:
    """Rounds half up to cents, the one rounding rule for money in Salesteam."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def parse_decimal(raw: Any, *, decimal_comma: bool = False) -> Decimal:
    """Parses a user-typed amount; raises ValueError with a readable message."""
    if isinstance(raw, Decimal):
        return raw
    if isinstance(raw, int | float):
        return Decimal(str(raw))
    text = str(raw).strip().replace("\u00a0", "").replace(" ", "")
    if decimal_comma:
        text = text.replace(".", "").replace(",", ".")
    else:
        text = text.replace(",", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(_("“%(value)s” is not a number.") % {"value": raw}) from None
    if not value.is_finite():
        raise ValueError(_("“%(value)s” is not a number.") % {"value": raw})
    return value


# --- Reference data ----------------------------------------------------------------------------------


@dataclass
class ReferenceData:
    """Memberships and exchange rates held in memory to resolve many deals without a query each."""

    memberships: dict[int, list[tuple[datetime.date, datetime.date | None, int]]] = field(
        default_factory=dict
    )
    rates: dict[str, tuple[list[datetime.date], list[Decimal]]] = field(default_factory=dict)
    reporting_currency: str = "EUR"

    @classmethod
    def load(cls, *, user_ids: Iterable[int] | None = None) -> ReferenceData:
        memberships: dict[int, list] = defaultdict(list)
        rows = Membership.objects.order_by("user_id", "valid_from")
        if user_ids is not None:
            rows = rows.filter(user_id__in=list(user_ids))
        for user_id, valid_from, valid_to, team_id in rows.values_list(
            "user_id", "valid_from", "valid_to", "team_id"
        ):
            memberships[user_id].append((valid_from, valid_to, team_id))
        rates: dict[str, tuple[list, list]] = {}
        for currency, valid_from, rate in ExchangeRate.objects.order_by("currency", "valid_from").values_list(
            "currency", "valid_from", "rate"
        ):
            days, values = rates.setdefault(currency, ([], []))
            days.append(valid_from)
            values.append(rate)
        return cls(dict(memberships), rates, settings.REPORTING_CURRENCY)

    def team_on(self, user_id: int, day: datetime.date) -> int | None:
        for valid_from, valid_to, team_id in self.memberships.get(user_id, ()):
            if valid_from <= day and (valid_to is None or day < valid_to):
                return team_id
        return None

    def rate_on(self, currency: str, day: datetime.date) -> Decimal | None:
        if currency == self.reporting_currency:
            return Decimal(1)
        days, values = self.rates.get(currency, ([], []))
        index = bisect.bisect_right(days, day) - 1
        return values[index] if index >= 0 else None


def team_of(user: User, day: datetime.date | None = None) -> Team | None:
    """The team `user` belonged to on `day` (today by default)."""
    day = day or timezone.localdate()
    membership = Membership.objects.on(day).filter(user=user).select_related("team").first()
    return membership.team if membership else None


# --- Deals -------------------------------------------------------------------------------------------

DEAL_INPUT_FIELDS = (
    "title",
    "rep",
    "customer",
    "campaign",
    "touch_point",
    "category",
    "stage",
    "currency",
    "amount_original",
    "cost_original",
    "created_on",
    "closed_on",
    "lost_reason",
)


def prepare_deal(values: dict[str, Any], ref: ReferenceData) -> dict[str, Any]:
    """Validates the input values of one deal and derives team, exchange rate and reporting amounts.

    `values` holds model instances for the relations and Decimals/dates for the rest. Returns the
    field values to store; raises ValidationError with one message per offending field.
    """
    errors: dict[str, str] = {}
    stage = values.get("stage") or Stage.LEAD
    created_on = values.get("created_on")
    closed_on = values.get("closed_on")
    currency = (values.get("currency") or ref.reporting_currency).upper()
    amount = values.get("amount_original")
    cost = values.get("cost_original")
    if cost is None:
        cost = Decimal(0)

    if values.get("rep") is None:
        errors["rep"] = _("A deal needs a rep.")
    if values.get("customer") is None:
        errors["customer"] = _("A deal needs a customer.")
    if stage not in Stage.values:
        errors["stage"] = _("Unknown stage “%(stage)s”.") % {"stage": stage}
    if created_on is None:
        errors["created_on"] = _("Enter the date the deal was created.")
    if stage in CLOSED_STAGES and closed_on is None:
        errors["closed_on"] = _("A won or lost deal needs a closing date.")
    elif stage not in CLOSED_STAGES and closed_on is not None:
        errors["closed_on"] = _("Only won or lost deals have a closing date.")
    elif closed_on and created_on and closed_on < created_on:
        errors["closed_on"] = _("The closing date cannot be before the creation date.")
    if amount is None:
        errors["amount_original"] = _("Enter an amount.")
    elif amount < 0:
        errors["amount_original"] = _("The amount cannot be negative.")
    elif amount > MAX_MONEY:
        errors["amount_original"] = _("The amount is too large.")
    if cost < 0:
        errors["cost_original"] = _("The cost cannot be negative.")
    elif cost > MAX_MONEY:
        errors["cost_original"] = _("The cost is too large.")
    if len(currency) != 3 or not currency.isalpha():
        errors["currency"] = _("Use a three-letter ISO currency code such as EUR.")

    rate = None
    rate_day = closed_on or created_on
    if "currency" not in errors and rate_day is not None:
        rate = ref.rate_on(currency, rate_day)
        if rate is None:
            errors["currency"] = _(
                "No exchange rate for %(currency)s on %(day)s: an admin must add one under Exchange rates."
            ) % {"currency": currency, "day": rate_day.isoformat()}
    if errors:
        raise ValidationError(errors)

    amount = round_money(amount)
    cost = round_money(cost)
    rep = values["rep"]
    prepared = {key: values.get(key) for key in DEAL_INPUT_FIELDS}
    prepared.update(
        stage=stage,
        currency=currency,
        amount_original=amount,
        cost_original=cost,
        exchange_rate=rate,
        amount=round_money(amount * rate),
        cost=round_money(cost * rate),
        title=values.get("title") or "",
        lost_reason=values.get("lost_reason") or "",
        team_id=ref.team_on(rep.pk, closed_on or timezone.localdate()),
    )
    return prepared


def _save_deal(deal: Deal, prepared: dict[str, Any], actor: User | None) -> Deal:
    for key, value in prepared.items():
        setattr(deal, key, value)
    deal._history_user = actor
    deal.save()
    return deal


def _prepare_with_credits(
    values: dict[str, Any],
    ref: ReferenceData,
    *,
    actor: User | None,
    credits: Sequence[CreditInput] | None,
    current: Sequence[CreditInput] = (),
) -> tuple[dict[str, Any], list[tuple[User, Decimal]] | None]:
    """`prepare_deal` and, when a split is given, `deal_credits_validate`; the errors of both at once."""
    errors: dict[str, list[str]] = {}
    prepared, split = {}, None
    try:
        prepared = prepare_deal(values, ref)
    except ValidationError as error:
        errors.update(error.message_dict)
    if credits is not None:
        try:
            split = deal_credits_validate(
                credits=credits, current=current, allowed_rep_ids=_allowed_rep_ids(actor)
            )
        except ValidationError as error:
            errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    return prepared, split


@transaction.atomic
def deal_create(
    *,
    actor: User | None,
    source: str = "manual",
    external_id: str = "",
    credits: Sequence[CreditInput] | None = None,
    **values: Any,
) -> Deal:
    """Creates a deal after validating it. Manual deals get a generated external id. `credits`, when
    given, is the deal's credit split (see `deal_credits_validate`)."""
    ref = ReferenceData.load(user_ids=[values["rep"].pk] if values.get("rep") else [])
    prepared, split = _prepare_with_credits(values, ref, actor=actor, credits=credits)
    external_id = external_id or _next_manual_id()
    if Deal.objects.filter(source=source, external_id=external_id).exists():
        raise ValidationError(
            {"external_id": _("A deal with external id “%(id)s” already exists.") % {"id": external_id}}
        )
    deal = _save_deal(Deal(source=source, external_id=external_id), prepared, actor)
    if split:
        deal_credits_replace(actor=actor, splits={deal.pk: (deal.rep_id, split)})
    return deal


def _next_manual_id() -> str:
    return f"M-{timezone.now():%Y%m%d%H%M%S%f}"


@transaction.atomic
def deal_update(
    *, actor: User | None, deal: Deal, credits: Sequence[CreditInput] | None = None, **changes: Any
) -> Deal:
    """Applies `changes` to a deal (locked for the update) and keeps the old values in its history.
    `credits`, when given, replaces the deal's credit split; None leaves it as it is."""
    deal = Deal.objects.select_for_update().get(pk=deal.pk)
    values = {key: getattr(deal, key) for key in DEAL_INPUT_FIELDS}
    values.update(changes)
    if (
        values.get("stage") in CLOSED_STAGES
        and values.get("closed_on") is None
        and "closed_on" not in changes
    ):
        values["closed_on"] = timezone.localdate()
    current = (
        [CreditInput(c.rep, c.share) for c in deal.credits.select_related("rep")]
        if credits is not None
        else []
    )
    prepared, split = _prepare_with_credits(
        values,
        ReferenceData.load(user_ids=[values["rep"].pk] if values.get("rep") else []),
        actor=actor,
        credits=credits,
        current=current,
    )
    deal = _save_deal(deal, prepared, actor)
    if split is not None:
        deal_credits_replace(actor=actor, splits={deal.pk: (deal.rep_id, split)})
    return deal


def deal_set_stage(*, actor: User | None, deal: Deal, stage: str, lost_reason: str = "") -> Deal:
    """Quick stage change from the pipeline: closing sets today as closing date, reopening clears it."""
    changes: dict[str, Any] = {"stage": stage}
    if stage in CLOSED_STAGES:
        changes["closed_on"] = deal.closed_on or max(timezone.localdate(), deal.created_on)
    else:
        changes["closed_on"] = None
    if stage == Stage.LOST and lost_reason:
        changes["lost_reason"] = lost_reason
    return deal_update(actor=actor, deal=deal, **changes)


@transaction.atomic
def deal_delete(*, actor: User | None, deal: Deal) -> None:
    """Deletes a deal; its history keeps a deletion record naming who deleted it."""
    deal._history_user = actor
    deal.delete()


# --- Credit splits -----------------------------------------------------------------------------------

HUNDRED = Decimal(100)
SHARE_PLACES = Decimal("0.01")


class CreditInput(NamedTuple):
    """One line of a credit split as entered: a rep (None when not chosen) and a percentage."""

    rep: User | None
    share: Decimal | None


def percent_text(value: Decimal) -> str:
    """60.00 -> "60 %", 33.33 -> "33.33 %" (in the active language's number format)."""
    value = value.normalize()
    if value == value.to_integral_value():
        value = value.quantize(Decimal(1))
    return f"{number_format(value)} %"


def _rep_key(rep: User) -> int | str:
    # A rep that a dry run with create-missing would create has no id yet: its username tells it apart.
    return rep.pk if rep.pk is not None else f"new:{rep.username}"


def _allowed_rep_ids(actor: User | None) -> set[int] | None:
    """Reps whose share `actor` may set, None for anyone (admins and the system)."""
    if actor is None or actor.is_admin:
        return None
    from salesteam.selectors import rep_choices  # the selectors import this module

    return set(rep_choices(user=actor).values_list("pk", flat=True))


def deal_credits_validate(
    *,
    credits: Sequence[CreditInput],
    current: Sequence[CreditInput] = (),
    allowed_rep_ids: set[int] | None = None,
) -> list[tuple[User, Decimal]]:
    """The one check of a credit split, used by the form, the API and the import (without queries).

    Rules: each line names a rep and a share above 0 % and at most 100 % with at most two decimals;
    no rep twice; the shares add up to exactly 100 %. An empty split means "no split": the deal's rep
    gets 100 %. `current` is the deal's split as stored: a rep outside `allowed_rep_ids` (None: any rep)
    can be neither added nor have their share changed or removed, so a manager changes the shares of
    their own reps only. Returns (rep, share) per line; raises ValidationError on "credits" naming each
    problem.
    """
    errors: list[str] = []
    split: list[tuple[User, Decimal]] = []
    seen: set[int | str] = set()
    for rep, share in credits:
        if rep is None:
            errors.append(_("Choose a rep for each share."))
            continue
        name = rep.display_name
        if share is None:
            errors.append(_("Enter the share of %(rep)s.") % {"rep": name})
            continue
        if not share.is_finite() or share <= 0:
            errors.append(_("The share of %(rep)s must be above 0 %%.") % {"rep": name})
            continue
        if share > HUNDRED:
            errors.append(_("The share of %(rep)s cannot be above 100 %%.") % {"rep": name})
            continue
        if share != share.quantize(SHARE_PLACES):
            errors.append(_("Give the share of %(rep)s with at most two decimals.") % {"rep": name})
            continue
        key = _rep_key(rep)
        if key in seen:
            errors.append(_("%(rep)s is credited more than once; give each rep one share.") % {"rep": name})
            continue
        seen.add(key)
        split.append((rep, share.quantize(SHARE_PLACES)))
    if not errors and split:
        total = sum((share for _rep, share in split), Decimal(0))
        if total != HUNDRED:
            errors.append(
                _("Shares add up to %(total)s; they must add up to 100 %%.") % {"total": percent_text(total)}
            )
    if allowed_rep_ids is not None:
        before = {_rep_key(rep): (rep, share) for rep, share in current if rep is not None}
        after = {_rep_key(rep): share for rep, share in split}
        for key, (rep, share) in before.items():
            if key not in allowed_rep_ids and after.get(key) != share and not errors:
                errors.append(
                    _("Only a manager of %(rep)s or an admin can change their share of %(share)s.")
                    % {"rep": rep.display_name, "share": percent_text(share)}
                )
        for rep, _share in split:
            key = _rep_key(rep)
            if key not in before and rep.pk is not None and key not in allowed_rep_ids:
                errors.append(
                    _("You cannot credit %(rep)s: they are not a rep of a team you manage.")
                    % {"rep": rep.display_name}
                )
    if errors:
        raise ValidationError({"credits": errors})
    return split


@transaction.atomic
def deal_credits_replace(
    *,
    actor: User | None,
    splits: dict[int, tuple[int, Sequence[tuple[User | int, Decimal]]]],
    reason: str = "",
) -> set[int]:
    """Makes the stored credits of each deal equal to its validated split and returns the ids of the
    deals whose split changed. `splits` maps a deal id to (the deal's rep id, its split); a split that
    credits the deal's own rep alone is stored as no split. Idempotent: an unchanged split writes
    nothing. Each added, changed or removed line gets a history record naming `actor`, all with the
    same time so that the deal's history shows one change. Called by the deal services and the import.
    """
    wanted: dict[int, dict[int, Decimal]] = {}
    for deal_id, (rep_id, split) in splits.items():
        shares = {rep if isinstance(rep, int) else rep.pk: share for rep, share in split}
        wanted[deal_id] = {} if shares == {rep_id: HUNDRED} else shares
    stored: dict[int, dict[int, DealCredit]] = defaultdict(dict)
    for credit in DealCredit.objects.filter(deal_id__in=list(wanted)):
        stored[credit.deal_id][credit.rep_id] = credit
    added, changed, removed = [], [], []
    for deal_id, shares in wanted.items():
        old = stored.get(deal_id, {})
        removed += [credit for rep_id, credit in old.items() if rep_id not in shares]
        for rep_id, share in shares.items():
            credit = old.get(rep_id)
            if credit is None:
                added.append(DealCredit(deal_id=deal_id, rep_id=rep_id, share=share))
            elif credit.share != share:
                credit.share = share
                changed.append(credit)
    now = timezone.now()
    history = {"default_user": actor, "default_change_reason": reason or None, "default_date": now}
    for credit in removed:  # one by one: the delete signal writes each line's history record
        credit._history_user, credit._history_date, credit._change_reason = actor, now, reason or None
        credit.delete()
    if changed:
        bulk_update_with_history(changed, DealCredit, ["share"], batch_size=1000, **history)
    if added:
        bulk_create_with_history(added, DealCredit, batch_size=1000, **history)
    touched = {credit.deal_id for credit in (*added, *changed, *removed)}
    if touched:
        # API clients sync on updated_at; the deal's own history is unchanged (its split has its own).
        Deal.objects.filter(pk__in=touched).update(updated_at=now)
    return touched


# --- People and teams --------------------------------------------------------------------------------


@transaction.atomic
def membership_move(*, actor: User | None, user: User, team: Team, valid_from: datetime.date) -> Membership:
    """Moves `user` into `team` from `valid_from` on.

    The open membership ends that day; deals closed from that day on, and open deals, follow the rep to
    the new team, while deals closed before keep their team. Moving a rep twice to the same team on
    the same day changes nothing.
    """
    User.objects.select_for_update().filter(pk=user.pk).first()
    current = Membership.objects.filter(user=user, valid_to__isnull=True).first()
    if current and current.team_id == team.pk and current.valid_from <= valid_from:
        return current
    later = Membership.objects.filter(user=user, valid_from__gte=valid_from)
    if later.exclude(pk=getattr(current, "pk", None)).exists():
        raise ValidationError({"valid_from": _("The rep already has a later team move; undo it first.")})
    if current:
        if current.valid_from >= valid_from:
            current._history_user = actor
            current.delete()
            current = None
        else:
            current.valid_to = valid_from
            current._history_user = actor
            current.save(update_fields=["valid_to"])
    membership = Membership(user=user, team=team, valid_from=valid_from)
    membership._history_user = actor
    membership.save()
    Deal.objects.filter(rep=user).filter(Q(closed_on__gte=valid_from) | Q(closed_on__isnull=True)).update(
        team=team, updated_at=timezone.now()
    )
    return membership


def user_deactivation_error(*, user: User, on: datetime.date | None = None) -> str | None:
    """Why `user` cannot leave on `on` (today by default), or None: a team move that only starts on or
    after that day must be undone first. Shown by the admin's form, raised by user_deactivate."""
    on = on or timezone.localdate()
    joining = Membership.objects.filter(user=user, valid_to__isnull=True, valid_from__gte=on).first()
    if joining is None:
        return None
    return _("%(name)s only joins their team on %(day)s; undo that move first.") % {
        "name": user.display_name,
        "day": date_format(joining.valid_from, "DATE_FORMAT"),
    }


@transaction.atomic
def user_deactivate(*, actor: User | None, user: User, on: datetime.date | None = None) -> User:
    """Someone leaves on `on` (today by default): they can no longer log in, their open team
    membership ends that day and they stop managing teams. Their deals, goals and awards keep their
    history, and plans prorate them by the days they were in the team. Idempotent."""
    on = on or timezone.localdate()
    user = User.objects.select_for_update().get(pk=user.pk)
    if error := user_deactivation_error(user=user, on=on):
        raise ValidationError({"on": error})
    if user.is_active:
        user.is_active = False
        user._history_user = actor
        user.save(update_fields=["is_active"])
    for membership in Membership.objects.filter(user=user, valid_to__isnull=True):
        membership.valid_to = on
        membership._history_user = actor
        membership.save(update_fields=["valid_to"])
    for team in Team.objects.filter(managers=user):
        team.managers.remove(user)  # from the team's side, so that the team's history records it
    return user


@transaction.atomic
def user_upsert(
    *,
    actor: User | None,
    username: str,
    email: str = "",
    full_name: str = "",
    role: str = Role.REP,
    team: Team | None = None,
    manager: User | None = None,
    team_from: datetime.date | None = None,
) -> tuple[User, bool]:
    """Creates or updates a person by username; returns (user, changed). Idempotent."""
    user = User.objects.select_for_update().filter(username=username).first()
    created = user is None
    if created:
        user = User(username=username)
        user.set_unusable_password()
    before = (user.email, user.full_name, user.role, user.manager_id)
    user.email = email or user.email
    user.full_name = full_name or user.full_name
    user.role = role
    user.manager = manager
    user.is_staff = role == Role.ADMIN
    changed = created or before != (user.email, user.full_name, user.role, user.manager_id)
    if changed:
        user._history_user = actor
        user.save()
    if team is not None and role == Role.MANAGER:
        if not team.managers.filter(pk=user.pk).exists():
            team.managers.add(user)
            changed = True
    elif team is not None:
        current = team_of(user)
        if current is None or current.pk != team.pk:
            membership_move(actor=actor, user=user, team=team, valid_from=team_from or timezone.localdate())
            changed = True
    return user, changed


# --- Exchange rates ----------------------------------------------------------------------------------


def _reconvert_deals(*, currency: str, actor: User | None) -> int:
    """Converts again every deal in `currency` at the rate valid on its closing (or creation) day.

    Deals whose converted amounts change are saved with a history entry, so the KPI run picks them up.
    Returns how many deals changed.
    """
    ref = ReferenceData.load(user_ids=[])
    changed = []
    for deal in Deal.objects.filter(currency=currency).only(
        "id", "currency", "amount_original", "cost_original", "exchange_rate", "amount", "cost",
        "created_on", "closed_on",
    ):  # fmt: skip
        rate = ref.rate_on(currency, deal.closed_on or deal.created_on)
        if rate is None:
            continue  # no rate any more for that day: the deal keeps its last conversion
        amount, cost = round_money(deal.amount_original * rate), round_money(deal.cost_original * rate)
        if (rate, amount, cost) != (deal.exchange_rate, deal.amount, deal.cost):
            deal.exchange_rate, deal.amount, deal.cost = rate, amount, cost
            deal.updated_at = timezone.now()
            changed.append(deal)
    if changed:
        bulk_update_with_history(
            changed, Deal, ["exchange_rate", "amount", "cost", "updated_at"], batch_size=1000,
            default_user=actor, default_change_reason="exchange rate changed",
        )  # fmt: skip
    return len(changed)


@transaction.atomic
def exchange_rate_save(
    *, actor: User | None, currency: str, valid_from: datetime.date, rate: Decimal, rate_id: int | None = None
) -> tuple[ExchangeRate, int]:
    """Creates or changes a rate and converts again the deals it applies to. Idempotent.

    Returns the rate and the number of deals whose reporting amounts changed.
    """
    currency = currency.upper()
    if rate <= 0:
        raise ValidationError({"rate": _("A rate must be above zero.")})
    if currency == settings.REPORTING_CURRENCY:
        raise ValidationError({"currency": _("The reporting currency needs no exchange rate.")})
    exchange_rate = ExchangeRate.objects.filter(pk=rate_id).first() if rate_id else ExchangeRate()
    old_currency = exchange_rate.currency
    exchange_rate.currency, exchange_rate.valid_from, exchange_rate.rate = currency, valid_from, rate
    exchange_rate._history_user = actor
    exchange_rate.save()
    changed = _reconvert_deals(currency=currency, actor=actor)
    if old_currency and old_currency != currency:
        changed += _reconvert_deals(currency=old_currency, actor=actor)
    return exchange_rate, changed


@transaction.atomic
def exchange_rate_delete(*, actor: User | None, exchange_rate: ExchangeRate) -> int:
    """Deletes a rate and converts its deals again at the rates that remain; returns deals changed."""
    currency = exchange_rate.currency
    exchange_rate._history_user = actor
    exchange_rate.delete()
    return _reconvert_deals(currency=currency, actor=actor)
