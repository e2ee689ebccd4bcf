"""Two managers approving the same goal at the same moment: exactly one wins, the other is told who did."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from goals import services
from goals.models import Goal
from salesteam.models import Role
from tests.factories import UserFactory
from tests.goals.helpers import submitted


@pytest.mark.django_db(transaction=True)
def test_two_managers_approving_at_once_give_exactly_one_winner(rep, manager, team, clock):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises writers, so the two approvals cannot overlap")
    second = UserFactory(username="second_manager", role=Role.MANAGER)
    team.managers.add(second)
    goal = submitted(rep)
    barrier = threading.Barrier(2)
    results: dict[str, str] = {}

    def approve(actor):
        try:
            barrier.wait(timeout=10)
            services.goal_approve(actor=actor, goal=Goal.objects.get(pk=goal.pk))
            results[actor.username] = "approved"
        except ValidationError as error:
            results[actor.username] = error.messages[0]
        finally:
            connections.close_all()

    threads = [threading.Thread(target=approve, args=(user,)) for user in (manager, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results.values()).count("approved") == 1
    loser = next(message for message in results.values() if message != "approved")
    assert "already dealt with this goal" in loser
    goal.refresh_from_db()
    assert goal.status == Goal.Status.ACTIVE
    assert goal.transitions.filter(action="approve").count() == 1
