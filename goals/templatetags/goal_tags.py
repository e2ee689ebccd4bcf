"""Progress bars with a pace marker and the progress chart of a goal, as server-side SVG.

The Content-Security-Policy forbids inline styles, so sizes are SVG attributes, never style="width".
"""

from __future__ import annotations

import datetime
from decimal import ROUND_HALF_UP, Decimal

from django import template
from django.utils.formats import date_format, number_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _

from goals.models import Goal
from kpis.templatetags.kpi_format import kpi_value

register = template.Library()


def _share(value, total) -> float | None:
    if value is None or total is None or Decimal(total) <= 0:
        return None
    return max(0.0, min(1.0, float(Decimal(value) / Decimal(total))))


@register.filter
def evidence_date(value):
    """An ISO date kept as text in a SMART check's evidence, in the user's date format."""
    try:
        return date_format(datetime.date.fromisoformat(value), "DATE_FORMAT")
    except (TypeError, ValueError):
        return value


@register.filter
def evidence_number(value):
    """A number kept as text in a SMART check's evidence, in the user's format, without trailing zeros."""
    try:
        return number_format(Decimal(value).normalize(), force_grouping=True)
    except (TypeError, ArithmeticError):
        return value


@register.filter
def evidence_change(value):
    """A change kept as a fraction in a SMART check's evidence (0.25), as a signed percentage ("+25 %")."""
    try:
        percent = (Decimal(value) * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP).normalize()
    except (TypeError, ArithmeticError):
        return value
    if percent == percent.to_integral():
        percent = percent.quantize(Decimal(1))
    sign = "+" if percent > 0 else ""
    return f"{sign}{number_format(percent, force_grouping=True)} %"


@register.simple_tag
def goal_bar(goal: Goal):
    """A bar filled to the share of the target reached, with a marker where the pace says it should be."""
    done = float(min(max(goal.percent_of_target or Decimal(0), Decimal(0)), Decimal(1)))
    marker = _share(goal.expected_value, goal.target_value) if goal.pace_basis != "level" else 1.0
    if goal.pace_basis == "level" and goal.percent_of_target is not None:
        done = float(min(goal.percent_of_target, Decimal(1)))
    label = _("%(done)s %% of the target") % {"done": round(done * 100)}
    pace = ""
    if marker is not None and goal.pace_basis:
        pace = format_html(
            '<line class="goal-bar-pace" x1="{0}" x2="{0}" y1="0" y2="14"><title>{1}</title></line>',
            f"{marker * 100:.1f}",
            _("Expected by today"),
        )
    return format_html(
        '<svg class="goal-bar goal-bar-{}" viewBox="0 0 100 14" preserveAspectRatio="none" role="img" '
        'aria-label="{}"><rect class="goal-bar-track" x="0" y="3" width="100" height="8" rx="4"/>'
        '<rect class="goal-bar-fill" x="0" y="3" width="{}" height="8" rx="4"/>{}</svg>',
        goal.pace or "none",
        label,
        f"{done * 100:.1f}",
        pace,
    )


@register.simple_tag
def goal_chart(goal: Goal, points: list, milestones, width: int = 600, height: int = 180):
    """The value over time (solid), the pace (dashed), the target (line) and milestones (dots)."""
    if goal.start_on is None or goal.end_on is None:
        return ""
    span = max((goal.end_on - goal.start_on).days, 1)
    values = [v for _d, v, e in points for v in (v, e) if v is not None]
    values += [m.value for m in milestones]
    if goal.target_value is not None:
        values.append(goal.target_value)
    top = float(max([Decimal(0), *values])) or 1.0
    bottom = float(min([Decimal(0), *values]))
    pad = 10

    def x(day: datetime.date) -> str:
        return f"{pad + (day - goal.start_on).days / span * (width - 2 * pad):.1f}"

    def y(value) -> str:
        return f"{height - pad - (float(value) - bottom) / ((top - bottom) or 1) * (height - 2 * pad):.1f}"

    actual = " ".join(f"{x(d)},{y(v)}" for d, v, _e in points if v is not None)
    expected = " ".join(f"{x(d)},{y(e)}" for d, _v, e in points if e is not None)
    parts = []
    if goal.target_value is not None:
        parts.append(
            format_html(
                '<line class="chart-target" x1="{}" x2="{}" y1="{}" y2="{}"/>',
                pad,
                width - pad,
                y(goal.target_value),
                y(goal.target_value),
            )
        )
    if expected:
        parts.append(format_html('<polyline class="chart-pace" fill="none" points="{}"/>', expected))
    if actual:
        parts.append(format_html('<polyline class="chart-value" fill="none" points="{}"/>', actual))
    dots = [
        (x(m.due_on), y(m.value), f"{m.due_on.isoformat()}: {kpi_value(m.value, goal.kpi.unit)}")
        for m in milestones
        if goal.start_on <= m.due_on <= goal.end_on
    ]
    parts.append(
        format_html_join(
            "", '<circle class="chart-milestone" cx="{}" cy="{}" r="4"><title>{}</title></circle>', dots
        )
    )
    return format_html(
        '<svg class="goal-chart" viewBox="0 0 {} {}" role="img" aria-label="{}">{}</svg>',
        width,
        height,
        _("Progress of the goal over time"),
        format_html_join("", "{}", ((p,) for p in parts)),
    )
