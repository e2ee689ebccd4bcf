"""A manager approves a bonus, an admin exports payroll, and the rep sees the paid statement."""

import csv
import datetime
import io

import pytest
from playwright.sync_api import expect

from salesteam.models import Role
from tests.browser.support import kpi_run_in_process, log_in, person, today
from tests.factories import TeamFactory
from tests.goals.helpers import won
from tests.incentives.bonus_helpers import make_plan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def month_start(day: datetime.date, back: int = 0) -> datetime.date:
    first = day.replace(day=1)
    for _ in range(back):
        first = (first - datetime.timedelta(days=1)).replace(day=1)
    return first


@pytest.fixture
def last_month():
    """Anna won EUR 10,000 last month under an 8 % commission plan; the night after the month's end
    left a pending award of EUR 800."""
    team = TeamFactory(name="North")
    person("mark", "Mark De Smet", team=team, role=Role.MANAGER)
    person("ada", "Ada Wouters", role=Role.ADMIN)
    anna = person("anna", "Anna Jansen", team=team)
    start = month_start(today(), back=1)
    make_plan(
        name="Commission 2026", rules=[{"type": "commission", "rate": "0.08"}], teams=[team],
        effective_from=month_start(today(), back=2),
    )  # fmt: skip
    won(anna, "10000.00", start + datetime.timedelta(days=9))
    kpi_run_in_process()
    return start


def test_the_manager_approves_the_admin_exports_payroll_and_the_rep_reads_the_paid_statement(
    last_month, open_page, shot, tmp_path
):
    manager = open_page()
    log_in(manager, "mark")
    manager.get_by_role("navigation", name="Main").get_by_role("link", name="Bonus approvals").click()
    award = manager.locator(".approval").filter(has_text="Anna Jansen · Commission 2026")
    expect(award).to_contain_text("EUR 800.00")
    award.get_by_role("button", name="Approve").click()
    expect(manager.get_by_role("status")).to_contain_text("Award approved.")
    expect(manager.get_by_text("No awards are waiting for your approval.")).to_be_visible()
    shot(manager, "manager-approved")

    admin = open_page()
    log_in(admin, "ada")
    admin.get_by_role("navigation", name="Main").get_by_role("link", name="Bonus approvals").click()
    admin.get_by_role("link", name="Payroll export").click()
    expect(admin.locator(".card").first).to_contain_text(last_month.isoformat())  # a period waiting
    admin.get_by_label("Period starting on").fill(last_month.isoformat())
    with admin.expect_download() as download:
        admin.get_by_role("button", name="Export and mark paid").click()
    path = tmp_path / "payroll.csv"
    download.value.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert [(row["name"], row["plan"], row["amount"], row["currency"]) for row in rows] == [
        ("Anna Jansen", "Commission 2026", "800.00", "EUR")
    ]
    admin.reload()
    exports = admin.locator("table").filter(has_text="Batch")
    expect(exports.locator("tbody tr")).to_have_count(1)
    expect(exports).to_contain_text(last_month.isoformat())
    shot(admin, "admin-payroll")

    rep = open_page()
    log_in(rep, "anna")
    rep.get_by_role("navigation", name="Main").get_by_role("link", name="Earnings").click()
    statement = rep.locator("tr").filter(has_text="Commission 2026").filter(has_text="Paid")
    expect(statement).to_contain_text("EUR 800.00")
    statement.get_by_role("link", name="Statement").click()
    expect(rep.get_by_role("heading", level=1)).to_have_text("Bonus statement")
    expect(rep.locator(".statement-total")).to_contain_text("Total: EUR 800.00")
    expect(rep.locator(".facts")).to_contain_text("Paid")
    expect(rep.locator(".statement")).to_contain_text("Mark De Smet")  # who approved, in the history
    rep.evaluate("window.print = () => { window.printed = true; }")  # no print dialog in a test
    rep.get_by_role("button", name="Print").click()
    assert rep.evaluate("window.printed === true")
    shot(rep, "rep-statement")
