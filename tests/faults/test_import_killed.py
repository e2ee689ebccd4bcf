"""A CSV import whose worker is killed halfway: the import sweeper hands the quiet job to a new worker,
which runs the import again, and each row is imported exactly once."""

import time

import pytest

from salesteam.importing import services as importing
from salesteam.models import Deal, ImportJob
from tests.factories import CustomerFactory, MembershipFactory, TeamFactory, UserFactory
from tests.faults.conftest import wait_until
from tests.salesteam.import_support import HEADER, upload

pytestmark = [pytest.mark.redis, pytest.mark.slow]

ROWS = 300
BATCH = 100


def test_an_import_killed_halfway_imports_each_row_exactly_once_on_the_next_worker(cluster, gate, settings):
    first = cluster.start_worker("first", IMPORT_BATCH_SIZE=str(BATCH))  # starts while the data is built
    settings.IMPORT_ASYNC_THRESHOLD = 10
    MembershipFactory(user=UserFactory(username="rep"), team=TeamFactory())
    CustomerFactory(external_id="C1")
    content = HEADER + "".join(f"\nD{n},rep,C1,won,{n + 1},0,2024-01-10,2024-02-01" for n in range(ROWS))
    # Given a worker that has committed two batches and is writing the third when it dies
    gate.install(table="salesteam_deal", when="NEW.external_id = 'D250'")
    gate.close()
    job = importing.import_upload(actor=None, file=upload(content), source="crm")
    job = importing.import_start(actor=None, job=job, commit=True)
    assert job.status == ImportJob.Status.QUEUED
    wait_until(
        gate.waiting,
        seconds=60,
        what="the third batch to reach the gate",
        tick=cluster.check_workers,
        log=cluster.logs,
    )
    job.refresh_from_db()
    assert (job.status, job.processed_rows, Deal.objects.count()) == (ImportJob.Status.RUNNING, 200, 200)
    cluster.kill(first)
    assert cluster.dead_messages, "the import's message was taken and never acknowledged"
    gate.open()

    # When a new worker starts and the import sweeper (Celery beat, every minute; here every second)
    # finds the job quiet for longer than IMPORT_STALE_SECONDS, long before the message's visibility
    # timeout (an hour) would give it back
    cluster.start_worker("second", IMPORT_BATCH_SIZE=str(BATCH), IMPORT_STALE_SECONDS="1")

    def sweep() -> None:
        cluster.check_workers()
        cluster.send("salesteam.tasks.sweep_imports")
        time.sleep(0.5)

    # Then it takes the job over and finishes the import
    def finished() -> bool:
        job.refresh_from_db()
        return not job.is_active

    wait_until(finished, seconds=60, what="the import to finish", tick=sweep, log=cluster.logs)
    assert job.status == ImportJob.Status.DONE, job.message
    # with every row there exactly once, and one creation record each
    assert (job.created_count, job.unchanged_count, job.error_count) == (100, 200, 0)
    assert Deal.objects.count() == ROWS
    assert sorted(Deal.objects.values_list("amount", flat=True)) == list(range(1, ROWS + 1))
    assert Deal.history.filter(history_type="+").count() == ROWS == Deal.history.count()
