"""Real Celery worker processes on the test database, a private Redis, and faults injected in PostgreSQL.

Each test gets its own redis-server on a free port (so restarting it disturbs nobody) and starts
`celery -A salesteam worker` processes in their own process group (so SIGKILL takes the pool with it),
pointed at pytest's test database through DATABASE_URL. Data is committed (transactional_db), so the
workers see it. Celery beat is played by the test: it sends `kpis.tasks.sweep` every second, and the
workers treat a shard as stale after a few seconds instead of six minutes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import kombu.exceptions
import kombu.pools
import psycopg
import pytest
import redis
from django.db import connection

from kpis.models import KpiRun
from salesteam.celery import app

REPO = Path(__file__).resolve().parents[2]
QUEUE = "celery"
STALE_SECONDS = 2


def pytest_collection_modifyitems(config, items):
    """These tests need PostgreSQL (triggers, advisory locks) and the redis-server binary."""
    here = Path(__file__).parent
    reasons = []
    if "postgres" not in os.environ.get("DATABASE_URL", ""):
        reasons.append("PostgreSQL (set DATABASE_URL)")
    if shutil.which("redis-server") is None:
        reasons.append("the redis-server binary")
    if not reasons:
        return
    if os.environ.get("CI") == "true":
        return  # under CI they run, and fail loudly on what is missing
    skip = pytest.mark.skip(reason="fault tests need " + " and ".join(reasons))
    for item in items:
        if Path(str(item.fspath)).parent == here:
            item.add_marker(skip)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], object], *, seconds: float, what: str, tick=None, log=None) -> object:
    """Polls `predicate` until it returns something true; `tick` runs on every round (e.g. the beat),
    `log` gives what to show when it times out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if tick is not None:
            tick()
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out after {seconds} s waiting for {what}" + (f"\n{log()}" if log else ""))


class RedisServer:
    """A redis-server of our own without persistence: a restart loses every queued message."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None
        self.client = redis.Redis(host="127.0.0.1", port=self.port)

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
             "no", "--dir", str(self.workdir), "--logfile", str(self.workdir / "redis.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_until(self._ping, seconds=10, what="redis-server to answer")

    def _ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except redis.ConnectionError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.client.connection_pool.disconnect()

    def restart(self) -> None:
        self.stop()
        self.start()

    def queued(self) -> int:
        return self.client.llen(QUEUE)

    def unacked(self) -> set[bytes]:
        return set(self.client.hkeys("unacked"))


class Worker:
    """`celery -A salesteam worker` in its own process group, logging to a file. Starting takes a few
    seconds; tasks sent meanwhile wait in Redis."""

    def __init__(self, name: str, env: dict[str, str], log: Path, concurrency: int) -> None:
        self.name = f"{name}@faults"
        self.log = log
        self.killed = False
        self._log_file = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "salesteam", "worker", "-n", self.name,
             "-c", str(concurrency), "--without-heartbeat", "--without-gossip", "--without-mingle",
             "-l", "INFO"],
            cwd=REPO,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def check(self) -> None:
        if not self.killed and self.process.poll() is not None:
            pytest.fail(f"worker {self.name} exited with {self.process.returncode}:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL to the worker and its pool processes at once: nothing is acknowledged or cleaned up."""
        self.killed = True
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self._log_file.close()


def database_url() -> str:
    """The test database (pytest-django's, not the configured one) as a DATABASE_URL."""
    db = connection.settings_dict
    auth = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@contextlib.contextmanager
def publishing_to(url: str) -> Iterator[None]:
    """Makes this process send tasks to `url` for real (not eagerly)."""
    saved = app.conf.broker_url, app.conf.task_always_eager

    def reset_pools() -> None:
        kombu.pools.reset()  # closes and forgets every cached connection and producer pool
        app._pool = None
        app.amqp._producer_pool = None

    reset_pools()
    app.conf.broker_url, app.conf.task_always_eager = url, False
    try:
        yield
    finally:
        reset_pools()
        app.conf.broker_url, app.conf.task_always_eager = saved


