"""Locust scenario of the load benchmark (benchmarks/load.py starts it; it needs LOAD_USERS_FILE).

Reps, managers and one admin log in through the login form and browse what they use every day: the
KPI dashboard, goals, leaderboards, recognition, earnings, the pipeline and the deal list with filters
and pages, thinking one to three seconds between pages. The statistics cover LOAD_SECONDS of browsing
from the moment the last user has logged in; logins and server CPU go to LOAD_RESULT_FILE. Requests
are named by page type; the login form is the baseline. A page fails when it answers anything but 200
or sends the user back to log in.
"""

from __future__ import annotations

import datetime
import itertools
import json
import os
import random
import re
import time
from pathlib import Path
from urllib.parse import urlsplit

import gevent
from locust import HttpUser, between, events, task

DATA = json.loads(Path(os.environ["LOAD_USERS_FILE"]).read_text())
TODAY = datetime.date.fromisoformat(DATA["today"])
# Behind the TLS proxy the app runs behind in production; DEBUG=0 redirects plain HTTP otherwise.
HEADERS = {"X-Forwarded-Proto": "https"}
DEAL_LINK = re.compile(r'href="/deals/(\d+)/"')
GOAL_LINK = re.compile(r'href="/goals/(\d+)/"')
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_seeds = itertools.count(1)
# Each user logs in once as it starts. LOAD_SETTLE_SECONDS after the last one has logged in, the
# statistics are reset and the users browse for LOAD_SECONDS, then locust stops: the figures cover
# browsing only, with every user in. (Pages asked for while the last logins hashed their passwords
# wait behind them for a second or two; the settling time keeps that queue out of the figures.) The
# logins, and the CPU time the server used while the users browsed, are written to LOAD_RESULT_FILE
# at the end.
LOGINS: list[dict] = []
WINDOW: dict[str, float] = {}
_logged_in = itertools.count(1)
# LOAD_TRACE_FILE: every measured request as "seconds since the window opened,page,ms", to see when
# slow requests happen (all at once: the machine; one page: that page).
TRACE = (
    open(os.environ["LOAD_TRACE_FILE"], "w", encoding="utf-8")  # noqa: SIM115 (closed when locust quits)
    if os.environ.get("LOAD_TRACE_FILE")
    else None
)


def server_cpu_seconds() -> float:
    """CPU time used so far by the gunicorn master and workers (LOAD_SERVER_PID) and by PostgreSQL's
    backends connected to LOAD_DATABASE, from /proc."""
    server = os.environ.get("LOAD_SERVER_PID", "")
    backend = f" postgres {os.environ.get('LOAD_DATABASE', '')} ".encode()
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if server in (stat.parent.name, fields[1]) or (
            command.startswith(b"postgres:") and backend in command
        ):
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _measure_from_now(environment) -> None:
    environment.runner.stats.reset_all()
    WINDOW.update(started=time.monotonic(), cpu=server_cpu_seconds())
    gevent.spawn_later(float(os.environ.get("LOAD_SECONDS", "60")), environment.runner.quit)


@events.request.add_listener
def _record_login(name: str, response_time: float, exception=None, **kwargs) -> None:
    if name == "log in":
        LOGINS.append({"ms": response_time, "ok": exception is None})
    if TRACE is not None and WINDOW:
        TRACE.write(f"{time.monotonic() - WINDOW['started']:.3f},{name},{response_time:.1f}\n")


@events.quitting.add_listener
def _write_result(**kwargs) -> None:
    if TRACE is not None:
        TRACE.close()
    result = {"logins": LOGINS}
    if WINDOW:
        result["seconds"] = time.monotonic() - WINDOW["started"]
        result["server_cpu_s"] = server_cpu_seconds() - WINDOW["cpu"]
    if os.environ.get("LOAD_RESULT_FILE"):
        Path(os.environ["LOAD_RESULT_FILE"]).write_text(json.dumps(result))


def _date(days_ago: int) -> str:
    return (TODAY - datetime.timedelta(days=days_ago)).isoformat()


