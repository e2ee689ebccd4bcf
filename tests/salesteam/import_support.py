"""Helpers shared by the import tests: build small files and run them through the import services."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from salesteam.importing import services as importing
from salesteam.models import ImportJob

HEADER = "external_id,rep,customer_id,stage,amount,cost,created_on,closed_on"


def upload(content: str | bytes, *, name: str = "deals.csv", encoding: str = "utf-8") -> SimpleUploadedFile:
    data = content.encode(encoding) if isinstance(content, str) else content
    return SimpleUploadedFile(name, data, content_type="text/csv")


def run_import(
    content: str | bytes,
    *,
    actor=None,
    commit: bool = True,
    name: str = "deals.csv",
    encoding: str = "utf-8",
    source: str = "crm",
    kind: str = ImportJob.Kind.DEALS,
    preset=None,
    columns: dict | None = None,
    stages: dict | None = None,
    **options,
) -> ImportJob:
    """Uploads, optionally re-maps, and checks (commit=False) or imports a file inline."""
    job = importing.import_upload(
        actor=actor,
        file=upload(content, name=name, encoding=encoding),
        kind=kind,
        source=source,
        options=options,
        preset=preset,
    )
    if job.status == ImportJob.Status.FAILED:
        return job
    if columns is not None or stages is not None:
        job = importing.import_configure(
            actor=actor, job=job, columns=columns if columns is not None else job.columns, stages=stages
        )
    return importing.import_run(job_id=job.pk, commit=commit)


def errors_of(job: ImportJob) -> list[tuple[int, str, str]]:
    return [(e.line, e.column, e.message) for e in job.row_errors.order_by("line", "id")]
