"""An incremental KPI run after random edits stores what a full computation over the final data gives:
the edited customers' differences, applied to the stored rows, and the medians and costs recomputed
where they moved, leave every row as a computation from scratch would."""

import datetime
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from kpis import services
from kpis.models import KpiRun
from salesteam import services as sales
from salesteam.models import Deal, Segment, Stage
from tests.kpis.test_engine_matches_reference import deal_rows, make_random_deals
from tests.kpis.test_kpi_run import expected_from_engine, nonzero, stored

D = datetime.date


def delta(days: int) -> datetime.timedelta:
    return datetime.timedelta(days=days)


EDITS = ["amount", "cost", "created", "flip", "later", "customer", "delete", "segment", "move", "campaign"]
edits = st.lists(
    st.tuples(
        st.sampled_from(EDITS),
        st.integers(0, 24),  # which deal (modulo the number of deals)
        st.integers(1, 400),  # an amount in euros, days to move the close by, or a customer
    ),
    min_size=1,
    max_size=6,
)


@pytest.mark.django_db
@hypothesis_settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=deal_rows.filter(bool), changes=edits)
def test_an_incremental_run_after_random_edits_equals_a_full_computation(rows, changes, settings):
    # Only the customers of the edits are looked at again (no margin before the last run).
    settings.KPI_CHANGES_MARGIN_SECONDS = 0
    # Each example runs in its own savepoint, rolled back afterwards.
    with transaction.atomic():
        world = make_random_deals(rows)
        services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, full=True, in_process=True)
        for kind, index, value in changes:
            apply_edit(world, kind, index, value)

        run = services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, in_process=True)

        assert run.status == KpiRun.Status.SUCCEEDED and not run.full
        # At most one shard, which applies the edited customers' differences (an edit can change nothing:
        # a move of a rep without deals since).
        assert [shard.changes for shard in run.shards.all()] in ([True], [])
        assert nonzero(stored()) == expected_from_engine()
        transaction.set_rollback(True)


def apply_edit(world: dict, kind: str, index: int, value: int) -> bool:
    """One change through the deal services, as a user would make it (each leaves a history row);
    False when the edit does not apply to the deal it picked."""
    deals = list(Deal.objects.order_by("pk"))
    if not deals:
        return False
    deal = deals[index % len(deals)]
    closed = deal.stage in (Stage.WON, Stage.LOST)
    if kind == "amount":
        sales.deal_update(actor=None, deal=deal, amount_original=Decimal(value))
    elif kind == "cost":
        sales.deal_update(actor=None, deal=deal, cost_original=Decimal(value))
    elif kind == "created":  # created earlier: a longer cycle, and maybe another created period
        sales.deal_update(actor=None, deal=deal, created_on=deal.created_on - datetime.timedelta(days=value))
    elif kind == "flip" and closed:  # won becomes lost and lost becomes won, on the same day
        stage = Stage.LOST if deal.stage == Stage.WON else Stage.WON
        sales.deal_update(actor=None, deal=deal, stage=stage)
    elif kind == "later" and closed:  # closed later: into another month, quarter or year
        sales.deal_update(actor=None, deal=deal, closed_on=deal.closed_on + datetime.timedelta(days=value))
    elif kind == "customer":
        customers = world["customers"]
        sales.deal_update(actor=None, deal=deal, customer=customers[value % len(customers)])
    elif kind == "delete":
        sales.deal_delete(actor=None, deal=deal)
    elif kind == "segment":  # the customer leaves its segment or joins one: every deal of it moves
        customer = deal.customer
        customer.segment = None if customer.segment_id else Segment.objects.first()
        customer.save()
    elif kind == "move":  # the rep moves to the other team: their deals closed since follow (in bulk)
        others = [team for team in world["teams"] if team.pk != deal.team_id]
        if deal.rep.memberships.filter(valid_from__gte=D(2023, 1, 1) + delta(value)).exists():
            return False  # a later move must be undone first
        sales.membership_move(
            actor=None, user=deal.rep, team=others[0], valid_from=D(2023, 1, 1) + delta(value)
        )
    elif kind == "campaign":  # the campaign's cost or last day changes
        campaign = world["campaign"]
        campaign.cost += Decimal(value)
        campaign.end_on += datetime.timedelta(days=value % 60)
        campaign.save()
    else:
        return False
    return True


# Deals of make_random_deals: (rep, customer, stage, amount and cost in cents, created and cycle days,
# through the campaign). Each customer has several, won ones in different periods.
FIXED_ROWS = [
    (0, 0, "won", 12_000, 3_000, 10, 30, True),
    (1, 0, "won", 8_000, 9_000, 200, 45, False),
    (2, 1, "lost", 5_000, 1_000, 40, 20, True),
    (0, 1, "won", 20_000, 4_000, 380, 90, True),
    (1, 2, "lead", 7_000, 0, 500, 0, False),
    (0, 3, "won", 3_000, 500, 95, 5, False),
    (2, 3, "won", 9_900, 2_000, 420, 60, True),
]


@pytest.mark.django_db
@pytest.mark.parametrize("kind", EDITS)
def test_each_kind_of_edit_alone_is_picked_up_by_an_incremental_run(kind, settings):
    """One edit at a time, so that no other edit's change makes the run read what this one moved."""
    settings.KPI_CHANGES_MARGIN_SECONDS = 0
    # (deal, value): the value picks the other customer, of the same segment for the last two
    for index, value in ((0, 35), (1, 120), (3, 61), (6, 400), (0, 2), (5, 1)):
        with transaction.atomic():
            world = make_random_deals(FIXED_ROWS)
            services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, full=True, in_process=True)
            if not apply_edit(world, kind, index, value):
                transaction.set_rollback(True)
                continue

            run = services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, in_process=True)

            assert run.status == KpiRun.Status.SUCCEEDED and not run.full
            assert nonzero(stored()) == expected_from_engine(), (kind, index, value)
            transaction.set_rollback(True)
