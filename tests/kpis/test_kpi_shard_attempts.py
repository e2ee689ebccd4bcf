"""A shard that never gets a result (a fault that does not pass, a worker killed each time) fails its
run after KPI_SHARD_MAX_ATTEMPTS attempts instead of keeping it open, which would refuse every later run."""

import datetime

import pytest

from kpis import services
from kpis.models import KpiRun, KpiShard
from tests.kpis.fixtures import build_fixture

pytestmark = pytest.mark.django_db
D = datetime.date
LONG_AGO = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)


def running_shard(*, attempts: int, heartbeat_at=LONG_AGO, error: str = "") -> KpiShard:
    run = KpiRun.objects.create(trigger=KpiRun.Trigger.NIGHTLY, shards_total=1)
    return KpiShard.objects.create(
        run=run,
        window_from=D(2024, 1, 1),
        window_to=D(2025, 1, 1),
        status=KpiShard.Status.RUNNING,
        attempts=attempts,
        heartbeat_at=heartbeat_at,
        error=error,
    )


def test_the_sweeper_fails_a_stale_shard_that_has_had_all_its_attempts(settings):
    settings.KPI_SHARD_MAX_ATTEMPTS = 3
    build_fixture()
    shard = running_shard(attempts=3)

    found = services.kpi_runs_sweep()

    assert found["shards"] == []
    run = KpiRun.objects.get()
    assert run.status == KpiRun.Status.FAILED and run.is_open is None
    assert "no result after 3 attempts; the last one: no worker finished it" in run.error
    shard.refresh_from_db()
    assert shard.status == KpiShard.Status.FAILED
    # and the next run is not refused
    following = services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, in_process=True)
    assert following.status == KpiRun.Status.SUCCEEDED


def test_the_sweeper_sends_a_stale_shard_with_attempts_left_again(settings):
    settings.KPI_SHARD_MAX_ATTEMPTS = 3
    build_fixture()
    shard = running_shard(attempts=2)

    found = services.kpi_runs_sweep()  # eager in tests: computed right away

    assert found["shards"] == [shard.pk]
    shard.refresh_from_db()
    assert (shard.status, shard.attempts) == (KpiShard.Status.DONE, 3)
    assert KpiRun.objects.get().status == KpiRun.Status.SUCCEEDED


def test_a_transient_error_hands_the_shard_back_with_its_error_until_the_last_attempt(settings):
    settings.KPI_SHARD_MAX_ATTEMPTS = 3
    shard = running_shard(attempts=2, heartbeat_at=datetime.datetime.now(datetime.UTC))

    services.kpi_shard_release(shard_id=shard.pk, error="OperationalError: server closed the connection")

    shard.refresh_from_db()
    assert shard.status == KpiShard.Status.PENDING and "server closed" in shard.error
    assert KpiRun.objects.get().status == KpiRun.Status.RUNNING

    KpiShard.objects.filter(pk=shard.pk).update(status=KpiShard.Status.RUNNING, attempts=3)
    services.kpi_shard_release(shard_id=shard.pk, error="OperationalError: server closed the connection")

    run = KpiRun.objects.get()
    assert run.status == KpiRun.Status.FAILED
    assert "no result after 3 attempts; the last one: OperationalError: server closed" in run.error
