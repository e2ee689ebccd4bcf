from decimal import Decimal

import pytest

from salesteam.models import Deal
from tests.factories import CustomerFactory
from tests.salesteam.import_support import HEADER, run_import

pytestmark = pytest.mark.django_db

FILE = HEADER + "\nD1,rep,C1,won,1000,400,2024-01-10,2024-02-01\nD2,rep,C1,proposal,500,0,2024-01-11,\n"


@pytest.fixture(autouse=True)
def customer(db):
    return CustomerFactory(external_id="C1")


def test_reimporting_the_same_file_changes_nothing(rep):
    first = run_import(FILE)
    before = list(Deal.objects.order_by("pk").values())
    second = run_import(FILE)

    assert (first.created_count, first.unchanged_count) == (2, 0)
    assert (second.created_count, second.updated_count, second.unchanged_count) == (0, 0, 2)
    assert list(Deal.objects.order_by("pk").values()) == before
    assert Deal.history.count() == 2


def test_a_changed_row_updates_its_deal_and_leaves_a_history_entry(rep, admin_user):
    run_import(FILE)
    changed = FILE.replace(
        "D2,rep,C1,proposal,500,0,2024-01-11,", "D2,rep,C1,won,750,0,2024-01-11,2024-03-01"
    )
    job = run_import(changed, actor=admin_user)

    assert (job.created_count, job.updated_count, job.unchanged_count) == (0, 1, 1)
    deal = Deal.objects.get(external_id="D2")
    assert deal.stage == "won" and deal.amount == Decimal("750.00")
    latest = deal.history.order_by("-history_id").first()
    assert latest.history_type == "~" and latest.history_user == admin_user
    delta = latest.diff_against(latest.prev_record)
    assert {change.field for change in delta.changes} >= {"stage", "amount", "closed_on"}


def test_the_same_external_id_from_another_source_is_another_deal(rep):
    run_import(FILE, source="crm")
    job = run_import(FILE, source="erp")
    assert job.created_count == 2
    assert Deal.objects.count() == 4


def test_a_dry_run_counts_new_changed_unchanged_and_errors_without_writing(rep):
    run_import(FILE)
    content = (
        FILE.replace("500,0,2024-01-11", "600,0,2024-01-11")
        + "D3,rep,C1,lead,1,0,2024-01-12,\nD4,rep,C1,x,1,0,,\n"
    )
    job = run_import(content, commit=False)

    assert job.status == "previewed"
    assert (job.created_count, job.updated_count, job.unchanged_count, job.error_count) == (1, 1, 1, 1)
    assert Deal.objects.count() == 2
    assert Deal.objects.get(external_id="D2").amount == Decimal("500.00")
