"""Payroll export: approved awards of a period as CSV, marked paid; again the same file, no double pay."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from incentives import bonus_services
from incentives.models import AwardDecision, BonusAward, PayrollExport
from salesteam.models import Membership
from tests.factories import UserFactory
from tests.incentives.bonus_helpers import make_plan
from tests.incentives.conftest import deal

D = datetime.date
pytestmark = pytest.mark.django_db
MARCH = D(2024, 3, 1)


@pytest.fixture
def approved(clock, nightly, team, rep, manager):
    rep.employee_id, rep.full_name = "E-002", "Rita Rep"
    rep.save()
    other = UserFactory(username="zed", full_name="Zed Seller", employee_id="E-001")
    Membership.objects.create(user=other, team=team, valid_from=D(2020, 1, 1))
    make_plan(rules=[{"type": "commission", "rate": "0.10"}], teams=[team], name="Core")
    deal(rep, "1234.50")
    deal(other, "99.95")
    clock(D(2024, 4, 2))
    nightly()
    awards = list(BonusAward.objects.filter(period_start=MARCH).order_by("rep__employee_id"))
    for award in awards:
        bonus_services.award_approve(actor=manager, award=award)
    return awards


def test_the_export_lists_the_approved_awards_in_stable_columns_and_pays_them(approved, admin_user):
    zed, rita = approved
    batch = bonus_services.payroll_export(actor=admin_user, period_start=MARCH)

    assert batch.content.splitlines() == [
        "employee_id,name,period,plan,amount,currency,award_id",
        f"E-001,Zed Seller,2024-03-01/2024-03-31,Core,10.00,EUR,{zed.pk}",  # 99.95 × 10 % = 9.995 -> 10.00
        f"E-002,Rita Rep,2024-03-01/2024-03-31,Core,123.45,EUR,{rita.pk}",
    ]
    assert set(BonusAward.objects.filter(period_start=MARCH).values_list("status", flat=True)) == {"paid"}


def test_exporting_the_same_period_again_returns_the_same_file_and_pays_nothing_twice(approved, admin_user):
    first = bonus_services.payroll_export(actor=admin_user, period_start=MARCH)
    paid_decisions = AwardDecision.objects.filter(to_status="paid").count()

    again = bonus_services.payroll_export(actor=admin_user, period_start=MARCH)

    assert again.pk == first.pk and again.content == first.content
    assert PayrollExport.objects.count() == 1
    assert AwardDecision.objects.filter(to_status="paid").count() == paid_decisions == 2


def test_the_export_round_trips_through_the_api_and_the_page(approved, admin_user, api_client, client):
    api_client.force_authenticate(admin_user)
    first = api_client.post("/api/v1/payroll-exports/", {"period_start": "2024-03-01"})
    client.force_login(admin_user)
    second = client.post(reverse("bonuses:payroll"), {"period_start": "2024-03-01"})

    assert first.status_code == second.status_code == 200
    assert first["Content-Type"].startswith("text/csv")
    assert first.content == second.content
    assert first.content.decode().startswith("employee_id,name,period,plan,amount,currency,award_id\n")


def test_only_admins_export(approved, manager, api_client, client):
    with pytest.raises(ValidationError):
        bonus_services.payroll_export(actor=manager, period_start=MARCH)
    api_client.force_authenticate(manager)
    assert api_client.post("/api/v1/payroll-exports/", {"period_start": "2024-03-01"}).status_code == 404
    client.force_login(manager)
    assert client.get(reverse("bonuses:payroll")).status_code == 404
    assert not BonusAward.objects.filter(status="paid").exists()


def test_a_period_without_approved_awards_says_so(db, admin_user):
    with pytest.raises(ValidationError, match="no approved awards"):
        bonus_services.payroll_export(actor=admin_user, period_start=MARCH)
