"""`seed_demo` gives the bonus pages something to show: a plan, awards in every state, payroll, a question."""

import io
from collections import Counter
from decimal import Decimal

import pytest
from dateutil.relativedelta import relativedelta
from django.core.management import call_command
from django.utils import timezone

from incentives import demo
from incentives.models import AwardQuestion, BonusAward, IncentivePlan, Kudos, PayrollExport
from salesteam.models import DealCredit

pytestmark = pytest.mark.django_db


def seed(*args: str) -> None:
    call_command("seed_demo", *args, stdout=io.StringIO())


def test_the_demo_has_awards_in_every_state_of_the_last_months():
    seed()

    plan = IncentivePlan.objects.get(name=demo.PLAN_NAME)
    this_month = timezone.localdate().replace(day=1)
    months = [this_month - relativedelta(months=n) for n in range(demo.MONTHS, 0, -1)]
    by_month = Counter((a.period_start, a.status) for a in BonusAward.objects.filter(plan=plan))
    statuses = {month: {s for (m, s) in by_month if m == month} for month in [*months, this_month]}
    assert statuses == {
        **{month: {BonusAward.Status.PAID} for month in months[: demo.PAID_MONTHS]},
        **{month: {BonusAward.Status.APPROVED} for month in months[demo.PAID_MONTHS : -1]},
        months[-1]: {BonusAward.Status.PENDING},
        this_month: {BonusAward.Status.PENDING},
    }
    assert sorted(PayrollExport.objects.values_list("period_start", flat=True)) == months[: demo.PAID_MONTHS]
    for award in BonusAward.objects.filter(plan=plan, status=BonusAward.Status.PAID):
        assert award.export.period_start == award.period_start
    assert AwardQuestion.objects.get().award.rep.username == "rep.anna"
    assert Kudos.objects.count() == len(demo.KUDOS)
    # Every award is explained line by line, and some reps earned something.
    assert all(a.breakdown for a in BonusAward.objects.filter(plan=plan))
    assert BonusAward.objects.filter(plan=plan, total__gt=0).exists()


def test_two_of_annas_deals_credit_bram_and_both_breakdowns_show_it():
    seed()

    split = DealCredit.objects.filter(rep__username="rep.bram", share=Decimal("40"))
    assert split.count() == 2
    assert set(
        DealCredit.objects.filter(deal__in=split.values("deal")).values_list("rep__username", "share")
    ) == {
        ("rep.anna", Decimal("60")),
        ("rep.bram", Decimal("40")),
    }
    months = {credit.deal.closed_on.replace(day=1) for credit in split.select_related("deal")}
    for name in ("rep.anna", "rep.bram"):
        lines = [
            line
            for award in BonusAward.objects.filter(rep__username=name, period_start__in=months)
            for line in award.breakdown
        ]
        assert any(line["type"] == "credit" for line in lines), name


def test_the_demo_races_the_reps_for_new_customers_this_month():
    seed()

    race = IncentivePlan.objects.get(name=demo.RACE_NAME)
    awards = BonusAward.objects.filter(plan=race)
    this_month = timezone.localdate().replace(day=1)
    assert {a.period_start for a in awards} == {this_month}
    prizes = sorted((a.total for a in awards if a.total), reverse=True)
    # Three prizes (500, 300, 150), split between tied places: never more than their sum in all.
    assert prizes and sum(prizes) <= Decimal("950.00")
    assert all(line["type"] == "contest" for a in awards for line in a.breakdown)


def test_seeding_again_changes_nothing_and_reset_rebuilds_the_same():
    seed()
    before = sorted(BonusAward.objects.values_list("rep__username", "period_start", "status", "total"))

    seed()
    assert (
        sorted(BonusAward.objects.values_list("rep__username", "period_start", "status", "total")) == before
    )
    assert PayrollExport.objects.count() == demo.PAID_MONTHS

    seed("--reset")
    after = sorted(BonusAward.objects.values_list("rep__username", "period_start", "status", "total"))
    assert after == before
    assert PayrollExport.objects.count() == demo.PAID_MONTHS
    assert Kudos.objects.count() == len(demo.KUDOS)
