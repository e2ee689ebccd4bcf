"""The wallboard link: opens one team's board without logging in, until revoked, and nothing else."""

import pytest
from django.urls import reverse

from incentives import services
from incentives.models import WallboardLink
from tests.incentives.conftest import deal

pytestmark = pytest.mark.django_db


@pytest.fixture
def link(admin_user, team):
    return services.wallboard_link_create(actor=admin_user, team=team, label="Sales floor")


def test_the_link_shows_the_teams_board_without_login(client, clock, nightly, link, rep):
    deal(rep, "777.00")
    nightly()
    response = client.get(reverse("leaderboards:wallboard", args=[link.token]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "North" in page and rep.display_name in page
    assert '<meta http-equiv="refresh" content="300">' in page
    assert "<script" not in page and "style=" not in page  # the CSP allows neither
    assert "777" not in page  # money follows the reps' privacy setting
    assert "_auth_user_id" not in client.session


def test_a_revoked_or_unknown_link_answers_404(client, link, admin_user):
    services.wallboard_link_revoke(actor=admin_user, link=link)
    assert client.get(reverse("leaderboards:wallboard", args=[link.token])).status_code == 404
    assert client.get(reverse("leaderboards:wallboard", args=["not-a-token"])).status_code == 404


def test_the_link_reaches_nothing_else(client, link, team):
    assert client.get(reverse("leaderboards:wallboard", args=[link.token])).status_code == 200
    for url in (
        reverse("leaderboards:leaderboard"),
        reverse("incentives:team_recognition", args=[team.pk]),
        reverse("kpis:dashboard"),
        reverse("deal_list"),
    ):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert client.get("/api/v1/leaderboards/").status_code in (401, 403)


def test_only_admins_create_and_revoke_links(rep, manager, team, link):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.wallboard_link_create(actor=manager, team=team)
    with pytest.raises(ValidationError):
        services.wallboard_link_revoke(actor=rep, link=link)
    assert WallboardLink.objects.get().is_active
    assert len(link.token) >= 40
