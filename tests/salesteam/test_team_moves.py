import datetime

import pytest

from salesteam import services
from salesteam.models import Membership
from tests.factories import DealFactory, TeamFactory

pytestmark = pytest.mark.django_db


def test_moving_a_rep_keeps_the_team_of_deals_closed_before_the_move(rep, team):
    before = DealFactory(
        rep=rep, team=team, created_on=datetime.date(2024, 1, 1), closed_on=datetime.date(2024, 1, 20)
    )
    after = DealFactory(
        rep=rep, team=team, created_on=datetime.date(2024, 2, 1), closed_on=datetime.date(2024, 3, 5)
    )
    new_team = TeamFactory(name="East")

    services.membership_move(actor=None, user=rep, team=new_team, valid_from=datetime.date(2024, 3, 1))

    before.refresh_from_db()
    after.refresh_from_db()
    assert before.team == team
    assert after.team == new_team
    assert services.team_of(rep, datetime.date(2024, 2, 28)) == team
    assert services.team_of(rep, datetime.date(2024, 3, 1)) == new_team
    assert Membership.objects.filter(user=rep).count() == 2


def test_moving_twice_to_the_same_team_changes_nothing(rep, team):
    new_team = TeamFactory(name="East")
    services.membership_move(actor=None, user=rep, team=new_team, valid_from=datetime.date(2024, 3, 1))
    services.membership_move(actor=None, user=rep, team=new_team, valid_from=datetime.date(2024, 3, 1))
    assert Membership.objects.filter(user=rep).count() == 2
