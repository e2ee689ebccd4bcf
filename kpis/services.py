"""KPI runs: open a run, plan its shards, compute each shard, publish the run. State lives in the database.

A run is planned (which periods changed since the last successful run) and split into shards, one per
group of scope types (KPI_SHARD_SCOPE_GROUPS), each over every period type of the run's calendar years.
Each shard recomputes and replaces its KpiValue rows in one transaction, so any shard may run twice.
The shard that finishes last publishes the run (a counter on the run row, updated under a row lock)
and triggers the follow-up tasks. A sweeper re-enqueues shards whose heartbeat went stale, so a lost
message or a killed worker only delays a run.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import multiprocessing
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor

from celery import chain
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import DatabaseError, IntegrityError, connection, connections, transaction
from django.db.models import F, Max, Min, Q
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from kpis import changes, engine
from kpis.models import CountedDeal, KpiRun, KpiShard, KpiValue, PeriodType, ScopeType
from salesteam.models import Campaign, User

logger = logging.getLogger(__name__)

WORK_MEM = "256MB"
SHARD_LOCK = 0x4B5049  # class of the PostgreSQL advisory locks taken by shards ("KPI")


# --- Starting and planning ---------------------------------------------------------------------------


def kpi_run_start(
    *,
    trigger: str,
    user: User | None = None,
    full: bool = False,
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
    in_process: bool = False,
    jobs: int = 1,
) -> KpiRun:
    """Opens a KPI run and has it planned and computed.

    Refuses with a ValidationError while another run is open (one run at a time, enforced by a partial
    unique index). By default the planning and the shards run as Celery tasks enqueued after commit;
    `in_process=True` computes everything in this process before returning (command line, tests), `jobs`
    shards at once.
    """
    if (date_from is None) != (date_to is None) or (date_from and date_to and date_from >= date_to):
        raise ValidationError(_("Give both a start and an end date, the end after the start."))
    try:
        with transaction.atomic():
            run = KpiRun.objects.create(
                trigger=trigger, started_by=user, full=full, date_from=date_from, date_to=date_to
            )
    except IntegrityError:
        running = KpiRun.objects.filter(is_open=True).first()
        since = timezone.localtime(running.started_at).strftime("%H:%M") if running else ""
        raise ValidationError(
            _("A KPI run is already in progress (started at %(time)s); try again when it has finished.")
            % {"time": since}
        ) from None
    if in_process:
        try:
            kpi_run_plan(run_id=run.pk, in_process=True, jobs=jobs)
        except Exception as error:
            kpi_run_fail(run_id=run.pk, error=f"{type(error).__name__}: {error}")
            raise
        run.refresh_from_db()
    else:
        from kpis.tasks import plan_run

        transaction.on_commit(lambda: plan_run.delay(run.pk))
    return run


def kpi_run_plan(*, run_id: int, in_process: bool = False, jobs: int = 1) -> None:
    """Works out what to recompute, brings the counted deals (and the changed customers' first wins) up
    to date where the run recomputes periods, creates the shards and starts them: `jobs` at once here
    with `in_process`, else as Celery tasks.

    A full run (and a run after a failed one that left periods half written, or after changes to more
    customers than KPI_CHANGES_MAX_CUSTOMERS) recomputes every year; a run over a date range the years
    of the range and of the changes; an incremental run has one shard that applies the changed
    customers' differences (`kpis.changes`). Idempotent: a run that already has shards only has its
    unfinished shards enqueued again.
    """
    with transaction.atomic():
        run = KpiRun.objects.select_for_update().get(pk=run_id)
        if run.status != KpiRun.Status.RUNNING:
            return
        if not run.shards.exists():
            windows, by_changes = _plan(run)
            run.periods = {
                ptype: [start.isoformat(), end.isoformat()] for ptype, (start, end) in windows.items()
            }
            if by_changes and windows:
                first = min(start for start, _end in windows.values())
                last = max(end for _start, end in windows.values())
                shards = [
                    run.shards.create(
                        changes=True, window_from=first, window_to=last, heartbeat_at=timezone.now()
                    )
                ]
            elif windows:
                years = _years(windows.values())
                shards = KpiShard.objects.bulk_create(
                    KpiShard(
                        run=run,
                        scope_types=scope_types,
                        completes_copy=run.full and number == 0,
                        window_from=datetime.date(years[0], 1, 1),
                        window_to=datetime.date(years[-1] + 1, 1, 1),
                        heartbeat_at=timezone.now(),
                    )
                    for number, scope_types in enumerate(scope_groups())
                )
            else:
                shards = []
            run.shards_total = len(shards)
            run.save(update_fields=["periods", "shards_total"])
            if run.shards_total == 0:
                _publish(run)
                return
    unfinished = run.shards.exclude(status=KpiShard.Status.DONE).order_by("pk")  # in the order planned
    shard_ids = list(unfinished.values_list("pk", flat=True))
    if in_process:
        _compute_here(shard_ids, jobs=jobs)
    else:
        from kpis.tasks import compute_shard

        for shard_id in shard_ids:
            compute_shard.delay(shard_id)


def scope_groups() -> list[list[str]]:
    """The scope types of each shard of a run that recomputes periods (KPI_SHARD_SCOPE_GROUPS), checked
    to hold every scope type once."""
    groups = [list(group) for group in settings.KPI_SHARD_SCOPE_GROUPS]
    listed = [scope_type for group in groups for scope_type in group]
    if sorted(listed) != sorted(ScopeType.values) or not all(groups):
        raise ImproperlyConfigured(
            f"KPI_SHARD_SCOPE_GROUPS must hold each of {', '.join(ScopeType.values)} once,"
            " in groups that are not empty"
        )
    return groups


def _compute_here(shard_ids: list[int], *, jobs: int) -> None:
    """Computes shards from here: `jobs` at once, each in a process forked from this one, like a
    worker's (threads would take turns for the Python part of their work), with a database connection
    of its own (PostgreSQL, outside a transaction: another connection sees only what is committed);
    or one after the other in this process."""
    jobs = min(jobs, len(shard_ids))
    if jobs <= 1 or connection.vendor != "postgresql" or connection.in_atomic_block:
        for shard_id in shard_ids:
            kpi_shard_compute(shard_id=shard_id)
        return
    connections.close_all()  # not shared with the processes: each opens its own
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork")) as pool:
        for _rows in pool.map(_compute_in_forked_process, shard_ids):
            pass  # re-raises a shard's error here


def _compute_in_forked_process(shard_id: int) -> int:
    """One shard in a forked process. A failure is recorded on the shard and the run here, as a worker's
    task does: what reaches the parent process is the exception, if it survives pickling."""
    try:
        return kpi_shard_compute(shard_id=shard_id)
    except Exception as error:
        with contextlib.suppress(DatabaseError):  # the connection may be what failed
            kpi_shard_fail(shard_id=shard_id, error=f"{type(error).__name__}: {error}")
        raise
    finally:
        connections.close_all()


def _plan(run: KpiRun) -> tuple[dict[str, tuple[datetime.date, datetime.date]], bool]:
    """The window of period starts to recompute for each period type, and whether one shard applies the
    changes as differences instead of recomputing the windows."""
    since = None if run.full else _changes_since(run)
    customers = sorted(changes.changed_customers(since)) if since else []
    if since is None or len(customers) > settings.KPI_CHANGES_MAX_CUSTOMERS:
        run.full = True
        run.save(update_fields=["full"])
        changes.count_deals()
        bounds = CountedDeal.objects.aggregate(  # the deals just copied, through their date indexes
            lo=Min("created_on"), hi=Max("created_on"), closed_lo=Min("closed_on"), closed_hi=Max("closed_on")
        )
        campaigns = Campaign.objects.aggregate(lo=Min("start_on"), hi=Max("end_on"))
        days = [day for day in (*bounds.values(), *campaigns.values()) if day]
        if (bonus_costs := engine.bonus_cost_source()) is not None:
            days += bonus_costs.period_bounds()
        return (_windows_covering(days) if days else {}), False
    # The first and last days of the changed customers' deals, as counted and as they are now (a new
    # segment or first win moves all of them), and the days of the costs that changed.
    days = changes.deal_days(customers) | cost_days_since(since)
    engine.refresh_first_wins(customers)
    if run.date_from is None or run.date_to is None:
        return _windows_covering(days), True
    # A range to recompute: its years and those of the changed customers' deals, from their counted
    # deals brought up to date.
    changes.count_deals(customers)
    days |= {run.date_from, run.date_to - datetime.timedelta(days=1)}
    return _windows_covering(days), False


def _changes_since(run: KpiRun) -> datetime.datetime | None:
    """From when on changes must be looked for, or None when the stored rows may not match the counted
    deals (no successful run that kept them, or a failed run that recomputed periods since): then every
    period is recomputed. A little before the last successful run started, so that a deal saved just
    before but committed after it is not missed."""
    last = (
        KpiRun.objects.filter(status=KpiRun.Status.SUCCEEDED, started_at__lt=run.started_at)
        .order_by("-started_at")
        .first()
    )
    if last is None or not last.counted:
        return None
    half_written = KpiShard.objects.filter(
        run__status=KpiRun.Status.FAILED, run__started_at__gt=last.started_at, changes=False
    )
    if half_written.exists():
        return None
    return last.started_at - datetime.timedelta(seconds=settings.KPI_CHANGES_MARGIN_SECONDS)


def cost_days_since(since: datetime.datetime) -> set[datetime.date]:
    """Days whose campaign or bonus cost changed since `since`: every day of a campaign changed since
    (a day per month is enough), and the periods of bonus awards approved or paid since."""
    days: set[datetime.date] = set()
    if (bonus_costs := engine.bonus_cost_source()) is not None:
        days |= bonus_costs.days_changed_since(since)
    campaign_history = Campaign.history.model
    changed_campaigns = campaign_history.objects.filter(history_date__gte=since).values_list("id", flat=True)
    for start_on, end_on in campaign_history.objects.filter(id__in=list(changed_campaigns)).values_list(
        "start_on", "end_on"
    ):
        day = start_on
        while day <= end_on:
            days.add(day)
            day = engine.period_end(PeriodType.MONTH, day.replace(day=1))
        days.add(end_on)
    return days


def _years(windows: Iterable[tuple[datetime.date, datetime.date]]) -> list[int]:
    """The calendar years in which the windows' periods start: the shards' window."""
    years: set[int] = set()
    for start, end in windows:
        years.update(range(start.year, (end - datetime.timedelta(days=1)).year + 1))
    return sorted(years)


def _windows_covering(days: Iterable[datetime.date]) -> dict[str, tuple[datetime.date, datetime.date]]:
    """For each period type, the window of period starts from the earliest touched period to the one
    after the latest (whose retention and churn depend on it)."""
    days = list(days)
    if not days:
        return {}
    windows = {}
    for period_type in PeriodType.values:
        starts = {engine.period_start(period_type, day) for day in days}
        first, last = min(starts), max(starts)
        windows[period_type] = (first, engine.period_end(period_type, engine.period_end(period_type, last)))
    return windows


# --- Shards ------------------------------------------------------------------------------------------


def kpi_shard_compute(*, shard_id: int) -> int:
    """Recomputes one shard's KPI rows and replaces them; publishes the run if it was the last shard.

    Idempotent: a shard that is done, or running elsewhere with a fresh heartbeat, is skipped, and a
    shard computed twice writes the same rows. Returns the number of rows written.
    """
    now = timezone.now()
    stale_after = datetime.timedelta(seconds=settings.KPI_SHARD_STALE_SECONDS)
    claimed = (
        KpiShard.objects.filter(pk=shard_id, run__status=KpiRun.Status.RUNNING)
        .filter(
            Q(status=KpiShard.Status.PENDING)
            | Q(status=KpiShard.Status.RUNNING, heartbeat_at__lt=now - stale_after)
        )
        .update(status=KpiShard.Status.RUNNING, attempts=F("attempts") + 1, heartbeat_at=now)
    )
    if not claimed:
        logger.info("KPI shard %s is done, failed or busy elsewhere; skipping", shard_id)
        return 0
    shard = KpiShard.objects.get(pk=shard_id)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # Two workers can hold the same shard (the sweeper hands a slow one to another worker), or
                # shards of two runs can cover the same scope type (a run failed while its other shards ran
                # on): they replace a scope type's rows one after the other, never together.
                for key in _lock_keys(shard):
                    cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [SHARD_LOCK, key])
                # The grouping passes hash every deal once per scope type; keep them in memory.
                cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
            if not KpiShard.objects.filter(
                pk=shard.pk, status=KpiShard.Status.RUNNING, run__status=KpiRun.Status.RUNNING
            ).exists():
                logger.info("KPI shard %s was finished elsewhere while this one waited; skipping", shard_id)
                return 0
        rows = _apply_changes(shard) if shard.changes else _recompute(shard)
        finished = KpiShard.objects.filter(pk=shard.pk, status=KpiShard.Status.RUNNING).update(
            status=KpiShard.Status.DONE, rows_written=rows, heartbeat_at=timezone.now()
        )
        if finished:
            KpiRun.objects.filter(pk=shard.run_id).update(
                shards_done=F("shards_done") + 1, rows_written=F("rows_written") + rows
            )
            run = KpiRun.objects.select_for_update().get(pk=shard.run_id)
            if run.status == KpiRun.Status.RUNNING and run.shards_done >= run.shards_total:
                _publish(run)
    return rows


def _recompute(shard: KpiShard) -> int:
    """Replaces the rows of the periods that start in the shard's window by a computation over the
    counted deals (having completed the copy of the deals, for the shard that does)."""
    if shard.completes_copy:
        changes.complete_copy()
    computed = engine.compute_calendar(
        shard.scope_types,
        date_from=shard.window_from,
        date_to=shard.window_to,
        source=engine.counted_source(),
    )
    KpiValue.objects.filter(
        scope_type__in=shard.scope_types,
        period_start__gte=shard.window_from,
        period_start__lt=shard.window_to,
    ).delete()
    return changes.write_values(
        ((scope_type, scope_id, period_type, start), parts)
        for period_type, by_scope in computed.items()
        for scope_type, values in by_scope.items()
        for (scope_id, start), parts in values.items()
    )


def _apply_changes(shard: KpiShard) -> int:
    """Applies what changed since the last successful run; the changes are looked up again here, so
    that a shard run twice, or late, applies what is there to apply then."""
    since = _changes_since(shard.run)
    if since is None:  # a full run has run since this one was planned: it can only be repeated
        raise RuntimeError(_("The stored figures changed since this run was planned; start a new run."))
    customers = sorted(changes.changed_customers(since))
    return changes.apply_changes(customers, cost_days_since(since))


def _lock_keys(shard: KpiShard) -> list[int]:
    """The advisory locks of the rows a shard replaces, one per scope type (taken in this order, so that
    two shards never wait for each other's); 0 for a shard that applies changes (which can touch any
    row: one run at a time keeps it apart from the others)."""
    if shard.changes:
        return [0]
    return sorted(ScopeType.values.index(scope_type) + 1 for scope_type in shard.scope_types)


def _publish(run: KpiRun) -> None:
    if connection.vendor == "postgresql" and run.shards.filter(changes=False).exists():
        _analyze_if_new("kpis_kpivalue")
    run.status = KpiRun.Status.SUCCEEDED
    run.is_open = None
    run.finished_at = run.follow_ups_sent_at = timezone.now()
    run.save(update_fields=["status", "is_open", "finished_at", "follow_ups_sent_at"])
    transaction.on_commit(_follow_ups(run.pk).delay)


def _analyze_if_new(table: str) -> None:
    """PostgreSQL: statistics for a table that has none yet, filled from empty by a run that rewrote
    whole periods: without them the planner reads the next run's few rows by the period index instead
    of by scope. Later, autovacuum keeps them up to date."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT last_analyze IS NULL AND last_autoanalyze IS NULL FROM pg_stat_user_tables"
            " WHERE relid = %s::regclass",
            [table],
        )
        if cursor.fetchone()[0]:
            cursor.execute(f"ANALYZE {table}")


