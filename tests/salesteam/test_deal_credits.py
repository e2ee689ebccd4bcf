"""Credit splits: one validation for every way in, constraints in the database, history of each change."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from salesteam import selectors, services
from salesteam.models import Deal, DealCredit, Stage
from salesteam.services import CreditInput
from tests.factories import CustomerFactory, DealCreditFactory, DealFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

D = datetime.date


@pytest.fixture
def bob(team):
    user = UserFactory(username="bob", full_name="Bob Baker")
    MembershipFactory(user=user, team=team)
    return user


def deal_values(rep, **overrides):
    values = {
        "rep": rep,
        "customer": CustomerFactory(),
        "stage": Stage.WON,
        "amount_original": Decimal("10000.00"),
        "cost_original": Decimal("4000.00"),
        "currency": "EUR",
        "created_on": D(2024, 3, 1),
        "closed_on": D(2024, 3, 20),
    }
    values.update(overrides)
    return values


def shares(deal) -> dict[str, Decimal]:
    return {c.rep.username: c.share for c in DealCredit.objects.filter(deal=deal).select_related("rep")}


def credit_errors(excinfo) -> list[str]:
    return excinfo.value.message_dict["credits"]


# --- The rules -------------------------------------------------------------------------------------


def test_a_split_adding_up_to_100_is_stored_line_by_line(manager, rep, bob):
    deal = services.deal_create(
        actor=manager,
        credits=[CreditInput(rep, Decimal("60")), CreditInput(bob, Decimal("40"))],
        **deal_values(rep),
    )
    assert shares(deal) == {"rep": Decimal("60.00"), "bob": Decimal("40.00")}


def test_shares_that_do_not_add_up_to_100_are_refused_with_the_sum(manager, rep, bob):
    with pytest.raises(ValidationError) as excinfo:
        services.deal_create(
            actor=manager,
            credits=[CreditInput(rep, Decimal("50")), CreditInput(bob, Decimal("40"))],
            **deal_values(rep),
        )
    assert credit_errors(excinfo) == ["Shares add up to 90 %; they must add up to 100 %."]
    assert not Deal.objects.exists()


def test_shares_with_decimals_must_add_up_to_exactly_100(manager, rep, bob):
    with pytest.raises(ValidationError) as excinfo:
        services.deal_credits_validate(
            credits=[CreditInput(rep, Decimal("33.33")), CreditInput(bob, Decimal("66.66"))]
        )
    assert credit_errors(excinfo) == ["Shares add up to 99.99 %; they must add up to 100 %."]


@pytest.mark.parametrize(
    ("share", "message"),
    [
        (Decimal("0"), "The share of Bob Baker must be above 0 %."),
        (Decimal("-10"), "The share of Bob Baker must be above 0 %."),
        (Decimal("100.5"), "The share of Bob Baker cannot be above 100 %."),
        (Decimal("10.005"), "Give the share of Bob Baker with at most two decimals."),
        (None, "Enter the share of Bob Baker."),
    ],
)
def test_each_share_must_be_a_positive_percentage_with_two_decimals(rep, bob, share, message):
    with pytest.raises(ValidationError) as excinfo:
        services.deal_credits_validate(credits=[CreditInput(rep, Decimal("100")), CreditInput(bob, share)])
    assert credit_errors(excinfo) == [message]


def test_a_rep_is_credited_once(rep, bob):
    with pytest.raises(ValidationError) as excinfo:
        services.deal_credits_validate(
            credits=[
                CreditInput(bob, Decimal("50")),
                CreditInput(rep, Decimal("25")),
                CreditInput(bob, Decimal("25")),
            ]
        )
    assert credit_errors(excinfo) == ["Bob Baker is credited more than once; give each rep one share."]


def test_a_line_without_a_rep_is_refused(rep):
    with pytest.raises(ValidationError) as excinfo:
        services.deal_credits_validate(credits=[CreditInput(None, Decimal("100"))])
    assert credit_errors(excinfo) == ["Choose a rep for each share."]


def test_deal_and_split_errors_come_together(manager, rep, bob):
    with pytest.raises(ValidationError) as excinfo:
        services.deal_create(
            actor=manager,
            credits=[CreditInput(rep, Decimal("70")), CreditInput(bob, Decimal("40"))],
            **deal_values(rep, closed_on=None),
        )
    assert set(excinfo.value.message_dict) == {"closed_on", "credits"}


def test_the_database_refuses_a_zero_share_and_a_rep_twice(rep, bob):
    deal = DealFactory(rep=rep)
    with pytest.raises(IntegrityError), transaction.atomic():
        DealCredit.objects.create(deal=deal, rep=bob, share=Decimal("0"))
    with pytest.raises(IntegrityError), transaction.atomic():
        DealCredit.objects.create(deal=deal, rep=bob, share=Decimal("100.01"))
    DealCredit.objects.create(deal=deal, rep=bob, share=Decimal("50"))
    with pytest.raises(IntegrityError), transaction.atomic():
        DealCredit.objects.create(deal=deal, rep=bob, share=Decimal("50"))


# --- Who may set which share ----------------------------------------------------------------------------


def test_a_manager_cannot_credit_a_rep_of_another_team(manager, rep, other_rep):
    with pytest.raises(ValidationError) as excinfo:
        services.deal_create(
            actor=manager,
            credits=[CreditInput(rep, Decimal("50")), CreditInput(other_rep, Decimal("50"))],
            **deal_values(rep),
        )
    assert credit_errors(excinfo) == [
        f"You cannot credit {other_rep.display_name}: they are not a rep of a team you manage."
    ]


def test_a_share_set_for_another_teams_rep_stays_as_it_is(manager, admin_user, rep, bob, other_rep):
    deal = services.deal_create(
        actor=admin_user,
        credits=[CreditInput(rep, Decimal("60")), CreditInput(other_rep, Decimal("40"))],
        **deal_values(rep),
    )

    # The manager of North moves North's 60 % between their reps, leaving South's 40 % alone.
    services.deal_update(
        actor=manager,
        deal=deal,
        credits=[
            CreditInput(rep, Decimal("30")),
            CreditInput(bob, Decimal("30")),
            CreditInput(other_rep, Decimal("40")),
        ],
    )
    assert shares(deal) == {"rep": Decimal("30.00"), "bob": Decimal("30.00"), "other_rep": Decimal("40.00")}

    for attempt in (
        [CreditInput(rep, Decimal("70")), CreditInput(other_rep, Decimal("30"))],
        [CreditInput(rep, Decimal("100"))],
    ):
        with pytest.raises(ValidationError) as excinfo:
            services.deal_update(actor=manager, deal=deal, credits=attempt)
        assert credit_errors(excinfo) == [
            f"Only a manager of {other_rep.display_name} or an admin can change their share of 40 %."
        ]
    assert shares(deal)["other_rep"] == Decimal("40.00")


def test_the_choices_list_credited_reps_but_allow_only_the_users_own(manager, rep, bob, other_rep):
    deal = DealFactory(rep=rep)
    DealCreditFactory(deal=deal, rep=rep, share=Decimal("50"))
    DealCreditFactory(deal=deal, rep=other_rep, share=Decimal("50"))

    reps, allowed = selectors.credit_rep_choices(
        user=manager, deal=selectors.deal_get(user=manager, pk=deal.pk)
    )

    assert {r.username for r in reps} == {"manager", "rep", "bob", "other_rep"}
    assert allowed == {manager.pk, rep.pk, bob.pk}


# --- Writing -------------------------------------------------------------------------------------------


def test_update_without_credits_keeps_the_split_and_an_empty_split_removes_it(manager, rep, bob):
    deal = services.deal_create(
        actor=manager,
        credits=[CreditInput(rep, Decimal("60")), CreditInput(bob, Decimal("40"))],
        **deal_values(rep),
    )
    services.deal_update(actor=manager, deal=deal, title="Renamed")
    assert shares(deal) == {"rep": Decimal("60.00"), "bob": Decimal("40.00")}

    services.deal_update(actor=manager, deal=deal, credits=[])
    assert shares(deal) == {}


def test_crediting_the_deals_own_rep_alone_is_no_split(manager, rep, bob):
    deal = services.deal_create(actor=manager, credits=[CreditInput(rep, Decimal("100"))], **deal_values(rep))
    assert shares(deal) == {}
    services.deal_update(actor=manager, deal=deal, credits=[CreditInput(bob, Decimal("100"))])
    assert shares(deal) == {"bob": Decimal("100.00")}


def test_replacing_a_split_is_idempotent_and_keeps_history(manager, rep, bob):
    deal = services.deal_create(
        actor=manager,
        credits=[CreditInput(rep, Decimal("60")), CreditInput(bob, Decimal("40"))],
        **deal_values(rep),
    )
    split = {deal.pk: (rep.pk, [(rep, Decimal("50.00")), (bob, Decimal("50.00"))])}
    assert services.deal_credits_replace(actor=manager, splits=split) == {deal.pk}
    assert services.deal_credits_replace(actor=manager, splits=split) == set()
    services.deal_update(actor=manager, deal=deal, credits=[CreditInput(bob, Decimal("100"))])

    records = DealCredit.history.filter(deal_id=deal.pk).order_by("history_date", "history_id")
    assert [(r.history_type, r.rep.username, r.share) for r in records] == [
        ("+", "rep", Decimal("60.00")),
        ("+", "bob", Decimal("40.00")),
        ("~", "rep", Decimal("50.00")),
        ("~", "bob", Decimal("50.00")),
        ("-", "rep", Decimal("50.00")),
        ("~", "bob", Decimal("100.00")),
    ]
    assert {r.history_user for r in records} == {manager}


def test_the_deal_history_shows_each_split_change_as_one_entry(manager, rep, bob):
    deal = services.deal_create(
        actor=manager,
        credits=[CreditInput(rep, Decimal("60")), CreditInput(bob, Decimal("40"))],
        **deal_values(rep),
    )
    services.deal_update(actor=manager, deal=deal, credits=[CreditInput(bob, Decimal("100"))])

    entries = [e for e in selectors.deal_history(deal=deal) if e["type"] == "Credit split"]

    alice = rep.display_name
    assert [[(c["old"], c["new"]) for c in e["changes"]] for e in entries] == [
        [(f"{alice} 60 %", None), ("Bob Baker 40 %", "Bob Baker 100 %")],
        [(None, f"{alice} 60 %"), (None, "Bob Baker 40 %")],
    ]
    assert entries[0]["who"] == manager


def test_deleting_a_deal_deletes_its_split(manager, rep, bob):
    deal = services.deal_create(
        actor=manager,
        credits=[CreditInput(rep, Decimal("60")), CreditInput(bob, Decimal("40"))],
        **deal_values(rep),
    )
    services.deal_delete(actor=manager, deal=deal)
    assert not DealCredit.objects.exists()
