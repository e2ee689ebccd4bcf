"""Who may approve, decide and see: a rep never approves, a manager only for their teams, nobody their
own goal; a manager's own goal and team goals go to their manager or an admin."""

import pytest
from django.core.exceptions import PermissionDenied

from goals import selectors, services
from goals.models import Goal
from salesteam.models import Role
from tests.factories import MembershipFactory, UserFactory
from tests.goals.helpers import draft, submitted

pytestmark = pytest.mark.django_db


def test_a_rep_cannot_approve_even_a_teammates_goal(rep, team, clock):
    teammate = UserFactory(username="mate")
    MembershipFactory(user=teammate, team=team)
    goal = submitted(teammate)
    with pytest.raises(PermissionDenied):
        services.goal_approve(actor=rep, goal=goal)
    with pytest.raises(PermissionDenied):
        services.goal_reject(actor=rep, goal=goal)


def test_a_manager_decides_only_for_their_own_teams(rep, manager, other_rep, other_manager, clock):
    theirs = submitted(other_rep)
    with pytest.raises(PermissionDenied):
        services.goal_approve(actor=manager, goal=theirs)
    with pytest.raises(PermissionDenied):
        services.goal_request_changes(actor=manager, goal=theirs)
    assert services.goal_approve(actor=other_manager, goal=theirs).status == Goal.Status.ACTIVE
    assert services.goal_approve(actor=manager, goal=submitted(rep)).status == Goal.Status.ACTIVE


def test_nobody_approves_their_own_goal_not_even_an_admin(manager, admin_user, clock):
    own = submitted(manager)
    with pytest.raises(PermissionDenied):
        services.goal_approve(actor=manager, goal=own)
    admins_own = submitted(admin_user)
    with pytest.raises(PermissionDenied):
        services.goal_approve(actor=admin_user, goal=admins_own)


def test_a_managers_goal_goes_to_their_manager_or_an_admin(manager, big_boss, admin_user, team, clock):
    co_manager = UserFactory(username="co", role=Role.MANAGER)
    team.managers.add(co_manager)
    manager.manager = big_boss
    manager.save()
    goal = submitted(manager)
    assert selectors.approvers_for(goal) == [big_boss]
    with pytest.raises(PermissionDenied):
        services.goal_approve(actor=co_manager, goal=goal)
    assert services.goal_approve(actor=big_boss, goal=goal).status == Goal.Status.ACTIVE
    second = submitted(manager)
    assert services.goal_approve(actor=admin_user, goal=second).status == Goal.Status.ACTIVE


def test_without_a_manager_of_their_own_a_managers_goal_goes_to_the_admins(manager, admin_user, clock):
    assert selectors.approvers_for(submitted(manager)) == [admin_user]


def test_a_team_goal_goes_to_the_team_managers_manager_not_to_the_team_manager(
    manager, team, big_boss, admin_user, clock
):
    manager.manager = big_boss
    manager.save()
    goal = submitted(manager, owner_user=None, owner_team=team)
    assert selectors.approvers_for(goal) == [big_boss]
    with pytest.raises(PermissionDenied):
        services.goal_approve(actor=manager, goal=goal)
    assert services.goal_approve(actor=big_boss, goal=goal).status == Goal.Status.ACTIVE


def test_a_rep_cannot_create_goals_for_others_or_for_the_team(rep, other_rep, team, clock):
    with pytest.raises(Exception, match="cannot set goals"):
        draft(rep, owner_user=other_rep)
    with pytest.raises(Exception, match="cannot set goals"):
        draft(rep, owner_user=None, owner_team=team)


def test_only_the_owner_accepts_a_proposal(rep, manager, team, clock):
    goal = services.goal_submit(actor=manager, goal=draft(manager, owner_user=rep))
    with pytest.raises(PermissionDenied):
        services.goal_accept(actor=manager, goal=goal)


def test_an_agreed_goal_is_not_cancelled_by_its_owner_alone(rep, manager, clock):
    goal = services.goal_approve(actor=manager, goal=submitted(rep))
    with pytest.raises(PermissionDenied):
        services.goal_cancel(actor=rep, goal=goal)


def test_goals_are_scoped_to_what_each_user_may_see(
    rep, manager, other_rep, other_manager, admin_user, clock
):
    mine, theirs = draft(rep), draft(other_rep)
    assert set(selectors.goal_list(user=rep)) == {mine}
    assert set(selectors.goal_list(user=manager)) == {mine}
    assert set(selectors.goal_list(user=other_manager)) == {theirs}
    assert set(selectors.goal_list(user=admin_user)) == {mine, theirs}
