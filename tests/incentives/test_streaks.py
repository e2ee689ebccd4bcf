"""Streaks: working days with deal activity; weekends and the team's holidays neither count nor break."""

import datetime

import pytest

from incentives import selectors
from incentives.models import TeamHoliday
from salesteam.models import Deal
from tests.incentives.conftest import deal

pytestmark = pytest.mark.django_db
D = datetime.date


def active_on(rep, *days):
    for day in days:
        made = deal(rep, closed_on=D(2024, 1, 10))
        stamp = datetime.datetime.combine(day, datetime.time(10), tzinfo=datetime.UTC)
        Deal.history.filter(id=made.pk).update(history_date=stamp, history_user=rep)


def test_weekends_do_not_break_a_streak(clock, rep):
    clock(D(2024, 3, 19))  # Tuesday
    active_on(rep, D(2024, 3, 14), D(2024, 3, 15), D(2024, 3, 18), D(2024, 3, 19))  # Thu Fri Mon Tue
    streak = selectors.activity_streaks(user_ids=[rep.pk])[rep.pk]
    assert (streak.length, streak.started_on) == (4, D(2024, 3, 14))


def test_a_missed_working_day_ends_the_streak(clock, rep):
    clock(D(2024, 3, 19))
    active_on(rep, D(2024, 3, 13), D(2024, 3, 15), D(2024, 3, 18))  # Thursday 14 missed
    assert selectors.activity_streaks(user_ids=[rep.pk])[rep.pk].length == 2


def test_the_teams_holiday_does_not_break_it(clock, rep, team):
    clock(D(2024, 3, 19))
    TeamHoliday.objects.create(team=team, day=D(2024, 3, 14), name="Team day")
    active_on(rep, D(2024, 3, 13), D(2024, 3, 15), D(2024, 3, 18))
    assert selectors.activity_streaks(user_ids=[rep.pk])[rep.pk].length == 3


def test_today_without_activity_yet_keeps_yesterdays_streak(clock, rep):
    clock(D(2024, 3, 19))
    active_on(rep, D(2024, 3, 18))
    assert selectors.activity_streaks(user_ids=[rep.pk])[rep.pk].length == 1
    clock(D(2024, 3, 20))
    assert selectors.activity_streaks(user_ids=[rep.pk])[rep.pk].length == 0


def test_the_profile_shows_the_streak(client, clock, rep):
    from django.urls import reverse

    clock(D(2024, 3, 19))
    active_on(rep, D(2024, 3, 18), D(2024, 3, 19))
    client.force_login(rep)
    response = client.get(reverse("incentives:profile", args=[rep.pk]))
    assert response.status_code == 200
    assert response.context["streak"].length == 2
    assert "2 working days" in response.content.decode()
