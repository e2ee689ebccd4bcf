"""Parsing of single cell values (dates, amounts, names) shared by the deal and people imports."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from salesteam.services import CENT, parse_decimal

_DAY_FIRST = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")
_USERNAME_OK = re.compile(r"[\w.@+-]+")
_USERNAME_BAD = re.compile(r"[^\w.@+-]+")


def text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def parse_date(value: Any, *, dayfirst: bool) -> datetime.date | None:
    """ISO dates always; dd/mm/yyyy and dd-mm-yyyy when `dayfirst`. Empty gives None."""
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    raw = text(value)
    if not raw:
        return None
    candidate = raw[:10] if len(raw) > 10 and raw[10] in " T" else raw
    try:
        return datetime.date.fromisoformat(candidate)
    except ValueError:
        pass
    if dayfirst and (match := _DAY_FIRST.fullmatch(candidate)):
        try:
            return datetime.date(int(match[3]), int(match[2]), int(match[1]))
        except ValueError:
            pass
    if dayfirst:
        raise ValueError(
            _("“%(value)s” is not a date: use YYYY-MM-DD, DD/MM/YYYY or DD-MM-YYYY.") % {"value": raw}
        )
    raise ValueError(
        _("“%(value)s” is not a date: use YYYY-MM-DD, or choose day-first dates for DD/MM/YYYY.")
        % {"value": raw}
    )


def parse_amount(value: Any, *, decimal_comma: bool) -> Decimal | None:
    """A Decimal, or None when the cell is empty; raises ValueError for anything else."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
    return parse_decimal(value, decimal_comma=decimal_comma)


def needs_rounding(value: Decimal | None) -> bool:
    return value is not None and value.as_tuple().exponent < -2 and value != value.quantize(CENT)


def username_from(key: str) -> str:
    """A valid username for a person known only by e-mail or name: 'Moses Frase' -> 'moses.frase'."""
    key = key.strip().lower()
    if _USERNAME_OK.fullmatch(key):
        return key[:150]
    return _USERNAME_BAD.sub(".", key).strip(".")[:150]
