import datetime
from decimal import Decimal

import pytest

from salesteam.models import Deal
from tests.factories import CustomerFactory
from tests.salesteam.import_support import errors_of, run_import

pytestmark = pytest.mark.django_db

HEADER = "external_id;rep;customer_id;stage;amount;cost;created_on;closed_on"


@pytest.fixture(autouse=True)
def customer(db):
    return CustomerFactory(external_id="C1")


def test_amounts_with_a_decimal_comma_are_read_when_the_user_says_so(rep):
    content = HEADER + "\nD1;rep;C1;won;1.234,56;12,5;2024-01-10;2024-02-01\n"
    job = run_import(content, decimal_comma=True)
    assert job.created_count == 1
    deal = Deal.objects.get()
    assert deal.amount == Decimal("1234.56") and deal.cost == Decimal("12.50")


def test_day_first_dates_are_read_with_slashes_or_dashes_when_asked(rep):
    content = HEADER + "\nD1;rep;C1;won;10;0;03/04/2024;05-06-2024\nD2;rep;C1;lead;10;0;2024-04-03;\n"
    job = run_import(content, dayfirst=True)
    assert job.created_count == 2
    deal = Deal.objects.get(external_id="D1")
    assert (deal.created_on, deal.closed_on) == (datetime.date(2024, 4, 3), datetime.date(2024, 6, 5))


def test_day_first_dates_are_refused_without_the_option(rep):
    job = run_import(HEADER + "\nD1;rep;C1;won;10;0;03/04/2024;05/06/2024\n")
    assert job.created_count == 0
    assert [column for _line, column, _message in errors_of(job)] == ["created_on", "closed_on"]
    assert "day-first" in errors_of(job)[0][2]


def test_an_impossible_date_is_an_error_naming_the_line(rep):
    job = run_import(HEADER + "\nD1;rep;C1;lead;10;0;31/02/2024;\n", dayfirst=True)
    assert errors_of(job)[0][:2] == (2, "created_on")


def test_amounts_with_more_than_two_decimals_are_rounded_half_up_and_counted(rep):
    content = "\n".join(
        [
            HEADER,
            "D1;rep;C1;won;10.005;0;2024-01-10;2024-02-01",
            "D2;rep;C1;won;10.004;1.2350;2024-01-10;2024-02-01",
            "D3;rep;C1;won;10.500;0;2024-01-10;2024-02-01",
            "D4;rep;C1;won;10.5;0;2024-01-10;2024-02-01",
        ]
    )
    preview = run_import(content, commit=False)
    assert preview.rounded_count == 2
    job = run_import(content)
    assert job.rounded_count == 2
    amounts = dict(Deal.objects.values_list("external_id", "amount"))
    assert amounts == {
        "D1": Decimal("10.01"),
        "D2": Decimal("10.00"),
        "D3": Decimal("10.50"),
        "D4": Decimal("10.50"),
    }
    assert Deal.objects.get(external_id="D2").cost == Decimal("1.24")
