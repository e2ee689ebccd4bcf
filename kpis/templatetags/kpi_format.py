"""Formatting of KPI values in the user's locale, and small server-side SVG trend charts."""

from decimal import ROUND_HALF_UP, Decimal

from django import template
from django.conf import settings
from django.utils.formats import date_format, number_format
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

register = template.Library()
DASH = "—"


@register.filter
def kpi_value(value, unit: str) -> str:
    """Formats a KPI value by unit: money with cents, percent from a fraction, days with one decimal."""
    if value is None:
        return DASH
    value = Decimal(value)
    if unit == "money":
        amount = number_format(value.quantize(Decimal("0.01"), ROUND_HALF_UP), 2, force_grouping=True)
        return f"{amount} {settings.REPORTING_CURRENCY}"
    if unit == "percent":
        return f"{number_format((value * 100).quantize(Decimal('0.1'), ROUND_HALF_UP), 1)} %"
    if unit == "days":
        return _("%(days)s days") % {"days": number_format(value.quantize(Decimal("0.1"), ROUND_HALF_UP), 1)}
    return number_format(value, 0, force_grouping=True)


@register.filter
def kpi_delta(change: dict | None, unit: str) -> str:
    """'▲ 12.5 %' style change, in points for percentages."""
    if not change:
        return DASH
    arrow = {"up": "▲", "down": "▼", "flat": "■"}[change["direction"]]
    delta = abs(change["delta"])
    if unit == "percent":
        text = _("%(points)s pt") % {
            "points": number_format((delta * 100).quantize(Decimal("0.1"), ROUND_HALF_UP), 1)
        }
    elif unit == "money":  # the currency is on the value above; the change stays short
        text = number_format(delta.quantize(Decimal("0.01"), ROUND_HALF_UP), 2, force_grouping=True)
    else:
        text = kpi_value(delta, unit)
    return f"{arrow} {text}"


@register.simple_tag
def period_label(period_type: str, start) -> str:
    """'November 2026', 'Q4 2026' or '2026', in the user's language."""
    if period_type == "month":
        return date_format(start, "F Y")
    if period_type == "quarter":
        return _("Q%(quarter)s %(year)s") % {"quarter": (start.month - 1) // 3 + 1, "year": start.year}
    return str(start.year)


@register.simple_tag
def sparkline(points, width: int = 160, height: int = 40):
    """A small SVG line chart of (label, value) points; None values leave gaps."""
    values = [float(v) for _, v in points if v is not None]
    if not values:
        return format_html(
            '<svg class="spark" width="{}" height="{}" role="img" aria-label="{}"></svg>',
            width,
            height,
            _("No data"),
        )
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    step = width / max(len(points) - 1, 1)
    segments, current = [], []
    for index, (_label, value) in enumerate(points):
        if value is None:
            if current:
                segments.append(current)
            current = []
            continue
        x = index * step
        y = height - 4 - (float(value) - lo) / span * (height - 8)
        current.append(f"{x:.1f},{y:.1f}")
    if current:
        segments.append(current)
    lines = "".join(
        f'<polyline fill="none" stroke="#1f5eff" stroke-width="2" points="{" ".join(seg)}"/>'
        for seg in segments
    )
    last = segments[-1][-1].split(",") if segments else None
    dot = f'<circle cx="{last[0]}" cy="{last[1]}" r="3" fill="#1f5eff"/>' if last else ""
    label = escape(_("Trend over the last 12 months"))
    return mark_safe(
        f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{label}">{lines}{dot}</svg>'
    )
