import datetime

import pytest
from django.core.exceptions import ValidationError

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


def test_someone_leaving_can_no_longer_log_in_and_leaves_their_team_that_day(client, rep, team):
    deal = DealFactory(
        rep=rep, team=team, created_on=datetime.date(2024, 1, 1), closed_on=datetime.date(2024, 1, 20)
    )
    left = datetime.date(2024, 6, 30)

    services.user_deactivate(actor=None, user=rep, on=left)

    rep.refresh_from_db()
    assert rep.is_active is False
    assert services.team_of(rep, datetime.date(2024, 6, 29)) == team
    assert services.team_of(rep, left) is None
    deal.refresh_from_db()
    assert deal.team == team  # history stays where it happened
    assert not client.login(username=rep.username, password="pw-for-tests-1")


def test_a_manager_leaving_stops_managing_and_leaving_twice_changes_nothing(manager, team):
    services.user_deactivate(actor=None, user=manager, on=datetime.date(2024, 6, 30))
    services.user_deactivate(actor=None, user=manager, on=datetime.date(2024, 7, 31))

    assert list(team.managers.all()) == []
    assert manager.history.filter(is_active=False).count() == 1


def test_leaving_before_joining_the_current_team_is_refused(rep, team):
    joined = Membership.objects.get(user=rep).valid_from

    with pytest.raises(ValidationError, match="only joins their team on"):
        services.user_deactivate(actor=None, user=rep, on=joined)

    rep.refresh_from_db()
    assert rep.is_active is True


def test_the_admin_form_explains_why_someone_moving_today_cannot_leave_today(rep, team):
    from django.utils import timezone

    from salesteam.admin import UserChangeForm

    services.membership_move(
        actor=None, user=rep, team=TeamFactory(name="East"), valid_from=timezone.localdate()
    )
    form = UserChangeForm(instance=rep)
    data = {
        name: value
        for name, field in form.fields.items()
        if (value := form.get_initial_for_field(field, name)) is not None and not field.disabled
    }
    data["is_active"] = False

    bound = UserChangeForm(data, instance=rep)

    assert not bound.is_valid()
    assert "only joins their team on" in bound.errors["is_active"][0]
    rep.refresh_from_db()
    assert rep.is_active
