"""The nightly run started twice at once, and run again: one run at a time, identical results."""

import pytest
from django.core.exceptions import ValidationError

from kpis import services as kpi_services
from kpis.models import KpiRun, KpiShard
from tests.faults.conftest import STALE_SECONDS, wait_until
from tests.faults.scenario import Checkpoint, build_scenario, clean_outcome, outcome

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def refusals(cluster) -> int:
    return sum(w.log.read_text().count("Nightly KPI run not started") for w in cluster.workers)


def test_nightly_runs_started_together_make_one_run_and_a_second_night_changes_nothing(cluster, gate):
    cluster.start_worker("a")  # starts while the data is built
    cluster.start_worker("b")
    scenario = build_scenario()
    checkpoint = Checkpoint()
    this_month = scenario["today"].replace(day=1)
    gate.install(
        table="kpis_kpivalue",
        when=gate.kpi_row("month", this_month),
    )
    gate.close()

    # When the nightly run is started twice at the same moment, on two workers
    cluster.send("kpis.tasks.nightly_run")
    cluster.send("kpis.tasks.nightly_run")
    cluster.wait_at(gate)
    wait_until(lambda: refusals(cluster), seconds=30, what="the second start to be refused", log=cluster.logs)
    # and an admin starts one meanwhile, while the sweeper hands the slow shard to another worker
    with pytest.raises(ValidationError, match="already in progress"):
        kpi_services.kpi_run_start(trigger=KpiRun.Trigger.MANUAL, user=scenario["admin"])
    wait_until(
        lambda: KpiRun.objects.get().shards.filter(attempts__gt=1).exists(),
        seconds=STALE_SECONDS + 10,
        what="the sweeper to take the slow shard over",
        tick=cluster.beat,
        log=cluster.logs,
    )
    gate.open()
    first = cluster.wait_for_run()

    # Then there was one run, and it matches a clean run
    assert KpiRun.objects.count() == 1
    assert first.status == KpiRun.Status.SUCCEEDED, first.error
    # whose slow shard, computed by two workers, was written by one after the other without a conflict
    assert list(first.shards.values_list("status", flat=True).distinct()) == [KpiShard.Status.DONE]
    assert first.shards_done == first.shards_total
    once = outcome()

    # When the nightly run runs again, on a later night with nothing changed
    cluster.send("kpis.tasks.nightly_run")
    second = cluster.wait_for_run(newer_than=first.pk)

    # Then it started after the first had finished, and every result is the same
    assert second.status == KpiRun.Status.SUCCEEDED, second.error
    assert second.started_at >= first.finished_at
    assert second.rows_written == 0  # the deals saved just before the first run are looked at again
    twice = outcome()
    assert twice == once
    assert once == clean_outcome(checkpoint)
