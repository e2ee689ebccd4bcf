import pytest
from django.core.management import call_command

from goals.models import Goal

pytestmark = pytest.mark.django_db


def test_seed_demo_agrees_goals_with_every_active_rep_and_leaves_one_waiting_and_one_draft():
    call_command("seed_demo", verbosity=0)
    goals = Goal.objects.all()
    reps_with_goals = set(
        goals.filter(owner_user__isnull=False).values_list("owner_user__username", flat=True)
    )
    assert {"rep.anna", "rep.bram"} <= reps_with_goals and "rep.milan" not in reps_with_goals
    assert goals.filter(status=Goal.Status.SUBMITTED).count() == 1
    assert goals.filter(status=Goal.Status.DRAFT).count() == 1
    assert goals.filter(owner_team__isnull=False, status=Goal.Status.ACTIVE).count() == 3
    assert goals.filter(metric="lead_conversion").count() == 3

    before = goals.count()
    call_command("seed_demo", verbosity=0)
    assert Goal.objects.count() == before
