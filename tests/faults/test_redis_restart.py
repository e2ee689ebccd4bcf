"""Redis restarted in the middle of the nightly run, losing every queued message: the run still completes,
and the result is that of a clean run."""

import pytest

from kpis.models import KpiRun, KpiShard
from tests.faults.scenario import Checkpoint, build_scenario, clean_outcome, outcome

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def test_a_run_survives_a_redis_restart_and_ends_as_a_clean_run_would(cluster, gate):
    cluster.start_worker("worker", concurrency=1)  # starts while the data is built
    scenario = build_scenario()
    checkpoint = Checkpoint()
    this_year = scenario["today"].replace(month=1, day=1)
    # Given a worker with its one process busy on the first shard (the reps' rows) and the other shard
    # waiting in Redis
    gate.install(
        table="kpis_kpivalue",
        when=gate.kpi_row("month", this_year, op="<", scope_type="rep"),
    )
    gate.close()
    cluster.send("kpis.tasks.nightly_run")
    cluster.wait_at(gate)
    run = KpiRun.objects.get()
    pending = run.shards.filter(status=KpiShard.Status.PENDING).count()
    assert pending > 0 and cluster.redis.queued() >= pending

    # When Redis restarts without persistence: the queued shards and the taken one's message are lost
    cluster.redis.restart()
    assert cluster.redis.queued() == 0 and not cluster.redis.unacked()
    gate.open()
    run = cluster.wait_for_run()

    # Then the worker reconnects, the sweeper sends the lost shards again, and the run completes
    assert run.status == KpiRun.Status.SUCCEEDED, run.error
    assert run.shards_done == run.shards_total > pending
    # with the KPI rows, goal states, awards and badges of a clean run over the same data
    faulted = outcome()
    assert faulted["awards"] and faulted["badges"] and faulted["goal_transitions"]
    assert faulted == clean_outcome(checkpoint)
