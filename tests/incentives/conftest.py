import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from kpis import services as kpi_services
from kpis.models import KpiRun
from salesteam.models import Stage
from tests.factories import CustomerFactory, DealFactory

D = datetime.date


@pytest.fixture
def clock(monkeypatch):
    """Sets what `timezone.localdate()` answers; only the clock is mocked in these tests."""

    def set_today(day: datetime.date) -> None:
        monkeypatch.setattr(timezone, "localdate", lambda value=None, timezone=None: day)

    set_today(D(2024, 3, 20))
    return set_today


@pytest.fixture
def nightly(django_capture_on_commit_callbacks):
    """Runs a full KPI run in process, with its follow-up tasks (goals, recognition) as on a night."""

    def run() -> KpiRun:
        with django_capture_on_commit_callbacks(execute=True):
            result = kpi_services.kpi_run_start(trigger=KpiRun.Trigger.NIGHTLY, full=True, in_process=True)
        result.refresh_from_db()
        assert result.status == KpiRun.Status.SUCCEEDED, result.error
        return result

    return run


MARCH_5 = D(2024, 3, 5)


def deal(rep, amount: str = "1000.00", closed_on: datetime.date = MARCH_5, stage=Stage.WON, **extra):
    """A deal closed (won by default) on `closed_on`, created ten days before."""
    return DealFactory(
        rep=rep,
        customer=extra.pop("customer", None) or CustomerFactory(),
        stage=stage,
        amount_original=Decimal(amount),
        cost_original=extra.pop("cost", Decimal("0.00")),
        created_on=closed_on - datetime.timedelta(days=10),
        closed_on=closed_on,
        **extra,
    )
