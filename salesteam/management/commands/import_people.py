"""`manage.py import_people FILE`: people (username, email, full name, role, team, manager)."""

from django.core.management.base import BaseCommand

from salesteam.management.commands.import_deals import run_file
from salesteam.models import ImportJob


class Command(BaseCommand):
    help = "Creates or updates people from a CSV or XLSX file (idempotent by username)."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--dayfirst", action="store_true", help="Dates are DD/MM/YYYY or DD-MM-YYYY.")
        parser.add_argument("--dry-run", action="store_true", help="Check the file and write nothing.")
        parser.add_argument("--user", help="Import as this user (default: the system).")

    def handle(self, *args, **options):
        run_file(
            self,
            path=options["file"],
            kind=ImportJob.Kind.PEOPLE,
            username=options["user"],
            commit=not options["dry_run"],
            source="people",
            options={"dayfirst": options["dayfirst"]},
        )
