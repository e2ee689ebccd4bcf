from decimal import Decimal

import pytest
from django.urls import reverse

from salesteam import selectors
from salesteam.models import Deal, Role, Stage
from tests.factories import DealCreditFactory, DealFactory, MembershipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def deals(rep, other_rep, team, other_team):
    return {"mine": DealFactory(rep=rep, team=team), "theirs": DealFactory(rep=other_rep, team=other_team)}


def test_rep_gets_404_for_another_teams_deal_in_pages_and_api(client, api_client, rep, deals):
    client.force_login(rep)
    api_client.force_authenticate(rep)
    theirs = deals["theirs"].pk
    assert client.get(reverse("deal_detail", args=[theirs])).status_code == 404
    assert client.get(reverse("deal_update", args=[theirs])).status_code == 404
    assert client.post(reverse("deal_stage", args=[theirs]), {"stage": "lost"}).status_code == 404
    assert api_client.get(f"/api/v1/deals/{theirs}/").status_code == 404
    assert api_client.patch(f"/api/v1/deals/{theirs}/", {"title": "x"}).status_code == 404
    assert api_client.delete(f"/api/v1/deals/{theirs}/").status_code == 404
    assert client.get(reverse("deal_detail", args=[deals["mine"].pk])).status_code == 200


def test_lists_show_only_what_the_user_may_see(
    client, api_client, rep, manager, other_manager, admin_user, deals
):
    expectations = {
        rep: {"mine"},
        manager: {"mine"},
        other_manager: {"theirs"},
        admin_user: {"mine", "theirs"},
    }
    for user, visible in expectations.items():
        api_client.force_authenticate(user)
        ids = {row["id"] for row in api_client.get("/api/v1/deals/").json()["results"]}
        assert ids == {deals[name].pk for name in visible}, user
        client.force_login(user)
        page = client.get(reverse("deal_list"))
        assert {d.pk for d in page.context["page"].object_list} == ids


def test_anonymous_is_sent_to_login(client, api_client, deals):
    response = client.get(reverse("deal_list"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert api_client.get("/api/v1/deals/").status_code in (401, 403)


def test_deal_list_query_count_does_not_grow_with_rows(
    client, admin_user, rep, team, django_assert_max_num_queries
):
    DealFactory.create_batch(30, rep=rep, team=team)
    client.force_login(admin_user)
    with django_assert_max_num_queries(12):
        assert client.get(reverse("deal_list")).status_code == 200


# --- Credited reps ---------------------------------------------------------------------------------------


@pytest.fixture
def split_deal(rep, other_rep, team):
    """A deal of North's rep that credits 40 % to South's rep."""
    deal = DealFactory(rep=rep, team=team, stage=Stage.PROPOSAL)
    DealCreditFactory(deal=deal, rep=rep, share=Decimal("60"))
    DealCreditFactory(deal=deal, rep=other_rep, share=Decimal("40"))
    return deal


def test_a_credited_rep_and_their_manager_list_the_deal(
    client, api_client, other_rep, other_manager, split_deal, deals
):
    for user in (other_rep, other_manager):
        api_client.force_authenticate(user)
        ids = {row["id"] for row in api_client.get("/api/v1/deals/").json()["results"]}
        assert ids == {deals["theirs"].pk, split_deal.pk}, user
        client.force_login(user)
        page = client.get(reverse("deal_list"))
        assert {d.pk for d in page.context["page"].object_list} == ids


def test_a_credited_rep_reads_the_deal_but_changes_nothing(client, api_client, other_rep, split_deal):
    client.force_login(other_rep)
    api_client.force_authenticate(other_rep)
    pk = split_deal.pk

    page = client.get(reverse("deal_detail", args=[pk]))
    assert page.status_code == 200 and not page.context["can_change"]
    assert reverse("deal_update", args=[pk]) not in page.content.decode()
    assert client.get(reverse("deal_update", args=[pk])).status_code == 403
    assert client.post(reverse("deal_stage", args=[pk]), {"stage": "lost"}).status_code == 403
    assert api_client.get(f"/api/v1/deals/{pk}/").status_code == 200
    assert api_client.patch(f"/api/v1/deals/{pk}/", {"title": "x"}, format="json").status_code == 403
    assert api_client.delete(f"/api/v1/deals/{pk}/").status_code == 403

    deal = Deal.objects.get(pk=pk)
    assert (deal.stage, deal.title) == (Stage.PROPOSAL, split_deal.title)


def test_the_pipeline_holds_only_the_deals_the_user_moves(rep, other_rep, split_deal):
    def proposals(user):
        column = next(c for c in selectors.pipeline(user=user) if c["stage"] == Stage.PROPOSAL)
        return column["count"], [deal.pk for deal in column["deals"]]

    assert proposals(rep) == (1, [split_deal.pk])  # its rep moves it
    assert proposals(other_rep) == (0, [])  # the credited rep only reads it


def test_a_credit_to_someone_outside_the_team_opens_nothing_to_others(api_client, split_deal):
    outsider_team = TeamFactory(name="West")
    outsider = UserFactory(username="outsider")
    MembershipFactory(user=outsider, team=outsider_team)
    west_manager = UserFactory(username="west_manager", role=Role.MANAGER)
    outsider_team.managers.add(west_manager)
    for user in (outsider, west_manager):
        api_client.force_authenticate(user)
        assert api_client.get(f"/api/v1/deals/{split_deal.pk}/").status_code == 404


def test_without_the_credit_the_deal_is_out_of_sight_again(api_client, other_rep, split_deal):
    split_deal.credits.filter(rep=other_rep).delete()
    api_client.force_authenticate(other_rep)
    assert api_client.get(f"/api/v1/deals/{split_deal.pk}/").status_code == 404


def test_deal_list_query_count_does_not_grow_with_credited_deals(
    client, other_rep, rep, team, django_assert_max_num_queries
):
    client.force_login(other_rep)
    DealCreditFactory(deal=DealFactory(rep=rep, team=team), rep=other_rep, share=Decimal("100"))
    with django_assert_max_num_queries(15) as few:
        client.get(reverse("deal_list"))
    for deal in DealFactory.create_batch(29, rep=rep, team=team):
        DealCreditFactory(deal=deal, rep=other_rep, share=Decimal("100"))
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("deal_list"))
    assert response.context["page"].paginator.count == 30
