import datetime
import os

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from kpis import services
from kpis.models import KpiRun


class Command(BaseCommand):
    help = "Runs the KPI computation: incremental by default, --full for everything, or a date range."

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true", help="recompute every period")
        parser.add_argument("--from", dest="date_from", type=datetime.date.fromisoformat, help="YYYY-MM-DD")
        parser.add_argument(
            "--to", dest="date_to", type=datetime.date.fromisoformat, help="YYYY-MM-DD (exclusive)"
        )
        parser.add_argument(
            "--jobs",
            type=int,
            default=os.cpu_count() or 1,
            help="shards computed at once here, each in a process of its own (default: one per CPU)",
        )
        parser.add_argument(
            "--enqueue",
            action="store_true",
            help="hand the shards to Celery workers instead of computing here",
        )

    def handle(self, *args, full, date_from, date_to, jobs, enqueue, **options):
        if jobs < 1:
            raise CommandError("--jobs must be at least 1.")
        try:
            run = services.kpi_run_start(
                trigger=KpiRun.Trigger.COMMAND,
                full=full,
                date_from=date_from,
                date_to=date_to,
                in_process=not enqueue,
                jobs=jobs,
            )
        except ValidationError as error:
            raise CommandError(error.messages[0]) from None
        if enqueue:
            self.stdout.write(f"KPI run {run.pk} enqueued.")
            return
        self.stdout.write(
            f"KPI run {run.pk}: {run.get_status_display()}, {run.shards_done}/{run.shards_total} shards, "
            f"{run.rows_written} rows written."
        )
        if run.status == KpiRun.Status.FAILED:
            raise CommandError(run.error)
