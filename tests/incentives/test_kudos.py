"""Kudos: to a colleague, never to oneself, length-limited, shown escaped, links only what both can see."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from goals.models import Goal, Notification
from incentives import services
from incentives.models import KUDOS_MAX_LENGTH, Kudos, KudosReaction
from salesteam.models import Role
from tests.factories import MembershipFactory, UserFactory
from tests.incentives.conftest import deal

pytestmark = pytest.mark.django_db
D = datetime.date


@pytest.fixture
def colleague(team):
    user = UserFactory(username="colleague")
    MembershipFactory(user=user, team=team)
    return user


def test_a_rep_thanks_a_colleague_who_is_notified(rep, colleague):
    kudos = services.kudos_give(sender=rep, recipient=colleague, message="  Thanks for the demo!  ")
    assert kudos.message == "Thanks for the demo!"
    assert kudos.team_id == colleague.memberships.get().team_id
    note = Notification.objects.get(recipient=colleague, kind="kudos")
    assert "Thanks for the demo!" in note.message


def test_nobody_thanks_themselves(rep):
    with pytest.raises(ValidationError) as error:
        services.kudos_give(sender=rep, recipient=rep, message="Well done me")
    assert "recipient" in error.value.message_dict
    assert not Kudos.objects.exists()


def test_the_message_is_required_and_length_limited(rep, colleague):
    services.kudos_give(sender=rep, recipient=colleague, message="x" * KUDOS_MAX_LENGTH)
    for message in ("", "   ", "x" * (KUDOS_MAX_LENGTH + 1)):
        with pytest.raises(ValidationError) as error:
            services.kudos_give(sender=rep, recipient=colleague, message=message)
        assert "message" in error.value.message_dict
    assert Kudos.objects.count() == 1


def test_the_message_is_shown_escaped(client, rep, colleague, team):
    services.kudos_give(sender=rep, recipient=colleague, message='<script>alert("x")</script> & <b>bold</b>')
    client.force_login(colleague)
    page = client.get(reverse("incentives:team_recognition", args=[team.pk])).content.decode()
    assert "<script>alert" not in page and "<b>bold</b>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in page


def test_a_linked_deal_must_be_visible_to_both(rep, colleague, manager):
    own = deal(rep)
    with pytest.raises(ValidationError) as error:  # the colleague (a rep) cannot see rep's deal
        services.kudos_give(sender=rep, recipient=colleague, message="Thanks", deal_id=own.pk)
    assert "deal" in error.value.message_dict
    # The manager of the team sees the rep's deal: the rep may link it when thanking the manager.
    kudos = services.kudos_give(sender=rep, recipient=manager, message="Thanks for the help", deal_id=own.pk)
    assert kudos.deal_id == own.pk


def test_a_linked_goal_must_be_visible_to_both(rep, colleague, team, other_rep):
    team_goal = Goal.objects.create(title="Team Q1", owner_team=team, created_by=rep, metric="revenue")
    secret = Goal.objects.create(
        title="Private", owner_user=other_rep, created_by=other_rep, metric="revenue"
    )
    kudos = services.kudos_give(sender=rep, recipient=colleague, message="Go team", goal_id=team_goal.pk)
    assert kudos.goal_id == team_goal.pk
    with pytest.raises(ValidationError) as error:
        services.kudos_give(sender=rep, recipient=colleague, message="Hm", goal_id=secret.pk)
    assert "goal" in error.value.message_dict


def test_managers_post_shout_outs_to_their_team_only(rep, colleague, manager, team, other_team):
    services.kudos_give(sender=manager, team=team, message="Great month, everyone!")
    assert Notification.objects.filter(kind="kudos").count() == 2  # rep and colleague
    with pytest.raises(ValidationError):
        services.kudos_give(sender=manager, team=other_team, message="Hello")
    with pytest.raises(ValidationError):
        services.kudos_give(sender=rep, team=team, message="Hello")


def test_others_react_and_a_second_click_takes_the_reaction_back(client, rep, colleague, other_rep):
    kudos = services.kudos_give(sender=rep, recipient=colleague, message="Nice")
    client.force_login(colleague)
    url = reverse("incentives:kudos_react", args=[kudos.pk])
    assert client.post(url, {"emoji": "clap"}).status_code == 302
    assert KudosReaction.objects.filter(kudos=kudos, user=colleague, emoji="clap").exists()
    client.post(url, {"emoji": "clap"})
    assert not KudosReaction.objects.exists()
    client.force_login(other_rep)  # another team: the kudos is not visible
    assert client.post(url, {"emoji": "clap"}).status_code == 404


def test_api_creates_and_reacts(api_client, rep, colleague):
    api_client.force_authenticate(rep)
    response = api_client.post(
        "/api/v1/kudos/", {"recipient": colleague.pk, "message": "Thanks!"}, format="json"
    )
    assert response.status_code == 201, response.content
    kudos_id = response.json()["id"]
    assert (
        api_client.post("/api/v1/kudos/", {"recipient": rep.pk, "message": "Me"}, format="json").status_code
        == 400
    )
    api_client.force_authenticate(colleague)
    reacted = api_client.post(f"/api/v1/kudos/{kudos_id}/react/", {"emoji": "party"}, format="json")
    assert reacted.status_code == 200 and reacted.json()["reactions"]["party"] == 1
    assert api_client.get("/api/v1/kudos/").json()["count"] == 1


def test_the_kudos_page_shows_field_errors(client, rep, colleague):
    client.force_login(rep)
    response = client.post(reverse("incentives:kudos_create"), {"recipient": rep.pk, "message": "Me"})
    assert response.status_code == 400
    assert "recipient" in response.context["form"].errors  # oneself is not among the choices
    assert not Kudos.objects.exists()
    ok = client.post(reverse("incentives:kudos_create"), {"recipient": colleague.pk, "message": "Thanks"})
    assert ok.status_code == 302


def test_admins_see_every_kudos_and_reps_only_their_teams(rep, colleague, other_rep, admin_user):
    from incentives import selectors

    services.kudos_give(sender=rep, recipient=colleague, message="Thanks")
    assert selectors.kudos_list(user=admin_user).count() == 1
    assert selectors.kudos_list(user=other_rep).count() == 0
    assert UserFactory(username="x", role=Role.REP) is not None
