"""A `credits` column ("alice:60;bob:40") imports credit splits, checked like the form's, row by row."""

from decimal import Decimal

import pytest

from salesteam.models import Deal, DealCredit, ImportJob
from tests.factories import CustomerFactory, DealCreditFactory, MembershipFactory, UserFactory
from tests.salesteam.import_support import HEADER, errors_of, run_import

pytestmark = pytest.mark.django_db

SPLIT_HEADER = HEADER + ",credits"


@pytest.fixture
def bob(team):
    user = UserFactory(username="bob", full_name="Bob Baker")
    MembershipFactory(user=user, team=team)
    return user


@pytest.fixture
def customers(db):
    return [CustomerFactory(external_id="C1"), CustomerFactory(external_id="C2")]


def shares(external_id: str) -> dict[str, Decimal]:
    credits = DealCredit.objects.filter(deal__external_id=external_id).select_related("rep")
    return {credit.rep.username: credit.share for credit in credits}


def test_the_credits_column_is_guessed_and_splits_are_imported(admin_user, rep, bob, customers):
    content = "\n".join(
        [
            SPLIT_HEADER,
            "D1,rep,C1,won,1000.00,400,2024-01-10,2024-02-01,rep:60; bob:40",
            'D2,rep,C2,won,500,0,2024-01-11,2024-02-01,"bob:100%"',
            "D3,rep,C1,won,10,0,2024-01-12,2024-02-01,",
        ]
    )
    job = run_import(content, actor=admin_user)

    assert job.columns["credits"] == "credits"
    assert (job.created_count, job.error_count) == (3, 0)
    assert shares("D1") == {"rep": Decimal("60.00"), "bob": Decimal("40.00")}
    assert shares("D2") == {"bob": Decimal("100.00")}
    assert shares("D3") == {}
    record = DealCredit.history.filter(rep=bob).first()
    assert record.history_user == admin_user and str(job.pk) in record.history_change_reason


def test_a_bad_split_fails_its_row_only_with_the_forms_message(admin_user, rep, bob, customers):
    content = "\n".join(
        [
            SPLIT_HEADER,
            "D1,rep,C1,won,1000,0,2024-01-10,2024-02-01,rep:50;bob:40",
            "D2,rep,C1,won,1000,0,2024-01-10,2024-02-01,bob:50;bob:50",
            "D3,rep,C1,won,1000,0,2024-01-10,2024-02-01,rep:100;bob:0",
            "D4,rep,C1,won,1000,0,2024-01-10,2024-02-01,rep:60;nobody:40",
            "D5,rep,C1,won,1000,0,2024-01-10,2024-02-01,rep 60 bob 40",
            "D6,rep,C1,won,1000,0,2024-01-10,2024-02-01,rep:sixty;bob:40",
            "D7,rep,C2,won,1000,0,2024-01-10,2024-02-01,rep:60;bob:40",
        ]
    )
    job = run_import(content, actor=admin_user)

    assert (job.created_count, job.error_count) == (1, 6)
    assert list(Deal.objects.values_list("external_id", flat=True)) == ["D7"]
    assert errors_of(job) == [
        (2, "credits", "Shares add up to 90 %; they must add up to 100 %."),
        (3, "credits", "Bob Baker is credited more than once; give each rep one share."),
        (4, "credits", "The share of Bob Baker must be above 0 %."),
        (5, "credits", "Unknown rep “nobody” in the credit split."),
        (6, "credits", "Write the credit split as rep:share separated by semicolons, e.g. alice:60;bob:40."),
        (7, "credits", "“sixty” is not a number."),
    ]


def test_importing_again_changes_a_split_and_counts_the_deal_changed(admin_user, rep, bob, customers):
    row = "D1,rep,C1,won,1000.00,400,2024-01-10,2024-02-01,{}"
    run_import(f"{SPLIT_HEADER}\n{row.format('rep:60;bob:40')}", actor=admin_user)

    same = run_import(f"{SPLIT_HEADER}\n{row.format('bob:40;rep:60')}", actor=admin_user)
    assert (same.unchanged_count, same.updated_count) == (1, 0)

    check = run_import(f"{SPLIT_HEADER}\n{row.format('rep:50;bob:50')}", actor=admin_user, commit=False)
    assert (check.unchanged_count, check.updated_count) == (0, 1)
    assert shares("D1") == {"rep": Decimal("60.00"), "bob": Decimal("40.00")}  # a check writes nothing

    changed = run_import(f"{SPLIT_HEADER}\n{row.format('rep:50;bob:50')}", actor=admin_user)
    assert (changed.unchanged_count, changed.updated_count) == (0, 1)
    assert shares("D1") == {"rep": Decimal("50.00"), "bob": Decimal("50.00")}

    cleared = run_import(f"{SPLIT_HEADER}\n{row.format('')}", actor=admin_user)
    assert cleared.updated_count == 1 and shares("D1") == {}


def test_a_file_without_the_column_leaves_splits_alone(admin_user, rep, bob, customers):
    run_import(SPLIT_HEADER + "\nD1,rep,C1,won,1000,0,2024-01-10,2024-02-01,rep:60;bob:40", actor=admin_user)
    job = run_import(HEADER + "\nD1,rep,C1,won,2000,0,2024-01-10,2024-02-01", actor=admin_user)
    assert job.updated_count == 1
    assert shares("D1") == {"rep": Decimal("60.00"), "bob": Decimal("40.00")}


def test_a_manager_credits_only_their_reps_and_keeps_others_shares(manager, rep, bob, other_rep, customers):
    job = run_import(
        SPLIT_HEADER + "\nD1,rep,C1,won,1000,0,2024-01-10,2024-02-01,rep:50;other_rep:50", actor=manager
    )
    assert job.error_count == 1
    assert "You cannot credit" in errors_of(job)[0][2]

    deal = run_import(HEADER + "\nD2,rep,C1,won,1000,0,2024-01-10,2024-02-01", actor=manager)
    assert deal.created_count == 1
    d2 = Deal.objects.get(external_id="D2")
    DealCreditFactory(deal=d2, rep=rep, share=Decimal("60"))
    DealCreditFactory(deal=d2, rep=other_rep, share=Decimal("40"))
    row = "D2,rep,C1,won,1000,0,2024-01-10,2024-02-01,{}"

    moved = run_import(f"{SPLIT_HEADER}\n{row.format('rep:30;bob:30;other_rep:40')}", actor=manager)
    assert moved.updated_count == 1
    refused = run_import(f"{SPLIT_HEADER}\n{row.format('rep:100')}", actor=manager)
    assert refused.status == ImportJob.Status.DONE and refused.error_count == 1
    assert shares("D2") == {"rep": Decimal("30.00"), "bob": Decimal("30.00"), "other_rep": Decimal("40.00")}