def _follow_ups(run_id: int):
    """The follow-up tasks as one chain: one after the other, since the boards, badges and awards read
    the goal states the first one refreshes; the last link records that they all finished."""
    from kpis.tasks import follow_ups_done

    tasks = [import_string(name).si(run_id) for name in settings.KPI_RUN_FOLLOW_UP_TASKS]
    return chain(*tasks, follow_ups_done.si(run_id))


def kpi_run_follow_ups_done(*, run_id: int) -> None:
    KpiRun.objects.filter(pk=run_id).update(follow_ups_done_at=timezone.now())


def _resend_lost_follow_ups(now: datetime.datetime) -> list[int]:
    """Sends the follow-ups of the latest published run again when they have not finished long after
    they were sent (a message lost with a Redis restart, a worker killed). Each follow-up is idempotent,
    so a second delivery changes nothing; older runs are covered by the latest one."""
    latest = KpiRun.objects.filter(status=KpiRun.Status.SUCCEEDED).order_by("-finished_at", "-pk").first()
    stale_after = datetime.timedelta(seconds=settings.KPI_FOLLOW_UP_STALE_SECONDS)
    if latest is None or latest.follow_ups_done_at is not None:
        return []
    if latest.follow_ups_sent_at is not None and latest.follow_ups_sent_at >= now - stale_after:
        return []
    KpiRun.objects.filter(pk=latest.pk).update(follow_ups_sent_at=now)
    _follow_ups(latest.pk).delay()
    return [latest.pk]


