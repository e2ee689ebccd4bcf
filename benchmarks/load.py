"""Load benchmark: gunicorn and PostgreSQL under 50 browsing users, measured by locust.

    python -m benchmarks.run --only load --deals 1000000

The data set is the KPI benchmark's generator (`--deals` deals, 2,000 reps in 200 teams) with its
dates ending today, plus what the pages need: every rep and one manager per team can log in with
LOAD_PASSWORD, an admin, goals for the reps and teams of the first LOAD_TEAMS teams (agreed through
the goal services, one per team left waiting for approval), kudos, and the KPIs computed in process
by a full run whose follow-ups (goal progress, leaderboard snapshot, badges, bonus evaluation) run
eagerly. A database that already holds this data set for today and `--deals` is used as it is.

gunicorn serves the app on a free port of 127.0.0.1 with production settings (DEBUG=0, whitenoise
serving the collected static files, the requests arriving as from the TLS proxy), and locust runs
headless for a bounded time (benchmarks/locustfile.py: reps, managers and an admin log in, then browse
dashboards, goals, leaderboards, recognition and deal lists with filters and pages for
`--load-seconds`). The login form, the cheapest page there is, is the baseline measured in the same
run: the other figures read as ratios to it on a noisy machine. The CPU time gunicorn and PostgreSQL
spend per request does not grow with the queue and compares across runs.

Figures: load_rps, load_p50_ms, load_p95_ms, load_p99_ms, load_errors, load_requests, load_users,
load_pg_shared_buffers_mb, load_db_size_mb,
load_login_p50_ms, load_login_p95_ms, load_baseline_p95_ms, load_p95_vs_baseline,
load_server_cpu_ms_per_request, load_rps_per_free_core, and load_p95_ms_<page> for each page type.
"""

from __future__ import annotations

import csv
import datetime
import json
import logging
import math
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILE = ROOT / "benchmarks" / "locustfile.py"
LOAD_PASSWORD = "load-pass-2024"  # bench data only, like the demo password
LOAD_TEAMS = 20  # the teams whose people log in during the run; their reps and teams have goals
ADMIN = "load-admin"
BASELINE = "login form"
DAYS, CYCLE = 1000, 119  # the generator's spread of created dates and longest sales cycle


def add_arguments(parser) -> None:
    group = parser.add_argument_group("load")
    group.add_argument("--load-users", type=int, default=50, help="concurrent locust users")
    group.add_argument("--load-spawn-rate", type=int, default=10, help="users started per second")
    group.add_argument(
        "--load-seconds", type=int, default=60, help="measured browsing time, once every user has started"
    )
    group.add_argument(
        "--load-settle-seconds",
        type=int,
        default=5,
        help="pause between the last login and the measured browsing, for the logins' queue to drain",
    )
    group.add_argument(
        "--load-workers", type=int, default=2 * (os.cpu_count() or 1) + 1, help="gunicorn worker processes"
    )
    group.add_argument(
        "--load-regenerate", action="store_true", help="rebuild the data set even if it is there already"
    )
    group.add_argument(
        "--load-profile",
        action="store_true",
        help="instead of the load run, time each page in this process with its SQL queries",
    )


# --- Data ---------------------------------------------------------------------------------------------


def _marker(deals: int, today: datetime.date) -> str:
    return f"load:{deals}:{today.isoformat()}"


