"""Seed data and steps shared by the browser journeys.

Seed data goes through the factories and services, as fixtures do; the journeys themselves only click,
type and upload. Dates are relative to today: the server and the worker run on the real clock.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import time
from dataclasses import dataclass

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.utils import timezone

from kpis import services as kpi_services
from kpis.models import KpiRun
from salesteam.celery import app as celery_app
from salesteam.models import Role, Team, User
from tests.factories import MembershipFactory, UserFactory

PASSWORD = "journey-pass-2024"


@dataclass
class LiveApp:
    url: str
    worker: str  # the worker's node name, to ask it whether it is idle


def worker_idle(worker: str, *, seconds: float = 60) -> None:
    """Waits until the worker's queue is empty and it runs nothing (twice in a row, to let a task that
    just finished enqueue its follow-ups)."""
    inspect = celery_app.control.inspect(destination=[worker], timeout=2, limit=1)
    quiet = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with celery_app.connection_for_write() as connection:
            waiting = connection.default_channel.client.llen("celery")  # Redis: the queue is a list
        active, reserved = inspect.active(), inspect.reserved()  # None: the worker did not answer
        busy = waiting or active is None or reserved is None or any(active.values()) or any(reserved.values())
        quiet = 0 if busy else quiet + 1
        if quiet >= 2:
            return
        time.sleep(0.2)
    pytest.fail(f"the Celery worker was still busy after {seconds} s")


@functools.cache
def password_hash() -> str:
    """The password hashed as the server hashes it (the test settings use a fast hasher it lacks)."""
    return PBKDF2PasswordHasher().encode(PASSWORD, "journeysalt2024")


def person(username: str, full_name: str, *, team: Team | None = None, role: str = Role.REP) -> User:
    """A user who can log in with PASSWORD: a rep (member of `team`), a manager of `team`, or an admin."""
    admin = role == Role.ADMIN
    user = UserFactory(username=username, full_name=full_name, role=role, is_staff=admin, is_superuser=admin)
    User.objects.filter(pk=user.pk).update(password=password_hash())
    if team is not None and role == Role.REP:
        MembershipFactory(user=user, team=team)
    elif team is not None and role == Role.MANAGER:
        team.managers.add(user)
    return user


def today() -> datetime.date:
    return timezone.localdate()


@contextlib.contextmanager
def inline_tasks():
    """Runs the Celery tasks that seeding sends (goal refreshes, KPI follow-ups) in the test process, so
    that the seed is complete before the browser opens."""
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = eager


def kpi_run_in_process() -> KpiRun:
    """A full KPI run computed in the test process, with its follow-up tasks (goals, leaderboard
    snapshot, bonus awards) run inline: the state a previous night left."""
    with inline_tasks():
        run = kpi_services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, full=True, in_process=True)
    run.refresh_from_db()
    assert run.status == KpiRun.Status.SUCCEEDED, run.error
    return run


def nightly_run(live_app: LiveApp, *, seconds: float = 90) -> KpiRun:
    """Does what Celery beat does at 02:00 (sends `kpis.tasks.nightly_run` to the worker), then waits
    for the run and its follow-up tasks to finish."""
    last = KpiRun.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False  # send_task always publishes; this only avoids a warning
    try:
        celery_app.send_task("kpis.tasks.nightly_run")
    finally:
        celery_app.conf.task_always_eager = eager
    deadline = time.monotonic() + seconds
    run = None
    while time.monotonic() < deadline:
        run = KpiRun.objects.filter(pk__gt=last).order_by("pk").first()
        if run is not None and run.status != KpiRun.Status.RUNNING:
            break
        time.sleep(0.25)
    else:
        pytest.fail(f"the nightly KPI run did not finish in {seconds} s: {run}")
    assert run.status == KpiRun.Status.SUCCEEDED, run.error
    worker_idle(live_app.worker)
    return run


def log_in(page, username: str, *, password: str = PASSWORD) -> None:
    """Logs in through the login form (English labels) and lands on the home page."""
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
