"""The credit split on the deal form, the deal page and the deals API: same rules, same messages."""

from decimal import Decimal

import pytest
from django.urls import reverse

from salesteam.models import Deal, DealCredit
from tests.factories import CustomerFactory, DealCreditFactory, DealFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def bob(team):
    user = UserFactory(username="bob", full_name="Bob Baker")
    MembershipFactory(user=user, team=team)
    return user


def form_data(rep, lines, *, initial=0, **overrides):
    data = {
        "rep": rep.pk,
        "customer": CustomerFactory().external_id,
        "stage": "won",
        "amount_original": "10000.00",
        "cost_original": "4000.00",
        "currency": "EUR",
        "created_on": "2024-03-01",
        "closed_on": "2024-03-20",
        "credits-TOTAL_FORMS": str(len(lines)),
        "credits-INITIAL_FORMS": str(initial),
        "credits-MIN_NUM_FORMS": "0",
        "credits-MAX_NUM_FORMS": "20",
    }
    for index, (user, share, *delete) in enumerate(lines):
        data[f"credits-{index}-rep"] = user.pk if user else ""
        data[f"credits-{index}-share"] = share
        if delete:
            data[f"credits-{index}-DELETE"] = "on"
    data.update(overrides)
    return data


def shares(deal) -> dict[str, Decimal]:
    return {c.rep.username: c.share for c in DealCredit.objects.filter(deal=deal).select_related("rep")}


# --- The form ------------------------------------------------------------------------------------------


def test_a_manager_splits_a_new_deal_on_the_form(client, manager, rep, bob):
    client.force_login(manager)
    response = client.post(reverse("deal_create"), form_data(rep, [(rep, "60"), (bob, "40"), (None, "")]))
    assert response.status_code == 302, response.context and response.context["credit_errors"]
    assert shares(Deal.objects.get()) == {"rep": Decimal("60.00"), "bob": Decimal("40.00")}


def test_the_form_names_what_is_wrong_with_the_split(client, manager, rep, bob):
    client.force_login(manager)
    response = client.post(reverse("deal_create"), form_data(rep, [(rep, "50"), (bob, "40")]))
    assert response.status_code == 200
    assert "Shares add up to 90 %; they must add up to 100 %." in response.content.decode()

    response = client.post(reverse("deal_create"), form_data(rep, [(bob, "50"), (bob, "50")]))
    assert "Bob Baker is credited more than once; give each rep one share." in response.content.decode()

    response = client.post(reverse("deal_create"), form_data(rep, [(rep, "100"), (bob, "0")]))
    assert "The share of Bob Baker must be above 0 %." in response.content.decode()
    assert not Deal.objects.exists()


def test_the_form_offers_only_reps_the_user_may_choose(client, manager, rep, bob, other_rep):
    client.force_login(manager)
    page = client.get(reverse("deal_create"))
    choices = {value for value, _label in page.context["credits"].forms[0].fields["rep"].choices if value}
    assert choices == {manager.pk, rep.pk, bob.pk}

    response = client.post(reverse("deal_create"), form_data(rep, [(rep, "50"), (other_rep, "50")]))
    assert response.status_code == 200
    assert response.context["credits"].forms[1].errors["rep"]
    assert not Deal.objects.exists()


def test_removing_a_line_on_the_form_changes_the_split(client, manager, rep, bob):
    deal = DealFactory(rep=rep)
    DealCreditFactory(deal=deal, rep=rep, share=Decimal("60"))
    DealCreditFactory(deal=deal, rep=bob, share=Decimal("40"))
    client.force_login(manager)
    data = form_data(
        rep, [(rep, "100"), (bob, "40", "delete")], initial=2, customer=deal.customer.external_id
    )
    response = client.post(reverse("deal_update", args=[deal.pk]), data)
    assert response.status_code == 302
    assert shares(deal) == {}  # the deal's own rep with 100 % is no split


