"""Credit splits in bonuses: commission and quota attainment count each rep's credited share of won
deals, narrowed and prorated like the rest; the KPIs keep counting every deal for its rep.

Expected amounts are worked out by hand below with Decimal: share × amount per deal, then the rule.
"""

import datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest

from incentives import bonus_services
from incentives.credit_selectors import credited_totals
from incentives.models import BonusAward
from kpis.models import KpiValue, PeriodType, ScopeType
from salesteam import services
from salesteam.models import Membership
from salesteam.services import CreditInput
from tests.factories import CategoryFactory, CustomerFactory, MembershipFactory, SegmentFactory, UserFactory
from tests.incentives.bonus_helpers import make_plan
from tests.incentives.conftest import deal

D = datetime.date
pytestmark = pytest.mark.django_db
MARCH = D(2024, 3, 1)


@pytest.fixture
def alice(rep):
    return rep


@pytest.fixture
def bob(team):
    user = UserFactory(username="bob", full_name="Bob Baker")
    MembershipFactory(user=user, team=team)
    return user


def split(the_deal, *lines):
    """Gives `the_deal` a credit split through the service, as the form and the API do."""
    services.deal_update(
        actor=None, deal=the_deal, credits=[CreditInput(user, Decimal(share)) for user, share in lines]
    )


@pytest.fixture
def march_deals(alice, bob):
    """Alice's big deal split 60/40 with Bob, Bob's own deal, and Alice's odd deal split 33.33/66.67."""
    fleet, software = SegmentFactory(name="Fleet"), CategoryFactory(name="Software")
    big = deal(
        alice, "10000.00", cost=Decimal("4000.00"), customer=CustomerFactory(segment=fleet), title="Big"
    )
    split(big, (alice, "60"), (bob, "40"))
    deal(bob, "2500.00", cost=Decimal("500.00"), title="Own")
    odd = deal(alice, "1234.57", category=software, title="Odd")
    split(odd, (alice, "33.33"), (bob, "66.67"))
    return {"big": big, "odd": odd}


# What each rep is credited, by hand.
ALICE_REVENUE = Decimal("10000.00") * Decimal("0.60") + Decimal("1234.57") * Decimal("0.3333")
ALICE_COST = Decimal("4000.00") * Decimal("0.60")
BOB_REVENUE = (
    Decimal("10000.00") * Decimal("0.40") + Decimal("2500.00") + Decimal("1234.57") * Decimal("0.6667")
)
BOB_COST = Decimal("4000.00") * Decimal("0.40") + Decimal("500.00")


def cents(amount: Decimal) -> Decimal:
    """The award total's rounding: half up to cents (docs/incentives.md)."""
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def award(rep) -> BonusAward:
    return BonusAward.objects.get(rep=rep, period_start=MARCH)


def test_commission_is_paid_on_each_reps_credited_share(clock, nightly, team, alice, bob, march_deals):
    make_plan(
        rules=[
            {"type": "commission", "base": "revenue", "rate": "0.05"},
            {"type": "commission", "base": "gross_margin", "rate": "0.10"},
        ],
        teams=[team],
    )
    nightly()

    # The shares of a deal add up to all of it: nothing is counted twice or lost.
    assert Decimal("10000.00") + Decimal("2500.00") + Decimal("1234.57") == ALICE_REVENUE + BOB_REVENUE
    alice_total = ALICE_REVENUE * Decimal("0.05") + (ALICE_REVENUE - ALICE_COST) * Decimal("0.10")
    bob_total = BOB_REVENUE * Decimal("0.05") + (BOB_REVENUE - BOB_COST) * Decimal("0.10")
    assert award(alice).total == cents(alice_total)
    assert award(bob).total == cents(bob_total)
    assert Decimal(award(alice).breakdown[0]["inputs"]["base"]) == ALICE_REVENUE


def test_the_breakdown_names_each_split_deal_and_the_share(clock, nightly, team, alice, bob, march_deals):
    make_plan(rules=[{"type": "commission", "rate": "0.05"}], teams=[team])
    nightly()

    alice_lines = [line["sentence"] for line in award(alice).breakdown]
    assert alice_lines[1:] == [
        "Includes 60 % of deal “Big”: EUR 6,000.00 of its EUR 10,000.00 revenue",
        "Includes 33.33 % of deal “Odd”: EUR 411.48 of its EUR 1,234.57 revenue",
    ]
    bob_lines = [line for line in award(bob).breakdown if line["type"] == "credit"]
    assert [(line["inputs"]["deal"], line["inputs"]["share"]) for line in bob_lines] == [
        (march_deals["big"].pk, "40.00"),
        (march_deals["odd"].pk, "66.67"),
    ]
    # Explanations only: the lines add nothing to the total, and a second evaluation changes nothing.
    assert award(bob).total == (BOB_REVENUE * Decimal("0.05")).quantize(Decimal("0.01"))
    counts = bonus_services.award_evaluate(period_start=MARCH)
    assert counts["updated"] == counts["created"] == 0


def test_the_kpis_still_count_every_deal_for_its_rep(clock, nightly, team, alice, bob, march_deals):
    nightly()
    revenue = dict(
        KpiValue.objects.filter(
            scope_type=ScopeType.REP, period_type=PeriodType.MONTH, period_start=MARCH
        ).values_list("scope_id", "revenue")
    )
    assert revenue[alice.pk] == Decimal("10000.00") + Decimal("1234.57")
    assert revenue[bob.pk] == Decimal("2500.00")


