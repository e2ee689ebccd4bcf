"""A sales team around today's date, everything the nightly run produces from it, and a way back.

The worker processes of the fault tests run on the real clock, so the data is laid out around
`timezone.localdate()`: fifteen months of deals, a goal per rep for last month (closed by the run) and
this month (in progress), a monthly bonus plan with every kind of rule, and badge rules.
"""

from __future__ import annotations

import datetime
import random
from decimal import Decimal

from django.db.models import Max
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from goals.models import Goal, GoalSnapshot, GoalTransition, Notification
from incentives.bonus_rules import validate_rules
from incentives.models import (
    AwardDecision,
    Badge,
    BadgeKind,
    BadgeRule,
    BonusAward,
    IncentivePlan,
    LeaderboardSnapshot,
    PlanVersion,
)
from kpis import engine
from kpis import services as kpi_services
from kpis.definitions import Parts
from kpis.models import CustomerFirstWin, KpiRun, KpiValue
from salesteam.celery import app
from salesteam.models import Deal, Role, Stage
from tests.factories import (
    CampaignFactory,
    CategoryFactory,
    CustomerFactory,
    DealFactory,
    MembershipFactory,
    SegmentFactory,
    TeamFactory,
    UserFactory,
)

MONTHS_OF_HISTORY = 15
DEALS_PER_REP_AND_MONTH = 3


def months_back(start: datetime.date, n: int) -> datetime.date:
    for _step in range(n):
        start = engine.previous_start("month", start)
    return start


def build_scenario(*, seed: int = 7) -> dict:
    """Two teams of three reps with deals over fifteen months up to today, goals, a plan and badges."""
    today = timezone.localdate()
    this_month = today.replace(day=1)
    last_month = months_back(this_month, 1)
    rng = random.Random(seed)

    admin = UserFactory(username="admin", role=Role.ADMIN, is_staff=True, is_superuser=True)
    north, south = TeamFactory(name="North"), TeamFactory(name="South")
    managers = []
    for team in (north, south):
        manager = UserFactory(username=f"manager-{team.name.lower()}", role=Role.MANAGER)
        team.managers.add(manager)
        managers.append(manager)
    reps = []
    manager_of = {}
    for team, manager in zip((north, south), managers, strict=True):
        for n in range(3):
            rep = UserFactory(username=f"{team.name.lower()}-{n}")
            MembershipFactory(user=rep, team=team, valid_from=datetime.date(2000, 1, 1))
            reps.append((rep, team))
            manager_of[rep.pk] = manager
    segments = [SegmentFactory(name="Fleet"), SegmentFactory(name="Retail")]
    categories = [CategoryFactory(name="Hardware"), CategoryFactory(name="Software")]
    customers = [CustomerFactory(segment=segments[n % 2]) for n in range(24)]
    campaign = CampaignFactory(
        code="autumn", cost=Decimal("6000.00"), start_on=months_back(this_month, 2), end_on=today
    )

    deals = []
    for back in range(MONTHS_OF_HISTORY, -1, -1):
        month = months_back(this_month, back)
        last_day = min(today, engine.period_end("month", month) - datetime.timedelta(days=1))
        span = (last_day - month).days
        for rep, team in reps:
            for _n in range(DEALS_PER_REP_AND_MONTH):
                closed_on = month + datetime.timedelta(days=rng.randint(0, span))
                stage = rng.choices([Stage.WON, Stage.LOST, Stage.PROPOSAL], weights=[6, 3, 1])[0]
                amount = Decimal(rng.randrange(800, 9000))
                deals.append(
                    DealFactory.build(
                        rep=rep,
                        team=team,
                        customer=rng.choice(customers),
                        stage=stage,
                        amount_original=amount,
                        cost_original=(amount * Decimal(rng.choice(["0.3", "0.5", "0.85"]))).quantize(
                            Decimal("0.01")
                        ),
                        created_on=closed_on - datetime.timedelta(days=rng.randint(0, 40)),
                        closed_on=None if stage == Stage.PROPOSAL else closed_on,
                        category=rng.choice([*categories, None]),
                        campaign=campaign if closed_on >= campaign.start_on and rng.random() < 0.3 else None,
                    )
                )

    deals = bulk_create_with_history(deals, Deal)  # with their creation records, as the services write

    goals = []
    for index, (rep, _team) in enumerate(reps):
        manager = manager_of[rep.pk]
        for start, target in ((last_month, 9000 + 3000 * index), (this_month, 12000)):
            goals.append(
                Goal.objects.create(
                    title=f"Revenue of {rep.username}",
                    owner_user=rep,
                    metric="revenue",
                    start_on=start,
                    end_on=engine.period_end("month", start) - datetime.timedelta(days=1),
                    target_value=Decimal(target),
                    status=Goal.Status.ACTIVE,
                    created_by=manager,
                    decided_by=manager,
                )
            )

    plan = IncentivePlan.objects.create(
        name="Sales plan",
        period="month",
        effective_from=months_back(this_month, 6),
        needs_approval=True,
        status=IncentivePlan.Status.PUBLISHED,
    )
    plan.teams.set([north, south])
    rules = [
        {"type": "commission", "rate": "0.03"},
        {
            "type": "tiered",
            "quota": "15000",
            "mode": "marginal",
            "tiers": [["0", "0"], ["0.8", "0.02"], ["1.0", "0.05"]],
        },
        {"type": "goal_bonus", "mode": "fixed", "amount": "250.00"},
        {"type": "gate", "kpi": "gross_margin_pct", "op": ">=", "value": "0.25", "rule": 2},
        {"type": "cap", "max": "2500.00"},
    ]
    PlanVersion.objects.create(plan=plan, valid_from=plan.effective_from, rules=validate_rules(rules))

    for kind, extra in (
        (BadgeKind.FIRST_WON_DEAL, {}),
        (BadgeKind.DEALS_WON, {"threshold": 3, "period_type": "month"}),
        (BadgeKind.GOAL_ACHIEVED, {}),
        (BadgeKind.TOP_N, {"threshold": 1, "period_type": "month", "metric": "revenue"}),
        (BadgeKind.BIGGEST_DEAL, {"period_type": "month"}),
    ):
        BadgeRule.objects.create(name=str(kind.label), kind=kind, **extra)

    return {
        "today": today,
        "admin": admin,
        "reps": [rep for rep, _team in reps],
        "manager_of": manager_of,
        "deals": deals,
        "goals": goals,
        "plan": plan,
    }


