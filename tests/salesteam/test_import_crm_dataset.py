"""The public Maven Analytics CRM data set (tests/data/crm-pipeline, see its SOURCE.md) imported through
the column mapping, checked against totals computed here from the CSV with the csv module.

Handling of its gaps, as the import's rules decide them:
- rows without an account (1,425, all open) have no customer id, which the import requires: each is an
  error on the `account` column, never a made-up customer that would skew customer KPIs;
- open rows without a close value or an engage date (Prospecting, and Engaging without value) miss a
  required amount or creation date and are errors too;
- sales agents get their teams from sales_teams.csv, imported first as people (one team per manager);
  products become categories and accounts customers through --create-missing.
"""

import csv
import re
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from salesteam.models import Deal, ImportJob, Stage, User
from tests.salesteam.import_support import run_import

pytestmark = pytest.mark.django_db

DATA = Path(__file__).resolve().parent.parent / "data" / "crm-pipeline"


def read(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def username(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", ".", name.lower()).strip(".")


def people_csv() -> str:
    """sales_teams.csv as a people file: managers lead one team each, agents join their manager's team."""
    teams = read("sales_teams.csv")
    lines = ["username,email,full name,role,team,manager,team from"]
    for manager, office in sorted({(row["manager"], row["regional_office"]) for row in teams}):
        lines.append(f"{username(manager)},,{manager},manager,{office} / {manager},,2016-01-01")
    for row in teams:
        team = f"{row['regional_office']} / {row['manager']}"
        lines.append(
            f"{username(row['sales_agent'])},,{row['sales_agent']},rep,{team},{username(row['manager'])},2016-01-01"
        )
    return "\n".join(lines) + "\n"


def test_the_crm_pipeline_imports_with_the_same_deals_wins_losses_and_revenue_per_agent(admin_user):
    pipeline = read("sales_pipeline.csv")
    importable = [row for row in pipeline if row["account"] and row["engage_date"] and row["close_value"]]
    expected_won = Counter(row["sales_agent"] for row in importable if row["deal_stage"] == "Won")
    expected_lost = Counter(row["sales_agent"] for row in importable if row["deal_stage"] == "Lost")
    expected_revenue: dict[str, Decimal] = defaultdict(Decimal)
    for row in importable:
        if row["deal_stage"] == "Won":
            expected_revenue[row["sales_agent"]] += Decimal(row["close_value"])
    no_account_lines = {line for line, row in enumerate(pipeline, start=2) if not row["account"]}

    people = run_import(people_csv(), actor=admin_user, kind=ImportJob.Kind.PEOPLE, name="people.csv")
    assert (people.created_count, people.error_count) == (41, 0)

    content = (DATA / "sales_pipeline.csv").read_bytes()
    preview = run_import(content, actor=admin_user, create_missing=True, commit=False, source="maven")
    assert preview.stages == {"Engaging": "qualified", "Lost": "lost", "Prospecting": "lead", "Won": "won"}
    job = run_import(
        content, actor=admin_user, create_missing=True, source="maven", name="sales_pipeline.csv"
    )

    assert job.status == ImportJob.Status.DONE
    assert job.total_rows == len(pipeline) == 8800
    assert job.created_count == len(importable) == Deal.objects.count()
    assert job.error_count == len(pipeline) - len(importable)
    assert (preview.created_count, preview.error_count) == (job.created_count, job.error_count)
    account_errors = set(job.row_errors.filter(column="account").values_list("line", flat=True))
    assert account_errors == no_account_lines and len(no_account_lines) == 1425

    won = Deal.objects.filter(stage=Stage.WON)
    assert won.count() == sum(expected_won.values())
    assert Deal.objects.filter(stage=Stage.LOST).count() == sum(expected_lost.values())
    for agent, count in expected_won.items():
        rep = User.objects.get(full_name=agent)
        assert won.filter(rep=rep).count() == count, agent
        assert sum(won.filter(rep=rep).values_list("amount", flat=True)) == expected_revenue[agent], agent
        assert Deal.objects.filter(rep=rep, stage=Stage.LOST).count() == expected_lost[agent], agent
    assert not won.filter(team__isnull=True).exists()

    again = run_import(content, actor=admin_user, create_missing=True, source="maven")
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, len(importable))
