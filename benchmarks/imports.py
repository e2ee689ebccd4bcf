"""Deal import throughput against PostgreSQL's COPY, and the import's peak memory.

Generates a CSV of `--import-rows` deals (100,000 by default), imports it with
`manage.py import_deals --create-missing` in a child process on the configured database, then loads
the same file into a scratch table with COPY as the baseline. A second, larger file (`--deals` rows
unless `--import-memory-rows` says otherwise; 0 skips it) measures the import's peak memory.

Figures: import_rows_per_s, copy_rows_per_s, import_vs_copy_ratio, import_peak_rss_mb, import_cpu_s
(CPU seconds of the import process, i.e. the Python side without the database's own work),
import_db_floor_rows_per_s (the imported deals and history rows loaded again with COPY alone, in the
import's batches: the database's share of an import, which no Python can beat),
import_memory_rows, import_memory_peak_rss_mb, import_memory_rows_per_s.
Needs DATABASE_URL pointing at a PostgreSQL database (e.g. postgres://postgres@127.0.0.1/salesteam_bench).
"""

from __future__ import annotations

import csv
import datetime
import os
import random
import subprocess
import sys
import time
from pathlib import Path

from django.db import transaction

ROOT = Path(__file__).resolve().parent.parent
SOURCE = "bench"
REPS = 60
CUSTOMERS = 20_000
CATEGORIES = ["Hardware", "Software", "Services", "Support", "Training"]
CAMPAIGNS = [f"bench-campaign-{n}" for n in range(12)]
SEGMENTS = ["SMB", "Mid-market", "Enterprise", "Public"]
TOUCH_POINTS = ["web", "phone", "email", "event", "referral", "partner"]
HEADER = [
    "Opportunity ID", "Deal Name", "Owner", "Account ID", "Account Name", "Segment", "Product",
    "Campaign", "Lead Source", "Deal Stage", "Amount", "Cost", "Currency", "Created Date", "Close Date",
    "Lost Reason",
]  # fmt: skip
STAGES = [("Closed Won", 0.45), ("Closed Lost", 0.30), ("Prospecting", 0.08), ("Qualification", 0.07),
          ("Proposal", 0.05), ("Negotiation", 0.05)]  # fmt: skip


def add_arguments(parser) -> None:
    parser.add_argument("--import-rows", type=int, default=100_000, help="rows of the throughput file")
    parser.add_argument(
        "--import-memory-rows", type=int, default=None, help="rows of the peak-memory file (default --deals)"
    )


def generate(path: Path, rows: int, *, seed: int = 42) -> None:
    """Writes a deterministic CRM-like export of `rows` deals."""
    rng = random.Random(seed)
    start = datetime.date(2023, 1, 1)
    stages = [name for name, _share in STAGES]
    weights = [share for _name, share in STAGES]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for number in range(rows):
            stage = rng.choices(stages, weights)[0]
            created = start + datetime.timedelta(days=rng.randrange(700))
            closed = created + datetime.timedelta(days=rng.randrange(1, 120)) if "Closed" in stage else None
            customer = rng.randrange(CUSTOMERS)
            amount = rng.randrange(10_000, 5_000_000) / 100
            writer.writerow(
                [
                    f"OPP-{number:08d}",
                    f"Deal {number}",
                    f"bench.rep.{rng.randrange(REPS)}",
                    f"BC{customer:06d}",
                    f"Bench customer {customer}",
                    SEGMENTS[customer % len(SEGMENTS)],
                    rng.choice(CATEGORIES),
                    rng.choice(CAMPAIGNS) if rng.random() < 0.3 else "",
                    rng.choice(TOUCH_POINTS),
                    stage,
                    f"{amount:.2f}",
                    f"{amount * 0.4:.2f}",
                    "EUR",
                    created.isoformat(),
                    closed.isoformat() if closed else "",
                    "Price" if stage == "Closed Lost" else "",
                ]
            )


def prepare_database() -> None:
    """Reps and teams exist before the import (as in real use); earlier bench deals are removed."""
    from django.core.management import call_command
    from django.db import connection

    from salesteam.models import Membership, Role, Team, User

    call_command("migrate", verbosity=0, interactive=False)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM salesteam_historicaldeal WHERE source LIKE %s", [f"{SOURCE}%"])
        cursor.execute("DELETE FROM salesteam_deal WHERE source LIKE %s", [f"{SOURCE}%"])
        cursor.execute("DELETE FROM salesteam_historicalcustomer WHERE external_id LIKE 'BC%%'")
        cursor.execute(
            "DELETE FROM salesteam_customer c WHERE external_id LIKE 'BC%%' "
            "AND NOT EXISTS (SELECT 1 FROM salesteam_deal d WHERE d.customer_id = c.id)"
        )
        # Dead index entries of the deleted rows would slow the next import's unique checks.
        for table in ("salesteam_deal", "salesteam_historicaldeal", "salesteam_customer"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    teams = [Team.objects.get_or_create(name=f"Bench team {n}")[0] for n in range(4)]
    for number in range(REPS):
        user, created = User.objects.get_or_create(
            username=f"bench.rep.{number}", defaults={"role": Role.REP, "full_name": f"Bench Rep {number}"}
        )
        if created:
            Membership.objects.create(user=user, team=teams[number % 4], valid_from=datetime.date(2000, 1, 1))


def run_import(path: Path, *, source: str) -> tuple[float, float, float, str]:
    """Runs the import command in a child process: (seconds, peak RSS in MB, CPU seconds, output)."""
    command = [sys.executable, "manage.py", "import_deals", str(path), "--source", source, "--create-missing"]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = process.stdout.read()
    _pid, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"import_deals failed:\n{output}")
    return seconds, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime, output


