"""`manage.py import_deals FILE`: the same import as the page, run inline, for large files."""

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from salesteam.importing import services as importing
from salesteam.models import ImportJob, MappingPreset, User

SHOWN_ERRORS = 20


def report(command: BaseCommand, job: ImportJob, *, commit: bool) -> None:
    """Prints the counts and the first errors of a finished job; fails on a job that failed."""
    if job.status == ImportJob.Status.FAILED:
        raise CommandError(job.message)
    verb = "imported" if commit else "checked (dry run, nothing written)"
    command.stdout.write(
        f"Import #{job.pk} {verb}: {job.total_rows} rows, {job.created_count} new, "
        f"{job.updated_count} changed, {job.unchanged_count} unchanged, {job.error_count} in error"
        + (f", {job.rounded_count} amounts rounded to cents" if job.kind == ImportJob.Kind.DEALS else "")
        + "."
    )
    errors = list(job.row_errors.order_by("line", "id")[:SHOWN_ERRORS])
    for error in errors:
        command.stdout.write(f"  line {error.line}, {error.column}: {error.message}")
    if job.error_count > len(errors):
        command.stdout.write(f"  ... see the import page for every error (import #{job.pk}).")


def run_file(
    command: BaseCommand, *, path: str, kind: str, username: str | None, commit: bool, **upload
) -> ImportJob:
    actor = None
    if username:
        actor = User.objects.filter(username=username).first()
        if actor is None:
            raise CommandError(f"No user named {username!r}.")
    file_path = Path(path)
    if not file_path.is_file():
        raise CommandError(f"No such file: {path}")
    try:
        with file_path.open("rb") as handle:
            job = importing.import_upload(
                actor=actor, file=File(handle, name=file_path.name), kind=kind, dry_run=not commit, **upload
            )
        if job.status != ImportJob.Status.FAILED:
            job = importing.import_run(job_id=job.pk, commit=commit)
    except ValidationError as error:
        raise CommandError(" ".join(error.messages)) from error
    report(command, job, commit=commit)
    return job


class Command(BaseCommand):
    help = "Imports deals from a CSV or XLSX file (idempotent by source and external id)."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--source", default="import", help="Deals are matched on source + external id.")
        parser.add_argument("--mapping", help="Name of a saved mapping preset.")
        parser.add_argument("--dayfirst", action="store_true", help="Dates are DD/MM/YYYY or DD-MM-YYYY.")
        parser.add_argument("--decimal-comma", action="store_true", help="Amounts are written 1.234,56.")
        parser.add_argument(
            "--create-missing",
            action="store_true",
            help="Create unknown reps, teams, customers, categories, segments and campaigns.",
        )
        parser.add_argument("--dry-run", action="store_true", help="Check the file and write nothing.")
        parser.add_argument("--user", help="Import as this user (default: the system, with every right).")

    def handle(self, *args, **options):
        preset = None
        if options["mapping"]:
            preset = MappingPreset.objects.filter(name=options["mapping"]).first()
            if preset is None:
                raise CommandError(f"No saved mapping named {options['mapping']!r}.")
        run_file(
            self,
            path=options["file"],
            kind=ImportJob.Kind.DEALS,
            username=options["user"],
            commit=not options["dry_run"],
            source=options["source"],
            preset=preset,
            options={
                "dayfirst": options["dayfirst"],
                "decimal_comma": options["decimal_comma"],
                "create_missing": options["create_missing"],
            },
        )
