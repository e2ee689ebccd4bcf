"""Demo bonuses and kudos for `manage.py seed_demo` (listed in settings.DEMO_SEEDERS), made through the
services so that every figure is one the nightly evaluation would produce.

A monthly plan for the three demo teams: 3 % of gross margin, an accelerator on revenue above a
quota (paid only with a gross margin of at least 10 %), and a cap. The KPIs are computed first, then
the last six ended months and the running one are evaluated: the managers approved all but the last
ended month, the oldest three months went to payroll, and one rep asked a question about last month's
award, so that earnings, statements, approvals and payroll all have something to show. A few kudos
start the recognition feed, two of a rep's deals credit a colleague 40 %, and a second plan races the
reps for new customers over the running month.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.core.exceptions import ValidationError
from django.utils import timezone

from incentives import bonus_selectors, bonus_services, services
from incentives.bonus_rules import validate_rules
from incentives.models import (
    AwardQuestion,
    BonusAward,
    IncentivePlan,
    Kudos,
    PayrollExport,
    PlanPeriod,
    PlanVersion,
)
from kpis import services as kpi_services
from kpis.models import KpiRun
from salesteam import services as sales_services
from salesteam.models import Deal, Role, Stage, Team, User

logger = logging.getLogger(__name__)

PLAN_NAME = "Monthly commission (demo)"
RACE_NAME = "New-customer race (demo)"
DEMO_PREFIX = "rep."
RULES = [
    {"type": "commission", "base": "gross_margin", "rate": "0.03"},
    {
        "type": "tiered",
        "base": "revenue",
        "quota": "180000",
        "mode": "marginal",
        "tiers": [["1.0", "0.005"], ["1.25", "0.01"]],
    },
    {"type": "gate", "kpi": "gross_margin_pct", "op": ">=", "value": "0.10", "rule": 2},
    {"type": "cap", "max": "6000"},
]
MONTHS = 6  # ended months evaluated
PAID_MONTHS = 3  # the oldest of them went to payroll
KUDOS = [
    ("rep.bram", "rep.anna", "Thanks for covering my test drives on Saturday!"),
    ("rep.emma", "rep.greet", "Great save on the fleet renewal."),
    ("rep.ines", "rep.jonas", "Your demo of the new EV range was spot on."),
]


def seed(*, reset: bool = False) -> int:
    """Creates the demo plan, its awards and kudos once; with `reset`, replaces them. Returns the number
    of awards created."""
    existing = IncentivePlan.objects.filter(name__in=[PLAN_NAME, RACE_NAME])
    if existing.exists():
        if not reset:
            return 0
        _remove(existing)
    admin = User.objects.filter(role=Role.ADMIN).order_by("pk").first()
    if admin is None:
        return 0
    today = timezone.localdate()
    this_month = today.replace(day=1)
    first = this_month - relativedelta(months=MONTHS)
    plan = IncentivePlan.objects.create(
        name=PLAN_NAME,
        period=PlanPeriod.MONTH,
        effective_from=first,
        status=IncentivePlan.Status.PUBLISHED,
    )
    plan.teams.set(Team.objects.filter(memberships__user__username__startswith=DEMO_PREFIX).distinct())
    PlanVersion.objects.create(plan=plan, valid_from=first, rules=validate_rules(RULES))

    _split_deals(since=first, before=this_month)
    _compute_kpis()
    months = [first + relativedelta(months=n) for n in range(MONTHS)]
    race = _race(this_month, plan.teams.all())
    for month in [*months, this_month]:  # the running month gives each rep's estimate so far
        bonus_services.award_evaluate(period_start=month, plan=plan, today=today)
    bonus_services.award_evaluate(period_start=this_month, plan=race, today=today)
    last = months[-1]
    for manager in User.objects.filter(role=Role.MANAGER, managed_teams__isnull=False).distinct():
        for award in bonus_selectors.approval_queue(user=manager).filter(plan=plan, period_start__lt=last):
            bonus_services.award_approve(actor=manager, award=award)
    for month in months[:PAID_MONTHS]:
        bonus_services.payroll_export(actor=admin, period_start=month)
    asking = BonusAward.objects.filter(plan=plan, period_start=last, rep__username="rep.anna").first()
    if asking is not None:
        bonus_services.award_question_ask(
            actor=asking.rep,
            award=asking,
            body="Is the fleet deal I closed on the last day of the month included?",
        )
    _kudos()
    return BonusAward.objects.filter(plan=plan).count()


def _race(month, teams) -> IncentivePlan:
    """A contest over the running month: most new customers wins, prizes for the first three places."""
    last_day = month + relativedelta(months=1, days=-1)
    race = IncentivePlan.objects.create(
        name=RACE_NAME, period=PlanPeriod.MONTH, effective_from=month, status=IncentivePlan.Status.PUBLISHED
    )
    race.teams.set(teams)
    rules = [
        {
            "type": "contest",
            "name": "New-customer race",
            "kpi": "new_customers",
            "from": month.isoformat(),
            "to": last_day.isoformat(),
            "prizes": ["500", "300", "150"],
        }
    ]
    PlanVersion.objects.create(plan=race, valid_from=month, rules=validate_rules(rules))
    return race


def _split_deals(*, since, before) -> None:
    """Two of Anna's won deals, closed with Bram's help, credit him 40 %: the bonus breakdowns of both
    show the split."""
    anna = User.objects.filter(username="rep.anna").first()
    bram = User.objects.filter(username="rep.bram").first()
    manager = User.objects.filter(managed_teams__memberships__user=anna).first() if anna else None
    if not (anna and bram and manager):
        return
    deals = Deal.objects.filter(
        rep=anna, stage=Stage.WON, closed_on__gte=since, closed_on__lt=before
    ).order_by("-amount")
    for deal in deals[:2]:
        sales_services.deal_update(
            actor=manager,
            deal=deal,
            credits=[
                sales_services.CreditInput(anna, Decimal("60")),
                sales_services.CreditInput(bram, Decimal("40")),
            ],
        )


def _compute_kpis() -> None:
    try:
        kpi_services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, full=True, in_process=True)
    except ValidationError as error:
        # Another run is busy: the awards use the figures of the last run that finished.
        logger.warning("Demo bonuses use earlier KPI figures: %s", error.messages[0])


def _kudos() -> None:
    users = {u.username: u for u in User.objects.filter(username__in={n for k in KUDOS for n in k[:2]})}
    for sender, recipient, message in KUDOS:
        if sender in users and recipient in users and users[recipient].is_active:
            services.kudos_give(sender=users[sender], recipient=users[recipient], message=message)


def _remove(plans) -> None:
    awards = BonusAward.objects.filter(plan__in=plans)
    exports = set(awards.exclude(export=None).values_list("export", flat=True))
    AwardQuestion.objects.filter(award__in=awards).delete()
    awards.exclude(adjusts=None).delete()  # adjustments first: they point at the awards they correct
    awards.delete()
    PayrollExport.objects.filter(pk__in=exports).delete()
    plans.delete()
    Kudos.objects.filter(sender__username__startswith=DEMO_PREFIX, message__in=[k[2] for k in KUDOS]).delete()
