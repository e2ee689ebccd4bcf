"""The KPI run through a real Celery worker and Redis gives the same rows as in-process computation."""

import time

import pytest
from celery.contrib.testing.worker import start_worker

from kpis import services
from kpis.models import KpiRun
from salesteam.celery import app
from tests.kpis.fixtures import build_fixture
from tests.kpis.test_kpi_run import expected_from_engine, nonzero, stored

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker():
    app.conf.task_always_eager = False
    app.control.purge()
    try:
        with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False, shutdown_timeout=30):
            yield
    finally:
        app.conf.task_always_eager = True


def wait_for(run_id: int, seconds: float = 90) -> KpiRun:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run = KpiRun.objects.get(pk=run_id)
        if run.status != KpiRun.Status.RUNNING:
            return run
        time.sleep(0.2)
    pytest.fail(f"KPI run {run_id} did not finish in {seconds} s")


def test_a_run_on_workers_stores_the_same_rows_as_in_process(worker):
    build_fixture()
    run = services.kpi_run_start(trigger=KpiRun.Trigger.API, full=True)
    run = wait_for(run.pk)
    assert run.status == KpiRun.Status.SUCCEEDED, run.error
    # A shard per group of scope types, over every year of the fixture.
    assert run.shards_done == run.shards_total == 2
    assert nonzero(stored()) == expected_from_engine()

    second = wait_for(services.kpi_run_start(trigger=KpiRun.Trigger.API, full=True).pk)
    assert second.status == KpiRun.Status.SUCCEEDED
    assert nonzero(stored()) == expected_from_engine()
