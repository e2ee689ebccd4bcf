import pytest
from django.urls import reverse

from salesteam.models import Deal, ImportJob
from tests.factories import CustomerFactory
from tests.salesteam.import_support import HEADER, errors_of, run_import, upload

pytestmark = pytest.mark.django_db

FILE = HEADER + "\nD1,rep,C1,won,10,0,2024-01-10,2024-02-01\nD2,other_rep,C1,won,10,0,2024-01-10,2024-02-01\n"


@pytest.fixture(autouse=True)
def customer(db):
    return CustomerFactory(external_id="C1")


@pytest.mark.parametrize("name", ["import_list", "import_new", "people_import"])
def test_a_rep_gets_404_on_the_import_pages_and_sees_no_link(client, rep, name):
    client.force_login(rep)
    assert client.get(reverse(name)).status_code == 404
    assert reverse("import_list") not in client.get(reverse("deal_list")).content.decode()


def test_a_rep_gets_404_for_an_import_and_the_api(client, api_client, rep, admin_user):
    job = run_import(FILE, actor=admin_user)
    client.force_login(rep)
    for name in ("import_detail", "import_progress", "import_errors_csv"):
        assert client.get(reverse(name, args=[job.pk])).status_code == 404
    api_client.force_authenticate(rep)
    assert api_client.get(f"/api/v1/imports/{job.pk}/").status_code == 404
    response = api_client.post("/api/v1/imports/", {"file": upload(FILE)}, format="multipart")
    assert response.status_code == 404


def test_a_manager_imports_only_deals_of_reps_in_teams_they_manage(manager, rep, other_rep):
    job = run_import(FILE, actor=manager)
    assert (job.created_count, job.error_count) == (1, 1)
    line, column, message = errors_of(job)[0]
    assert (line, column) == (3, "rep")
    assert "Line 3" in message and "other_rep" in message
    assert list(Deal.objects.values_list("rep__username", flat=True)) == ["rep"]


def test_an_admin_imports_deals_for_anyone(admin_user, rep, other_rep):
    assert run_import(FILE, actor=admin_user).created_count == 2


def test_a_manager_sees_only_their_own_imports_and_not_the_people_import(client, manager, admin_user, rep):
    theirs = run_import(FILE, actor=admin_user, source="a")
    mine = run_import(FILE, actor=manager, source="b")
    client.force_login(manager)
    page = client.get(reverse("import_list")).content.decode()
    assert reverse("import_detail", args=[mine.pk]) in page
    assert reverse("import_detail", args=[theirs.pk]) not in page
    assert client.get(reverse("import_detail", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("people_import")).status_code == 404
    assert reverse("import_list") in client.get(reverse("deal_list")).content.decode()


def test_the_import_history_page_has_a_bounded_number_of_queries(
    client, admin_user, rep, django_assert_max_num_queries
):
    for number in range(6):
        run_import(FILE, actor=admin_user, source=f"s{number}")
    client.force_login(admin_user)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("import_list"))
    assert response.status_code == 200
    assert ImportJob.objects.count() == 6
