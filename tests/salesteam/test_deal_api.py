import pytest

from salesteam.models import Deal
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def payload(rep, **overrides):
    data = {
        "rep": rep.pk,
        "customer": CustomerFactory().pk,
        "stage": "won",
        "amount_original": "2500.00",
        "cost_original": "1000.00",
        "created_on": "2024-05-01",
        "closed_on": "2024-05-20",
    }
    data.update(overrides)
    return data


def test_rep_creates_reads_updates_and_deletes_a_deal(api_client, rep, team):
    api_client.force_authenticate(rep)
    created = api_client.post("/api/v1/deals/", payload(rep), format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["amount"] == "2500.00" and body["team"] == team.pk
    url = f"/api/v1/deals/{body['id']}/"
    assert api_client.patch(url, {"amount_original": "3000.00"}, format="json").json()["amount"] == "3000.00"
    assert api_client.delete(url).status_code == 204
    assert not Deal.objects.exists()


def test_api_enforces_the_same_rules_as_the_form(api_client, rep, team):
    api_client.force_authenticate(rep)
    response = api_client.post("/api/v1/deals/", payload(rep, closed_on="2024-04-01"), format="json")
    assert response.status_code == 400
    assert "closed_on" in response.json()
    response = api_client.post("/api/v1/deals/", payload(rep, stage="proposal"), format="json")
    assert response.status_code == 400 and "closed_on" in response.json()


def test_rep_cannot_create_a_deal_for_someone_else(api_client, rep, other_rep):
    api_client.force_authenticate(rep)
    response = api_client.post("/api/v1/deals/", payload(other_rep), format="json")
    assert response.status_code == 400 and "rep" in response.json()


def test_schema_and_docs_answer(client, rep):
    client.force_login(rep)
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200


def test_a_deal_posted_without_a_cost_costs_nothing(api_client, rep, team):
    api_client.force_authenticate(rep)
    data = payload(rep)
    del data["cost_original"]
    response = api_client.post("/api/v1/deals/", data, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["cost"] == "0.00"


def test_a_deal_id_that_is_not_a_number_answers_404(api_client, rep):
    api_client.force_authenticate(rep)
    for bad in ("abc", "null", "1.5"):
        url = f"/api/v1/deals/{bad}/"
        assert api_client.get(url).status_code == 404
        assert api_client.patch(url, {"title": "x"}, format="json").status_code == 404
        assert api_client.put(url, payload(rep), format="json").status_code == 404
        assert api_client.delete(url).status_code == 404
