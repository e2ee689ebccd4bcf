"""The nightly chain (KPI run, goals, recognition, bonus evaluation) run twice through a real worker, its
follow-ups delivered twice as well: the awards stay exactly as they were."""

import ast
import re

import pytest

from incentives import bonus_services
from incentives.models import AwardDecision, BonusAward, IncentivePlan, PlanVersion
from kpis.models import KpiRun
from tests.faults.scenario import build_scenario, months_back

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def award_rows() -> list[tuple]:
    return list(
        BonusAward.objects.order_by("pk").values_list(
            "pk", "rep_id", "plan_id", "version_id", "period_start", "period_end", "kind", "status", "total",
            "breakdown", "computed_at", "decided_by_id", "decided_at",
        )
    )  # fmt: skip


def evaluations(cluster, run_id: int) -> list[dict]:
    """What each evaluation after run `run_id` reported, from the worker's log."""
    log = "".join(worker.log.read_text() for worker in cluster.workers)
    return [
        ast.literal_eval(found)
        for found in re.findall(rf"Bonus awards after KPI run {run_id}: (\{{.*?\}})\n", log)
    ]


def test_the_nightly_chain_run_twice_on_a_worker_changes_no_award(cluster, settings):
    cluster.start_worker("worker")  # starts while the data is built
    scenario = build_scenario()
    last_month = months_back(scenario["today"].replace(day=1), 1)
    cluster.send("kpis.tasks.nightly_run")
    first = cluster.wait_for_run()
    assert first.status == KpiRun.Status.SUCCEEDED, first.error
    assert evaluations(cluster, first.pk) == [
        {"created": 12, "updated": 0, "unchanged": 0, "removed": 0, "adjusted": 0}
    ]  # six reps, last month and this month
    # Given last month's award of one rep approved by their manager
    award = BonusAward.objects.filter(period_start=last_month, total__gt=0).order_by("rep_id").first()
    bonus_services.award_approve(actor=scenario["manager_of"][award.rep_id], award=award)
    awards = award_rows()
    decisions = list(AwardDecision.objects.order_by("pk").values_list("pk", "award_id", "to_status", "at"))
    history = (IncentivePlan.history.count(), PlanVersion.history.count())

    # When the nightly chain runs again on the worker, and the follow-ups of that run arrive twice
    cluster.send("kpis.tasks.nightly_run")
    second = cluster.wait_for_run(newer_than=first.pk)
    assert second.status == KpiRun.Status.SUCCEEDED, second.error
    for task_name in settings.KPI_RUN_FOLLOW_UP_TASKS:
        cluster.send(task_name, second.pk)
    cluster.wait_idle()

    # Then both evaluations ran and found nothing to change
    unchanged = {"created": 0, "updated": 0, "unchanged": 12, "removed": 0, "adjusted": 0}
    assert evaluations(cluster, second.pk) == [unchanged, unchanged]
    # the awards keep their amounts, lines, versions, decisions and computation times
    assert award_rows() == awards
    assert not BonusAward.objects.filter(kind=BonusAward.Kind.ADJUSTMENT).exists()
    # and no decision or history row was added
    assert (
        list(AwardDecision.objects.order_by("pk").values_list("pk", "award_id", "to_status", "at"))
        == decisions
    )
    assert (IncentivePlan.history.count(), PlanVersion.history.count()) == history
