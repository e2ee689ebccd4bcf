"""Small builders for goal tests. Expected numbers are always computed in the tests themselves."""

import datetime
from decimal import Decimal

from goals import services
from goals.models import Goal
from salesteam.models import Stage
from tests.factories import CustomerFactory, DealFactory

D = datetime.date


def draft(actor, **values) -> Goal:
    """A complete, reasonable draft: revenue of the rep in 2024 H1, an absolute target."""
    defaults = {
        "title": "More revenue",
        "why": "Growth",
        "metric": "revenue",
        "start_on": D(2024, 1, 1),
        "end_on": D(2024, 6, 30),
        "target_kind": Goal.TargetKind.ABSOLUTE,
        "target_value": Decimal("10000.00"),
    }
    defaults.update(values)
    return services.goal_create(actor=actor, **defaults)


def submitted(actor, **values) -> Goal:
    return services.goal_submit(actor=actor, goal=draft(actor, **values))


def won(rep, amount: str, closed_on: datetime.date, created_on: datetime.date | None = None, **extra):
    return DealFactory(
        rep=rep,
        customer=extra.pop("customer", None) or CustomerFactory(),
        stage=Stage.WON,
        amount_original=Decimal(amount),
        cost_original=Decimal("0.00"),
        created_on=created_on or closed_on - datetime.timedelta(days=10),
        closed_on=closed_on,
        **extra,
    )


def lost(rep, closed_on: datetime.date, created_on: datetime.date | None = None, **extra):
    return DealFactory(
        rep=rep,
        stage=Stage.LOST,
        amount_original=Decimal("100.00"),
        cost_original=Decimal("0.00"),
        created_on=created_on or closed_on - datetime.timedelta(days=10),
        closed_on=closed_on,
        **extra,
    )


def open_deal(rep, created_on: datetime.date, **extra):
    return DealFactory(
        rep=rep,
        stage=Stage.LEAD,
        amount_original=Decimal("100.00"),
        cost_original=Decimal("0.00"),
        created_on=created_on,
        closed_on=None,
        **extra,
    )
