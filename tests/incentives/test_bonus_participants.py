"""Who takes part in a plan: teams (while a member), roles and named reps (the whole period)."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from incentives import bonus_services
from incentives.bonus_selectors import plan_participants
from incentives.models import BonusAward, IncentivePlan
from salesteam.models import Role
from tests.factories import UserFactory
from tests.incentives.bonus_helpers import make_plan
from tests.incentives.conftest import deal

D = datetime.date
pytestmark = pytest.mark.django_db
MARCH, APRIL = D(2024, 3, 1), D(2024, 4, 1)
WHOLE_MARCH = [(MARCH, APRIL)]


def test_a_role_takes_in_every_active_user_with_it_for_the_whole_period(rep, other_rep, manager, admin_user):
    inactive = UserFactory(username="gone", is_active=False)
    plan = make_plan(rules=[{"type": "commission", "rate": "0.05"}])
    plan.roles = [Role.REP]
    plan.save()

    participants = plan_participants(plan=plan, start=MARCH, end=APRIL)

    assert participants == {rep.pk: WHOLE_MARCH, other_rep.pk: WHOLE_MARCH}
    assert inactive.pk not in participants and manager.pk not in participants


def test_roles_teams_and_named_reps_combine_without_counting_anyone_twice(
    team, other_team, rep, other_rep, manager, admin_user
):
    plan = make_plan(rules=[{"type": "commission", "rate": "0.05"}], teams=[team], reps=[rep])
    plan.roles = [Role.MANAGER]
    plan.effective_to = D(2024, 3, 15)
    plan.save()

    participants = plan_participants(plan=plan, start=MARCH, end=APRIL)

    # Inside the plan's effective dates: 1 to 15 March
    assert participants == {rep.pk: [(MARCH, D(2024, 3, 16))], manager.pk: [(MARCH, D(2024, 3, 16))]}


def test_role_participants_get_awards(clock, nightly, rep, other_rep, manager):
    plan = make_plan(rules=[{"type": "commission", "rate": "0.10"}])
    IncentivePlan.objects.filter(pk=plan.pk).update(roles=[Role.REP])
    deal(rep, "1000.00")
    deal(other_rep, "2000.00")
    deal(manager, "5000.00")

    nightly()

    awards = {a.rep.username: a.total for a in BonusAward.objects.filter(period_start=MARCH)}
    assert awards == {"rep": Decimal("100.00"), "other_rep": Decimal("200.00")}


def test_a_plan_refuses_unknown_or_repeated_roles():
    plan = make_plan(rules=[])
    for roles in (["rep", "intern"], ["rep", "rep"], "rep"):
        plan.roles = roles
        with pytest.raises(ValidationError) as error:
            plan.full_clean()
        assert "roles" in error.value.message_dict


def test_the_admin_edits_participating_roles(client, admin_user, team):
    plan = make_plan(rules=[{"type": "commission", "rate": "0.08"}], teams=[team])
    client.force_login(admin_user)
    url = reverse("admin:incentives_incentiveplan_change", args=[plan.pk])
    page = client.get(url)
    assert page.status_code == 200 and 'name="roles"' in page.text

    form = {
        "name": plan.name, "effective_from": "2024-01-01", "effective_to": "", "period": "month",
        "currency": "EUR", "needs_approval": "on", "teams": [team.pk], "roles": ["rep", "manager"],
        "status": "published",
        "versions-TOTAL_FORMS": "1", "versions-INITIAL_FORMS": "1", "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "1000", "versions-0-id": plan.versions.get().pk, "versions-0-plan": plan.pk,
        "versions-0-valid_from": "2024-01-01", "versions-0-rules": '[{"type": "commission", "rate": "0.08"}]',
        "versions-0-note": "",
    }  # fmt: skip
    response = client.post(url, form)

    assert response.status_code == 302, response.text
    plan.refresh_from_db()
    assert plan.roles == ["rep", "manager"]
    assert plan.history.first().roles == ["rep", "manager"]


def test_the_simulation_covers_role_participants_and_the_new_rule_types(clock, nightly, rep, other_rep):
    plan = make_plan(
        rules=[
            {
                "type": "contest",
                "name": "Spring",
                "kpi": "deals_won",
                "from": "2024-02-01",
                "to": "2024-02-29",
                "prizes": ["100"],
            },
            {"type": "team_bonus", "pool": "1000.00"},
        ]
    )
    IncentivePlan.objects.filter(pk=plan.pk).update(roles=[Role.REP], status=IncentivePlan.Status.DRAFT)
    plan.refresh_from_db()
    deal(rep, "10.00", closed_on=D(2024, 2, 10))
    deal(other_rep, "10.00", closed_on=D(2024, 2, 11))
    deal(other_rep, "10.00", closed_on=D(2024, 2, 12))

    rows = bonus_services.plan_simulate(plan=plan, period_start=D(2024, 2, 1))

    assert [(row["rep"].username, row["total"]) for row in rows] == [
        ("other_rep", Decimal("100.00")),
        ("rep", Decimal("0.00")),
    ]
    assert rows[0]["sentences"] == [
        "Contest “Spring”: place 1 of 2 (Deals won 2) = EUR 100.00",
        "No goal of your team ends in this period = EUR 0.00",
    ]
