"""KPI engine benchmark on PostgreSQL.

Generates `--deals` deals (2,000 reps in 200 teams, 200,000 customers, 50 campaigns, 3 years) with SQL,
then measures in one run:
  (a) a full recompute in one process, and on 1 and 2 Celery worker processes,
  (b) an incremental run after 1,000 deals of the last month changed,
  (c) the floor: one SQL statement that reads every deal once and sums amount, cost and counts by rep
      and month.
Durations of runs come from the KpiRun row (start to publish), so process start-up is not counted.
Figures: kpi_full_s, kpi_incremental_s, kpi_floor_s, kpi_full_1worker_s, kpi_full_2workers_s,
kpi_peak_rss_mb, kpi_full_vs_floor, kpi_full_2workers_vs_floor, kpi_incremental_vs_full, kpi_rows.
"""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEAMS, REPS, CUSTOMERS, CAMPAIGNS = 200, 2000, 200_000, 50


def add_arguments(parser) -> None:
    parser.add_argument("--kpi-skip-workers", action="store_true", help="skip the Celery worker runs")


def _sql(statements: list[str]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def generate(deals: int, *, start: datetime.date = datetime.date(2023, 1, 1)) -> None:
    """Replaces all data with a synthetic, deterministic data set of `deals` deals.

    Deals are created over the 1,000 days from `start` and closed up to 119 days later, and were last
    saved then (not today: an incremental run looks at what was saved since shortly before the last
    run); campaigns run from `start` on. The KPI benchmark keeps the fixed default; the load benchmark
    ends the data today.
    """
    from django.core.management import call_command

    first = f"DATE '{start.isoformat()}'"
    call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", verbosity=0)
    _sql(
        [
            "SELECT setseed(0.42)",
            f"INSERT INTO salesteam_team (name) SELECT 'Team ' || i FROM generate_series(1, {TEAMS}) i",
            "INSERT INTO salesteam_user (password, is_superuser, username, first_name, last_name, email,"
            " is_staff, is_active, date_joined, role, full_name, employee_id, language)"
            f" SELECT '!', false, 'rep' || i, '', '', '', false, true, now(), 'rep', 'Rep ' || i, '', ''"
            f" FROM generate_series(1, {REPS}) i",
            "INSERT INTO salesteam_membership (user_id, team_id, valid_from)"
            " SELECT u.id, t.id, DATE '2020-01-01' FROM salesteam_user u"
            " JOIN salesteam_team t ON t.name = 'Team ' || (1 + (substr(u.username, 4)::int % 200))",
            "INSERT INTO salesteam_segment (name) SELECT 'Segment ' || i FROM generate_series(1, 6) i",
            "INSERT INTO salesteam_category (name) SELECT 'Category ' || i FROM generate_series(1, 8) i",
            # Seven touch points of its own: flush removed those the migrations seeded into a new
            # database, which a database used before no longer has.
            "DELETE FROM salesteam_touchpoint",
            "INSERT INTO salesteam_touchpoint (code, name)"
            " SELECT 'touch-' || i, 'Touch point ' || i FROM generate_series(1, 7) i",
            "INSERT INTO salesteam_customer (external_id, name, segment_id)"
            " SELECT 'C' || i, 'Customer ' || i, (SELECT min(id) FROM salesteam_segment) + i % 6"
            f" FROM generate_series(1, {CUSTOMERS}) i",
            "INSERT INTO salesteam_campaign (code, name, channel, cost, start_on, end_on, updated_at)"
            " SELECT 'c' || i, 'Campaign ' || i, 'email', 1000 + i * 250,"
            f" {first} + i * 20, {first} + i * 20 + 30 + i, now()"
            f" FROM generate_series(1, {CAMPAIGNS}) i",
            "CREATE TEMP TABLE bench_ids AS SELECT"
            " (SELECT min(id) FROM salesteam_user WHERE username LIKE 'rep%%') AS rep0,"
            " (SELECT min(id) FROM salesteam_customer) AS cust0,"
            " (SELECT min(id) FROM salesteam_campaign) AS camp0,"
            " (SELECT min(id) FROM salesteam_category) AS cat0,"
            " (SELECT min(id) FROM salesteam_touchpoint) AS tp0",
            f"""
            INSERT INTO salesteam_deal (source, external_id, title, rep_id, team_id, customer_id, campaign_id,
                touch_point_id, category_id, stage, currency, amount_original, cost_original,
                exchange_rate, amount, cost, created_on, closed_on, lost_reason, created_at, updated_at)
            SELECT 'bench', g.i::text, '', g.rep, m.team_id, g.customer, g.campaign, g.tp, g.cat, g.stage,
                'EUR', g.amount, g.cost, 1, g.amount, g.cost, g.created,
                CASE WHEN g.stage IN ('won', 'lost') THEN g.created + g.cycle END, '',
                g.created::timestamptz, LEAST(g.created + g.cycle, CURRENT_DATE)::timestamptz
            FROM (
                SELECT i, b.rep0 + floor(random() * {REPS})::int AS rep,
                    b.cust0 + floor(random() * {CUSTOMERS})::int AS customer,
                    CASE WHEN random() < 0.3 THEN b.camp0 + floor(random() * {CAMPAIGNS})::int END
                        AS campaign,
                    b.tp0 + floor(random() * 7)::int AS tp, b.cat0 + floor(random() * 8)::int AS cat,
                    (ARRAY['won','won','won','lost','lost','lead','proposal'])[1 + floor(random() * 7)::int]
                        AS stage,
                    round((100 + random() * 20000)::numeric, 2) AS amount,
                    round((random() * 8000)::numeric, 2) AS cost,
                    {first} + floor(random() * 1000)::int AS created,
                    floor(random() * 120)::int AS cycle
                FROM generate_series(1, {deals}) i, bench_ids b
            ) g JOIN salesteam_membership m ON m.user_id = g.rep
            """,
            "DROP TABLE bench_ids",
            "ANALYZE",
        ]
    )


def _floor_seconds() -> float:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rep_id, date_trunc('month', closed_on), SUM(amount), SUM(cost), COUNT(*),"
            " SUM(CASE WHEN stage = 'won' THEN 1 ELSE 0 END) FROM salesteam_deal GROUP BY 1, 2"
        )
        cursor.fetchall()
    return time.perf_counter() - started


