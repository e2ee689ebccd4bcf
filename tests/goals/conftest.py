import datetime

import pytest
from django.utils import timezone

from salesteam.models import Role
from tests.factories import UserFactory

D = datetime.date


@pytest.fixture
def clock(monkeypatch):
    """Sets what `timezone.localdate()` answers; only the clock is mocked in goal tests."""

    def set_today(day: datetime.date) -> None:
        monkeypatch.setattr(timezone, "localdate", lambda value=None, timezone=None: day)

    set_today(D(2024, 1, 15))
    return set_today


@pytest.fixture
def big_boss(db):
    """The managers' own manager."""
    return UserFactory(username="big_boss", role=Role.MANAGER)
