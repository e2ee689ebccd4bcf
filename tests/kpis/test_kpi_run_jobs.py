"""A run from the command line that computes its shards side by side, each in a process and on a
database connection of its own, stores what computing them one after the other stores."""

import os

import pytest
from django.db import connection

from kpis import services
from kpis.models import KpiRun, KpiShard
from tests.kpis.fixtures import build_fixture
from tests.kpis.test_kpi_run import expected_from_engine, nonzero, stored

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: other connections see only committed rows; SQLite runs one at a time")


def test_shards_computed_side_by_side_store_what_one_after_the_other_stores(monkeypatch, tmp_path):
    build_fixture()
    computed_in = tmp_path / "processes"  # a process id per shard computed (the processes are forked)
    compute = services.kpi_shard_compute

    def recording(*, shard_id):
        with computed_in.open("a") as file:
            file.write(f"{os.getpid()}\n")
        return compute(shard_id=shard_id)

    monkeypatch.setattr(services, "kpi_shard_compute", recording)

    run = services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, full=True, in_process=True, jobs=2)

    assert run.status == KpiRun.Status.SUCCEEDED and run.shards_done == run.shards_total == 2
    processes = computed_in.read_text().split()
    assert len(processes) == 2 and str(os.getpid()) not in processes
    side_by_side = stored()
    assert nonzero(side_by_side) == expected_from_engine()
    computed_in.unlink()
    services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, full=True, in_process=True, jobs=1)
    assert computed_in.read_text().split() == [str(os.getpid())] * 2
    assert stored() == side_by_side


def test_a_shard_failing_beside_another_fails_the_run_with_its_error(monkeypatch):
    build_fixture()
    calendar = services.engine.compute_calendar

    def failing_for_reps(scope_types, **kwargs):
        if "rep" in scope_types:
            raise RuntimeError("disk full")
        return calendar(scope_types, **kwargs)

    monkeypatch.setattr(services.engine, "compute_calendar", failing_for_reps)

    with pytest.raises(RuntimeError, match="disk full"):
        services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, full=True, in_process=True, jobs=2)

    run = KpiRun.objects.get()
    assert run.status == KpiRun.Status.FAILED and "disk full" in run.error and run.is_open is None
    # the failing shard is marked as a worker marks it, with its error; the other one finished
    failed = run.shards.get(status=KpiShard.Status.FAILED)
    assert "rep" in failed.scope_types and failed.error == "RuntimeError: disk full"
    assert run.shards.filter(status=KpiShard.Status.DONE).count() == 1
