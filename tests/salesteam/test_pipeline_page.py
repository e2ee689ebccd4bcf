"""The pipeline shows each open stage with its count and total, in a bounded number of queries."""

from decimal import Decimal

from django.urls import reverse

from salesteam import selectors
from salesteam.models import Stage
from tests.factories import DealFactory


def open_deal(rep, stage, amount):
    return DealFactory(rep=rep, stage=stage, amount_original=Decimal(amount), amount=Decimal(amount))


def test_each_column_has_the_count_and_total_of_the_deals_the_user_may_see(rep, other_rep):
    open_deal(rep, Stage.LEAD, "100.10")
    open_deal(rep, Stage.LEAD, "200.25")
    open_deal(rep, Stage.NEGOTIATION, "1000.00")
    open_deal(other_rep, Stage.LEAD, "5000.00")  # another team: not counted
    DealFactory(rep=rep, stage=Stage.WON)  # closed: not on the board

    columns = {column["stage"]: column for column in selectors.pipeline(user=rep)}

    assert list(columns) == [Stage.LEAD, Stage.QUALIFIED, Stage.PROPOSAL, Stage.NEGOTIATION]
    assert (columns[Stage.LEAD]["count"], columns[Stage.LEAD]["total"]) == (2, Decimal("300.35"))
    assert (columns[Stage.QUALIFIED]["count"], columns[Stage.QUALIFIED]["total"]) == (0, Decimal("0.00"))
    assert (columns[Stage.NEGOTIATION]["count"], columns[Stage.NEGOTIATION]["total"]) == (
        1,
        Decimal("1000.00"),
    )


def test_a_long_column_shows_its_newest_deals_and_links_to_all(client, rep):
    for _ in range(4):
        open_deal(rep, Stage.PROPOSAL, "10.00")

    columns = {column["stage"]: column for column in selectors.pipeline(user=rep, per_stage=3)}
    assert columns[Stage.PROPOSAL]["count"] == 4
    assert len(columns[Stage.PROPOSAL]["deals"]) == 3

    client.force_login(rep)
    response = client.get(reverse("pipeline"))
    assert response.status_code == 200
    assert "40.00 EUR" in response.content.decode()


def test_pipeline_query_count_does_not_grow_with_deals(client, rep, django_assert_max_num_queries):
    client.force_login(rep)
    for stage in (Stage.LEAD, Stage.QUALIFIED, Stage.PROPOSAL, Stage.NEGOTIATION):
        open_deal(rep, stage, "10.00")
    with django_assert_max_num_queries(15) as few:
        client.get(reverse("pipeline"))

    for stage in (Stage.LEAD, Stage.QUALIFIED, Stage.PROPOSAL, Stage.NEGOTIATION):
        for _ in range(5):
            open_deal(rep, stage, "10.00")
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("pipeline"))
    assert response.status_code == 200
