import datetime
from decimal import Decimal

import pytest

from salesteam.models import Deal, ImportJob, Stage
from tests.factories import CustomerFactory
from tests.salesteam.import_support import HEADER, errors_of, run_import

pytestmark = pytest.mark.django_db


@pytest.fixture
def customers(db):
    return [CustomerFactory(external_id="C1"), CustomerFactory(external_id="C2")]


def test_good_rows_are_imported_and_bad_rows_are_listed_with_line_column_and_reason(rep, customers):
    content = "\n".join(
        [
            HEADER,
            "D1,rep,C1,won,1000.00,400,2024-01-10,2024-02-01",
            "D2,rep,C2,proposal,500,,2024-01-11,",
            "D3,nobody,C1,won,10,0,2024-01-12,2024-01-20",
            "D4,rep,C1,won,abc,0,2024-01-12,2024-01-20",
            "D5,rep,C1,lost,10,0,2024-01-12,",
            "D6,rep,C1,won,10,0,2024-01-12,2023-12-31",
            "D7,rep,C9,lead,10,0,2024-01-12,",
            "D8,rep,C1,maybe,10,0,2024-01-12,",
            ",rep,C1,lead,10,0,2024-01-12,",
        ]
    )
    job = run_import(content)

    assert job.status == ImportJob.Status.DONE
    assert (job.total_rows, job.created_count, job.error_count) == (9, 2, 7)
    assert set(Deal.objects.values_list("external_id", flat=True)) == {"D1", "D2"}
    won = Deal.objects.get(external_id="D1")
    assert won.amount == Decimal("1000.00") and won.cost == Decimal("400.00")
    assert won.stage == Stage.WON and won.closed_on == datetime.date(2024, 2, 1)
    assert won.team is not None  # the rep's team on the closing day
    errors = errors_of(job)
    assert [line for line, _column, _message in errors] == [4, 5, 6, 7, 8, 9, 10]
    by_line = {line: (column, message) for line, column, message in errors}
    assert by_line[4][0] == "rep" and "nobody" in by_line[4][1]
    assert by_line[5][0] == "amount" and "abc" in by_line[5][1]
    assert by_line[6][0] == "closed_on" and "closing date" in by_line[6][1]
    assert by_line[7][0] == "closed_on"
    assert by_line[8][0] == "customer_id" and "C9" in by_line[8][1]
    assert by_line[9][0] == "stage" and "maybe" in by_line[9][1]
    assert by_line[10][0] == "external_id"


def test_each_imported_deal_has_a_history_record_naming_the_importer(admin_user, rep, customers):
    job = run_import(HEADER + "\nD1,rep,C1,won,1000,0,2024-01-10,2024-02-01\n", actor=admin_user)
    deal = Deal.objects.get()
    record = deal.history.get()
    assert record.history_type == "+" and record.history_user == admin_user
    assert str(job.pk) in record.history_change_reason


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ("\n\n", "empty"),
        (HEADER + "\n", "no data rows"),
        ("external_id|rep|customer_id\nD1|rep|C1\n", "separate them"),
        (b"\x00\x01\x02\x81\x8d\x8f" * 10, "could not be read"),
        ("external_id,rep,stage,amount,created_on\nD1,rep,won,10,2024-01-01\n", "Customer id"),
    ],
    ids=["empty", "blank-lines", "header-only", "unknown-delimiter", "undecodable", "missing-column"],
)
def test_a_file_that_cannot_be_imported_gives_one_clear_message_and_imports_nothing(
    rep, customers, content, message
):
    job = run_import(content)
    assert job.status == ImportJob.Status.FAILED
    assert message in job.message
    assert not Deal.objects.exists()
    assert not job.row_errors.exists()


def test_an_external_id_twice_in_one_file_is_an_error_on_the_second_line(rep, customers):
    job = run_import(
        HEADER + "\nD1,rep,C1,won,10,0,2024-01-10,2024-02-01\nD1,rep,C2,won,20,0,2024-01-10,2024-02-01\n"
    )
    assert job.created_count == 1 and job.error_count == 1
    assert errors_of(job)[0][:2] == (3, "external_id")
    assert Deal.objects.get().customer.external_id == "C1"
