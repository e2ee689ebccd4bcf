import datetime

import pytest
from django.utils import timezone

from salesteam.importing import services as importing
from salesteam.importing.deals import DealImport
from salesteam.models import Deal, ImportJob
from tests.factories import CustomerFactory
from tests.salesteam.import_support import HEADER, upload

pytestmark = pytest.mark.django_db

ROWS = 35


class Killed(Exception):
    pass


def test_an_import_killed_halfway_imports_each_row_exactly_once_when_run_again(settings, monkeypatch, rep):
    settings.IMPORT_BATCH_SIZE = 10
    CustomerFactory(external_id="C1")
    content = HEADER + "".join(f"\nD{n},rep,C1,won,{n},0,2024-01-10,2024-02-01" for n in range(ROWS))
    job = importing.import_upload(actor=None, file=upload(content), source="crm")

    # Given a worker that dies while writing the third batch
    real_write = DealImport.write
    calls = {"n": 0}

    def dying_write(self, result):
        calls["n"] += 1
        if calls["n"] == 3:
            raise Killed
        return real_write(self, result)

    monkeypatch.setattr(DealImport, "write", dying_write)
    with pytest.raises(Killed):
        importing.import_run(job_id=job.pk, commit=True)
    assert Deal.objects.count() == 20
    job.refresh_from_db()
    assert job.processed_rows == 20

    # When the job, left as if its worker vanished, is taken over once its heartbeat went stale
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING)
    monkeypatch.setattr(DealImport, "write", real_write)
    assert importing.import_run(job_id=job.pk, commit=True).processed_rows == 20  # still alive: left alone
    assert importing.imports_sweep() == []
    went_quiet = timezone.now() - datetime.timedelta(seconds=settings.IMPORT_STALE_SECONDS + 1)
    ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=went_quiet)
    assert importing.imports_sweep() == [job.pk]  # eager in tests: the import runs right away
    job.refresh_from_db()

    # Then every row is there exactly once, with exactly one creation record each
    assert job.status == ImportJob.Status.DONE
    assert (job.created_count, job.unchanged_count, job.error_count) == (15, 20, 0)
    assert Deal.objects.count() == ROWS
    assert sorted(Deal.objects.values_list("amount", flat=True)) == list(range(ROWS))
    assert Deal.history.filter(history_type="+").count() == ROWS
    assert Deal.history.count() == ROWS


def test_a_finished_import_run_again_is_left_alone(rep):
    CustomerFactory(external_id="C1")
    job = importing.import_upload(
        actor=None, file=upload(HEADER + "\nD1,rep,C1,lead,1,0,2024-01-10,\n"), source="crm"
    )
    importing.import_run(job_id=job.pk, commit=True)
    again = importing.import_run(job_id=job.pk, commit=True)
    assert again.status == ImportJob.Status.DONE and again.created_count == 1
    assert Deal.history.count() == 1


def test_the_sweeper_resumes_a_queued_check_as_a_check_and_a_queued_import_as_an_import(settings, rep):
    settings.IMPORT_ASYNC_THRESHOLD = 0  # every file is queued
    CustomerFactory(external_id="C1")
    check = importing.import_upload(
        actor=None, file=upload(HEADER + "\nD1,rep,C1,lead,1,0,2024-01-10,\n"), source="crm"
    )
    imported = importing.import_upload(
        actor=None, file=upload(HEADER + "\nD2,rep,C1,lead,2,0,2024-01-10,\n"), source="crm"
    )
    # Queued, and their messages lost (the after-commit send never ran in this test transaction)
    importing.import_start(actor=None, job=check, commit=False)
    importing.import_start(actor=None, job=imported, commit=True)
    went_quiet = timezone.now() - datetime.timedelta(seconds=settings.IMPORT_STALE_SECONDS + 1)
    ImportJob.objects.update(heartbeat_at=went_quiet)

    assert sorted(importing.imports_sweep()) == sorted([check.pk, imported.pk])

    check.refresh_from_db()
    imported.refresh_from_db()
    assert (check.status, imported.status) == (ImportJob.Status.PREVIEWED, ImportJob.Status.DONE)
    assert list(Deal.objects.values_list("external_id", flat=True)) == ["D2"]