def prepare(deals: int, *, force: bool = False) -> None:
    """Makes sure the database holds the load data set of `deals` deals ending today."""
    from django.core.management import call_command
    from django.utils import timezone

    from salesteam.models import User

    call_command("migrate", verbosity=0)
    today = timezone.localdate()
    if not force and User.objects.filter(username=ADMIN, employee_id=_marker(deals, today)).exists():
        print("load data set already in place", flush=True)
        return
    from benchmarks import kpis as kpi_bench

    started = time.perf_counter()
    print(f"generating {deals:,} deals ending {today} …", flush=True)
    logging.disable(logging.INFO)  # a line per goal and task otherwise
    try:
        kpi_bench.generate(deals, start=today - datetime.timedelta(days=DAYS - 1 + CYCLE))
        _people()
        print(f"  data and people: {time.perf_counter() - started:.0f} s; goals and kudos …", flush=True)
        _goals_and_kudos(today)
        print(f"  goals and kudos: {time.perf_counter() - started:.0f} s; full KPI run …", flush=True)
        _compute_kpis()
        print(f"  KPIs and follow-ups: {time.perf_counter() - started:.0f} s", flush=True)
    finally:
        logging.disable(logging.NOTSET)
    # Last, so that an interrupted preparation is done again next time.
    User.objects.filter(username=ADMIN).update(employee_id=_marker(deals, today))


def _people() -> None:
    """Passwords for the generated reps, one manager per team and an admin."""
    from django.contrib.auth.hashers import make_password

    from salesteam.models import Role, Team, User

    # One hash for everyone: hashing thousands of passwords would take longer than the run.
    password = make_password(LOAD_PASSWORD)
    User.objects.filter(role=Role.REP).update(password=password)
    teams = list(Team.objects.all())
    managers = User.objects.bulk_create(
        [
            User(
                username=f"manager{team.name.split()[-1]}",
                role=Role.MANAGER,
                password=password,
                full_name=f"Manager of {team.name}",
            )
            for team in teams
        ]
    )
    links = Team.managers.through
    links.objects.bulk_create(
        [links(team_id=team.pk, user_id=user.pk) for team, user in zip(teams, managers, strict=True)]
    )
    User.objects.create(
        username=ADMIN, role=Role.ADMIN, is_staff=True, is_superuser=True, password=password,
        full_name="Load admin",
    )  # fmt: skip


def _load_teams():
    from salesteam.models import Team

    return list(Team.objects.filter(name__in=[f"Team {i}" for i in range(1, LOAD_TEAMS + 1)]).order_by("pk"))


def _goals_and_kudos(today: datetime.date) -> None:
    """Goals agreed through the services, as people make them: each rep of the load teams a revenue
    goal for the quarter, approved by the manager (one per team waits for approval), and each team
    a revenue goal for the year, approved by the admin; a few kudos in every load team."""
    from django.conf import settings

    from goals import services as goals
    from goals.demo import agree
    from goals.models import Goal
    from incentives import services as recognition
    from salesteam.celery import app
    from salesteam.models import User

    # The follow-ups of each step run here and now, and no e-mail leaves the process.
    app.conf.task_always_eager = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    quarter_first = datetime.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    quarter_last = (quarter_first + datetime.timedelta(days=95)).replace(day=1) - datetime.timedelta(days=1)
    admin = User.objects.get(username=ADMIN)
    for team in _load_teams():
        manager = team.managers.get()
        reps = list(User.objects.filter(memberships__team=team).order_by("pk"))
        for index, rep in enumerate(reps):
            goal = goals.goal_create(
                actor=rep, title="Revenue this quarter", why="Keep the pipeline converting.",
                metric="revenue", start_on=quarter_first, end_on=quarter_last,
                target_kind=Goal.TargetKind.RELATIVE, relative_change=Decimal("0.10"),
                baseline_kind=Goal.Baseline.LAST_YEAR,
            )  # fmt: skip
            agree(goal, owner=rep, approver=None, fallback_target=Decimal("150000"))
            if index:
                goals.goal_approve(actor=manager, goal=goal, acknowledge_warnings=True)
            if len(reps) > 1:
                colleague = reps[(index + 1) % len(reps)]
                recognition.kudos_give(sender=rep, recipient=colleague, message="Thanks for the handover!")
        team_goal = goals.goal_create(
            actor=manager, owner_team=team, title=f"{team.name}: revenue this year",
            why="The team's share of the plan.", metric="revenue",
            start_on=datetime.date(today.year, 1, 1), end_on=datetime.date(today.year, 12, 31),
            target_kind=Goal.TargetKind.RELATIVE, relative_change=Decimal("0.08"),
            baseline_kind=Goal.Baseline.LAST_YEAR,
        )  # fmt: skip
        agree(team_goal, owner=manager, approver=None, fallback_target=Decimal("2000000"))
        goals.goal_approve(actor=admin, goal=team_goal, acknowledge_warnings=True)


