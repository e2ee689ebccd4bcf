"""A small hand-made data set with the edge cases the KPI definitions care about."""

import datetime
from decimal import Decimal

from salesteam.models import Stage
from tests.factories import (
    CampaignFactory,
    CategoryFactory,
    CustomerFactory,
    DealFactory,
    MembershipFactory,
    SegmentFactory,
    TeamFactory,
    UserFactory,
)

D = datetime.date


def build_fixture() -> dict:
    north, south = TeamFactory(name="North"), TeamFactory(name="South")
    ann, bob, cas = UserFactory(username="ann"), UserFactory(username="bob"), UserFactory(username="cas")
    MembershipFactory(user=ann, team=north, valid_from=D(2020, 1, 1))
    MembershipFactory(user=bob, team=south, valid_from=D(2020, 1, 1))
    # cas moves from North to South on 2024-04-01; deals keep the team of their closing day.
    MembershipFactory(user=cas, team=north, valid_from=D(2020, 1, 1), valid_to=D(2024, 4, 1))
    MembershipFactory(user=cas, team=south, valid_from=D(2024, 4, 1))
    cars, fleet = SegmentFactory(name="New vehicles"), SegmentFactory(name="Fleet")
    hw, sw = CategoryFactory(name="Hardware"), CategoryFactory(name="Software")
    spring = CampaignFactory(
        code="spring", cost=Decimal("9100.00"), start_on=D(2024, 2, 15), end_on=D(2024, 5, 15)
    )
    expo = CampaignFactory(
        code="expo", cost=Decimal("1000.00"), start_on=D(2023, 12, 20), end_on=D(2024, 1, 10)
    )
    acme, beta, gamma, delta, eps = (
        CustomerFactory(name=n, segment=s)
        for n, s in [("Acme", cars), ("Beta", cars), ("Gamma", fleet), ("Delta", fleet), ("Eps", None)]
    )

    def deal(rep, team, customer, stage, amount, cost, created, closed=None, **extra):
        return DealFactory(
            rep=rep, team=team, customer=customer, stage=stage, amount_original=Decimal(amount),
            cost_original=Decimal(cost), created_on=created, closed_on=closed, **extra,
        )  # fmt: skip

    # 2023: Acme and Beta buy; Gamma is lost.
    deal(ann, north, acme, Stage.WON, "1000.00", "600.00", D(2023, 10, 1), D(2023, 11, 5), category=hw)
    deal(bob, south, beta, Stage.WON, "500.00", "100.00", D(2023, 11, 20), D(2023, 12, 31), category=sw)
    deal(bob, south, gamma, Stage.LOST, "800.00", "0.00", D(2023, 9, 1), D(2023, 12, 2), lost_reason="price")
    # Closed late on New Year's Eve: still 2023 in the installation's time zone.
    deal(ann, north, delta, Stage.WON, "250.00", "50.00", D(2023, 12, 1), D(2023, 12, 31), campaign=expo)
    # 2024 Q1: Acme returns, Gamma is new through the spring campaign, cost above amount for Beta.
    deal(ann, north, acme, Stage.WON, "2000.00", "900.00", D(2024, 1, 2), D(2024, 1, 30), category=hw)
    deal(cas, north, gamma, Stage.WON, "3000.00", "1000.00", D(2024, 2, 20), D(2024, 3, 10), campaign=spring)
    deal(bob, south, beta, Stage.WON, "100.00", "300.00", D(2024, 3, 1), D(2024, 3, 2), category=sw)
    deal(bob, south, eps, Stage.LOST, "700.00", "0.00", D(2024, 2, 1), D(2024, 3, 20))
    # 2024 Q2: cas now in South; Acme gone (churned); Delta returns after a gap through spring.
    deal(cas, south, delta, Stage.WON, "1200.00", "200.00", D(2024, 4, 2), D(2024, 4, 28), campaign=spring)
    deal(cas, south, gamma, Stage.WON, "400.00", "100.00", D(2024, 4, 5), D(2024, 5, 6), category=hw)
    deal(ann, north, eps, Stage.WON, "999.99", "0.00", D(2024, 5, 1), D(2024, 5, 2))
    # Open deals: count for lead conversion only.
    deal(ann, north, beta, Stage.PROPOSAL, "5000.00", "0.00", D(2024, 5, 10))
    deal(bob, south, acme, Stage.LEAD, "300.00", "0.00", D(2024, 1, 15))
    return {"teams": (north, south), "reps": (ann, bob, cas), "campaigns": (spring, expo)}
