"""Admins simulate a draft plan on last period's data; reps ask what one more deal would add."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from incentives import bonus_services
from incentives.models import BonusAward, IncentivePlan
from tests.factories import CustomerFactory, SegmentFactory
from tests.incentives.bonus_helpers import make_plan
from tests.incentives.conftest import deal

D = datetime.date
pytestmark = pytest.mark.django_db
FEBRUARY = D(2024, 2, 1)


def test_a_draft_plan_is_simulated_on_last_period_without_storing_anything(
    clock, nightly, team, rep, other_rep, client, admin_user
):
    deal(rep, "3000.00", closed_on=D(2024, 2, 12))
    nightly()
    plan = make_plan(rules=[{"type": "commission", "rate": "0.10"}], teams=[team])
    IncentivePlan.objects.filter(pk=plan.pk).update(status=IncentivePlan.Status.DRAFT)
    plan.refresh_from_db()

    rows = bonus_services.plan_simulate(plan=plan, period_start=FEBRUARY)

    assert [(row["rep"], row["total"]) for row in rows] == [(rep, Decimal("3000.00") * Decimal("0.10"))]
    client.force_login(admin_user)
    page = client.get(reverse("bonuses:plan_simulate", args=[plan.pk]))  # today 20 March: February
    assert page.status_code == 200
    assert "10 % on EUR 3,000.00 revenue = EUR 300.00" in page.text
    assert not BonusAward.objects.exists()


def test_only_admins_simulate(db, team, client, manager):
    plan = make_plan(rules=[{"type": "commission", "rate": "0.10"}], teams=[team])
    client.force_login(manager)
    assert client.get(reverse("bonuses:plan_simulate", args=[plan.pk])).status_code == 404


def test_what_if_one_more_deal_adds_what_the_rules_would_pay(clock, nightly, team, rep, client):
    fleet = SegmentFactory(name="Fleet")
    tiers = [["0", "0.02"], ["1.0", "0.05"]]
    make_plan(
        rules=[
            {"type": "tiered", "quota": "10000", "mode": "marginal", "tiers": tiers},
            {"type": "commission", "rate": "0.01", "narrow": {"scope": "segment", "id": fleet.pk}},
        ],
        teams=[team],
    )
    deal(rep, "8000.00", customer=CustomerFactory(segment=fleet))
    nightly()
    award = BonusAward.objects.get(rep=rep, period_start=D(2024, 3, 1))

    added = bonus_services.award_what_if(award=award, amount=Decimal("10000.00"), segment_id=fleet.pk)

    # Revenue 8,000 -> 18,000 against a 10,000 quota: the tiers and the 1 % Fleet commission.
    before = Decimal("8000") * Decimal("0.02") + Decimal("8000") * Decimal("0.01")
    after = (
        Decimal("10000") * Decimal("0.02")
        + Decimal("8000") * Decimal("0.05")
        + Decimal("18000") * Decimal("0.01")
    )
    assert added == after - before == Decimal("540.00")
    client.force_login(rep)
    page = client.get(reverse("bonuses:my_earnings"), {"amount": "10000", "segment": fleet.pk})
    assert "Sales plan: adds EUR 540.00" in page.text
