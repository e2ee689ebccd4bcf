"""The import's fast path for good rows gives exactly what `services.prepare_deal` gives, and declines
every row that prepare_deal would reject, so the messages still come from prepare_deal."""

import datetime
import itertools
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from salesteam.importing.deals import DealImport, DealImportSettings, stored_fields
from salesteam.models import ExchangeRate
from salesteam.services import prepare_deal
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

DAY = datetime.date(2024, 3, 10)
STAGES = ["lead", "qualified", "proposal", "negotiation", "won", "lost", "bogus"]
DATES = [(None, None), (DAY, None), (DAY, DAY), (DAY, DAY + datetime.timedelta(days=20)),
         (DAY, DAY - datetime.timedelta(days=1)), (None, DAY)]  # fmt: skip
AMOUNTS = [None, Decimal("-0.01"), Decimal(0), Decimal("1234.5"), Decimal("10.005"),
           Decimal("999999999999.99"), Decimal("1000000000000")]  # fmt: skip
COSTS = [None, Decimal("-1"), Decimal("0.004"), Decimal("400.40")]
CURRENCIES = [None, "EUR", "USD", "GBP", "US", "U5D"]


def test_the_fast_path_agrees_with_prepare_deal_on_every_combination(rep, team):
    ExchangeRate.objects.create(currency="USD", rate=Decimal("0.91234567"), valid_from=DAY)
    customer = CustomerFactory().pk
    engine = DealImport(
        options=DealImportSettings(source="crm", columns={}), headers=[], actor=None, reason="test"
    )
    today = timezone.localdate()
    taken = 0
    for stage, (created_on, closed_on), amount, cost, currency, who, whose in itertools.product(
        STAGES, DATES, AMOUNTS, COSTS, CURRENCIES, [rep, None], [customer, None]
    ):
        values = {
            "title": "T", "rep": who, "customer": whose, "campaign": None, "touch_point": None,
            "category": None, "stage": stage, "currency": currency, "amount_original": amount,
            "cost_original": cost, "created_on": created_on, "closed_on": closed_on, "lost_reason": "",
        }  # fmt: skip
        quick = engine._quick_fields(values, today)
        if quick is None:
            continue
        taken += 1
        try:
            expected = stored_fields(prepare_deal(values, engine.ref))
        except ValidationError as error:
            pytest.fail(f"the fast path accepted {values}, which prepare_deal rejects: {error}")
        assert [repr(value) for value in quick] == [repr(value) for value in expected], values
    # Every good combination takes it: 8 valid stage and date pairs, 4 amounts, 3 costs, 3 currencies.
    assert taken == 8 * 4 * 3 * 3


def test_good_rows_in_the_reporting_or_a_known_currency_take_the_fast_path(rep, team):
    ExchangeRate.objects.create(currency="USD", rate=Decimal("0.9"), valid_from=DAY)
    engine = DealImport(
        options=DealImportSettings(source="crm", columns={}), headers=[], actor=None, reason="test"
    )
    base = {
        "title": "", "rep": rep, "customer": CustomerFactory().pk, "campaign": None, "touch_point": None,
        "category": None, "stage": "won", "currency": None, "amount_original": Decimal("10.005"),
        "cost_original": None, "created_on": DAY, "closed_on": DAY, "lost_reason": "",
    }  # fmt: skip
    for changes in ({}, {"currency": "EUR"}, {"currency": "USD"}, {"stage": "lead", "closed_on": None}):
        values = {**base, **changes}
        assert engine._quick_fields(values, timezone.localdate()) is not None, changes
        assert engine._quick_fields(values, timezone.localdate())[9] == Decimal("10.01")
