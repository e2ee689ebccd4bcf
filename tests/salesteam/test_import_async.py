import time

import pytest
from django.urls import reverse

from salesteam.celery import app as celery_app
from salesteam.importing import services as importing
from salesteam.models import Deal, ImportJob
from tests.factories import CustomerFactory
from tests.salesteam.import_support import HEADER, upload

ROWS = 30
CONTENT = HEADER + "".join(f"\nD{n},rep,C1,won,{n},0,2024-01-10,2024-02-01" for n in range(ROWS))


@pytest.fixture
def eager_celery():
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.mark.django_db
def test_a_large_file_is_queued_after_commit_and_the_page_shows_progress(
    client, settings, eager_celery, django_capture_on_commit_callbacks, manager, rep
):
    settings.IMPORT_ASYNC_THRESHOLD = 10
    CustomerFactory(external_id="C1")
    job = importing.import_upload(actor=manager, file=upload(CONTENT), source="crm")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = importing.import_start(actor=manager, job=job, commit=True)
    assert job.status == ImportJob.Status.QUEUED and len(callbacks) == 1

    client.force_login(manager)
    page = client.get(reverse("import_detail", args=[job.pk])).content.decode()
    assert f'data-progress-url="{reverse("import_progress", args=[job.pk])}"' in page
    assert 'class="bar-fill"' in page and 'class="progress-label' in page
    progress = client.get(reverse("import_progress", args=[job.pk])).json()
    assert progress == {"percent": 0, "label": f"0 of {ROWS} rows", "finished": False}

    callbacks[0]()  # the transaction commits: the task runs (eagerly here)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE and job.created_count == ROWS
    assert client.get(reverse("import_progress", args=[job.pk])).json()["finished"] is True


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_real_celery_worker_imports_a_large_file(settings, transactional_db):
    from celery.contrib.testing.worker import start_worker

    from tests.factories import MembershipFactory, TeamFactory, UserFactory

    settings.IMPORT_ASYNC_THRESHOLD = 10
    MembershipFactory(user=UserFactory(username="rep"), team=TeamFactory())
    CustomerFactory(external_id="C1")
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        with start_worker(celery_app, perform_ping_check=False, shutdown_timeout=30):
            job = importing.import_upload(actor=None, file=upload(CONTENT), source="crm")
            job = importing.import_start(actor=None, job=job, commit=True)
            assert job.status == ImportJob.Status.QUEUED
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                job.refresh_from_db()
                if not job.is_active:
                    break
                time.sleep(0.2)
    finally:
        celery_app.conf.task_always_eager = previous
    assert job.status == ImportJob.Status.DONE, job.message
    assert job.created_count == ROWS and Deal.objects.count() == ROWS