def _warm_cache() -> None:
    """Reads every table and index into the OS cache (pg_prewarm), as the floor's three runs have
    just read the deals: the full run is then timed on the same warm data as the floor. Without it,
    a machine that pages out the cache of files it has not read for a minute (some virtual machines'
    memory reclaim does) makes the first run read indexes and customers from the disk."""
    _sql(
        [
            "CREATE EXTENSION IF NOT EXISTS pg_prewarm",
            "SELECT sum(pg_prewarm(c.oid, 'read')) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i')",
        ]
    )


def _child(args: list[str], env: dict | None = None) -> float:
    """Runs manage.py in a child process; returns its peak RSS in MB."""
    process = subprocess.Popen([sys.executable, "manage.py", *args], cwd=ROOT, env=env or os.environ.copy())
    _pid, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed")
    return usage.ru_maxrss / 1024


def _last_run_seconds() -> float:
    from kpis.models import KpiRun

    run = KpiRun.objects.order_by("-pk").first()
    assert run.status == KpiRun.Status.SUCCEEDED, run.error
    return (run.finished_at - run.started_at).total_seconds()


def _peak_rss_of_tree(pid: int) -> float:
    """Highest VmHWM (peak RSS) among a process and its children, in MB."""
    peaks = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        if str(pid) in (fields.get("Pid", "").strip(), fields.get("PPid", "").strip()):
            peaks.append(int(fields.get("VmHWM", "0 kB").split()[0]) / 1024)
    return max(peaks, default=0.0)


def _worker_run(concurrency: int) -> tuple[float, float]:
    from kpis.models import KpiRun

    env = {**os.environ, "CELERY_TASK_ALWAYS_EAGER": "0"}
    # --purge: the follow-up tasks of the benchmark's earlier runs (goals, recognition, bonuses) wait
    # in the queue; without it the worker ran them first and the KPI run waited behind them.
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "salesteam", "worker", "-c", str(concurrency),
         "--loglevel=WARNING", "-n", f"bench{concurrency}@%h", "--purge"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        time.sleep(5)
        _warm_cache()
        _child(["compute_kpis", "--full", "--enqueue"], env)
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline:
            run = KpiRun.objects.order_by("-pk").first()
            if run.status != KpiRun.Status.RUNNING:
                break
            time.sleep(0.5)
        peak = _peak_rss_of_tree(worker.pid)
        return _last_run_seconds(), peak
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)


def run(results: dict, args) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        raise SystemExit("The KPI benchmark needs DATABASE_URL pointing at PostgreSQL.")
    print(f"generating {args.deals:,} deals …", flush=True)
    generate(args.deals)
    floor = min(_floor_seconds() for _ in range(3))

    _warm_cache()
    peak = _child(["compute_kpis", "--full"])
    full = _last_run_seconds()
    _sql(
        [
            "UPDATE salesteam_deal SET amount = amount + 1, amount_original = amount_original + 1,"
            " updated_at = now() WHERE id IN (SELECT id FROM salesteam_deal"
            " WHERE closed_on >= (SELECT max(closed_on) - 30 FROM salesteam_deal) ORDER BY id LIMIT 1000)"
        ]
    )
    peak = max(peak, _child(["compute_kpis"]))
    incremental = _last_run_seconds()
    from kpis.models import KpiValue

    results.update(
        kpi_deals=args.deals,
        kpi_rows=KpiValue.objects.count(),
        kpi_floor_s=round(floor, 3),
        kpi_full_s=round(full, 3),
        kpi_incremental_s=round(incremental, 3),
        kpi_full_vs_floor=round(full / floor, 2),
        kpi_incremental_vs_full=round(incremental / full, 4),
    )
    if not args.kpi_skip_workers and os.environ.get("REDIS_URL"):
        one, peak_one = _worker_run(1)
        two, peak_two = _worker_run(2)
        peak = max(peak, peak_one, peak_two)
        results.update(
            kpi_full_1worker_s=round(one, 3),
            kpi_full_2workers_s=round(two, 3),
            kpi_2workers_vs_1=round(two / one, 3),
            # The floor runs on three processes (a parallel plan); two workers use the two cores too.
            kpi_full_2workers_vs_floor=round(two / floor, 2),
        )
    results["kpi_peak_rss_mb"] = round(peak, 1)
