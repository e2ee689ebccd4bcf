import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from salesteam import services
from salesteam.models import Deal, ExchangeRate, Stage
from tests.factories import CustomerFactory, DealFactory

pytestmark = pytest.mark.django_db

D = datetime.date


def deal_values(rep, **overrides):
    values = {
        "rep": rep,
        "customer": CustomerFactory(),
        "stage": Stage.WON,
        "amount_original": Decimal("1200.00"),
        "cost_original": Decimal("300.00"),
        "currency": "EUR",
        "created_on": D(2024, 3, 1),
        "closed_on": D(2024, 3, 20),
    }
    values.update(overrides)
    return values


@pytest.mark.parametrize(
    "overrides",
    [
        {"stage": Stage.WON, "closed_on": None},
        {"stage": Stage.LEAD, "closed_on": D(2024, 3, 2)},
        {"created_on": D(2024, 3, 1), "closed_on": D(2024, 2, 1)},
        {"amount": Decimal("-1")},
        {"cost": Decimal("-1")},
    ],
)
def test_database_refuses_a_deal_that_breaks_an_invariant(rep, overrides):
    deal = DealFactory.build(rep=rep, customer=CustomerFactory(), **overrides)
    with pytest.raises(IntegrityError), transaction.atomic():
        deal.save()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"closed_on": None}, "closed_on"),
        ({"stage": Stage.PROPOSAL}, "closed_on"),
        ({"closed_on": D(2024, 2, 1)}, "closed_on"),
        ({"amount_original": Decimal("-5")}, "amount_original"),
        ({"cost_original": Decimal("-5")}, "cost_original"),
        ({"currency": "USD"}, "currency"),
        ({"currency": "E1"}, "currency"),
        ({"created_on": None}, "created_on"),
    ],
)
def test_service_names_the_field_of_a_bad_deal(rep, overrides, field):
    with pytest.raises(ValidationError) as error:
        services.deal_create(actor=rep, **deal_values(rep, **overrides))
    assert field in error.value.message_dict
    assert Deal.objects.count() == 0


def test_deal_takes_the_team_of_its_rep_on_the_closing_day(rep, team):
    deal = services.deal_create(actor=rep, **deal_values(rep))
    assert deal.team == team
    assert (deal.amount, deal.cost, deal.exchange_rate) == (Decimal("1200.00"), Decimal("300.00"), 1)


def test_foreign_currency_is_converted_at_the_rate_valid_on_the_closing_day(rep):
    ExchangeRate.objects.create(currency="USD", rate=Decimal("0.90"), valid_from=D(2024, 1, 1))
    ExchangeRate.objects.create(currency="USD", rate=Decimal("0.80"), valid_from=D(2024, 3, 15))
    ExchangeRate.objects.create(currency="USD", rate=Decimal("0.70"), valid_from=D(2024, 3, 21))
    deal = services.deal_create(
        actor=rep, **deal_values(rep, currency="usd", amount_original=Decimal("1000.005"))
    )
    assert deal.currency == "USD"
    assert deal.amount_original == Decimal("1000.01")  # rounded half up to cents
    assert deal.amount == Decimal("800.01")  # 1000.01 × 0.80 = 800.008
    assert deal.cost == Decimal("240.00")


def test_missing_exchange_rate_is_a_clear_error(rep):
    with pytest.raises(ValidationError) as error:
        services.deal_create(actor=rep, **deal_values(rep, currency="GBP"))
    assert "No exchange rate for GBP on 2024-03-20" in error.value.message_dict["currency"][0]


def test_update_keeps_old_and_new_values_in_history(rep):
    deal = services.deal_create(actor=rep, **deal_values(rep, stage=Stage.PROPOSAL, closed_on=None))
    services.deal_update(actor=rep, deal=deal, amount_original=Decimal("1500.00"))
    record = deal.history.order_by("-history_id").first()
    delta = record.diff_against(record.prev_record)
    changed = {change.field: (change.old, change.new) for change in delta.changes}
    assert changed["amount_original"] == (Decimal("1200.00"), Decimal("1500.00"))
    assert record.history_user == rep


def test_quick_stage_change_to_won_sets_today_as_closing_day(rep):
    deal = services.deal_create(actor=rep, **deal_values(rep, stage=Stage.PROPOSAL, closed_on=None))
    deal = services.deal_set_stage(actor=rep, deal=deal, stage=Stage.WON)
    assert deal.closed_on is not None and deal.is_won
    deal = services.deal_set_stage(actor=rep, deal=deal, stage=Stage.NEGOTIATION)
    assert deal.closed_on is None


def test_duplicate_external_id_is_a_validation_error(rep):
    services.deal_create(actor=rep, source="crm", external_id="X1", **deal_values(rep))
    with pytest.raises(ValidationError) as error:
        services.deal_create(actor=rep, source="crm", external_id="X1", **deal_values(rep))
    assert "external_id" in error.value.message_dict