def kpi_shard_fail(*, shard_id: int, error: str) -> None:
    """Marks a shard and its run failed; the run's error is shown to admins. The next run repairs all."""
    with transaction.atomic():
        shard = KpiShard.objects.select_for_update().filter(pk=shard_id).first()
        if shard is None:
            return
        shard.status, shard.error = KpiShard.Status.FAILED, error[:4000]
        shard.save(update_fields=["status", "error"])
        KpiRun.objects.filter(pk=shard.run_id, status=KpiRun.Status.RUNNING).update(
            status=KpiRun.Status.FAILED,
            is_open=None,
            finished_at=timezone.now(),
            error=_("Shard %(shard)s failed: %(error)s") % {"shard": shard, "error": error[:4000]},
        )


def kpi_shard_release(*, shard_id: int, error: str) -> None:
    """Gives a shard that hit a transient error (a lost connection, a full disk) back for another
    attempt, keeping the error; after KPI_SHARD_MAX_ATTEMPTS attempts it fails the run instead, so that
    a fault that does not go away never keeps the run open. Called by tasks.compute_shard before it
    retries."""
    attempts = (
        KpiShard.objects.filter(pk=shard_id, status=KpiShard.Status.RUNNING)
        .values_list("attempts", flat=True)
        .first()
    )
    if attempts is None:
        return  # gone, or done before the error (e.g. the broker failed after the commit)
    if attempts >= settings.KPI_SHARD_MAX_ATTEMPTS:
        kpi_shard_fail(shard_id=shard_id, error=_gave_up(attempts, error))
        return
    KpiShard.objects.filter(pk=shard_id, status=KpiShard.Status.RUNNING).update(
        status=KpiShard.Status.PENDING, error=error[:4000]
    )


