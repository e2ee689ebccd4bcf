"""Input of goals and decisions. Only parsing: the rules live in goals/services.py and goals/smart.py."""

from __future__ import annotations

import datetime
from decimal import Decimal, InvalidOperation

from django import forms
from django.utils.translation import gettext_lazy as _

from goals import selectors
from goals.models import METRIC_CHOICES, Goal
from kpis.definitions import KPI_BY_SLUG
from salesteam.forms import DateInput
from salesteam.models import Campaign, Category, Segment, TouchPoint, User

HUNDRED = Decimal(100)


def _percent_metric(metric: str) -> bool:
    kpi = KPI_BY_SLUG.get(metric)
    return kpi is not None and kpi.unit == "percent"


class GoalForm(forms.Form):
    """A goal's fields. Percentages are typed as percent (25 for 25 %) and stored as fractions."""

    title = forms.CharField(label=_("Title"), max_length=200, required=False)
    why = forms.CharField(label=_("Why it matters"), widget=forms.Textarea(attrs={"rows": 3}), required=False)
    owner = forms.ChoiceField(label=_("Owner"))
    metric = forms.ChoiceField(label=_("Metric"), choices=[("", "—"), *METRIC_CHOICES], required=False)
    segment = forms.ModelChoiceField(
        label=_("Only the segment"), queryset=Segment.objects.all(), required=False
    )
    category = forms.ModelChoiceField(
        label=_("Only the product category"), queryset=Category.objects.all(), required=False
    )
    campaign = forms.ModelChoiceField(
        label=_("Only the campaign"), queryset=Campaign.objects.all(), required=False
    )
    touch_point = forms.ModelChoiceField(
        label=_("Only the touch point"), queryset=TouchPoint.objects.all(), required=False
    )
    start_on = forms.DateField(label=_("First day"), widget=DateInput(), required=False)
    end_on = forms.DateField(
        label=_("Last day"), widget=DateInput(), required=False, help_text=_("Included in the goal.")
    )
    target_kind = forms.ChoiceField(
        label=_("Target"), choices=Goal.TargetKind.choices, initial=Goal.TargetKind.RELATIVE
    )
    target_value = forms.DecimalField(
        label=_("Value to reach"),
        max_digits=20,
        decimal_places=6,
        required=False,
        help_text=_("In the metric's unit; percentages in percent, e.g. 27.5."),
    )
    relative_change = forms.DecimalField(
        label=_("Change in %"),
        max_digits=12,
        decimal_places=4,
        required=False,
        help_text=_("E.g. 10 for +10 %, -5 for a 5 % decrease (for metrics where lower is better)."),
    )
    baseline_kind = forms.ChoiceField(label=_("Compared with"), choices=Goal.Baseline.choices)
    parent = forms.ModelChoiceField(label=_("Contributes to"), queryset=Goal.objects.none(), required=False)
    milestones = forms.CharField(
        label=_("Milestones"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text=_("One per line: date and value, e.g. 2025-03-31 50000."),
    )

    def __init__(self, *args, user: User, goal: Goal | None = None, **kwargs):
        if goal is not None:
            kwargs.setdefault("initial", self.initial_for(goal))
        super().__init__(*args, **kwargs)
        users, teams = selectors.owner_choices(user=user)
        choices = [(f"user:{u.pk}", u.display_name) for u in users]
        choices += [(f"team:{t.pk}", _("Team %(team)s") % {"team": t}) for t in teams]
        self.fields["owner"].choices = choices
        self.fields["owner"].initial = self.fields["owner"].initial or f"user:{user.pk}"
        self.fields["parent"].queryset = selectors.goal_list(user=user).filter(
            owner_team__isnull=False, status__in=[*Goal.OPEN, *Goal.RUNNING]
        )
        self._owners = {f"user:{u.pk}": u for u in users} | {f"team:{t.pk}": t for t in teams}

    @staticmethod
    def initial_for(goal: Goal) -> dict:
        percent = _percent_metric(goal.metric)
        target = goal.target_value
        change = goal.relative_change
        return {
            "title": goal.title, "why": goal.why,
            "owner": f"user:{goal.owner_user_id}" if goal.owner_user_id else f"team:{goal.owner_team_id}",
            "metric": goal.metric, "segment": goal.segment_id, "category": goal.category_id,
            "campaign": goal.campaign_id, "touch_point": goal.touch_point_id,
            "start_on": goal.start_on, "end_on": goal.end_on, "target_kind": goal.target_kind,
            "target_value": (target * HUNDRED).normalize() if target is not None and percent else target,
            "relative_change": (change * HUNDRED).normalize() if change is not None else None,
            "baseline_kind": goal.baseline_kind, "parent": goal.parent_id,
            "milestones": "\n".join(
                f"{m.due_on.isoformat()} {(m.value * (HUNDRED if percent else 1)).normalize()}"
                for m in goal.milestones.all()
            ),
        }  # fmt: skip

    def clean_milestones(self) -> list[tuple[datetime.date, Decimal]]:
        rows = []
        for number, line in enumerate(self.cleaned_data["milestones"].splitlines(), start=1):
            if not line.strip():
                continue
            parts = line.split()
            try:
                day = datetime.date.fromisoformat(parts[0])
                value = Decimal(parts[1].replace(",", ".")) if len(parts) == 2 else None
            except (ValueError, InvalidOperation):
                value = None
            if value is None or not value.is_finite():
                raise forms.ValidationError(
                    _("Line %(line)s: write a date and a value, e.g. 2025-03-31 50000.") % {"line": number}
                )
            rows.append((day, value))
        return rows

    def service_values(self) -> dict:
        """The cleaned data as the goal services take it."""
        data = dict(self.cleaned_data)
        owner = self._owners.get(data.pop("owner"))
        data["owner_user"] = owner if isinstance(owner, User) else None
        data["owner_team"] = None if isinstance(owner, User) else owner
        percent = _percent_metric(data["metric"])
        if data["target_value"] is not None and percent:
            data["target_value"] = data["target_value"] / HUNDRED
        if data["relative_change"] is not None:
            data["relative_change"] = data["relative_change"] / HUNDRED
        if percent:
            data["milestones"] = [(day, value / HUNDRED) for day, value in data["milestones"]]
        if data["target_kind"] == Goal.TargetKind.RELATIVE:
            data["target_value"] = None
        else:
            data["relative_change"] = None
        return data


class DecisionForm(forms.Form):
    comment = forms.CharField(label=_("Comment"), widget=forms.Textarea(attrs={"rows": 2}), required=False)
    acknowledge_warnings = forms.BooleanField(label=_("I have read the warnings"), required=False)
