"""Measuring goals with the KPI engine: values over any range, baselines, targets, pace and status.

Everything here reads; the services in goals/services.py store the results. The rules are described
for users in docs/goals.md; keep the two in step.

- A goal covers [start_on, range_end) (range_end = end_on + 1 day), the engine's half-open ranges.
- Cumulative metrics (money and counts: revenue, deals won, new customers...) grow over the period, so
  the value expected by today is the target times the share of the period elapsed: linear by days, or
  last year's share when the same period a year earlier had activity (seasonality). The forecast is the
  run rate: the value so far divided by that share.
- Level metrics (ratios, percentages, days, averages) should sit at the target throughout, so the
  expected value is the target itself and the forecast is the current value.
- Status compares the value with the expected value (inverted for metrics where lower is better):
  on track at 95 % or more, at risk from 80 % to 95 %, off track below 80 %.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from dateutil.relativedelta import relativedelta

from goals.models import Goal
from kpis import engine
from kpis.definitions import KPI_BY_SLUG, Kpi, Parts
from kpis.selectors import parts_for_range

ON_TRACK_AT = Decimal("0.95")
AT_RISK_AT = Decimal("0.80")
PLACES = Decimal("0.000001")
ONE_DAY = datetime.timedelta(days=1)


def q(value: Decimal | None) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(PLACES, rounding=ROUND_HALF_UP)


def is_cumulative(kpi: Kpi) -> bool:
    """Money and count metrics add up over the period; the others are levels."""
    return not kpi.is_ratio and kpi.unit in ("money", "count")


def kpi_value(kpi: Kpi, parts: Parts) -> Decimal | None:
    value = kpi.evaluate(parts)["value"]
    return None if value is None else Decimal(value)


def value_for(
    *,
    metric: str,
    scope: tuple[str, int],
    start: datetime.date,
    end: datetime.date,
    narrow: tuple[str, int] | None = None,
) -> Decimal | None:
    """The metric for one owner over [start, end), from the engine."""
    parts = parts_for_range(scope_type=scope[0], scope_id=scope[1], start=start, end=end, narrow=narrow)
    return kpi_value(KPI_BY_SLUG[metric], parts)


def values_for_many(
    *,
    metric: str,
    scope_type: str,
    ids: list[int],
    start: datetime.date,
    end: datetime.date,
    narrow: tuple[str, int] | None = None,
) -> dict[int, Decimal | None]:
    """The metric for many owners of one scope type over [start, end), in one engine pass."""
    computed = engine.compute(
        scope_type, date_from=start, date_to=end, custom=True, scope_ids=ids, narrow=narrow
    )
    kpi = KPI_BY_SLUG[metric]
    return {
        scope_id: kpi_value(kpi, computed.get((scope_id, start)) or engine.empty_parts(scope_type))
        for scope_id in ids
    }


def baseline_range(goal: Goal) -> tuple[datetime.date, datetime.date]:
    """The baseline period: the equally long period just before, or the same period a year earlier."""
    if goal.baseline_kind == Goal.Baseline.LAST_YEAR:
        return goal.start_on - relativedelta(years=1), goal.range_end - relativedelta(years=1)
    return goal.start_on - (goal.range_end - goal.start_on), goal.start_on


def baseline_value(goal: Goal) -> Decimal | None:
    start, end = baseline_range(goal)
    return value_for(metric=goal.metric, scope=goal.scope, start=start, end=end, narrow=goal.narrow)


def target_from(goal: Goal, baseline: Decimal | None) -> Decimal | None:
    """The value to reach: the absolute target, or the baseline moved by the relative change.

    The change applies to the baseline's size, so +10 % on a negative margin still means better.
    """
    if goal.target_kind == Goal.TargetKind.ABSOLUTE:
        return goal.target_value
    if baseline is None or goal.relative_change is None:
        return None
    return q(baseline + abs(baseline) * goal.relative_change)


def effective_target(goal: Goal) -> Decimal | None:
    """The target as it stands: frozen once approved, otherwise computed from today's baseline."""
    if goal.target_kind == Goal.TargetKind.ABSOLUTE or goal.baseline_frozen_at:
        return goal.target_value
    return target_from(goal, baseline_value(goal))


