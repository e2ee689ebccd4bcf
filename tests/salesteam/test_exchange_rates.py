import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from kpis import services as kpi_services
from kpis.models import KpiRun, KpiValue
from salesteam import services
from salesteam.models import Deal, ExchangeRate, Stage
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
D = datetime.date


def usd_deal(rep, closed_on):
    return services.deal_create(
        actor=rep, customer=CustomerFactory(), rep=rep, stage=Stage.WON, currency="USD",
        amount_original=Decimal("1000.00"), cost_original=Decimal("100.00"),
        created_on=D(2024, 1, 2), closed_on=closed_on,
    )  # fmt: skip


def test_a_changed_rate_converts_its_deals_again_and_leaves_history(rep, admin_user):
    services.exchange_rate_save(
        actor=admin_user, currency="USD", valid_from=D(2024, 1, 1), rate=Decimal("0.9")
    )
    early, late = usd_deal(rep, D(2024, 2, 10)), usd_deal(rep, D(2024, 3, 10))
    march, changed = services.exchange_rate_save(
        actor=admin_user, currency="usd", valid_from=D(2024, 3, 1), rate=Decimal("0.8")
    )
    assert changed == 1  # only the deal closed from March on
    early.refresh_from_db()
    late.refresh_from_db()
    assert (early.amount, early.cost) == (Decimal("900.00"), Decimal("90.00"))
    assert (late.amount, late.cost, late.exchange_rate) == (
        Decimal("800.00"),
        Decimal("80.00"),
        Decimal("0.8"),
    )
    assert late.history.first().history_user == admin_user

    assert services.exchange_rate_delete(actor=admin_user, exchange_rate=march) == 1
    late.refresh_from_db()
    assert late.amount == Decimal("900.00")
    assert services.exchange_rate_save(
        actor=admin_user, currency="USD", valid_from=D(2024, 1, 1), rate=Decimal("0.9"),
        rate_id=ExchangeRate.objects.get().pk,
    )[1] == 0  # fmt: skip


def test_the_incremental_kpi_run_picks_up_a_rate_change(rep, admin_user):
    services.exchange_rate_save(
        actor=admin_user, currency="USD", valid_from=D(2024, 1, 1), rate=Decimal("0.9")
    )
    usd_deal(rep, D(2024, 2, 10))
    kpi_services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, full=True, in_process=True)
    services.exchange_rate_save(
        actor=admin_user, currency="USD", valid_from=D(2024, 2, 1), rate=Decimal("0.5")
    )
    run = kpi_services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, in_process=True)
    assert not run.full
    february = KpiValue.objects.get(scope_type="company", period_type="month", period_start=D(2024, 2, 1))
    assert february.revenue == Decimal("500.00")


def test_bad_rates_are_refused_with_a_message(admin_user):
    with pytest.raises(ValidationError) as error:
        services.exchange_rate_save(
            actor=admin_user, currency="USD", valid_from=D(2024, 1, 1), rate=Decimal(0)
        )
    assert "rate" in error.value.message_dict
    with pytest.raises(ValidationError):
        services.exchange_rate_save(
            actor=admin_user, currency="EUR", valid_from=D(2024, 1, 1), rate=Decimal(1)
        )


def test_the_admin_form_goes_through_the_service(client, admin_user, rep):
    services.exchange_rate_save(
        actor=admin_user, currency="USD", valid_from=D(2024, 1, 1), rate=Decimal("0.9")
    )
    deal = usd_deal(rep, D(2024, 2, 10))
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:salesteam_exchangerate_add"),
        {"currency": "USD", "rate": "0.75", "valid_from": "2024-02-01"},
        follow=True,
    )
    assert response.status_code == 200
    deal.refresh_from_db()
    assert deal.amount == Decimal("750.00")
    assert Deal.objects.count() == 1
