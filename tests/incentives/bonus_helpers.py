"""Helpers of the bonus tests: a published plan with one version of rules."""

import datetime

from incentives.bonus_rules import validate_rules
from incentives.models import IncentivePlan, PlanVersion

D = datetime.date
JANUARY = D(2024, 1, 1)


def make_plan(
    *,
    rules: list[dict],
    teams=(),
    reps=(),
    name: str = "Sales plan",
    period: str = "month",
    effective_from: datetime.date = JANUARY,
    needs_approval: bool = True,
) -> IncentivePlan:
    plan = IncentivePlan.objects.create(
        name=name,
        period=period,
        effective_from=effective_from,
        needs_approval=needs_approval,
        status=IncentivePlan.Status.PUBLISHED,
    )
    plan.teams.set(teams)
    plan.reps.set(reps)
    PlanVersion.objects.create(plan=plan, valid_from=effective_from, rules=validate_rules(rules))
    return plan
