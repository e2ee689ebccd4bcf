"""Thin Celery tasks of the KPI run; each loads ids, calls one service and returns."""

import logging

from celery import shared_task
from django.core.exceptions import ValidationError
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerError

from kpis import services
from kpis.models import KpiRun

logger = logging.getLogger(__name__)

TRANSIENT = (OperationalError, InterfaceError, BrokerError)
RETRY = {"autoretry_for": TRANSIENT, "retry_backoff": 5, "retry_backoff_max": 120, "max_retries": 5}


@shared_task(**RETRY, time_limit=120, soft_time_limit=110)
def nightly_run() -> int | None:
    """Starts the nightly incremental KPI run (Celery beat, 02:00). Skips if a run is in progress."""
    try:
        return services.kpi_run_start(trigger=KpiRun.Trigger.NIGHTLY).pk
    except ValidationError as error:
        logger.warning("Nightly KPI run not started: %s", error.messages[0])
        return None


@shared_task(**RETRY, time_limit=900, soft_time_limit=870)
def plan_run(run_id: int) -> None:
    """Plans a run's shards and enqueues them. Idempotent."""
    try:
        services.kpi_run_plan(run_id=run_id)
    except TRANSIENT:
        raise
    except Exception as error:
        services.kpi_run_fail(run_id=run_id, error=f"{type(error).__name__}: {error}")
        raise


@shared_task(**RETRY, time_limit=300, soft_time_limit=280)
def compute_shard(shard_id: int) -> None:
    """Computes one shard of a run; the last shard publishes the run. Idempotent."""
    try:
        services.kpi_shard_compute(shard_id=shard_id)
    except TRANSIENT as error:
        # Pending again, so that the retry (or the sweeper) can take it; failed after too many attempts.
        services.kpi_shard_release(shard_id=shard_id, error=f"{type(error).__name__}: {error}")
        raise
    except Exception as error:
        services.kpi_shard_fail(shard_id=shard_id, error=f"{type(error).__name__}: {error}")
        raise


@shared_task(time_limit=60, soft_time_limit=55)
def sweep() -> None:
    """Re-enqueues stale shards and unplanned runs (Celery beat, every minute)."""
    found = services.kpi_runs_sweep()
    if found["shards"] or found["runs"] or found["follow_ups"]:
        logger.warning(
            "KPI sweeper re-enqueued shards %s, runs %s and the follow-ups of runs %s",
            found["shards"],
            found["runs"],
            found["follow_ups"],
        )


@shared_task(**RETRY, time_limit=60, soft_time_limit=55)
def follow_ups_done(run_id: int) -> None:
    """The last link of a published run's follow-up chain: records that they all finished."""
    services.kpi_run_follow_ups_done(run_id=run_id)
