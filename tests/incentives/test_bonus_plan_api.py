"""/api/v1/plans/: admins configure plans, participants (teams, roles, named reps) and rule versions."""

import datetime

import pytest

from incentives.models import IncentivePlan, PlanVersion
from tests.incentives.bonus_helpers import make_plan

pytestmark = pytest.mark.django_db
D = datetime.date


def test_an_admin_creates_a_plan_with_teams_roles_and_named_reps(api_client, admin_user, team, rep):
    api_client.force_authenticate(admin_user)

    response = api_client.post(
        "/api/v1/plans/",
        {
            "name": "Spring plan",
            "effective_from": "2024-03-01",
            "period": "quarter",
            "teams": [team.pk],
            "roles": ["manager"],
            "reps": [rep.pk],
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    plan = IncentivePlan.objects.get(name="Spring plan")
    assert (list(plan.teams.all()), plan.roles, list(plan.reps.all())) == ([team], ["manager"], [rep])
    assert plan.status == IncentivePlan.Status.DRAFT
    assert plan.history.first().history_user == admin_user
    assert response.json()["roles"] == ["manager"]


def test_bad_plan_input_gets_a_message_naming_the_field(api_client, admin_user):
    make_plan(rules=[], name="Taken")
    api_client.force_authenticate(admin_user)

    bad_role = api_client.post(
        "/api/v1/plans/", {"name": "X", "effective_from": "2024-03-01", "roles": ["intern"]}, format="json"
    )
    taken = api_client.post(
        "/api/v1/plans/", {"name": "Taken", "effective_from": "2024-03-01"}, format="json"
    )
    backwards = api_client.post(
        "/api/v1/plans/",
        {"name": "Y", "effective_from": "2024-03-01", "effective_to": "2024-02-01"},
        format="json",
    )

    assert bad_role.status_code == 400 and "roles" in bad_role.json()
    assert taken.status_code == 400 and "name" in taken.json()
    assert backwards.json() == {"effective_to": ["The last day cannot be before the first day."]}
    assert not IncentivePlan.objects.exclude(name="Taken").exists()


def test_an_admin_changes_the_roles_and_sets_contest_rules(api_client, admin_user, team):
    plan = make_plan(rules=[{"type": "commission", "rate": "0.05"}], teams=[team])
    api_client.force_authenticate(admin_user)

    changed = api_client.patch(f"/api/v1/plans/{plan.pk}/", {"roles": ["rep"]}, format="json")
    contest = {
        "type": "contest", "name": "May race", "kpi": "new_customers", "from": "2024-05-01",
        "to": "2024-05-31", "prizes": [300, 100],
    }  # fmt: skip
    version = api_client.post(
        f"/api/v1/plans/{plan.pk}/versions/", {"valid_from": "2024-05-01", "rules": [contest]}, format="json"
    )
    refused = api_client.post(
        f"/api/v1/plans/{plan.pk}/versions/",
        {"valid_from": "2024-06-01", "rules": [contest | {"prizes": [100, 300]}]},
        format="json",
    )

    assert changed.status_code == 200 and changed.json()["roles"] == ["rep"]
    assert list(plan.teams.all()) == [team]  # untouched by a partial update
    assert version.status_code == 200
    assert version.json()["versions"][1]["description"][0].startswith(
        "1. Contest “May race” from May 1, 2024"
    )
    assert PlanVersion.objects.get(plan=plan, valid_from=D(2024, 5, 1)).rules[0]["prizes"] == ["300", "100"]
    assert refused.status_code == 400
    assert refused.json()["rules"] == ["Rule 1: prizes must not grow from one place to the next."]


def test_only_admins_see_and_change_plans(api_client, rep, manager, team):
    plan = make_plan(rules=[], teams=[team])
    for user in (rep, manager):
        api_client.force_authenticate(user)
        assert api_client.get("/api/v1/plans/").json()["results"] == []
        assert api_client.get(f"/api/v1/plans/{plan.pk}/").status_code == 404
        assert (
            api_client.patch(f"/api/v1/plans/{plan.pk}/", {"roles": ["rep"]}, format="json").status_code
            == 404
        )
        assert api_client.post("/api/v1/plans/", {"name": "Mine"}, format="json").status_code == 404
    assert IncentivePlan.objects.get(pk=plan.pk).roles == []


def test_the_plan_list_issues_a_bounded_number_of_queries(
    api_client, admin_user, team, django_assert_max_num_queries
):
    for n in range(6):
        make_plan(rules=[{"type": "commission", "rate": "0.05"}], teams=[team], name=f"Plan {n}")
    api_client.force_authenticate(admin_user)
    with django_assert_max_num_queries(8):
        assert len(api_client.get("/api/v1/plans/").json()["results"]) == 6
