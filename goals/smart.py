"""The SMART check of a goal: a checklist with its evidence, hard errors per field and warnings.

Hard errors block submitting; warnings (a stretch or unrealistic target, a target worse than the
baseline, a baseline period not over yet) let the goal through but its approver must acknowledge them.
The result is plain JSON so that it can be stored with the goal when it is submitted and shown to the
approver exactly as the owner saw it.
"""

from __future__ import annotations

import datetime
import statistics
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _

from goals import progress
from goals.models import Goal
from kpis.definitions import KPI_BY_SLUG, Kpi
from salesteam.models import Membership, Team, User

# Ratios that cannot leave [0, 1].
BOUNDED_RATIOS = {"conversion_ratio", "lead_conversion", "retention_rate", "churn_rate", "new_customer_share"}
# Metrics built on campaign cost, which the engine allocates to teams and the company only, and not
# to a narrowed set of deals.
COST_METRICS = {"net_margin", "net_margin_pct", "cac", "roi"}
HISTORY_WINDOWS = 6
HISTORY_YEARS = 3


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(progress.q(value))


class Checklist:
    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}
        self.warnings: list[str] = []
        self.items: list[dict] = []

    def item(self, key: str, label: str) -> dict:
        entry = {"key": key, "label": label, "status": "ok", "messages": [], "evidence": {}}
        self.items.append(entry)
        return entry

    def error(self, entry: dict, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)
        entry["messages"].append(message)
        entry["status"] = "error"

    def warn(self, entry: dict, message: str, flag: str = "") -> None:
        self.warnings.append(message)
        entry["messages"].append(message)
        if entry["status"] != "error":
            entry["status"] = "warning"
        if flag:
            entry["evidence"]["flag"] = flag

    def note(self, entry: dict, message: str) -> None:
        entry["messages"].append(message)


def improvement(kpi: Kpi, new: Decimal | None, old: Decimal | None) -> Decimal | None:
    """Relative change from `old` to `new`, positive when it is better for this metric."""
    if new is None or old is None or old == 0:
        return None
    change = (new - old) / abs(old)
    return change if kpi.higher_is_better else -change


def history_windows(goal: Goal) -> list[tuple[datetime.date, datetime.date]]:
    """Equally long windows just before the goal's start, newest first, reaching back at most 3 years."""
    length = goal.range_end - goal.start_on
    earliest = goal.start_on - relativedelta(years=HISTORY_YEARS)
    windows, end = [], goal.start_on
    while len(windows) < HISTORY_WINDOWS and (len(windows) < 2 or end - length >= earliest):
        windows.append((end - length, end))
        end -= length
    return windows


def peers(goal: Goal, today: datetime.date) -> tuple[str, list[int]]:
    """Who the owner is compared with: the members of the rep's team, or all teams for a team goal."""
    if goal.owner_team_id:
        return "team", list(Team.objects.values_list("pk", flat=True))
    teams = Membership.objects.on(today).filter(user_id=goal.owner_user_id)
    members = (
        Membership.objects.on(today)
        .filter(team__in=teams.values("team_id"))
        .values_list("user_id", flat=True)
    )
    return "rep", sorted(set(members) | {goal.owner_user_id})


def peer_name(scope_type: str, pk: int) -> str:
    if scope_type == "team":
        return str(Team.objects.get(pk=pk))
    return User.objects.get(pk=pk).display_name


