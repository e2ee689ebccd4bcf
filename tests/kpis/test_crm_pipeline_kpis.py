"""KPIs of the public CRM pipeline data set (tests/data/crm-pipeline, see its SOURCE.md) equal what this
test computes from the CSV with plain Python: win rate, won revenue, average won deal value and mean
sales cycle, per agent and per manager's team, per year.

Rows the import rejects (no account, or open rows without a value or date) are left out of the
expected figures, as in tests/salesteam/test_import_crm_dataset.py.
"""

import datetime
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

import pytest

from kpis import services
from kpis.definitions import KPI_BY_SLUG
from kpis.models import KpiRun, PeriodType, ScopeType
from kpis.selectors import parts_for
from salesteam.models import ImportJob, Team, User
from tests.salesteam.import_support import run_import
from tests.salesteam.test_import_crm_dataset import DATA, people_csv, read

pytestmark = pytest.mark.django_db
RATIO = Decimal("0.000001")


def expected_by(key) -> dict:
    """(group, year) -> won, lost, revenue, cycle days, computed from the CSV rows."""
    totals = defaultdict(lambda: {"won": 0, "lost": 0, "revenue": Decimal(0), "days": 0})
    for row in read("sales_pipeline.csv"):
        if not (row["account"] and row["engage_date"] and row["close_value"]):
            continue
        if row["deal_stage"] not in ("Won", "Lost"):
            continue
        closed = datetime.date.fromisoformat(row["close_date"])
        bucket = totals[(key(row), closed.year)]
        if row["deal_stage"] == "Won":
            bucket["won"] += 1
            bucket["revenue"] += Decimal(row["close_value"])
            bucket["days"] += (closed - datetime.date.fromisoformat(row["engage_date"])).days
        else:
            bucket["lost"] += 1
    return totals


def assert_kpis_match(scope_type: str, ids_by_name: dict, expected: dict) -> None:
    for (name, year), figures in expected.items():
        start = datetime.date(year, 1, 1)
        scope_id = ids_by_name[name]
        parts = parts_for(
            scope_type=scope_type, scope_ids=[scope_id], period_type=PeriodType.YEAR, starts=[start]
        )
        p = parts[(scope_id, start)]
        won, lost = figures["won"], figures["lost"]
        value = {slug: KPI_BY_SLUG[slug].evaluate(p)["value"] for slug in KPI_BY_SLUG}
        assert value["revenue"] == figures["revenue"], (name, year)
        assert value["conversion_ratio"] == (
            (Decimal(won) / (won + lost)).quantize(RATIO, ROUND_HALF_UP) if won + lost else None
        ), (name, year)
        assert value["average_order_value"] == (
            (figures["revenue"] / won).quantize(RATIO, ROUND_HALF_UP) if won else None
        ), (name, year)
        assert value["sales_cycle_days"] == (
            (Decimal(figures["days"]) / won).quantize(RATIO, ROUND_HALF_UP) if won else None
        ), (name, year)


def test_win_rate_revenue_order_value_and_cycle_per_agent_and_team_equal_the_csv(admin_user):
    run_import(people_csv(), actor=admin_user, kind=ImportJob.Kind.PEOPLE, name="people.csv")
    run_import(
        (DATA / "sales_pipeline.csv").read_bytes(), actor=admin_user, create_missing=True, source="maven"
    )
    run = services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, full=True, in_process=True)
    assert run.status == KpiRun.Status.SUCCEEDED

    teams = {
        row["sales_agent"]: f"{row['regional_office']} / {row['manager']}" for row in read("sales_teams.csv")
    }
    agents = {user.full_name: user.pk for user in User.objects.exclude(full_name="")}
    assert_kpis_match(ScopeType.REP, agents, expected_by(lambda row: row["sales_agent"]))
    team_ids = {team.name: team.pk for team in Team.objects.all()}
    assert_kpis_match(ScopeType.TEAM, team_ids, expected_by(lambda row: teams[row["sales_agent"]]))