def _compute_kpis() -> None:
    """A full KPI run in this process; its follow-ups run eagerly (goal progress, leaderboard
    snapshot and badges, bonus evaluation), as the nightly run's workers would."""
    from kpis import services
    from kpis.models import KpiRun
    from salesteam.celery import app

    app.conf.task_always_eager = True
    run = services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, full=True, in_process=True)
    run.refresh_from_db()
    if run.status != KpiRun.Status.SUCCEEDED:
        raise SystemExit(f"KPI run failed: {run.error}")


def users_file(path: Path) -> None:
    """Writes who the locust users log in as: reps and managers of the load teams, and the admin."""
    from django.utils import timezone

    from goals.models import Goal
    from salesteam.models import Deal, User

    teams = []
    for team in _load_teams():
        reps = User.objects.filter(memberships__team=team).order_by("pk")
        teams.append(
            {
                "id": team.pk,
                "manager": team.managers.get().username,
                "reps": list(reps.values_list("username", flat=True)),
                "rep_ids": list(reps.values_list("pk", flat=True)),
                "goal_ids": list(Goal.objects.filter(owner_team=team).values_list("pk", flat=True)),
            }
        )
    days = Deal.objects.order_by("created_on").values_list("created_on", flat=True)
    path.write_text(
        json.dumps(
            {
                "password": LOAD_PASSWORD,
                "admin": ADMIN,
                "teams": teams,
                "first_day": days.first().isoformat(),
                "today": timezone.localdate().isoformat(),
            },
            indent=1,
        )
    )


# --- Server and load ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_env() -> dict[str, str]:
    """Production settings, on this machine: DEBUG off, a fresh key, only 127.0.0.1."""
    return {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }


def _wait_until_up(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(url, headers={"X-Forwarded-Proto": "https"})
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("gunicorn exited before serving")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise SystemExit(f"gunicorn did not answer on {url} within {timeout:.0f} s")


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def read_stats(path: Path) -> list[dict]:
    """Locust's per-name statistics (the last row is "Aggregated")."""
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _ms(row: dict, column: str) -> float:
    value = row.get(column, "N/A")
    return float(value) if value not in ("N/A", "") else 0.0


def report(rows: list[dict]) -> str:
    lines = [f"{'page':<28} {'requests':>8} {'req/s':>7} {'p50':>6} {'p95':>6} {'p99':>6} {'errors':>6}"]
    for row in rows:
        name = "overall" if row["Name"] == "Aggregated" else row["Name"]
        percentiles = " ".join(f"{_ms(row, column):>6.0f}" for column in ("50%", "95%", "99%"))
        lines.append(
            f"{name:<28} {row['Request Count']:>8} {float(row['Requests/s']):>7.1f}"
            f" {percentiles} {row['Failure Count']:>6}"
        )
    return "\n".join(lines)


def _locust(
    host: str,
    users_file: Path,
    *,
    users: int,
    rate: int,
    seconds: int,
    prefix: Path,
    server_pid: int,
    settle: int,
) -> None:
    """Runs locust headless: `users` start at `rate` per second and log in; `settle` seconds after the
    last one is in, they browse for `seconds` while measured, and locust stops (see the locustfile;
    -t only bounds a run whose logins hang). Its exit code is 1 when a request failed: the CSV
    statistics count them."""
    from django.conf import settings

    subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary",
         "-u", str(users), "-r", str(rate), "-t", f"{seconds + 600}s",
         "--host", host, "--csv", str(prefix), "--stop-timeout", "10", "--loglevel", "WARNING"],
        cwd=ROOT, timeout=3600,
        env={**os.environ, "LOAD_USERS_FILE": str(users_file), "LOAD_SECONDS": str(seconds),
             "LOAD_SETTLE_SECONDS": str(settle),
             "LOAD_RESULT_FILE": f"{prefix}_result.json", "LOAD_SERVER_PID": str(server_pid),
             "LOAD_DATABASE": settings.DATABASES["default"]["NAME"]},
    )  # fmt: skip


