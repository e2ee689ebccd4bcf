"""Celery tasks of the core domain. Thin: they take ids, call one service and return."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import OperationalError

from salesteam.importing import services as importing

logger = logging.getLogger(__name__)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=5,
    soft_time_limit=55 * 60,
    time_limit=60 * 60,
)
def import_run_task(job_id: int, commit: bool) -> None:
    """Checks or imports the file of one ImportJob. Idempotent: a job that is done is skipped, and a
    re-run (after a lost worker or a retry) imports each row exactly once, keyed by (source, external_id).
    Enqueued after commit by `importing.services.import_start`."""
    job = importing.import_run(job_id=job_id, commit=commit)
    if job is None:
        logger.warning("import %s no longer exists; nothing to do", job_id)


@shared_task(time_limit=60, soft_time_limit=55)
def sweep_imports() -> None:
    """Sends again imports whose worker went quiet (Celery beat, every minute)."""
    resent = importing.imports_sweep()
    if resent:
        logger.warning("Import sweeper sent imports %s again", resent)
