"""Thin Celery tasks of goals: each takes ids or nothing, calls one service and returns."""

from __future__ import annotations

import logging
from smtplib import SMTPException

from celery import shared_task
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerError

from goals import services

logger = logging.getLogger(__name__)

TRANSIENT = (OperationalError, InterfaceError, BrokerError)
RETRY = {"autoretry_for": TRANSIENT, "retry_backoff": 5, "retry_backoff_max": 120, "max_retries": 5}


@shared_task(**RETRY, time_limit=1800, soft_time_limit=1750)
def refresh_after_kpi_run(run_id: int) -> dict:
    """Refreshes every running goal and closes the ended ones (achieved or missed). Sent with the run id
    when a KPI run is published (settings.KPI_RUN_FOLLOW_UP_TASKS). Idempotent."""
    counts = services.goals_refresh_all()
    logger.info("Goals refreshed after KPI run %s: %s", run_id, counts)
    return counts


@shared_task(**RETRY, time_limit=55, soft_time_limit=50)
def refresh_changed() -> list[int]:
    """Refreshes goals whose owner's deals changed since their last refresh (Celery beat, every
    minute). Idempotent."""
    return services.goals_refresh_changed()


@shared_task(**RETRY, time_limit=120, soft_time_limit=110)
def refresh_goal(goal_id: int) -> None:
    """Refreshes one goal's progress, e.g. right after it was approved. Idempotent."""
    if services.goal_refresh(goal_id=goal_id) is None:
        logger.info("Goal %s no longer exists; nothing to refresh", goal_id)


@shared_task(**RETRY, time_limit=300, soft_time_limit=290)
def remind_waiting() -> int:
    """Reminds approvers and owners of goals waiting more than two days (Celery beat, daily).
    At most one reminder per goal, person and day."""
    return services.goals_remind_waiting()


@shared_task(
    autoretry_for=(*TRANSIENT, SMTPException, OSError),
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=5,
    time_limit=60,
    soft_time_limit=55,
)
def send_notification_email(notification_id: int) -> bool:
    """E-mails one notification, at most once. Enqueued after commit by the service that created it."""
    return services.notification_send_email(notification_id=notification_id)
