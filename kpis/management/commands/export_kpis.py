import sys

from django.core.management.base import BaseCommand, CommandError

from kpis import exports, selectors
from kpis.forms import ExportForm
from salesteam.models import Role, User


class Command(BaseCommand):
    help = "Exports KPI values for BI tools: one line per (kpi, scope, period), as CSV or JSON."

    def add_arguments(self, parser):
        parser.add_argument(
            "--scope", required=True, help="company, team, rep, segment, category, campaign, touch_point"
        )
        parser.add_argument("--scope-id", type=int)
        parser.add_argument("--period", required=True, help="month, quarter or year")
        parser.add_argument("--kpi", default="")
        parser.add_argument("--from", dest="date_from", default="")
        parser.add_argument("--to", dest="date_to", default="")
        parser.add_argument("--format", choices=["csv", "json"], default="csv")
        parser.add_argument("--output", help="file to write (standard output by default)")

    def handle(self, *args, **options):
        form = ExportForm(
            {
                "scope": options["scope"],
                "scope_id": options["scope_id"],
                "period": options["period"],
                "kpi": options["kpi"],
                "date_from": options["date_from"],
                "date_to": options["date_to"],
            }
        )
        if not form.is_valid():
            problems = "; ".join(
                f"--{field.replace('_', '-')}: {' '.join(errors)}" for field, errors in form.errors.items()
            )
            raise CommandError(problems)
        # The command line runs with an administrator's view of the data.
        reader = User(role=Role.ADMIN, username="export")
        rows = selectors.kpi_rows(user=reader, **form.query())
        write = exports.write_csv if options["format"] == "csv" else exports.write_json
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8", newline="") as out:
                write(rows, out)
        else:
            write(rows, sys.stdout)
