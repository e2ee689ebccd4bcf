"""Bonus evaluation benchmark on PostgreSQL: 2,000 reps in three plans, on the KPI benchmark's data set.

On the data set of benchmarks/kpis.py (`--deals` deals, 2,000 reps in 200 teams; generated here with a
full KPI run unless the KPI benchmark has just done both in the same invocation), three published plans
take every rep:

- commission (monthly): 5 % of revenue, and 2 % more on one segment (a narrowed commission);
- tiered (quarterly): on gross margin against a quota, four marginal tiers, that rule capped;
- goal bonus (monthly): a fixed bonus for the month's achieved revenue goal, a pro-rata bonus for
  reaching 80 % of it, gated on a conversion ratio of at least 50 %, the plan capped per rep.

Every rep has a revenue goal in each of the two open months; 20 reps move to a team outside the plans
in the middle of the current month (prorated). The evaluation is what the nightly follow-up task runs,
`incentives.bonus_services.awards_evaluate_open`, for `EVALUATION_DAY`: the previous and the current
period of each plan, 12,000 awards.

Figures: bonus_evaluate_s (first evaluation: every award created), bonus_reevaluate_s (the same night
again: nothing changes), bonus_awards, bonus_queries (SQL statements of the first evaluation),
bonus_kpi_full_s (the full KPI run it is compared with) and bonus_evaluate_vs_kpi_full.
"""

from __future__ import annotations

import cProfile
import datetime
import io
import pstats
import time
from decimal import Decimal

from benchmarks import kpis as kpi_bench

EVALUATION_DAY = datetime.date(2025, 6, 15)  # inside the generated data: its open months are full
MOVERS = 20


def add_arguments(parser) -> None:
    parser.add_argument(
        "--bonus-profile", action="store_true", help="print where the first evaluation spends its time"
    )


def _plans(scale: Decimal) -> list:
    """The three plans, every team of the data set in each; amounts in proportion to the data set."""
    from incentives.bonus_rules import validate_rules
    from incentives.models import IncentivePlan, PlanVersion
    from salesteam.models import Segment, Team

    teams = list(Team.objects.filter(name__startswith="Team "))
    segment = Segment.objects.order_by("pk").first()
    definitions = [
        (
            "Commission",
            "month",
            [
                {"type": "commission", "base": "revenue", "rate": "0.05"},
                {"type": "commission", "rate": "0.02", "narrow": {"scope": "segment", "id": segment.pk}},
            ],
        ),
        (
            "Tiered margin",
            "quarter",
            [
                {
                    "type": "tiered",
                    "base": "gross_margin",
                    "quota": str(110_000 * scale),
                    "mode": "marginal",
                    "tiers": [["0", "0.01"], ["0.8", "0.03"], ["1.0", "0.06"], ["1.2", "0.08"]],
                },
                {"type": "cap", "max": "9000.00", "rule": 1},
            ],
        ),
        (
            "Goal bonus",
            "month",
            [
                {"type": "goal_bonus", "mode": "fixed", "amount": "400.00", "metric": "revenue"},
                {"type": "goal_bonus", "mode": "pro_rata", "amount": "300.00", "threshold": "0.8"},
                {"type": "gate", "kpi": "conversion_ratio", "op": ">=", "value": "0.5"},
                {"type": "cap", "max": "600.00"},
            ],
        ),
    ]
    plans = []
    for name, period, rules in definitions:
        plan = IncentivePlan.objects.create(
            name=name,
            period=period,
            effective_from=datetime.date(2023, 1, 1),
            status=IncentivePlan.Status.PUBLISHED,
        )
        plan.teams.set(teams)
        PlanVersion.objects.create(plan=plan, valid_from=plan.effective_from, rules=validate_rules(rules))
        plans.append(plan)
    return plans