def test_a_rep_sees_the_split_their_manager_made_and_keeps_it_when_editing(client, rep, bob):
    deal = DealFactory(rep=rep)
    DealCreditFactory(deal=deal, rep=rep, share=Decimal("60"))
    DealCreditFactory(deal=deal, rep=bob, share=Decimal("40"))
    client.force_login(rep)

    page = client.get(reverse("deal_update", args=[deal.pk]))
    assert page.context["credits"] is None  # no editor: a rep credits nobody but themselves
    assert "Bob Baker" in page.content.decode()

    data = form_data(rep, [], customer=deal.customer.external_id, title="Renamed")
    assert client.post(reverse("deal_update", args=[deal.pk]), data).status_code == 302
    assert Deal.objects.get(pk=deal.pk).title == "Renamed"
    assert shares(deal) == {"rep": Decimal("60.00"), "bob": Decimal("40.00")}


def test_a_share_of_another_teams_rep_is_shown_but_cannot_be_changed_on_the_form(
    client, manager, rep, other_rep
):
    deal = DealFactory(rep=rep)
    DealCreditFactory(deal=deal, rep=rep, share=Decimal("60"))
    DealCreditFactory(deal=deal, rep=other_rep, share=Decimal("40"))
    client.force_login(manager)

    page = client.get(reverse("deal_update", args=[deal.pk]))
    locked = [form for form in page.context["credits"].forms if form.locked]
    assert [form.initial["rep"] for form in locked] == [other_rep.pk]
    assert "DELETE" not in locked[0].fields

    # What is sent for the locked line is ignored: it keeps its rep and share.
    data = form_data(rep, [(rep, "60"), (rep, "1")], initial=2, customer=deal.customer.external_id)
    assert client.post(reverse("deal_update", args=[deal.pk]), data).status_code == 302
    assert shares(deal) == {"rep": Decimal("60.00"), "other_rep": Decimal("40.00")}


# --- The deal page -------------------------------------------------------------------------------------


def test_the_deal_page_shows_the_split_with_each_reps_amount(client, manager, rep, bob):
    deal = DealFactory(rep=rep, amount_original=Decimal("10000.00"), amount=Decimal("10000.00"))
    DealCreditFactory(deal=deal, rep=rep, share=Decimal("60"))
    DealCreditFactory(deal=deal, rep=bob, share=Decimal("40"))
    client.force_login(manager)

    response = client.get(reverse("deal_detail", args=[deal.pk]))

    assert [
        (line["rep"].username, line["share"], line["amount"]) for line in response.context["credits"]
    ] == [
        ("rep", Decimal("60.00"), Decimal("6000.00")),
        ("bob", Decimal("40.00"), Decimal("4000.00")),
    ]
    html = response.content.decode()
    assert "Credit split" in html and "Bob Baker" in html and "4,000.00" in html


def test_an_unsplit_deal_says_its_rep_gets_everything(client, rep):
    deal = DealFactory(rep=rep)
    client.force_login(rep)
    html = client.get(reverse("deal_detail", args=[deal.pk])).content.decode()
    assert f"Not split: {rep.display_name} is credited with 100 %." in html


def test_the_deal_page_and_form_queries_do_not_grow_with_the_split(
    client, admin_user, rep, team, django_assert_max_num_queries
):
    deal = DealFactory(rep=rep)
    client.force_login(admin_user)
    with django_assert_max_num_queries(20) as few:
        client.get(reverse("deal_detail", args=[deal.pk]))
        client.get(reverse("deal_update", args=[deal.pk]))
    for _ in range(4):
        member = UserFactory()
        MembershipFactory(user=member, team=team)
        DealCreditFactory(deal=deal, rep=member, share=Decimal("25"))
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("deal_detail", args=[deal.pk]))
        client.get(reverse("deal_update", args=[deal.pk]))


# --- The API ---------------------------------------------------------------------------------------------


