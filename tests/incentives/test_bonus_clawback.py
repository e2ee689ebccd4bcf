"""Approved and paid awards never change: a later difference becomes a linked adjustment (clawback)."""

import datetime
from decimal import Decimal

import pytest

from incentives import bonus_services
from incentives.models import BonusAward
from salesteam.models import Deal, Stage
from tests.incentives.bonus_helpers import make_plan
from tests.incentives.conftest import deal

D = datetime.date
pytestmark = pytest.mark.django_db
MARCH, APRIL, MAY = D(2024, 3, 1), D(2024, 4, 1), D(2024, 5, 1)


@pytest.fixture
def approved_march(clock, nightly, team, rep, manager):
    make_plan(rules=[{"type": "commission", "rate": "0.10"}], teams=[team])
    won = deal(rep, "1000.00")
    lost_later = deal(rep, "400.00")
    clock(D(2024, 4, 2))
    nightly()
    award = BonusAward.objects.get(rep=rep, period_start=MARCH, kind=BonusAward.Kind.AWARD)
    assert award.total == (Decimal("1000.00") + Decimal("400.00")) * Decimal("0.10")  # 140.00
    bonus_services.award_approve(actor=manager, award=award)
    return award, won, lost_later


def test_a_deal_lost_after_approval_produces_a_clawback_in_the_next_period(approved_march, nightly, rep):
    award, _, lost_later = approved_march
    Deal.objects.filter(pk=lost_later.pk).update(stage=Stage.LOST)
    nightly()

    award.refresh_from_db()
    assert award.status == BonusAward.Status.APPROVED
    assert award.total == Decimal("140.00")  # never changes
    adjustment = BonusAward.objects.get(kind=BonusAward.Kind.ADJUSTMENT)
    recalculated = Decimal("1000.00") * Decimal("0.10")
    assert adjustment.adjusts == award
    assert adjustment.period_start == APRIL
    assert adjustment.status == BonusAward.Status.PENDING
    assert adjustment.total == recalculated - Decimal("140.00") == Decimal("-40.00")
    assert adjustment.breakdown[0]["sentence"] == (
        "Correction of 2024-03-01/2024-03-31: recalculated EUR 100.00, already settled EUR 140.00 "
        "= EUR -40.00"
    )


def test_the_clawback_is_computed_once_and_follows_later_changes(approved_march, nightly, rep):
    _award, _won, lost_later = approved_march
    Deal.objects.filter(pk=lost_later.pk).update(stage=Stage.LOST)
    nightly()
    nightly()
    assert BonusAward.objects.filter(kind=BonusAward.Kind.ADJUSTMENT).count() == 1

    Deal.objects.filter(pk=lost_later.pk).update(stage=Stage.WON)  # the loss was a mistake
    nightly()
    assert not BonusAward.objects.filter(kind=BonusAward.Kind.ADJUSTMENT).exists()


def test_an_approved_adjustment_counts_as_settled_and_a_further_change_goes_to_the_next_free_period(
    approved_march, nightly, rep, manager, clock
):
    award, won, lost_later = approved_march
    Deal.objects.filter(pk=lost_later.pk).update(stage=Stage.LOST)
    nightly()
    adjustment = BonusAward.objects.get(kind=BonusAward.Kind.ADJUSTMENT)
    clock(D(2024, 5, 2))
    bonus_services.award_approve(actor=manager, award=adjustment)

    Deal.objects.filter(pk=won.pk).update(amount=Decimal("800.00"), amount_original=Decimal("800.00"))
    nightly()  # March is no longer an open period in May: evaluate it explicitly
    bonus_services.award_evaluate(period_start=MARCH)

    second = BonusAward.objects.get(kind=BonusAward.Kind.ADJUSTMENT, status=BonusAward.Status.PENDING)
    settled = Decimal("140.00") + Decimal("-40.00")
    assert second.adjusts == award
    assert second.period_start == MAY  # April's adjustment slot is taken by the approved one
    assert second.total == Decimal("800.00") * Decimal("0.10") - settled == Decimal("-20.00")


def test_a_rejected_award_is_left_as_decided(clock, nightly, team, rep, manager):
    make_plan(rules=[{"type": "commission", "rate": "0.10"}], teams=[team])
    deal(rep, "1000.00")
    clock(D(2024, 4, 2))
    nightly()
    award = BonusAward.objects.get(rep=rep, period_start=MARCH)
    bonus_services.award_reject(actor=manager, award=award, reason="Deal under review")

    deal(rep, "500.00", closed_on=D(2024, 3, 6))
    nightly()

    award.refresh_from_db()
    assert (award.status, award.total) == (BonusAward.Status.REJECTED, Decimal("100.00"))
    assert not BonusAward.objects.filter(kind=BonusAward.Kind.ADJUSTMENT).exists()


def test_a_rejected_adjustment_is_not_proposed_again(approved_march, nightly, manager, clock):
    _award, _won, lost_later = approved_march
    Deal.objects.filter(pk=lost_later.pk).update(stage=Stage.LOST)
    nightly()
    adjustment = BonusAward.objects.get(kind=BonusAward.Kind.ADJUSTMENT)
    clock(D(2024, 5, 2))
    bonus_services.award_reject(actor=manager, award=adjustment, reason="Customer paid after all")

    nightly()
    bonus_services.award_evaluate(period_start=MARCH)

    assert list(
        BonusAward.objects.filter(kind=BonusAward.Kind.ADJUSTMENT).values_list("status", flat=True)
    ) == ["rejected"]
