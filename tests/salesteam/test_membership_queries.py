"""Membership.objects.on(day) and .during(start, end): from is inclusive, until exclusive."""

import datetime

import pytest

from salesteam.models import Membership
from tests.factories import MembershipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db
D = datetime.date


@pytest.fixture
def moved():
    """Anna in North from 1 March until 1 June, then in South with no end."""
    anna = UserFactory(username="anna")
    north = MembershipFactory(
        user=anna, team=TeamFactory(name="North"), valid_from=D(2024, 3, 1), valid_to=D(2024, 6, 1)
    )
    south = MembershipFactory(user=anna, team=TeamFactory(name="South"), valid_from=D(2024, 6, 1))
    return north, south


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (D(2024, 2, 29), []),
        (D(2024, 3, 1), ["North"]),
        (D(2024, 5, 31), ["North"]),
        (D(2024, 6, 1), ["South"]),
    ],
)
def test_on_a_day(moved, day, expected):
    assert [m.team.name for m in Membership.objects.on(day)] == expected


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (D(2024, 1, 1), D(2024, 3, 1), []),
        (D(2024, 1, 1), D(2024, 3, 2), ["North"]),
        (D(2024, 5, 31), D(2024, 6, 2), ["North", "South"]),
        (D(2024, 6, 1), D(2030, 1, 1), ["South"]),
    ],
)
def test_during_a_range(moved, start, end, expected):
    assert sorted(m.team.name for m in Membership.objects.during(start, end)) == expected
