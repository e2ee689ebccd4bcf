"""A manager imports a CSV with a few bad rows, fixes the mapping on the preview, imports the good rows
and downloads the error report."""

import csv
import datetime
import io

import pytest
from playwright.sync_api import expect

from salesteam.models import Role
from tests.browser.support import log_in, person, today
from tests.factories import CustomerFactory, TeamFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def ago(days: int) -> str:
    return (today() - datetime.timedelta(days=days)).isoformat()


def crm_file() -> bytes:
    """Six deals from another CRM: "Net (EUR)" is not a column name the import knows and "Signed" not a
    stage it knows; three rows are wrong (an unknown rep, an unknown customer, an amount that is text)."""
    rows = [
        "Opportunity ID,Owner,Account,Stage,Net (EUR),Opened,Closed",
        f"IMP-1,anna,C-100,Signed,4200.00,{ago(30)},{ago(5)}",
        f"IMP-2,ben,C-200,Proposal,1800.50,{ago(20)},",
        f"IMP-3,ghost,C-100,Signed,990.00,{ago(30)},{ago(3)}",
        f"IMP-4,anna,C-999,Signed,700.00,{ago(30)},{ago(3)}",
        f"IMP-5,ben,C-200,Signed,abc,{ago(25)},{ago(2)}",
        f"IMP-6,ben,C-100,Lost,300.00,{ago(40)},{ago(10)}",
    ]
    return ("\n".join(rows) + "\n").encode()


@pytest.fixture
def north():
    team = TeamFactory(name="North")
    person("mark", "Mark De Smet", team=team, role=Role.MANAGER)
    person("anna", "Anna Jansen", team=team)
    person("ben", "Ben Peeters", team=team)
    CustomerFactory(external_id="C-100", name="Garage Peeters")
    CustomerFactory(external_id="C-200", name="Autohuis Maes")


def test_the_manager_fixes_the_mapping_imports_the_good_rows_and_downloads_the_error_report(
    north, open_page, shot, tmp_path
):
    page = open_page()
    log_in(page, "mark")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Imports").click()
    page.get_by_role("link", name="Import deals").first.click()
    page.get_by_label("File").set_input_files(
        {"name": "crm-export.csv", "mimeType": "text/csv", "buffer": crm_file()}
    )
    page.get_by_label("Source").fill("crm")
    page.get_by_role("button", name="Upload").click()

    # The preview guessed most columns; the manager maps the two it could not tell
    expect(page.get_by_role("heading", level=1)).to_contain_text("crm-export.csv")
    expect(page.get_by_label("Opportunity ID")).to_have_value("external_id")
    page.get_by_label("Net (EUR)").select_option(label="Amount")
    page.get_by_label("Signed").select_option(label="Won")
    page.get_by_role("button", name="Check the file (dry run)").click()

    counts = page.locator(".counts")
    expect(page.get_by_role("heading", name="3 problems")).to_be_visible()
    expect(page.get_by_role("button", name="Import 3 rows")).to_be_visible()
    shot(page, "preview")
    page.get_by_role("button", name="Import 3 rows").click()
    expect(page.get_by_role("heading", name="Result")).to_be_visible()
    expect(counts).to_be_visible()

    # The error report names each bad row, its column and why
    with page.expect_download() as download:
        page.get_by_role("link", name="Download error report (CSV)").click()
    report = tmp_path / "errors.csv"
    download.value.save_as(report)
    rows = list(csv.reader(io.StringIO(report.read_text(encoding="utf-8"))))
    assert rows[0] == ["line", "column", "value", "reason"]
    assert [(row[0], row[1], row[2]) for row in rows[1:]] == [
        ("4", "Owner", "ghost"),
        ("5", "Account", "C-999"),
        ("6", "Net (EUR)", "abc"),
    ]
    shot(page, "result")

    # and the good rows are on the deal list
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Deals").click()
    listed = page.locator("table.deals tbody")
    for deal in ("crm:IMP-1", "crm:IMP-2", "crm:IMP-6"):
        expect(listed).to_contain_text(deal)
    for bad in ("IMP-3", "IMP-4", "IMP-5"):
        expect(listed).not_to_contain_text(bad)
    shot(page, "deal-list")