class Cluster:
    """The private Redis, the workers started on it, and the beat played by the test."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.redis = RedisServer(tmp_path)
        self.workers: list[Worker] = []
        self.dead_messages: set[bytes] = set()
        self._last_sweep = 0.0

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": database_url(),
            "REDIS_URL": self.redis.url,
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "VAR_DIR": str(self.tmp_path),  # MEDIA_ROOT is VAR_DIR/media, as in the test process
            "KPI_SHARD_STALE_SECONDS": str(STALE_SECONDS),
            "KPI_PLAN_STALE_SECONDS": str(STALE_SECONDS),
            # Every sweep takes over a shard held longer than STALE_SECONDS (at a gate): not a failure.
            "KPI_SHARD_MAX_ATTEMPTS": "100",
            "AXES_ENABLED": "0",
            "PYTHONUNBUFFERED": "1",
            **extra,
        }

    def start_worker(self, name: str, *, concurrency: int = 2, **env: str) -> Worker:
        worker = Worker(name, self.env(**env), self.tmp_path / f"{name}.log", concurrency)
        self.workers.append(worker)
        return worker

    def kill(self, worker: Worker) -> None:
        worker.kill()
        # What the killed worker had taken stays unacknowledged in Redis until its visibility timeout.
        self.dead_messages |= self.redis.unacked()

    def send(self, task_name: str, *args) -> None:
        app.send_task(task_name, args=args)

    def check_workers(self) -> None:
        for worker in self.workers:
            worker.check()

    def beat(self) -> None:
        """What Celery beat does every minute, once a second: the sweeper."""
        self.check_workers()
        if time.monotonic() - self._last_sweep >= 1:
            self._last_sweep = time.monotonic()
            with contextlib.suppress(kombu.exceptions.OperationalError):  # Redis restarting: next tick
                self.send("kpis.tasks.sweep")

    def idle(self) -> bool:
        """Nothing queued and nothing taken by a live worker (Redis keeps taken messages until acked)."""
        try:
            return self.redis.queued() == 0 and not (self.redis.unacked() - self.dead_messages)
        except redis.ConnectionError:
            return False

    def wait_for_run(self, *, newer_than: int = 0, seconds: float = 60, idle: bool = True) -> KpiRun:
        """Waits for a run after `newer_than` (an id) to close, then (`idle`) for its follow-up tasks
        and anything else sent to finish."""

        def closed() -> KpiRun | None:
            run = KpiRun.objects.filter(pk__gt=newer_than).order_by("-pk").first()
            return run if run and run.status != KpiRun.Status.RUNNING else None

        run = wait_until(closed, seconds=seconds, what="the KPI run to finish", tick=self.beat, log=self.logs)
        if idle:
            self.wait_idle()
        return run

    def wait_at(self, gate: Gate) -> None:
        """Waits, playing beat meanwhile, until a transaction (a shard's) is held at the gate."""
        wait_until(gate.waiting, seconds=60, what="a shard to reach the gate", tick=self.beat, log=self.logs)

    def wait_idle(self, seconds: float = 60) -> None:
        # Twice in a row: a chained task is sent before the one before it is acknowledged.
        wait_until(
            lambda: self.idle() and (time.sleep(0.3) or self.idle()),
            seconds=seconds,
            what="idle workers",
            tick=self.check_workers,
            log=self.logs,
        )

    def logs(self) -> str:
        return "\n".join(f"--- {w.name}\n{w.tail()}" for w in self.workers)

    def close(self) -> None:
        for worker in self.workers:
            worker.kill()  # the test is over: nothing they hold matters any more
        self.redis.stop()


@pytest.fixture
def cluster(transactional_db, tmp_path, settings) -> Iterator[Cluster]:
    settings.MEDIA_ROOT = tmp_path / "media"
    cluster = Cluster(tmp_path)
    cluster.redis.start()
    try:
        with publishing_to(cluster.redis.url):
            yield cluster
    finally:
        cluster.close()
        _end_worker_connections()


def _end_worker_connections() -> None:
    """Backends of killed workers can outlive them until PostgreSQL notices; the flush after the test
    and the removal of the test database need them gone."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


class Gate:
    """A trigger that makes the transaction writing one row of a table wait on an advisory lock the
    test holds (a shard or an import batch stopped halfway), or fail with a database error."""

    KEY = 72_410_001

    def __init__(self) -> None:
        self.control = psycopg.connect(_conninfo(), autocommit=True)
        self.installed: list[tuple[str, str]] = []

    @staticmethod
    def kpi_row(period_type: str, start, op: str = "=", scope_type: str = "company") -> str:
        """The condition matching the company's (or another scope type's) KPI rows of a period, which
        the shard of its scope type writes."""
        return (
            f"NEW.scope_type = '{scope_type}' AND NEW.period_type = '{period_type}' "
            f"AND NEW.period_start {op} '{start}'"
        )

    def install(
        self, *, table: str, when: str, action: str = "wait", message: str = "", sqlstate: str = "P0001"
    ) -> None:
        name = f"faults_{action}_{len(self.installed)}"
        if action == "wait":
            body = f"PERFORM pg_advisory_xact_lock_shared({self.KEY});"
        else:
            body = f"RAISE EXCEPTION USING ERRCODE = '{sqlstate}', MESSAGE = '{message}';"
        with self.control.cursor() as cursor:
            cursor.execute(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body} RETURN NEW; "
                f"END $$; CREATE TRIGGER {name} BEFORE INSERT ON {table} FOR EACH ROW WHEN ({when}) "
                f"EXECUTE FUNCTION {name}();"
            )
        self.installed.append((table, name))

    def remove(self, *, action: str | None = None) -> None:
        with self.control.cursor() as cursor:
            for table, name in list(self.installed):
                if action is None or name.startswith(f"faults_{action}_"):
                    cursor.execute(f"DROP TRIGGER {name} ON {table}; DROP FUNCTION {name}();")
                    self.installed.remove((table, name))

    def close(self) -> None:
        self.control.execute("SELECT pg_advisory_lock(%s)", [self.KEY])

    def open(self) -> None:
        self.control.execute("SELECT pg_advisory_unlock_all()")

    def waiting(self) -> int:
        """How many transactions wait at the gate."""
        return self.control.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = %s",
            [self.KEY],
        ).fetchone()[0]

    def dispose(self) -> None:
        self.open()
        self.remove()
        self.control.close()


def _conninfo() -> str:
    return database_url().replace("postgres://", "postgresql://", 1)


@pytest.fixture
def gate(cluster) -> Iterator[Gate]:
    gate = Gate()
    try:
        yield gate
    finally:
        gate.dispose()
