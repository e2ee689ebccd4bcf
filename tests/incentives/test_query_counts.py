"""Leaderboard and recognition pages: the same number of queries with 10 and with 200 reps."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incentives.models import Badge, BadgeKind, BadgeRule, Kudos, LeaderboardSnapshot, RecognitionSettings
from kpis import leaderboards
from kpis.models import KpiRun, KpiValue
from salesteam.models import Membership, Team, User

pytestmark = pytest.mark.django_db
D = datetime.date
MAX_LEADERBOARD_QUERIES = 20
MAX_RECOGNITION_QUERIES = 80


def build(size: int) -> tuple[Team, User]:
    """A team of `size` reps with stored KPI rows, a snapshot, badges and kudos, made in bulk."""
    RecognitionSettings.load()
    team = Team.objects.create(name=f"Team {size}")
    users = User.objects.bulk_create(
        [
            User(username=f"rep{size}-{i}", full_name=f"Rep {i}", email=f"r{i}@example.com")
            for i in range(size)
        ]
    )
    Membership.objects.bulk_create([Membership(user=u, team=team, valid_from=D(2020, 1, 1)) for u in users])
    KpiValue.objects.bulk_create(
        [
            KpiValue(
                scope_type="rep", scope_id=u.pk, period_type="month", period_start=D(2024, 3, 1),
                revenue=Decimal(100 * (i % 7)), won_count=i % 7, lost_count=i % 3, new_customers=i % 2,
            )
            for i, u in enumerate(users)
        ]
    )  # fmt: skip
    run = KpiRun.objects.create(trigger="nightly", status="succeeded", is_open=None)
    key = leaderboards.board_key("rep", "revenue", "month", D(2024, 3, 1), ("team", team.pk))
    LeaderboardSnapshot.objects.create(run=run, board=key, ranks={str(u.pk): 1 for u in users})
    rule = BadgeRule.objects.get_or_create(name="First", kind=BadgeKind.FIRST_WON_DEAL)[0]
    Badge.objects.bulk_create(
        [
            Badge(rule=rule, user=u, achievement_key="k", achievement="a", awarded_on=D(2024, 3, 1))
            for u in users
        ]
    )
    Kudos.objects.bulk_create(
        [
            Kudos(sender=users[i], recipient=users[i - 1], team=team, message=f"Thanks {i}")
            for i in range(size)
        ]
    )
    return team, users[0]


def count(client, url, params=None) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, params or {}).status_code == 200
    return len(queries)


@pytest.mark.parametrize("size", [10, 200])
def test_leaderboard_page_queries_are_bounded(client, clock, size, django_assert_max_num_queries):
    team, user = build(size)
    client.force_login(user)
    with django_assert_max_num_queries(MAX_LEADERBOARD_QUERIES):
        client.get(reverse("leaderboards:leaderboard"), {"within": f"team:{team.pk}"})


@pytest.mark.parametrize("size", [10, 200])
def test_recognition_page_queries_are_bounded(client, clock, size, django_assert_max_num_queries):
    team, user = build(size)
    client.force_login(user)
    with django_assert_max_num_queries(MAX_RECOGNITION_QUERIES):
        client.get(reverse("incentives:team_recognition", args=[team.pk]))


def test_query_counts_do_not_grow_with_the_team(client, clock):
    small_team, small_user = build(10)
    big_team, big_user = build(200)
    pages = [
        (reverse("leaderboards:leaderboard"), "within", "team:{}"),
        (reverse("leaderboards:leaderboard"), "metric", "conversion_ratio"),
    ]
    for url, name, value in pages:
        client.force_login(small_user)
        small = count(client, url, {name: value.format(small_team.pk)})
        client.force_login(big_user)
        big = count(client, url, {name: value.format(big_team.pk)})
        assert small == big, url
    client.force_login(small_user)
    small = count(client, reverse("incentives:team_recognition", args=[small_team.pk]))
    small_profile = count(client, reverse("incentives:profile", args=[small_user.pk]))
    client.force_login(big_user)
    big = count(client, reverse("incentives:team_recognition", args=[big_team.pk]))
    big_profile = count(client, reverse("incentives:profile", args=[big_user.pk]))
    assert small == big
    assert small_profile == big_profile