def _percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * share) - 1)] if ordered else 0.0


def profile_paths(data: dict) -> dict[str, list[str]]:
    """One path per page type and role, as the locustfile browses them."""
    team = data["teams"][0]
    year = data["today"][:4]
    shared = [
        "/accounts/login/", "/goals/", "/leaderboards/", "/leaderboards/?metric=conversion_ratio",
        f"/leaderboards/?metric=revenue&within=team:{team['id']}", "/leaderboards/?entity=team&period=year",
        "/deals/", f"/deals/?stage=won&closed_from={year}-01-01", "/deals/?page=7", "/deals/pipeline/",
        "/recognition/",
    ]  # fmt: skip
    return {
        team["reps"][1]: [*shared, "/kpis/", "/kpis/?period=quarter", "/earnings/"],
        team["manager"]: [
            *shared, "/kpis/", f"/kpis/?s=team:{team['id']}", f"/kpis/?s=rep:{team['rep_ids'][1]}",
            "/goals/team/", "/goals/approvals/", f"/deals/?rep={team['rep_ids'][1]}&stage=won",
        ],
        data["admin"]: [*shared, "/kpis/", f"/kpis/?s=team:{team['id']}", "/goals/team/"],
    }  # fmt: skip


def profile(data: dict, repeat: int = 3) -> None:
    """Renders each page of `profile_paths` `repeat` times after one warm-up, in this process, and
    prints its median time (wall and this process's CPU), its SQL queries and time (of the last
    rendering), and its slowest query."""
    import statistics

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from salesteam.models import User

    for username, paths in profile_paths(data).items():
        client = Client()
        client.force_login(User.objects.get(username=username))
        print(f"-- {username}")
        for path in paths:
            client.get(path, follow=True)
            timings, cpu = [], []
            for _ in range(repeat):
                with CaptureQueriesContext(connection) as queries:
                    started, started_cpu = time.perf_counter(), time.process_time()
                    response = client.get(path, follow=True)
                    timings.append((time.perf_counter() - started) * 1000)
                    cpu.append((time.process_time() - started_cpu) * 1000)
            sql = [(float(q["time"]) * 1000, q["sql"]) for q in queries.captured_queries]
            slowest = max(sql, default=(0.0, ""))
            print(
                f"{statistics.median(timings):7.0f} ms ({statistics.median(cpu):4.0f} CPU)"
                f" {response.status_code} {len(sql):3} queries {sum(t for t, _ in sql):6.0f} ms SQL  {path}\n"
                f"          slowest {slowest[0]:.0f} ms: {slowest[1][:300]}",
                flush=True,
            )


