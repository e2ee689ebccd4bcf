import datetime

import pytest
from django.core.exceptions import ValidationError

from salesteam.models import Campaign, Category, Customer, Deal, Segment, Team, User
from tests.salesteam.import_support import errors_of, run_import

pytestmark = pytest.mark.django_db

FILE = (
    "external_id,rep,team,customer_id,customer_name,segment,category,campaign,stage,amount,created_on,closed_on\n"
    "D1,Nora Janssens,Benelux,ACME,Acme NV,Enterprise,Hardware,spring-24,won,100,2024-03-01,2024-03-20\n"
    "D2,nora.janssens,Benelux,ACME,Acme NV,Enterprise,Hardware,spring-24,lead,50,2024-03-05,\n"
    "D3,lea@example.com,,BETA,,,,,lead,10,2024-03-05,\n"
)


def test_without_create_missing_unknown_references_are_errors(admin_user):
    job = run_import(FILE, actor=admin_user)
    assert job.created_count == 0 and job.error_count == 3
    columns = {column for _line, column, _message in errors_of(job)}
    assert columns == {"rep", "team", "customer_id", "segment", "category", "campaign"}
    assert not Customer.objects.exists() and not Team.objects.exists()


def test_create_missing_creates_reps_teams_customers_categories_segments_and_campaigns(admin_user):
    job = run_import(FILE, actor=admin_user, create_missing=True)

    assert (job.created_count, job.error_count) == (3, 0), errors_of(job)
    nora = User.objects.get(full_name="Nora Janssens")
    assert nora.username == "nora.janssens"
    assert User.objects.get(email="lea@example.com").username == "lea@example.com"
    team = Team.objects.get(name="Benelux")
    assert nora.memberships.get().team == team
    assert nora.memberships.get().valid_from == datetime.date(2024, 3, 1)
    acme = Customer.objects.get(external_id="ACME")
    assert acme.name == "Acme NV" and acme.segment == Segment.objects.get(name="Enterprise")
    assert Customer.objects.get(external_id="BETA").name == "BETA"
    assert Category.objects.filter(name="Hardware").exists()
    campaign = Campaign.objects.get(code="spring-24")
    assert (campaign.start_on, campaign.end_on) == (datetime.date(2024, 3, 1), datetime.date(2024, 3, 20))
    assert Deal.objects.get(external_id="D1").team == team
    assert Deal.objects.filter(rep=nora).count() == 2


def test_a_dry_run_with_create_missing_creates_nothing(admin_user):
    job = run_import(FILE, actor=admin_user, create_missing=True, commit=False)
    assert (job.created_count, job.error_count) == (3, 0)
    assert not Customer.objects.exists() and not Team.objects.exists()
    assert User.objects.count() == 1


def test_a_manager_may_not_create_missing_references(manager):
    with pytest.raises(ValidationError):
        run_import(FILE, actor=manager, create_missing=True)
