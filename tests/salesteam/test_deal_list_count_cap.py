"""A deal list longer than LIST_COUNT_CAP says "more than" instead of counting every deal."""

import pytest
from django.urls import reverse

from tests.factories import DealFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def five_deals(rep):
    return DealFactory.create_batch(5, rep=rep)


def test_a_list_within_the_cap_shows_its_exact_count(client, rep, five_deals, settings):
    settings.LIST_COUNT_CAP = 5
    client.force_login(rep)
    response = client.get(reverse("deal_list"))
    assert response.context["page"].paginator.capped is False
    assert "5 deals" in response.text


def test_a_list_past_the_cap_says_more_than_and_pages_up_to_it(client, rep, five_deals, settings):
    settings.LIST_COUNT_CAP = 3
    client.force_login(rep)
    response = client.get(reverse("deal_list"), {"page": 2})
    page = response.context["page"]
    assert page.paginator.capped is True
    assert "More than 3 deals" in response.text
    # 25 deals a page: the three counted fit on one page, so page 2 falls back to the last one.
    assert page.number == 1 and page.paginator.num_pages == 1
    assert len(page.object_list) == 3


def test_a_filter_that_brings_the_list_under_the_cap_counts_exactly(client, rep, five_deals, settings):
    settings.LIST_COUNT_CAP = 3
    client.force_login(rep)
    response = client.get(reverse("deal_list"), {"q": five_deals[0].external_id})
    assert response.context["page"].paginator.capped is False
    assert "1 deal" in response.text