def _warm_buffers(cursor, results: dict) -> None:
    """Reads the database into PostgreSQL's shared buffers when it fits, as a server that has served
    the pages all day holds them (pg_prewarm). The buffers' size and the database's go into the figures:
    with the default 128 MB of buffers, the pages live in the OS cache, which some virtual machines'
    memory reclaim empties, and a page view then waits for the disk."""
    cursor.execute(
        "SELECT current_setting('shared_buffers', true), pg_size_bytes(current_setting('shared_buffers')),"
        " pg_database_size(current_database())"
    )
    setting, buffers, size = cursor.fetchone()
    results.update(load_pg_shared_buffers_mb=buffers // 2**20, load_db_size_mb=size // 2**20)
    print(f"PostgreSQL shared_buffers {setting}, database {size // 2**20} MB", flush=True)
    if size > buffers * 0.9:
        print("  the database does not fit in shared_buffers: pages come from the OS cache", flush=True)
        return
    cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
    cursor.execute(
        "SELECT sum(pg_prewarm(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i', 'm')"
    )


def run(results: dict, args) -> None:
    from django.conf import settings
    from django.db import connection

    if connection.vendor != "postgresql":
        raise SystemExit("The load benchmark needs DATABASE_URL pointing at PostgreSQL.")
    prepare(args.deals, force=args.load_regenerate)
    out = Path(settings.VAR_DIR) / "load"
    out.mkdir(exist_ok=True)
    users = out / "users.json"
    users_file(users)
    # As autovacuum keeps a production database (this server may run with it off): the visibility map
    # lets counts read indexes alone, and the planner's statistics cover the new rows.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")
        _warm_buffers(cursor, results)
    if args.load_profile:
        profile(json.loads(users.read_text()))
        return
    connection.close()

    env = _server_env()
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    port = _free_port()
    host = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "salesteam.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", str(args.load_workers), "--timeout", "60", "--log-level", "warning"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        _wait_until_up(f"{host}/accounts/login/", server)
        prefix = out / "load"
        for old in [*out.glob("*.csv"), *out.glob("*_result.json")]:
            old.unlink()
        # A short run first, not measured: each worker's first requests load templates and code.
        _locust(
            host, users, users=10, rate=10, seconds=20, prefix=out / "warmup", server_pid=server.pid, settle=0
        )
        print(
            f"locust: {args.load_users} users, {args.load_spawn_rate}/s, {args.load_seconds} s measured"
            f" against {host} ({args.load_workers} gunicorn workers)",
            flush=True,
        )
        _locust(
            host, users, users=args.load_users, rate=args.load_spawn_rate, seconds=args.load_seconds,
            prefix=prefix, server_pid=server.pid, settle=args.load_settle_seconds,
        )  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=60)

    rows = [row for row in read_stats(Path(f"{prefix}_stats.csv")) if int(row["Request Count"])]
    result = json.loads(Path(f"{prefix}_result.json").read_text())
    logins = result["logins"]
    login_ms = [login["ms"] for login in logins]
    login_errors = sum(not login["ok"] for login in logins)
    print(report(rows), flush=True)
    print(
        f"{len(logins)} logins while the users started: p50 {_percentile(login_ms, 0.5):.0f} ms,"
        f" p95 {_percentile(login_ms, 0.95):.0f} ms, {login_errors} errors",
        flush=True,
    )
    by_name = {row["Name"]: row for row in rows}
    total = by_name["Aggregated"]
    baseline = by_name.get(BASELINE)
    results.update(
        load_users=args.load_users,
        load_requests=int(total["Request Count"]),
        load_rps=round(float(total["Requests/s"]), 2),
        load_p50_ms=_ms(total, "50%"),
        load_p95_ms=_ms(total, "95%"),
        load_p99_ms=_ms(total, "99%"),
        load_errors=int(total["Failure Count"]) + login_errors,
        load_login_p50_ms=round(_percentile(login_ms, 0.5)),
        load_login_p95_ms=round(_percentile(login_ms, 0.95)),
    )
    if result.get("server_cpu_s") and int(total["Request Count"]):
        # CPU of gunicorn and PostgreSQL per page: what the machine's load cannot inflate much, unlike
        # the response times; 1000 / it is how many pages a second one free core would serve.
        cpu_ms = 1000 * result["server_cpu_s"] / int(total["Request Count"])
        print(f"server CPU: {cpu_ms:.1f} ms per request (gunicorn and PostgreSQL)", flush=True)
        results["load_server_cpu_ms_per_request"] = round(cpu_ms, 1)
        results["load_rps_per_free_core"] = round(1000 / cpu_ms, 1)
    if baseline is not None and _ms(baseline, "95%"):
        results["load_baseline_p95_ms"] = _ms(baseline, "95%")
        results["load_p95_vs_baseline"] = round(_ms(total, "95%") / _ms(baseline, "95%"), 2)
    for row in rows:
        if row["Name"] != "Aggregated":
            results[f"load_p95_ms_{_slug(row['Name'])}"] = _ms(row, "95%")
