"""A worker killed with SIGKILL in the middle of the nightly run: a new worker finishes the run, and the
result is that of a clean run."""

import pytest

from kpis.models import KpiRun
from tests.faults.scenario import Checkpoint, build_scenario, clean_outcome, outcome

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def test_a_run_whose_worker_is_killed_is_finished_by_a_new_worker_as_a_clean_run_would(cluster, gate):
    first = cluster.start_worker("first")  # starts while the data is built
    scenario = build_scenario()
    checkpoint = Checkpoint()
    this_month = scenario["today"].replace(day=1)
    # Given a worker stopped halfway through the nightly run: inside the shard of the company's rows,
    # after it deleted their old rows and before it wrote this month's
    gate.install(
        table="kpis_kpivalue",
        when=gate.kpi_row("month", this_month),
    )
    gate.close()
    cluster.send("kpis.tasks.nightly_run")
    cluster.wait_at(gate)

    # When the worker and its pool are killed with SIGKILL, and a new worker starts
    cluster.kill(first)
    assert cluster.dead_messages, "the killed worker held the shard's message unacknowledged"
    cluster.start_worker("second")
    gate.open()
    run = cluster.wait_for_run()

    # Then the run completes: the shard was taken over once its heartbeat went stale
    assert run.status == KpiRun.Status.SUCCEEDED, run.error
    assert run.shards_done == run.shards_total > 1
    company_shard = next(shard for shard in run.shards.all() if "company" in shard.scope_types)
    assert company_shard.attempts > 1
    # and its KPI rows, goal states, awards and badges are those of a clean run over the same data
    faulted = outcome()
    assert faulted["awards"] and faulted["badges"] and faulted["goal_transitions"]
    assert faulted == clean_outcome(checkpoint)
