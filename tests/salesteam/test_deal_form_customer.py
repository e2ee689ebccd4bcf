"""The deal form takes a customer by id or exact name, with suggestions from the API, not a select of
every customer of the company."""

import pytest
from django.urls import reverse

from salesteam.models import Deal
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def form_data(rep, customer: str) -> dict:
    return {
        "rep": rep.pk,
        "customer": customer,
        "stage": "won",
        "amount_original": "1000.00",
        "cost_original": "0",
        "currency": "EUR",
        "created_on": "2024-03-01",
        "closed_on": "2024-03-20",
    }


def test_the_form_lists_no_customers_and_points_the_field_at_the_search_api(client, rep):
    CustomerFactory.create_batch(30)
    client.force_login(rep)
    html = client.get(reverse("deal_create")).text
    field = html[html.index('name="customer"') :]
    field = field[: field.index("</datalist>")]
    assert 'data-search-url="/api/v1/customers/"' in field and "<option" not in field
    assert 'list="id_customer-options"' in field and '<datalist id="id_customer-options">' in field


@pytest.mark.parametrize("typed", ["C-TEST-1", "  C-TEST-1 ", "c-test-1", "garage peeters", "Garage Peeters"])
def test_a_customer_is_found_by_its_id_or_its_exact_name(client, rep, typed):
    garage = CustomerFactory(external_id="C-TEST-1", name="Garage Peeters")
    client.force_login(rep)
    response = client.post(reverse("deal_create"), form_data(rep, typed))
    assert response.status_code == 302, response.context["form"].errors
    assert Deal.objects.get().customer == garage


def test_a_name_two_customers_share_asks_for_the_id(client, rep):
    CustomerFactory(name="Acme")
    CustomerFactory(name="ACME")
    client.force_login(rep)
    response = client.post(reverse("deal_create"), form_data(rep, "acme"))
    assert response.status_code == 200
    assert response.context["form"].errors["customer"] == ["2 customers go by “acme”: pick one by its id."]
    assert not Deal.objects.exists()


def test_an_unknown_customer_is_a_clear_error_and_keeps_what_was_typed(client, rep):
    client.force_login(rep)
    response = client.post(reverse("deal_create"), form_data(rep, "Nobody & Co"))
    errors = response.context["form"].errors["customer"]
    assert errors == ["No customer has this id or name: type a few letters and pick one from the list."]
    assert 'value="Nobody &amp; Co"' in response.text


def test_the_edit_form_shows_the_customer_by_id(client, rep):
    from tests.factories import DealFactory

    deal = DealFactory(rep=rep, customer=CustomerFactory(external_id="C-77", name="Bakkerij Claes"))
    client.force_login(rep)
    html = client.get(reverse("deal_update", args=[deal.pk])).text
    assert 'name="customer" value="C-77"' in html
    assert "Now Bakkerij Claes." in html  # whose id it is


def test_the_field_knows_when_the_customer_did_not_change():
    from salesteam.forms import CustomerField

    garage = CustomerFactory(external_id="C-1", name="Garage Peeters")
    field = CustomerField()
    assert not field.has_changed(garage, " c-1 ") and not field.has_changed(garage, "garage peeters")
    assert field.has_changed(garage, CustomerFactory(external_id="C-2").external_id)
    assert field.has_changed(garage, "nobody")
    assert field.clean(garage) == garage  # an initial instance, as a disabled field cleans it


def test_the_search_api_answers_what_the_suggestions_read(client, rep):
    CustomerFactory(external_id="C-1", name="Garage Peeters")
    CustomerFactory(external_id="C-2", name="Bakkerij Claes")
    client.force_login(rep)
    results = client.get("/api/v1/customers/", {"search": "peet"}).json()["results"]
    assert [(r["external_id"], r["name"]) for r in results] == [("C-1", "Garage Peeters")]