def _goals_and_movers(scale: Decimal) -> None:
    """A revenue goal per rep in each open month (last month's closed, this month's running), and
    MOVERS reps moving to a team outside the plans in the middle of this month."""
    from goals.models import Goal
    from kpis import engine
    from salesteam.models import Membership, Role, Team, User

    admin, _created = User.objects.get_or_create(
        username="bench-admin", defaults={"role": Role.ADMIN, "is_staff": True, "is_superuser": True}
    )
    current = engine.period_start("month", EVALUATION_DAY)
    previous = engine.previous_start("month", current)
    reps = list(User.objects.filter(role=Role.REP).order_by("pk").values_list("pk", flat=True))
    goals = []
    for index, rep_id in enumerate(reps):
        for start in (previous, current):
            reached = Decimal(50 + (index * 37 + start.month * 11) % 90) / 100  # 0.50 … 1.39
            goals.append(
                Goal(
                    title="Monthly revenue",
                    owner_user_id=rep_id,
                    metric="revenue",
                    start_on=start,
                    end_on=engine.period_end("month", start) - datetime.timedelta(days=1),
                    target_value=(60_000 * scale).quantize(Decimal("0.01")),
                    status=(
                        Goal.Status.ACTIVE
                        if start == current
                        else Goal.Status.ACHIEVED
                        if reached >= 1
                        else Goal.Status.MISSED
                    ),
                    percent_of_target=reached,
                    created_by=admin,
                    decided_by=admin,
                )
            )
    Goal.objects.bulk_create(goals, batch_size=2000)
    key_accounts = Team.objects.create(name="Key accounts")
    move_on = current + datetime.timedelta(days=9)
    movers = reps[:: len(reps) // MOVERS][:MOVERS]
    Membership.objects.filter(user_id__in=movers, valid_to__isnull=True).update(valid_to=move_on)
    Membership.objects.bulk_create(
        Membership(user_id=rep_id, team=key_accounts, valid_from=move_on) for rep_id in movers
    )


def _evaluate() -> tuple[float, dict, int]:
    from django.db import connection

    from incentives import bonus_services

    statements = [0]

    def count(execute, sql, params, many, context):
        statements[0] += 1
        return execute(sql, params, many, context)

    started = time.perf_counter()
    with connection.execute_wrapper(count):
        totals = bonus_services.awards_evaluate_open(today=EVALUATION_DAY)
    return time.perf_counter() - started, totals, statements[0]


def run(results: dict, args) -> None:
    from django.db import connection

    from incentives.models import AwardDecision, BonusAward

    if connection.vendor != "postgresql":
        raise SystemExit("The bonus benchmark needs DATABASE_URL pointing at PostgreSQL.")
    measured = getattr(args, "measured", {})
    if measured.get("kpi_deals") == args.deals and "kpi_full_s" in measured:
        kpi_full = measured["kpi_full_s"]  # the KPI benchmark has just built the data set and timed it
    else:
        print(f"generating {args.deals:,} deals and computing their KPIs …", flush=True)
        kpi_bench.generate(args.deals)
        kpi_bench._child(["compute_kpis", "--full"])
        kpi_full = kpi_bench._last_run_seconds()

    scale = Decimal(args.deals) / 1_000_000  # a rep's monthly revenue is about 60,000 at a million deals
    _plans(scale)
    _goals_and_movers(scale)
    first, totals, statements = _evaluate()
    assert totals["created"] == BonusAward.objects.count(), totals
    again, totals_again, _statements = _evaluate()
    assert totals_again["created"] == totals_again["updated"] == 0, totals_again
    if args.bonus_profile:
        AwardDecision.objects.all().delete()
        BonusAward.objects.all().delete()
        profile = cProfile.Profile()
        profile.runcall(_evaluate)
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(40)
        print(out.getvalue(), flush=True)

    results.update(
        bonus_awards=totals["created"],
        bonus_queries=statements,
        bonus_evaluate_s=round(first, 3),
        bonus_reevaluate_s=round(again, 3),
        bonus_kpi_full_s=round(kpi_full, 3),
        bonus_evaluate_vs_kpi_full=round(first / kpi_full, 4),
    )