def test_quota_attainment_of_a_tiered_rule_uses_the_credited_share(
    clock, nightly, team, alice, bob, march_deals
):
    tiers = [["0", "0.02"], ["1.0", "0.05"]]
    make_plan(rules=[{"type": "tiered", "quota": "5000", "mode": "marginal", "tiers": tiers}], teams=[team])
    nightly()

    quota = Decimal("5000")
    alice_total = quota * Decimal("0.02") + (ALICE_REVENUE - quota) * Decimal("0.05")
    bob_total = quota * Decimal("0.02") + (BOB_REVENUE - quota) * Decimal("0.05")
    assert (award(alice).total, award(bob).total) == (cents(alice_total), cents(bob_total))
    assert Decimal(award(alice).breakdown[0]["inputs"]["attainment"]) == ALICE_REVENUE / quota


def test_a_narrowed_commission_counts_the_share_of_the_narrowed_deals_only(
    clock, nightly, team, alice, bob, march_deals
):
    fleet = march_deals["big"].customer.segment
    software = march_deals["odd"].category
    make_plan(
        rules=[
            {"type": "commission", "rate": "0.10", "narrow": {"scope": "segment", "id": fleet.pk}},
            {"type": "commission", "rate": "0.10", "narrow": {"scope": "category", "id": software.pk}},
        ],
        teams=[team],
    )
    nightly()

    bases = {
        user.username: [Decimal(line["inputs"]["base"]) for line in award(user).breakdown[:2]]
        for user in (alice, bob)
    }
    assert bases == {
        "rep": [Decimal("10000.00") * Decimal("0.60"), Decimal("1234.57") * Decimal("0.3333")],
        "bob": [Decimal("10000.00") * Decimal("0.40"), Decimal("1234.57") * Decimal("0.6667")],
    }
    assert award(alice).total == ((Decimal("6000.00") + Decimal("411.482181")) * Decimal("0.10")).quantize(
        Decimal("0.01")
    )


def test_a_prorated_rep_is_credited_only_for_deals_closed_in_their_days(
    clock, nightly, team, other_team, alice
):
    bob = UserFactory(username="bob")
    MembershipFactory(user=bob, team=other_team)
    services.membership_move(actor=None, user=bob, team=team, valid_from=D(2024, 3, 16))
    before = deal(alice, "1000.00", closed_on=D(2024, 3, 5))
    after = deal(alice, "3000.00", closed_on=D(2024, 3, 18))
    split(before, (alice, "50"), (bob, "50"))
    split(after, (alice, "50"), (bob, "50"))
    tiers = [["0", "0"], ["1.0", "0.10"]]
    make_plan(
        rules=[{"type": "tiered", "quota": "2000", "mode": "retroactive", "tiers": tiers}], teams=[team]
    )
    nightly()

    # Bob takes part from 16 March: half of the deal of the 18th counts, the one of the 5th does not.
    bob_base = Decimal("3000.00") * Decimal("0.50")
    bob_quota = Decimal("2000") * 16 / 31
    assert bob_base / bob_quota >= 1  # tier 2 reached on the prorated quota
    assert award(bob).total == bob_base * Decimal("0.10") == Decimal("150.00")
    assert [line["inputs"]["deal"] for line in award(bob).breakdown if line["type"] == "credit"] == [after.pk]
    alice_base = (Decimal("1000.00") + Decimal("3000.00")) * Decimal("0.50")
    assert alice_base / Decimal("2000") == 1
    assert award(alice).total == alice_base * Decimal("0.10") == Decimal("200.00")
    assert Membership.objects.get(user=bob, team=team).valid_from == D(2024, 3, 16)


def test_a_rep_credited_on_a_colleagues_deal_passes_a_margin_gate_on_it(clock, nightly, team, alice, bob):
    big = deal(alice, "10000.00", cost=Decimal("4000.00"))
    split(big, (alice, "60"), (bob, "40"))
    make_plan(
        rules=[
            {"type": "gate", "kpi": "gross_margin_pct", "op": ">=", "value": "0.50"},
            {"type": "commission", "rate": "0.05"},
        ],
        teams=[team],
    )
    nightly()

    # Bob owns no deal: his KPIs have no revenue, but his credited 40 % has a 60 % margin.
    assert award(bob).breakdown[0]["inputs"]["met"] is True
    assert award(bob).total == Decimal("10000.00") * Decimal("0.40") * Decimal("0.05") == Decimal("200.00")


def test_the_deals_rep_earns_nothing_on_a_deal_credited_wholly_to_a_colleague(
    clock, nightly, team, alice, bob
):
    handed_over = deal(alice, "8000.00")
    split(handed_over, (bob, "100"))
    deal(alice, "1000.00")
    make_plan(rules=[{"type": "commission", "rate": "0.10"}], teams=[team])
    nightly()

    assert award(alice).total == Decimal("1000.00") * Decimal("0.10")
    assert award(bob).total == Decimal("8000.00") * Decimal("0.10")


def test_the_credited_totals_of_a_plan_take_one_query(
    clock, team, alice, bob, march_deals, django_assert_num_queries
):
    others = [UserFactory() for _ in range(5)]
    fleet = march_deals["big"].customer.segment
    participants = {user.pk: [(MARCH, D(2024, 4, 1))] for user in (alice, bob, *others)}
    participants[bob.pk] = [(MARCH, D(2024, 3, 10)), (D(2024, 3, 20), D(2024, 4, 1))]

    with django_assert_num_queries(1):
        totals = credited_totals(
            participants=participants, start=MARCH, end=D(2024, 4, 1), narrows={("segment", fleet.pk)}
        )

    assert totals[alice.pk].revenue == ALICE_REVENUE
    assert totals[alice.pk].narrowed[("segment", fleet.pk)] == (Decimal("6000.00"), Decimal("2400.00"))
    assert totals[bob.pk].revenue == BOB_REVENUE  # the deals closed on 5 March, inside the first range
    assert all(totals[user.pk].revenue == 0 for user in others)