def copy_baseline(path: Path) -> float:
    """Seconds to COPY the same CSV into a scratch table with the same typed columns."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_copy_scratch")
        cursor.execute(
            """CREATE TABLE bench_copy_scratch (
                external_id varchar(100), title varchar(200), rep varchar(150), customer_id varchar(100),
                customer_name varchar(200), segment varchar(100), category varchar(100),
                campaign varchar(50), touch_point varchar(32), stage varchar(32), amount numeric(14, 2),
                cost numeric(14, 2), currency varchar(3), created_on date, closed_on date,
                lost_reason varchar(200))"""
        )
        started = time.perf_counter()
        with (
            path.open("rb") as handle,
            cursor.cursor.copy("COPY bench_copy_scratch FROM STDIN (FORMAT csv, HEADER true)") as copy,
        ):
            while chunk := handle.read(1024 * 1024):
                copy.write(chunk)
        connection.commit() if not connection.get_autocommit() else None
        seconds = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_copy_scratch")
    return seconds


def database_floor() -> float:
    """Rows a second PostgreSQL takes for the deals the import just wrote, with no Python work at all.

    The imported deals and their history rows are read back, deleted and loaded again with COPY, in
    batches of IMPORT_BATCH_SIZE, each in its own transaction with `synchronous_commit = off`, as the
    import writes them: the indexes, constraints and foreign-key checks every imported deal costs."""
    from django.conf import settings
    from django.db import connection

    tables = ("salesteam_deal", "salesteam_historicaldeal")
    where = f"WHERE source = '{SOURCE}'"
    with connection.cursor() as cursor:
        rows = {}
        for table in tables:
            # COPY TO hands over one row per block.
            with cursor.cursor.copy(f"COPY (SELECT * FROM {table} {where}) TO STDOUT") as copy:
                rows[table] = [bytes(row) for row in copy]
        cursor.execute(f"DELETE FROM salesteam_historicaldeal {where}")
        cursor.execute(f"DELETE FROM salesteam_deal {where}")
        for table in tables:
            cursor.execute(f"VACUUM ANALYZE {table}")
    size = settings.IMPORT_BATCH_SIZE
    count = len(rows["salesteam_deal"])
    started = time.perf_counter()
    for first in range(0, count, size):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
            for table in tables:
                with cursor.cursor.copy(f"COPY {table} FROM STDIN") as copy:
                    copy.write(b"".join(rows[table][first : first + size]))
    return count / (time.perf_counter() - started)


def run(results: dict, args) -> None:
    from django.conf import settings

    if not settings.IS_POSTGRES:
        print(
            "imports: skipped, DATABASE_URL must point at PostgreSQL (e.g. postgres://postgres@127.0.0.1/salesteam_bench)"
        )
        return
    folder = Path(settings.VAR_DIR) / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    prepare_database()

    rows = args.import_rows
    path = folder / f"deals-{rows}.csv"
    if not path.exists():
        generate(path, rows)
    seconds, peak_mb, cpu_seconds, output = run_import(path, source=SOURCE)
    print(output.strip())
    results["import_rows_per_s"] = round(rows / seconds)
    results["import_peak_rss_mb"] = round(peak_mb, 1)
    results["import_cpu_s"] = round(cpu_seconds, 1)
    results["import_db_floor_rows_per_s"] = round(database_floor())
    copy_seconds = copy_baseline(path)
    results["copy_rows_per_s"] = round(rows / copy_seconds)
    results["import_vs_copy_ratio"] = round(results["import_rows_per_s"] / results["copy_rows_per_s"], 3)

    memory_rows = args.deals if args.import_memory_rows is None else args.import_memory_rows
    if memory_rows:
        path = folder / f"deals-{memory_rows}.csv"
        if not path.exists():
            generate(path, memory_rows, seed=7)
        seconds, peak_mb, _cpu_seconds, output = run_import(path, source=f"{SOURCE}-memory")
        print(output.strip())
        results["import_memory_rows"] = memory_rows
        results["import_memory_peak_rss_mb"] = round(peak_mb, 1)
        results["import_memory_rows_per_s"] = round(memory_rows / seconds)
