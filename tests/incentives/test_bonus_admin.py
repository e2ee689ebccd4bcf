"""Admins configure plans in the admin: rules are validated and previewed in plain language."""

import datetime

import pytest
from django.urls import reverse

from incentives.models import PlanVersion
from tests.incentives.bonus_helpers import make_plan

pytestmark = pytest.mark.django_db


def test_the_version_page_previews_the_rules_in_plain_language(client, admin_user, team):
    plan = make_plan(rules=[{"type": "commission", "rate": "0.08"}], teams=[team])
    client.force_login(admin_user)

    page = client.get(reverse("admin:incentives_incentiveplan_change", args=[plan.pk]))

    assert page.status_code == 200
    assert "1. 8 % of the revenue of won deals." in page.text


def test_bad_rules_are_refused_with_the_rule_and_field(client, admin_user, team):
    plan = make_plan(rules=[{"type": "commission", "rate": "0.08"}], teams=[team])
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:incentives_planversion_add"),
        {
            "plan": plan.pk,
            "valid_from": "2024-06-01",
            "rules": '[{"type": "commission", "rate": "-1"}]',
            "note": "",
        },
    )

    assert response.status_code == 200
    assert "Rule 1: rate must be a number of at least zero." in response.text
    assert not PlanVersion.objects.filter(valid_from=datetime.date(2024, 6, 1)).exists()