# --- What a run leaves behind ------------------------------------------------------------------------


def kpi_rows() -> dict:
    return {
        (v.scope_type, v.scope_id, v.period_type, v.period_start): Parts.from_obj(v)
        for v in KpiValue.objects.all()
    }


def goal_states() -> list[tuple]:
    return list(
        Goal.objects.order_by("pk").values_list(
            "pk",
            "status",
            "current_value",
            "expected_value",
            "forecast_value",
            "percent_of_target",
            "elapsed",
            "pace_basis",
            "pace",
        )
    )


def awards() -> list[tuple]:
    return sorted(
        BonusAward.objects.values_list(
            "rep_id",
            "plan_id",
            "version_id",
            "period_start",
            "period_end",
            "kind",
            "status",
            "total",
            "currency",
            "breakdown",
        ),
        key=repr,
    )


def outcome() -> dict:
    """Everything the run and its follow-ups decide, without ids or times that differ between runs."""
    latest = KpiRun.objects.filter(status=KpiRun.Status.SUCCEEDED).order_by("-started_at").first()
    return {
        "kpi_rows": kpi_rows(),
        "goals": goal_states(),
        "goal_transitions": sorted(
            GoalTransition.objects.values_list("goal_id", "action", "from_status", "to_status", "comment")
        ),
        "goal_snapshots": sorted(GoalSnapshot.objects.values_list("goal_id", "day", "value", "expected")),
        "awards": awards(),
        "award_decisions": sorted(
            AwardDecision.objects.values_list(
                "award__rep_id", "award__period_start", "award__kind", "from_status", "to_status"
            )
        ),
        "badges": sorted(
            Badge.objects.values_list("rule_id", "user_id", "achievement_key", "achievement", "awarded_on")
        ),
        "notifications": sorted(Notification.objects.values_list("recipient_id", "kind", "message")),
        "leaderboards": dict(
            LeaderboardSnapshot.objects.filter(run=latest).values_list("board", "ranks") if latest else []
        ),
    }


class Checkpoint:
    """The state before any KPI run, to compute the same data again from scratch."""

    def __init__(self) -> None:
        self.goals = list(Goal.objects.values())
        self.last_transition = GoalTransition.objects.aggregate(m=Max("pk"))["m"] or 0
        self.last_notification = Notification.objects.aggregate(m=Max("pk"))["m"] or 0

    def restore(self) -> None:
        KpiRun.objects.all().delete()  # with its shards and leaderboard snapshots
        KpiValue.objects.all().delete()
        CustomerFirstWin.objects.all().delete()
        AwardDecision.objects.all().delete()
        BonusAward.objects.filter(adjusts__isnull=False).delete()
        BonusAward.objects.all().delete()
        Badge.objects.all().delete()
        GoalSnapshot.objects.all().delete()
        GoalTransition.objects.filter(pk__gt=self.last_transition).delete()
        Notification.objects.filter(pk__gt=self.last_notification).delete()
        for values in self.goals:
            Goal.objects.filter(pk=values["id"]).update(**{k: v for k, v in values.items() if k != "id"})


def clean_outcome(checkpoint: Checkpoint) -> dict:
    """The outcome of a full nightly run computed in this process, from the checkpoint's state."""
    checkpoint.restore()
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True  # the follow-up tasks run here, in order, as they are sent
    try:
        run = kpi_services.kpi_run_start(trigger=KpiRun.Trigger.NIGHTLY, full=True, in_process=True)
    finally:
        app.conf.task_always_eager = previous
    assert run.status == KpiRun.Status.SUCCEEDED, run.error
    return outcome()