def smart_check(goal: Goal, *, today: datetime.date) -> dict:
    """Checks a goal against SMART and returns the checklist, its evidence, errors and warnings."""
    check = Checklist()
    kpi = KPI_BY_SLUG.get(goal.metric)

    specific = check.item("specific", _("Specific"))
    if not (goal.title or "").strip():
        check.error(specific, "title", _("Give the goal a title."))
    if kpi is None:
        check.error(specific, "metric", _("Choose the metric the goal is about."))
    if not (goal.owner_user_id or goal.owner_team_id):
        check.error(specific, "owner", _("Choose who owns the goal."))
    if kpi is not None:
        specific["evidence"] = {"metric": str(kpi.name), "unit": kpi.unit}

    time_bound = check.item("time_bound", _("Time-bound"))
    dates_ok = False
    if goal.start_on is None:
        check.error(time_bound, "start_on", _("Enter the first day of the goal."))
    if goal.end_on is None:
        check.error(time_bound, "end_on", _("Enter the last day of the goal."))
    if goal.start_on and goal.end_on:
        if goal.end_on < goal.start_on:
            check.error(time_bound, "end_on", _("The end cannot be before the start."))
        else:
            dates_ok = True
            if goal.end_on < today:
                check.error(time_bound, "end_on", _("The end is in the past."))
            if goal.range_end > goal.start_on + relativedelta(years=1):
                check.error(time_bound, "end_on", _("A goal lasts at most one year."))
            time_bound["evidence"] = {
                "start": goal.start_on.isoformat(),
                "end": goal.end_on.isoformat(),
                "days": goal.days,
            }

    measurable = check.item("measurable", _("Measurable"))
    target = baseline = None
    if kpi is not None:
        if goal.narrow and goal.metric in COST_METRICS:
            check.error(
                measurable,
                "metric",
                _("%(metric)s cannot be measured for part of the deals; remove the narrowing.")
                % {"metric": kpi.name},
            )
        elif goal.owner_user_id and goal.metric in COST_METRICS:
            check.error(
                measurable,
                "metric",
                _("%(metric)s includes campaign costs, which are counted per team: make it a team goal.")
                % {"metric": kpi.name},
            )
        if goal.target_kind == Goal.TargetKind.ABSOLUTE:
            if goal.target_value is None:
                check.error(measurable, "target_value", _("Enter the value to reach."))
            elif goal.metric in BOUNDED_RATIOS and not (0 <= goal.target_value <= 1):
                check.error(measurable, "target_value", _("A share lies between 0 % and 100 %."))
            elif kpi.unit in ("count", "days") and goal.target_value < 0:
                check.error(measurable, "target_value", _("The target cannot be negative."))
        elif goal.relative_change is None:
            check.error(measurable, "relative_change", _("Enter the change to reach, e.g. 10 %."))
        elif goal.relative_change == 0:
            check.error(measurable, "relative_change", _("A change of 0 % is not a goal."))
    if kpi is not None and dates_ok and (goal.owner_user_id or goal.owner_team_id) and not check.errors:
        baseline_start, baseline_end = progress.baseline_range(goal)
        baseline = progress.baseline_value(goal)
        target = progress.target_from(goal, baseline)
        measurable["evidence"] = {
            "baseline": _s(baseline),
            "baseline_start": baseline_start.isoformat(),
            "baseline_end": (baseline_end - progress.ONE_DAY).isoformat(),
            "target": _s(target),
        }
        if goal.target_kind == Goal.TargetKind.RELATIVE and not baseline:
            check.error(
                measurable,
                "relative_change",
                _("There is no baseline to change (no activity from %(start)s to %(end)s): "
                  "set a value to reach instead.")
                % {
                    "start": date_format(baseline_start, "SHORT_DATE_FORMAT"),
                    "end": date_format(baseline_end - progress.ONE_DAY, "SHORT_DATE_FORMAT"),
                },
            )  # fmt: skip
        elif target is not None and baseline is not None and not progress.meets(kpi, target, baseline):
            check.warn(measurable, _("The target is not better than the baseline."))
        relative = goal.target_kind == Goal.TargetKind.RELATIVE
        if relative and baseline_end > today + progress.ONE_DAY and not check.errors:
            check.warn(measurable, _("The baseline period is not over yet; the baseline will still change."))

    achievable = check.item("achievable", _("Achievable"))
    if kpi is not None and target is not None and not check.errors:
        _achievable(check, achievable, goal, kpi, baseline, target, today)
    elif check.errors:
        achievable["status"] = "unknown"

    return {
        "ok": not check.errors,
        "errors": check.errors,
        "warnings": check.warnings,
        "items": check.items,
        "baseline": _s(baseline),
        "target": _s(target),
        "checked_on": today.isoformat(),
    }


def _achievable(check, entry, goal, kpi, baseline, target, today) -> None:
    windows = history_windows(goal)
    values = [
        progress.value_for(metric=goal.metric, scope=goal.scope, start=s, end=e, narrow=goal.narrow)
        for s, e in windows
    ]
    changes = [improvement(kpi, values[i], values[i + 1]) for i in range(len(values) - 1)]
    changes = [c for c in changes if c is not None]
    required = improvement(kpi, target, baseline)
    best = max(changes) if changes else None
    median = statistics.median(changes) if changes else None

    scope_type, ids = peers(goal, today)
    (last_start, last_end), (prior_start, prior_end) = windows[0], windows[1]
    last = progress.values_for_many(
        metric=goal.metric, scope_type=scope_type, ids=ids, start=last_start, end=last_end, narrow=goal.narrow
    )
    prior = progress.values_for_many(
        metric=goal.metric,
        scope_type=scope_type,
        ids=ids,
        start=prior_start,
        end=prior_end,
        narrow=goal.narrow,
    )
    peer_changes = {pk: improvement(kpi, last[pk], prior[pk]) for pk in ids}
    peer_changes = {pk: c for pk, c in peer_changes.items() if c is not None}
    top = max(peer_changes, key=lambda pk: (peer_changes[pk], -pk)) if peer_changes else None

    entry["evidence"] = {
        "required_change": _s(required),
        "best_change": _s(best),
        "median_change": _s(median),
        "periods_compared": len(changes),
        "history": [
            {"start": s.isoformat(), "end": (e - progress.ONE_DAY).isoformat(), "value": _s(v)}
            for (s, e), v in zip(windows, values, strict=True)
        ],
        "top_performer": peer_name(scope_type, top) if top is not None else None,
        "top_performer_change": _s(peer_changes.get(top)) if top is not None else None,
    }
    if required is None:
        check.note(entry, _("Not enough history to judge how realistic the target is."))
        entry["status"] = "unknown"
        return
    if best is None:
        check.note(entry, _("No earlier periods of the same length to compare with."))
        entry["status"] = "unknown"
        return
    numbers = {"required": _pct(required), "best": _pct(best), "twice": _pct(2 * best)}
    if best > 0 and required > 2 * best:
        check.warn(
            entry,
            _("Unrealistic: the target needs %(required)s, more than twice the best change so far "
              "(%(best)s).") % numbers,
            flag="unrealistic",
        )  # fmt: skip
    elif required > best:
        check.warn(
            entry,
            _("Stretch: the target needs %(required)s, above the best change so far (%(best)s).") % numbers,
            flag="stretch",
        )


def _pct(value: Decimal) -> str:
    return f"{number_format((value * 100).quantize(Decimal('0.1')), 1)} %"
