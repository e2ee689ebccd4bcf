"""Pages and API of bonus awards: scoping (404 outside it), effect, and bounded query counts."""

import datetime

import pytest
from django.urls import reverse

from incentives.models import BonusAward
from salesteam.models import Membership
from tests.factories import UserFactory
from tests.incentives.bonus_helpers import make_plan
from tests.incentives.conftest import deal

D = datetime.date
pytestmark = pytest.mark.django_db
MARCH, APRIL = D(2024, 3, 1), D(2024, 4, 1)


@pytest.fixture
def awards(clock, nightly, team, other_team, rep, other_rep):
    make_plan(
        rules=[{"type": "commission", "rate": "0.08"}, {"type": "cap", "max": "900", "rule": 1}],
        teams=[team, other_team],
    )
    deal(rep, "12400.00")
    deal(other_rep, "100.00")
    deal(rep, "500.00", closed_on=D(2024, 4, 2))
    clock(D(2024, 4, 3))
    nightly()
    return {
        "rep": BonusAward.objects.get(rep=rep, period_start=MARCH),
        "other": BonusAward.objects.get(rep=other_rep, period_start=MARCH),
    }


def test_my_earnings_shows_the_current_estimate_with_its_sentences(awards, client, rep):
    client.force_login(rep)
    page = client.get(reverse("bonuses:my_earnings"))

    assert page.status_code == 200
    assert "If the period ended today: EUR 40.00" in page.text  # 500 × 8 % in April so far
    assert "8 % on EUR 500.00 revenue = EUR 40.00" in page.text
    assert reverse("bonuses:statement", args=[awards["rep"].pk]) in page.text


def test_the_statement_shows_the_breakdown_and_is_scoped(awards, client, rep, other_rep):
    client.force_login(rep)
    statement = client.get(reverse("bonuses:statement", args=[awards["rep"].pk]))
    assert statement.status_code == 200
    assert "8 % on EUR 12,400.00 revenue = EUR 992.00" in statement.text
    assert "Rule 1 is capped at its maximum of EUR 900.00 = EUR -92.00" in statement.text
    assert "EUR 900.00" in statement.text
    assert client.get(reverse("bonuses:statement", args=[awards["other"].pk])).status_code == 404


def test_the_api_lists_only_what_each_user_may_see(
    awards, api_client, rep, manager, other_manager, admin_user
):
    seen = {}
    for user in (rep, manager, other_manager, admin_user):
        api_client.force_authenticate(user)
        response = api_client.get("/api/v1/awards/")
        assert response.status_code == 200
        seen[user.username] = {row["id"] for row in response.json()["results"]}
    all_ids = set(BonusAward.objects.values_list("pk", flat=True))
    assert awards["rep"].pk in seen["rep"] and awards["other"].pk not in seen["rep"]
    assert awards["rep"].pk in seen["manager"] and awards["other"].pk not in seen["manager"]
    assert seen["other_manager"] == set(
        BonusAward.objects.filter(rep__username="other_rep").values_list("pk", flat=True)
    )
    assert seen["admin"] == all_ids
    api_client.force_authenticate(rep)
    assert api_client.get(f"/api/v1/awards/{awards['other'].pk}/").status_code == 404


def test_the_api_approves_and_rejects_with_the_services_rules(
    awards, api_client, rep, manager, other_manager
):
    api_client.force_authenticate(other_manager)
    assert api_client.post(f"/api/v1/awards/{awards['rep'].pk}/approve/").status_code == 404
    api_client.force_authenticate(rep)
    assert api_client.post(f"/api/v1/awards/{awards['rep'].pk}/approve/").status_code == 400
    api_client.force_authenticate(manager)
    assert api_client.post(f"/api/v1/awards/{awards['rep'].pk}/reject/", {"reason": ""}).status_code == 400
    approved = api_client.post(f"/api/v1/awards/{awards['rep'].pk}/approve/")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    again = api_client.post(f"/api/v1/awards/{awards['rep'].pk}/approve/")
    assert again.status_code == 400 and "already decided" in str(again.json())


def test_the_queue_bulk_approves_the_checked_awards(awards, client, manager, other_manager):
    client.force_login(other_manager)
    client.post(reverse("bonuses:approval_queue"), {"award": [awards["rep"].pk]})
    assert BonusAward.objects.get(pk=awards["rep"].pk).status == "pending"  # not their team

    client.force_login(manager)
    queue = client.get(reverse("bonuses:approval_queue"))
    assert "8 % on EUR 12,400.00 revenue = EUR 992.00" in queue.text
    response = client.post(reverse("bonuses:approval_queue"), {"award": [awards["rep"].pk]})

    assert response.status_code == 302
    assert BonusAward.objects.get(pk=awards["rep"].pk).status == "approved"


def test_reps_have_no_queue_and_no_payroll(awards, client, rep):
    client.force_login(rep)
    assert client.get(reverse("bonuses:approval_queue")).status_code == 404
    assert client.get(reverse("bonuses:payroll")).status_code == 404


def test_list_pages_issue_a_bounded_number_of_queries(
    clock, nightly, team, manager, client, api_client, django_assert_max_num_queries
):
    reps = [UserFactory(username=f"r{n}") for n in range(8)]
    for member in reps:
        Membership.objects.create(user=member, team=team, valid_from=D(2020, 1, 1))
        deal(member, "1000.00")
    make_plan(rules=[{"type": "commission", "rate": "0.05"}], teams=[team])
    clock(D(2024, 4, 3))
    nightly()
    client.force_login(manager)
    api_client.force_authenticate(manager)

    with django_assert_max_num_queries(12):
        assert client.get(reverse("bonuses:approval_queue")).status_code == 200
    with django_assert_max_num_queries(12):
        assert api_client.get("/api/v1/awards/").status_code == 200
    client.force_login(reps[0])
    with django_assert_max_num_queries(12):
        assert client.get(reverse("bonuses:my_earnings")).status_code == 200
