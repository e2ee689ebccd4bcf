import pytest
from django.urls import reverse

from tests.factories import DealFactory

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