def payload(rep, credits=None, **overrides):
    data = {
        "rep": rep.pk,
        "customer": CustomerFactory().pk,
        "stage": "won",
        "amount_original": "10000.00",
        "created_on": "2024-03-01",
        "closed_on": "2024-03-20",
    }
    if credits is not None:
        data["credits"] = [{"rep": user.pk, "share": share} for user, share in credits]
    data.update(overrides)
    return data


def test_the_api_reads_and_writes_the_split(api_client, manager, rep, bob):
    api_client.force_authenticate(manager)
    created = api_client.post("/api/v1/deals/", payload(rep, [(rep, "60"), (bob, "40")]), format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["credits"] == [
        {"rep": rep.pk, "share": "60.00"},
        {"rep": bob.pk, "share": "40.00"},
    ]
    url = f"/api/v1/deals/{created.json()['id']}/"

    assert api_client.patch(url, {"title": "Renamed"}, format="json").json()["credits"][1]["share"] == "40.00"
    changed = api_client.patch(
        url, {"credits": [{"rep": rep.pk, "share": "25"}, {"rep": bob.pk, "share": "75"}]}, format="json"
    )
    assert changed.status_code == 200
    assert api_client.get(url).json()["credits"] == [
        {"rep": bob.pk, "share": "75.00"},
        {"rep": rep.pk, "share": "25.00"},
    ]
    assert api_client.patch(url, {"credits": []}, format="json").json()["credits"] == []
    listed = api_client.get("/api/v1/deals/").json()["results"]
    assert listed[0]["credits"] == []


def test_the_api_refuses_a_bad_split_with_the_same_messages(api_client, manager, rep, bob, other_rep):
    api_client.force_authenticate(manager)
    for credits, message in [
        ([(rep, "50"), (bob, "40")], "Shares add up to 90 %; they must add up to 100 %."),
        ([(bob, "50"), (bob, "50")], "Bob Baker is credited more than once; give each rep one share."),
        ([(rep, "100"), (bob, "0")], "The share of Bob Baker must be above 0 %."),
    ]:
        response = api_client.post("/api/v1/deals/", payload(rep, credits), format="json")
        assert response.status_code == 400
        assert response.json() == {"credits": [message]}
    response = api_client.post(
        "/api/v1/deals/", payload(rep, [(rep, "50"), (other_rep, "50")]), format="json"
    )
    assert response.status_code == 400 and "credits" in response.json()
    assert not Deal.objects.exists()


def test_a_rep_sending_back_the_split_unchanged_may_save_their_deal(api_client, rep, bob):
    deal = DealFactory(rep=rep)
    DealCreditFactory(deal=deal, rep=rep, share=Decimal("60"))
    DealCreditFactory(deal=deal, rep=bob, share=Decimal("40"))
    api_client.force_authenticate(rep)
    url = f"/api/v1/deals/{deal.pk}/"
    body = api_client.get(url).json()

    body["title"] = "Renamed"
    assert api_client.put(url, body, format="json").status_code == 200

    body["credits"] = [{"rep": rep.pk, "share": "100"}]
    response = api_client.put(url, body, format="json")
    assert response.status_code == 400
    assert response.json()["credits"] == [
        "Only a manager of Bob Baker or an admin can change their share of 40 %."
    ]
    assert shares(deal) == {"rep": Decimal("60.00"), "bob": Decimal("40.00")}


def test_the_deals_api_list_queries_do_not_grow_with_splits(
    api_client, admin_user, rep, bob, django_assert_max_num_queries
):
    api_client.force_authenticate(admin_user)
    DealFactory.create_batch(3, rep=rep)
    with django_assert_max_num_queries(12) as few:
        api_client.get("/api/v1/deals/")
    for _ in range(10):
        deal = DealFactory(rep=rep)
        DealCreditFactory(deal=deal, rep=rep, share=Decimal("50"))
        DealCreditFactory(deal=deal, rep=bob, share=Decimal("50"))
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(api_client.get("/api/v1/deals/").json()["results"]) == 13
