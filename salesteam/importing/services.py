"""Import services: upload a file, set its mapping, check it (dry run) and import it.

One set of functions serves the pages, the API, the management commands and the Celery task. An
import is an `ImportJob` row that keeps its file, mapping, options, counts and row errors, so the
import history shows who imported what and with which result.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from salesteam.importing import mapping
from salesteam.importing.deals import Counts, DealImport, DealImportSettings, RowError
from salesteam.importing.people import PeopleImport
from salesteam.importing.reading import FileInfo, FileProblem, inspect_file, iter_rows
from salesteam.models import ImportJob, ImportRowError, MappingPreset, User

logger = logging.getLogger(__name__)

MAX_STORED_ERRORS = 100_000
OPTION_NAMES = ("dayfirst", "decimal_comma", "create_missing")


def can_import_deals(user: User | None) -> bool:
    """Managers import deals for their teams, admins for anyone; `None` is the command line."""
    return user is None or user.is_admin or user.is_manager


def can_import_people(user: User | None) -> bool:
    return user is None or user.is_admin


def _check_permission(*, actor: User | None, kind: str, options: dict[str, Any]) -> None:
    allowed = can_import_people(actor) if kind == ImportJob.Kind.PEOPLE else can_import_deals(actor)
    if not allowed:
        raise PermissionDenied(_("You may not import this kind of file."))
    if options.get("create_missing") and not (actor is None or actor.is_admin):
        raise ValidationError(
            {"create_missing": _("Only admins may create missing reps, teams or customers.")}
        )


@contextmanager
def _opened(job: ImportJob) -> Iterator[IO[bytes]]:
    job.file.open("rb")
    try:
        yield job.file.file
    finally:
        job.file.close()


def _guess_stages(info: FileInfo, columns: dict[str, str], known: dict[str, str]) -> dict[str, str]:
    stage_header = next((header for header, canonical in columns.items() if canonical == "stage"), None)
    values = info.column_values.get(stage_header, []) if stage_header else []
    stages = {value: known.get(value) or mapping.guess_stage(value) for value in values}
    stages.update({value: stage for value, stage in known.items() if value not in stages})
    return stages


@transaction.atomic
def import_upload(
    *,
    actor: User | None,
    file: File,
    kind: str = ImportJob.Kind.DEALS,
    source: str = "import",
    options: dict[str, Any] | None = None,
    preset: MappingPreset | None = None,
    dry_run: bool = False,
) -> ImportJob:
    """Stores an uploaded file as a new import and reads its headers; guesses or applies the mapping.

    A file that cannot be read at all gives a job with status failed and the reason in `message`;
    nothing is imported. Not idempotent: each call is a new entry in the import history.
    """
    options = {name: bool((options or {}).get(name)) for name in OPTION_NAMES}
    _check_permission(actor=actor, kind=kind, options=options)
    name = (getattr(file, "name", "") or "upload").rsplit("/", 1)[-1]
    job = ImportJob(
        kind=kind,
        original_name=name[:255],
        source=(source or "import")[:50],
        options=options,
        dry_run=dry_run,
        created_by=actor,
    )
    job.file.save(name, file, save=False)
    job.save()
    try:
        with _opened(job) as raw:
            info = inspect_file(raw, name=name)
    except FileProblem as problem:
        job.status = ImportJob.Status.FAILED
        job.message = " ".join(problem.messages)
        job.finished_at = timezone.now()
        job.save()
        return job
    job.file_info = info.as_dict()
    job.total_rows = info.total_rows
    if kind == ImportJob.Kind.PEOPLE:
        job.columns = mapping.guess_people_columns(info.headers)
    elif preset is not None:
        job.columns = {header: preset.columns.get(header, "") for header in info.headers}
        job.stages = _guess_stages(info, job.columns, preset.stages)
    else:
        job.columns = mapping.guess_deal_columns(info.headers)
        job.stages = _guess_stages(info, job.columns, {})
    job.save()
    return job


def _required(job: ImportJob) -> tuple[str, ...]:
    return mapping.PEOPLE_REQUIRED if job.kind == ImportJob.Kind.PEOPLE else mapping.DEAL_REQUIRED


def _labels(job: ImportJob) -> dict[str, Any]:
    return mapping.PEOPLE_COLUMNS if job.kind == ImportJob.Kind.PEOPLE else mapping.DEAL_COLUMNS


@transaction.atomic
def import_configure(
    *,
    actor: User | None,
    job: ImportJob,
    columns: dict[str, str],
    stages: dict[str, str] | None = None,
    options: dict[str, Any] | None = None,
) -> ImportJob:
    """Sets the column and stage mapping (and options) of an import that has not run yet. Idempotent."""
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status not in (ImportJob.Status.UPLOADED, ImportJob.Status.PREVIEWED, ImportJob.Status.FAILED):
        raise ValidationError(_("This import has already run; upload the file again to change it."))
    labels = _labels(job)
    unknown = {value for value in columns.values() if value and value not in labels}
    if unknown:
        raise ValidationError(
            {"columns": _("Unknown column %(names)s.") % {"names": ", ".join(sorted(unknown))}}
        )
    chosen = [value for value in columns.values() if value]
    if len(chosen) != len(set(chosen)):
        raise ValidationError(
            {"columns": _("Map each column of the import to one column of the file at most.")}
        )
    if options is not None:
        options = {name: bool(options.get(name)) for name in OPTION_NAMES}
        _check_permission(actor=actor, kind=job.kind, options=options)
        job.options = options
    job.columns = {header: columns.get(header, "") for header in job.headers}
    if stages is not None:
        job.stages = {str(key): value for key, value in stages.items()}
    if job.status == ImportJob.Status.PREVIEWED:
        job.status = ImportJob.Status.UPLOADED
    job.save()
    return job


@transaction.atomic
def preset_save(
    *, actor: User | None, name: str, columns: dict[str, str], stages: dict[str, str]
) -> MappingPreset:
    """Saves a column and stage mapping under `name`, replacing a preset of that name. Idempotent."""
    name = name.strip()
    if not name:
        raise ValidationError({"preset_name": _("Give the mapping a name.")})
    preset, _created = MappingPreset.objects.update_or_create(
        name=name[:100],
        defaults={
            "columns": {key: value for key, value in columns.items() if value},
            "stages": {key: value for key, value in stages.items() if value},
            "created_by": actor,
        },
    )
    return preset


def import_start(*, actor: User | None, job: ImportJob, commit: bool) -> ImportJob:
    """Checks (commit=False) or imports the file: inline when small, else as a Celery task after commit.

    Returns the job as it stands afterwards (done, previewed, failed, or queued).
    """
    from salesteam import tasks

    if job.total_rows > settings.IMPORT_ASYNC_THRESHOLD:
        updated = ImportJob.objects.filter(
            pk=job.pk,
            status__in=[ImportJob.Status.UPLOADED, ImportJob.Status.PREVIEWED, ImportJob.Status.FAILED],
        ).update(
            status=ImportJob.Status.QUEUED,
            message="",
            processed_rows=0,
            queued_commit=commit,
            heartbeat_at=timezone.now(),
        )
        if updated:
            transaction.on_commit(lambda: tasks.import_run_task.delay(job.pk, commit))
        job.refresh_from_db()
        return job
    return import_run(job_id=job.pk, commit=commit)


def _batches(rows: Iterator[tuple[int, list]], size: int) -> Iterator[list[tuple[int, list]]]:
    batch: list[tuple[int, list]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _claim(job_id: int, *, commit: bool) -> bool:
    """Marks the job as running unless it is done, or being checked or imported by a worker that is still
    alive (its heartbeat is fresh); one caller wins."""
    if commit:
        allowed = [
            ImportJob.Status.UPLOADED,
            ImportJob.Status.PREVIEWED,
            ImportJob.Status.QUEUED,
            ImportJob.Status.RUNNING,
            ImportJob.Status.FAILED,
        ]
        target = ImportJob.Status.RUNNING
    else:
        allowed = [
            ImportJob.Status.UPLOADED,
            ImportJob.Status.PREVIEWED,
            ImportJob.Status.QUEUED,
            ImportJob.Status.CHECKING,
            ImportJob.Status.FAILED,
        ]
        target = ImportJob.Status.CHECKING
    now = timezone.now()
    alive = Q(
        status__in=[ImportJob.Status.RUNNING, ImportJob.Status.CHECKING],
        heartbeat_at__gte=now - datetime.timedelta(seconds=settings.IMPORT_STALE_SECONDS),
    )
    with transaction.atomic():
        claimed = ImportJob.objects.filter(Q(pk=job_id, status__in=allowed) & ~alive).update(
            status=target,
            heartbeat_at=now,
            started_at=now,
            finished_at=None,
            processed_rows=0,
            created_count=0,
            updated_count=0,
            unchanged_count=0,
            error_count=0,
            rounded_count=0,
            message="",
        )
        if claimed:
            ImportRowError.objects.filter(job_id=job_id).delete()
    return bool(claimed)


def _save_progress(job: ImportJob, totals: Counts, errors: list[RowError], stored: list[int]) -> None:
    room = MAX_STORED_ERRORS - stored[0]
    if errors and room > 0:
        ImportRowError.objects.bulk_create(
            [
                ImportRowError(job=job, line=e.line, column=e.column[:100], value=e.value, message=e.message)
                for e in errors[:room]
            ],
            batch_size=1000,
        )
        stored[0] += min(room, len(errors))
    ImportJob.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now(),
        processed_rows=totals.processed,
        created_count=totals.created,
        updated_count=totals.updated,
        unchanged_count=totals.unchanged,
        error_count=totals.errors,
        rounded_count=totals.rounded,
    )


def _fail(job: ImportJob, message: str) -> ImportJob:
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.FAILED, message=message, finished_at=timezone.now()
    )
    job.refresh_from_db()
    return job


def import_run(*, job_id: int, commit: bool) -> ImportJob | None:
    """Runs a check (dry run) or the import of one job, batch by batch, each batch in one transaction
    together with its errors and progress.

    Idempotent: deals are keyed by (source, external_id), so running a job again, or again after it was
    killed halfway, imports each row exactly once. A job that is done is left alone. Called inline by
    `import_start` and the commands, and by `tasks.import_run_task`.
    """
    job = ImportJob.objects.select_related("created_by").filter(pk=job_id).first()
    if job is None:
        logger.warning("import %s is gone", job_id)
        return None
    if not job.file_info:
        return job if job.status == ImportJob.Status.FAILED else _fail(job, _("The file could not be read."))
    if commit and job.dry_run:
        commit = False
    missing = mapping.missing_required(job.columns, required=_required(job))
    if missing:
        labels = _labels(job)
        names = ", ".join(str(labels[name]) for name in missing)
        return _fail(job, _("Required columns are missing or not mapped: %(names)s.") % {"names": names})
    if not _claim(job.pk, commit=commit):
        return job
    actor = job.created_by
    info = FileInfo.from_dict(job.file_info)
    try:
        with _opened(job) as raw:
            if job.kind == ImportJob.Kind.PEOPLE:
                totals = _run_people(job, raw, info, actor, commit)
            else:
                totals = _run_deals(job, raw, info, actor, commit)
    except FileProblem as problem:
        return _fail(job, " ".join(problem.messages))
    except OperationalError:
        raise  # transient: the task retries; the job stays claimed and is claimed again
    except Exception:
        logger.exception("import %s failed", job.pk)
        _fail(job, _("The import stopped on an unexpected error; the rows imported so far are kept."))
        raise
    status = ImportJob.Status.DONE if commit else ImportJob.Status.PREVIEWED
    ImportJob.objects.filter(pk=job.pk).update(status=status, finished_at=timezone.now())
    job.refresh_from_db()
    logger.info("import %s %s: %s", job.pk, status, totals)
    return job


def _run_deals(job: ImportJob, raw: IO[bytes], info: FileInfo, actor: User | None, commit: bool) -> Counts:
    options = DealImportSettings(
        source=job.source,
        columns=job.columns,
        stages=job.stages,
        dayfirst=job.options.get("dayfirst", False),
        decimal_comma=job.options.get("decimal_comma", False),
        create_missing=job.options.get("create_missing", False),
        commit=commit,
    )
    reason = _("import #%(id)s") % {"id": job.pk}
    engine = DealImport(options=options, headers=info.headers, actor=actor, reason=reason[:100])
    totals = Counts()
    stored = [0]
    for batch in _batches(iter_rows(raw, info), settings.IMPORT_BATCH_SIZE):
        for attempt in (1, 2):
            try:
                with transaction.atomic():
                    result = engine.process(batch)
                    if commit:
                        engine.write(result)
                    batch_totals = Counts(**vars(totals))
                    batch_totals.add(result.counts)
                    _save_progress(job, batch_totals, result.errors, stored)
            except IntegrityError:
                # Another import wrote the same deal or customer meanwhile: read again and redo the batch.
                if attempt == 2:
                    raise
                engine.reload()
                continue
            totals = batch_totals
            break
    return totals


def _run_people(job: ImportJob, raw: IO[bytes], info: FileInfo, actor: User | None, commit: bool) -> Counts:
    engine = PeopleImport(
        columns=job.columns, headers=info.headers, dayfirst=job.options.get("dayfirst", False), actor=actor
    )
    engine.run(iter_rows(raw, info), commit=commit)
    with transaction.atomic():
        _save_progress(job, engine.counts, engine.errors, [0])
    return engine.counts


def imports_sweep() -> list[int]:
    """Sends again the queued or running imports whose heartbeat went stale (a lost message, a killed
    worker), so that they resume within minutes rather than after the broker's visibility timeout. The
    run claims a job only while no live worker holds it, and imports each row exactly once. Safe to run
    at any time; called every minute by Celery beat. Returns the ids of the jobs sent again."""
    from salesteam import tasks

    stale = timezone.now() - datetime.timedelta(seconds=settings.IMPORT_STALE_SECONDS)
    jobs = list(
        ImportJob.objects.filter(
            status__in=[ImportJob.Status.QUEUED, ImportJob.Status.RUNNING, ImportJob.Status.CHECKING],
            heartbeat_at__lt=stale,
        ).values_list("pk", "status", "queued_commit")
    )
    for job_id, status, queued_commit in jobs:
        commit = status == ImportJob.Status.RUNNING or (status == ImportJob.Status.QUEUED and queued_commit)
        tasks.import_run_task.delay(job_id, commit)
    return [job_id for job_id, _status, _commit in jobs]