class Browser(HttpUser):
    abstract = True
    wait_time = between(1, 3)

    def account(self, rng: random.Random) -> tuple[str, dict]:
        raise NotImplementedError

    def on_start(self) -> None:
        self.rng = random.Random(next(_seeds))
        self.username, self.team = self.account(self.rng)
        self.deal_ids: list[str] = []
        self.goal_ids: list[str] = [str(pk) for pk in self.team["goal_ids"]]
        self.client.headers.update(HEADERS)
        self.log_in()
        if next(_logged_in) == self.environment.runner.target_user_count:
            gevent.spawn_later(
                float(os.environ.get("LOAD_SETTLE_SECONDS", "5")), _measure_from_now, self.environment
            )

    def log_in(self) -> None:
        form = self.client.get("/accounts/login/", name="login form")
        self.send_secure_cookies()
        token = CSRF.search(form.text)
        # An HTTPS request (as the proxy says) needs a Referer of the same origin for its CSRF check.
        origin = "https://" + urlsplit(self.host).netloc
        with self.client.post(
            "/accounts/login/",
            data={
                "username": self.username,
                "password": DATA["password"],
                "csrfmiddlewaretoken": token.group(1) if token else "",
            },
            headers={"Referer": origin + "/accounts/login/"},
            name="log in",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"login of {self.username} answered {response.status_code}")
        self.send_secure_cookies()

    def send_secure_cookies(self) -> None:
        """The cookies are Secure (DEBUG=0) and the client talks plain HTTP to 127.0.0.1: it is told to
        send them anyway, as the browser does over the proxy's HTTPS."""
        for cookie in self.client.cookies:
            cookie.secure = False

    def page(self, name: str, path: str, params: dict | None = None) -> str:
        with self.client.get(path, params=params, name=name, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"{path} answered {response.status_code}")
            elif "/accounts/login/" in response.url and not path.startswith("/accounts/login/"):
                response.failure(f"{path} sent {self.username} back to the login form")
            return response.text or ""

    # --- Shared pages ------------------------------------------------------------------------------

    @task(1)
    def login_form(self) -> None:
        self.page("login form", "/accounts/login/")

    @task(4)
    def my_goals(self) -> None:
        text = self.page("my goals", "/goals/")
        self.goal_ids = GOAL_LINK.findall(text)[:10] or self.goal_ids

    @task(1)
    def goal_detail(self) -> None:
        if self.goal_ids:
            self.page("goal detail", f"/goals/{self.rng.choice(self.goal_ids)}/")

    @task(3)
    def leaderboard(self) -> None:
        params = self.rng.choice(
            [
                {},
                {"metric": "conversion_ratio"},
                {"metric": "deals_won", "period": "quarter"},
                {"metric": "revenue", "within": f"team:{self.team['id']}"},
                {"metric": "goal_attainment", "period": "quarter"},
                {"entity": "team", "period": "year"},
            ]
        )
        self.page("leaderboard", "/leaderboards/", params)

    @task(3)
    def deal_list(self) -> None:
        text = self.page("deal list", "/deals/")
        self.deal_ids = DEAL_LINK.findall(text)[:25] or self.deal_ids

    @task(2)
    def deal_list_filtered(self) -> None:
        params = self.rng.choice(
            [
                {"stage": "won", "closed_from": _date(365)},
                {"stage": ["lead", "proposal"]},
                {"closed_from": _date(90), "closed_to": _date(0)},
                {"created_from": _date(400), "created_to": _date(300), "stage": "lost"},
                {"q": "Customer 1"},
            ]
        )
        self.page("deal list filtered", "/deals/", params)

    @task(1)
    def deal_list_page(self) -> None:
        self.page("deal list page", "/deals/", {"page": self.rng.randint(2, 12)})

    @task(1)
    def deal_detail(self) -> None:
        if self.deal_ids:
            self.page("deal detail", f"/deals/{self.rng.choice(self.deal_ids)}/")

    @task(1)
    def pipeline(self) -> None:
        self.page("pipeline", "/deals/pipeline/")

    @task(1)
    def recognition(self) -> None:
        self.page("recognition", "/recognition/")


class Rep(Browser):
    weight = 3

    def account(self, rng):
        team = rng.choice(DATA["teams"])
        return rng.choice(team["reps"]), team

    @task(4)
    def kpi_dashboard(self) -> None:
        params = self.rng.choice([{}, {}, {"period": "quarter"}, {"period": "year"}, {"date": _date(45)}])
        self.page("kpi dashboard", "/kpis/", params)

    @task(1)
    def earnings(self) -> None:
        self.page("earnings", "/earnings/")


class Manager(Browser):
    weight = 1

    def account(self, rng):
        team = rng.choice(DATA["teams"])
        return team["manager"], team

    @task(4)
    def kpi_dashboard(self) -> None:
        params = self.rng.choice(
            [
                {},
                {"s": f"team:{self.team['id']}"},
                {"s": f"team:{self.team['id']}", "period": "quarter"},
                {"s": f"rep:{self.rng.choice(self.team['rep_ids'])}"},
            ]
        )
        self.page("kpi dashboard", "/kpis/", params)

    @task(2)
    def team_goals(self) -> None:
        self.page("team goals", "/goals/team/")

    @task(1)
    def approval_queue(self) -> None:
        self.page("approval queue", "/goals/approvals/")

    @task(1)
    def deal_list_by_rep(self) -> None:
        params = {"rep": self.rng.choice(self.team["rep_ids"]), "stage": "won"}
        self.page("deal list filtered", "/deals/", params)


class Admin(Browser):
    """One admin among the users: company-wide pages over every deal."""

    fixed_count = 1

    def account(self, rng):
        return DATA["admin"], rng.choice(DATA["teams"])

    @task(4)
    def kpi_dashboard(self) -> None:
        params = self.rng.choice([{}, {"s": f"team:{self.team['id']}"}, {"period": "quarter"}])
        self.page("kpi dashboard", "/kpis/", params)

    @task(1)
    def team_goals(self) -> None:
        self.page("team goals", "/goals/team/")
