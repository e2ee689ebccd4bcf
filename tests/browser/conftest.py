"""Browser journeys: Playwright drives Debian's Chromium against the app served by a real server, with a
real Celery worker behind it.

Why two subprocesses rather than pytest-django's `live_server`: `live_server` serves the app from a
thread of the test process, which runs with the test settings (tests/conftest.py makes Celery eager,
swaps the password hasher, moves MEDIA_ROOT) and would run every task inline. The journeys should see
what a user sees: gunicorn serving the app with its own settings, and tasks travelling through Redis to
a separately started `celery worker`, as in production. Both processes get the test database's name
through DATABASE_URL, so they only see committed rows: the tests are transactional, their seed data is
committed before the browser asks for it, and pytest-django empties the tables after each test.

One server and one worker serve all the browser tests (package scope); they stop before the rest of the
suite runs, so they never take another test's Celery messages. Each test waits for the worker to be idle
before its rows are flushed. Screenshots and both logs go to var/test-artifacts/ (gitignored); a failing
test also leaves a screenshot of every page it had open.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connections

from salesteam.celery import app as celery_app
from tests.browser.requirements import CHROMIUM, browser_requirements_missing
from tests.browser.support import LiveApp, worker_idle

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "var" / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"viewport": {"width": 375, "height": 740}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 860}}
FAILED = pytest.StashKey[bool]()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _test_database_url() -> str:
    db = connections["default"].settings_dict
    user = quote(db["USER"] or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    return f"postgres://{user}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _start(command: list[str], log: Path, env: dict) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _wait_until(check, *, seconds: float, what: str, processes=()) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                pytest.fail(f"{what}: the process exited with {process.returncode}; see {ARTIFACTS}")
        if check():
            return
        time.sleep(0.2)
    pytest.fail(f"{what}: not ready after {seconds} s; see the logs in {ARTIFACTS}")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="package")
def live_app(django_db_setup, tmp_path_factory) -> LiveApp:
    """gunicorn and `celery worker` on the test database, for all the browser tests."""
    missing = browser_requirements_missing()
    if missing:  # locally the tests were skipped at collection; under CI=true this is a failure
        pytest.fail(f"browser tests need {missing}")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    port = _free_port()
    worker = f"browser{port}@{socket.gethostname()}"
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "VAR_DIR": str(tmp_path_factory.mktemp("var")),  # uploads and static files of these processes
        "DEBUG": "1",
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "PYTHONUNBUFFERED": "1",
    }
    celery_app.control.purge()  # messages left by an earlier run must not reach this worker
    server = _start(
        [sys.executable, "-m", "gunicorn", "salesteam.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--threads", "8", "--graceful-timeout", "5", "--access-logfile", "-"],
        ARTIFACTS / "server.log", env,
    )  # fmt: skip
    celery = _start(
        [sys.executable, "-m", "celery", "-A", "salesteam", "worker", "--loglevel=INFO", "--concurrency=2",
         "--hostname", worker, "--without-gossip", "--without-mingle"],
        ARTIFACTS / "worker.log", env,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until(
            lambda: _answers(f"{url}/accounts/login/"), seconds=30, what="gunicorn", processes=[server]
        )
        _wait_until(
            lambda: bool(celery_app.control.ping(destination=[worker], timeout=0.5)),
            seconds=45,
            what="celery worker",
            processes=[celery],
        )
        yield LiveApp(url=url, worker=worker)
    finally:
        _stop(server)
        _stop(celery)


@pytest.fixture(scope="package")
def browser(live_app):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=15_000)  # as the actions: a loaded machine answers slower than 5 s

    # Playwright's sync API keeps an asyncio loop in this thread, which Django takes for an async
    # context; the test code around it is plain synchronous code, so the ORM may run here.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.failed:
        item.stash[FAILED] = True
    return report


def artifact_name(item) -> str:
    """The test module's name without `test_`: one journey per module."""
    return item.path.stem.removeprefix("test_")


@pytest.fixture
def open_page(request, browser, live_app, transactional_db):
    """Opens a page in a new browser context: `open_page(phone=True, locale="nl-NL")`.

    Each context is a separate person (its own cookies). Console errors (a script error, a
    Content-Security-Policy refusal) fail the test. On failure every open page is saved as a screenshot.
    After the test the worker must be idle before pytest-django empties the tables.
    """
    contexts, errors = [], []

    def open_(*, phone: bool = False, locale: str = "en-GB"):
        context = browser.new_context(base_url=live_app.url, locale=locale, **(PHONE if phone else DESKTOP))
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on(
            "console",
            lambda message: (
                message.type == "error" and errors.append(f"{message.text} at {message.location.get('url')}")
            ),
        )
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    yield open_
    if request.node.stash.get(FAILED, False):
        name = f"{artifact_name(request.node)}-{request.node.name}"
        for number, context in enumerate(contexts, start=1):
            for index, page in enumerate(context.pages, start=1):
                page.screenshot(path=ARTIFACTS / f"FAILED-{name}-{number}-{index}.png", full_page=True)
    for context in contexts:
        context.close()
    worker_idle(live_app.worker)
    assert not errors, f"errors in the browser console: {errors}"


@pytest.fixture
def shot(request):
    """Saves the screen as var/test-artifacts/<module without test_>-<label>.png (full page)."""

    def save(page, label: str) -> Path:
        path = ARTIFACTS / f"{artifact_name(request.node)}-{label}.png"
        page.screenshot(path=path, full_page=True)
        return path

    return save