def _gave_up(attempts: int, error: str) -> str:
    return _("no result after %(attempts)s attempts; the last one: %(error)s") % {
        "attempts": attempts,
        "error": error,
    }


def kpi_run_fail(*, run_id: int, error: str) -> None:
    KpiRun.objects.filter(pk=run_id, status=KpiRun.Status.RUNNING).update(
        status=KpiRun.Status.FAILED, is_open=None, finished_at=timezone.now(), error=error[:4000]
    )


def kpi_runs_sweep() -> dict[str, list[int]]:
    """Re-enqueues work that went quiet: shards with a stale heartbeat and runs stuck before planning;
    fails the run of a stale shard that has had KPI_SHARD_MAX_ATTEMPTS attempts.

    Safe to run at any time and any number of times; called every minute by Celery beat.
    """
    from kpis.tasks import compute_shard, plan_run

    now = timezone.now()
    stale_after = datetime.timedelta(seconds=settings.KPI_SHARD_STALE_SECONDS)
    plan_stale_after = datetime.timedelta(seconds=settings.KPI_PLAN_STALE_SECONDS)
    stale = []
    for shard_id, attempts, error in KpiShard.objects.filter(
        run__status=KpiRun.Status.RUNNING,
        status__in=[KpiShard.Status.PENDING, KpiShard.Status.RUNNING],
        heartbeat_at__lt=now - stale_after,
    ).values_list("pk", "attempts", "error"):
        if attempts >= settings.KPI_SHARD_MAX_ATTEMPTS:
            kpi_shard_fail(shard_id=shard_id, error=_gave_up(attempts, error or _("no worker finished it")))
        else:
            stale.append(shard_id)
    KpiShard.objects.filter(pk__in=stale, status=KpiShard.Status.PENDING).update(heartbeat_at=now)
    for shard_id in stale:
        compute_shard.delay(shard_id)
    unplanned = list(
        KpiRun.objects.filter(
            status=KpiRun.Status.RUNNING, shards_total=0, started_at__lt=now - plan_stale_after
        ).values_list("pk", flat=True)
    )
    for run_id in unplanned:
        plan_run.delay(run_id)
    return {"shards": stale, "runs": unplanned, "follow_ups": _resend_lost_follow_ups(now)}
