import json

import pytest

from salesteam.models import Deal, ImportJob
from tests.factories import CustomerFactory
from tests.salesteam.import_support import HEADER, upload

pytestmark = pytest.mark.django_db

FILE = HEADER + "\nD1,rep,C1,won,10,0,2024-01-10,2024-02-01\nD2,rep,C1,won,oops,0,2024-01-10,2024-02-01\n"


@pytest.fixture(autouse=True)
def customer(db):
    return CustomerFactory(external_id="C1")


def test_post_imports_the_file_and_get_returns_status_counts_and_errors(api_client, manager, rep):
    api_client.force_authenticate(manager)
    response = api_client.post(
        "/api/v1/imports/", {"file": upload(FILE), "source": "crm"}, format="multipart"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["created_count"], body["error_count"]) == ("done", 1, 1)
    assert Deal.objects.count() == 1

    detail = api_client.get(f"/api/v1/imports/{body['id']}/").json()
    assert detail["total_rows"] == 2 and detail["created_by"] == "manager"
    errors = api_client.get(f"/api/v1/imports/{body['id']}/errors/").json()
    assert errors["results"] == [
        {"line": 3, "column": "amount", "value": "oops", "message": "“oops” is not a number."}
    ]


def test_a_dry_run_through_the_api_writes_nothing(api_client, admin_user, rep):
    api_client.force_authenticate(admin_user)
    data = {"file": upload(FILE), "dry_run": "true"}
    body = api_client.post("/api/v1/imports/", data, format="multipart").json()
    assert (body["status"], body["dry_run"], body["created_count"]) == ("previewed", True, 1)
    assert not Deal.objects.exists()


def test_the_api_takes_a_column_and_stage_mapping(api_client, admin_user, rep):
    api_client.force_authenticate(admin_user)
    content = "Ref,Who,Client,Phase,Value,Opened,Closed\nX1,rep,C1,Signed,5,2024-01-01,2024-01-02\n"
    columns = {
        "Ref": "external_id", "Who": "rep", "Client": "customer_id", "Phase": "stage", "Value": "amount",
        "Opened": "created_on", "Closed": "closed_on",
    }  # fmt: skip
    data = {"file": upload(content), "columns": json.dumps(columns), "stages": json.dumps({"Signed": "won"})}
    body = api_client.post("/api/v1/imports/", data, format="multipart").json()
    assert body["created_count"] == 1, body
    assert Deal.objects.get().stage == "won"


def test_an_unreadable_file_answers_400_with_the_reason(api_client, admin_user):
    api_client.force_authenticate(admin_user)
    response = api_client.post("/api/v1/imports/", {"file": upload("a|b\n1|2\n")}, format="multipart")
    assert response.status_code == 400
    assert "separate them with a comma" in response.json()["message"]


def test_imports_of_others_are_404_for_a_manager(api_client, admin_user, manager, rep):
    api_client.force_authenticate(admin_user)
    job_id = api_client.post("/api/v1/imports/", {"file": upload(FILE)}, format="multipart").json()["id"]
    api_client.force_authenticate(manager)
    assert api_client.get(f"/api/v1/imports/{job_id}/").status_code == 404
    assert api_client.get("/api/v1/imports/").json()["count"] == 0
    assert ImportJob.objects.count() == 1