def meets(kpi: Kpi, value: Decimal | None, target: Decimal | None) -> bool:
    if value is None or target is None:
        return False
    return value >= target if kpi.higher_is_better else value <= target


def ratio_to(kpi: Kpi, value: Decimal | None, reference: Decimal | None) -> Decimal | None:
    """How far `value` is towards `reference`, 1 meaning there; inverted when lower is better."""
    if value is None or reference is None:
        return None
    if kpi.higher_is_better:
        return value / reference if reference > 0 else None
    return reference / value if value > 0 else None


@dataclass
class Progress:
    value: Decimal | None
    target: Decimal | None
    expected: Decimal | None
    forecast: Decimal | None
    percent_of_target: Decimal | None
    elapsed: Decimal
    basis: str  # "linear", "seasonal", "level" or "" before the start
    pace: str  # a Goal.Pace value, or "" before the start
    finished: bool
    achieved: bool


def elapsed_share(goal: Goal, today: datetime.date) -> Decimal:
    """Share of the goal's days up to and including today, between 0 and 1."""
    total = (goal.range_end - goal.start_on).days
    done = min(max((today - goal.start_on).days + 1, 0), total)
    return Decimal(done) / Decimal(total)


def seasonal_share(goal: Goal, today: datetime.date) -> Decimal | None:
    """Last year's share of the same period's value reached by the same day, when there was any."""
    year = relativedelta(years=1)
    start, end = goal.start_on - year, goal.range_end - year
    total = value_for(metric=goal.metric, scope=goal.scope, start=start, end=end, narrow=goal.narrow)
    if not total or total <= 0:
        return None
    until = min(max(today + ONE_DAY - year, start), end)
    partial = value_for(metric=goal.metric, scope=goal.scope, start=start, end=until, narrow=goal.narrow)
    share = (partial or Decimal(0)) / total
    return min(max(share, Decimal(0)), Decimal(1))


def pace_status(ratio: Decimal | None) -> str:
    if ratio is None:
        return Goal.Pace.AT_RISK
    if ratio >= ON_TRACK_AT:
        return Goal.Pace.ON_TRACK
    if ratio >= AT_RISK_AT:
        return Goal.Pace.AT_RISK
    return Goal.Pace.OFF_TRACK


def measure(goal: Goal, *, today: datetime.date) -> Progress:
    """The goal's progress on `today`: value from the engine for its exact range, pace and status."""
    kpi = goal.kpi
    value = value_for(
        metric=goal.metric, scope=goal.scope, start=goal.start_on, end=goal.range_end, narrow=goal.narrow
    )
    target = effective_target(goal)
    finished = today >= goal.range_end
    elapsed = elapsed_share(goal, today)
    percent = q(ratio_to(kpi, value, target))
    if today < goal.start_on:
        return Progress(value, target, None, None, percent, Decimal(0), "", "", False, False)
    if is_cumulative(kpi):
        share, basis = elapsed, "linear"
        if not finished:
            seasonal = seasonal_share(goal, today)
            if seasonal is not None:
                share, basis = seasonal, "seasonal"
        expected = q(target * share) if target is not None else None
        forecast = q(value / share) if value is not None and share > 0 else None
        if expected is not None and value is not None and expected <= 0:
            ratio = Decimal(1) if meets(kpi, value, expected) else Decimal(0)
        else:
            ratio = ratio_to(kpi, value, expected)
    else:
        basis, expected, forecast = "level", target, value
        ratio = ratio_to(kpi, value, target)
    return Progress(
        value=q(value),
        target=target,
        expected=expected,
        forecast=forecast,
        percent_of_target=percent,
        elapsed=q(elapsed),
        basis=basis,
        pace=pace_status(ratio),
        finished=finished,
        achieved=finished and meets(kpi, value, target),
    )
