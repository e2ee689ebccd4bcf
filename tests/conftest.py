import os

import pytest
from rest_framework.test import APIClient

from salesteam.models import Role
from tests.browser.requirements import browser_requirements_missing
from tests.factories import MembershipFactory, TeamFactory, UserFactory


def pytest_collection_modifyitems(config, items):
    """Tests marked `redis` skip without REDIS_URL locally, and tests marked `browser` without what they
    need (tests/browser/conftest.py); under CI=true neither skips, so a missing service fails."""
    if os.environ.get("CI") == "true":
        return
    redis_skip = pytest.mark.skip(reason="needs Redis: set REDIS_URL (CI sets it) to run this test")
    browser_missing = browser_requirements_missing()
    browser_skip = pytest.mark.skip(reason=f"browser test needs {browser_missing} (CI has them)")
    for item in items:
        if "redis" in item.keywords and not os.environ.get("REDIS_URL"):
            item.add_marker(redis_skip)
        if "browser" in item.keywords and browser_missing:
            item.add_marker(browser_skip)


@pytest.fixture(autouse=True)
def _isolated_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.AXES_ENABLED = False
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def team(db):
    return TeamFactory(name="North")


@pytest.fixture
def other_team(db):
    return TeamFactory(name="South")


@pytest.fixture
def manager(team):
    user = UserFactory(username="manager", role=Role.MANAGER)
    team.managers.add(user)
    return user


@pytest.fixture
def rep(team):
    user = UserFactory(username="rep")
    MembershipFactory(user=user, team=team)
    return user


@pytest.fixture
def other_rep(other_team):
    user = UserFactory(username="other_rep")
    MembershipFactory(user=user, team=other_team)
    return user


@pytest.fixture
def other_manager(other_team):
    user = UserFactory(username="other_manager", role=Role.MANAGER)
    other_team.managers.add(user)
    return user


@pytest.fixture
def admin_user(db):
    return UserFactory(username="admin", role=Role.ADMIN, is_staff=True, is_superuser=True)


@pytest.fixture
def api_client():
    return APIClient()
