"""Thin Celery tasks of recognition: each takes ids, calls one service and returns."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerError

from incentives import bonus_services, services

logger = logging.getLogger(__name__)

TRANSIENT = (OperationalError, InterfaceError, BrokerError)
RETRY = {"autoretry_for": TRANSIENT, "retry_backoff": 5, "retry_backoff_max": 120, "max_retries": 5}


@shared_task(**RETRY, time_limit=900, soft_time_limit=870)
def after_kpi_run(run_id: int) -> dict:
    """Leaderboard snapshot, top 3 announcements and badges for a published KPI run. Sent with the run
    id when the run is published (settings.KPI_RUN_FOLLOW_UP_TASKS). Idempotent."""
    result = services.recognition_after_kpi_run(run_id=run_id)
    logger.info("Recognition after KPI run %s: %s", run_id, result)
    return result


@shared_task(**RETRY, time_limit=1800, soft_time_limit=1750)
def evaluate_after_kpi_run(run_id: int) -> dict:
    """Recomputes the bonus awards of the open periods (previous and current) of every published plan.
    Sent with the run id when a KPI run is published (settings.KPI_RUN_FOLLOW_UP_TASKS). Idempotent."""
    result = bonus_services.awards_evaluate_open()
    logger.info("Bonus awards after KPI run %s: %s", run_id, result)
    return result
