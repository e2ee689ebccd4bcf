import datetime
import io

import pytest
from openpyxl import Workbook

from salesteam.models import Customer, Deal, ImportJob
from tests.factories import CustomerFactory
from tests.salesteam.import_support import run_import

pytestmark = pytest.mark.django_db

ROWS = [
    ["external_id", "rep", "customer_id", "customer_name", "stage", "amount", "created_on", "closed_on"],
    ["D1", "rep", "C1", "Café Zoë", "won", "1000", "2024-01-10", "2024-02-01"],
    ["D2", "rep", "C2", "Brasserie Ørsted", "lead", "10", "2024-01-10", ""],
]


def as_text(delimiter: str) -> str:
    return "\r\n".join(delimiter.join(row) for row in ROWS) + "\r\n"


@pytest.mark.parametrize("delimiter", [",", ";", "\t"], ids=["comma", "semicolon", "tab"])
def test_the_delimiter_is_detected(rep, delimiter):
    job = run_import(as_text(delimiter), create_missing=True)
    assert job.file_info["delimiter"] == delimiter
    assert (job.created_count, job.error_count) == (2, 0)


@pytest.mark.parametrize(
    ("encoding", "detected"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("cp1252", "cp1252")],
    ids=["utf8", "utf8-bom", "cp1252"],
)
def test_utf8_with_or_without_bom_and_cp1252_are_read(rep, encoding, detected):
    job = run_import(as_text(";"), encoding=encoding, create_missing=True)
    assert job.file_info["encoding"] == detected
    assert job.created_count == 2
    assert Customer.objects.get(external_id="C1").name == "Café Zoë"
    assert job.columns["external_id"] == "external_id"  # the BOM is not part of the first header


def test_quoted_fields_may_hold_the_delimiter_and_newlines(rep):
    CustomerFactory(external_id="C1")
    content = (
        "external_id,rep,customer_id,stage,amount,created_on,lost_reason\n"
        '"D,1",rep,C1,lead,"1,000",2024-01-10,"a\nb"\n'
    )
    job = run_import(content)
    assert job.created_count == 1, list(job.row_errors.values_list("message", flat=True))
    deal = Deal.objects.get()
    assert deal.external_id == "D,1" and deal.amount == 1000 and deal.lost_reason == "a\nb"


def test_an_xlsx_file_is_read_with_its_dates_and_numbers(rep):
    CustomerFactory(external_id="C1")
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Opportunity ID", "Owner", "Account", "Deal Stage", "Amount", "Created Date", "Close Date"])
    created = datetime.datetime(2024, 1, 10)  # noqa: DTZ001 (spreadsheet cells hold naive dates)
    sheet.append([1001, "rep", "C1", "Closed Won", 1234.5, created, datetime.date(2024, 2, 1)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    job = run_import(buffer.getvalue(), name="export.xlsx")
    assert job.status == ImportJob.Status.DONE and job.file_info["format"] == "xlsx"
    assert job.created_count == 1, list(job.row_errors.values_list("message", flat=True))
    deal = Deal.objects.get()
    assert (
        deal.external_id == "1001" and deal.amount == 1234.5 and deal.closed_on == datetime.date(2024, 2, 1)
    )
