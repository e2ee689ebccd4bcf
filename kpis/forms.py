import datetime

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kpis.models import PeriodType, ScopeType
from salesteam.forms import LongSelect


class DashboardForm(forms.Form):
    """Which scope and period the dashboard shows; defaults come from the user."""

    s = forms.RegexField(label=_("Show"), regex=r"^[a-z_]+:\d+$", required=False)
    period = forms.ChoiceField(label=_("Period"), choices=PeriodType.choices, required=False)
    date = forms.DateField(label=_("Date"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def scope_key(self) -> tuple[str, int] | None:
        value = self.cleaned_data.get("s")
        if not value:
            return None
        scope_type, scope_id = value.split(":")
        return scope_type, int(scope_id)

    def period_type(self) -> str:
        return self.cleaned_data.get("period") or PeriodType.MONTH

    def day(self) -> datetime.date:
        return self.cleaned_data.get("date") or timezone.localdate()


def scope_select(*, groups, scope) -> str:
    """The dashboard's scope picker: the scopes the user may see (`selectors.scope_choices`), grouped by
    type, the one shown selected. Written by LongSelect: an admin's lists every person in the company."""
    choices = [
        (ScopeType(scope_type).label, [(f"{option.type}:{option.id}", option.name) for option in options])
        for scope_type, options in groups
        if options
    ]
    return LongSelect(attrs={"id": "id_s"}, choices=choices).render("s", f"{scope.type}:{scope.id}")


class ExportForm(forms.Form):
    scope = forms.ChoiceField(label=_("Scope"), choices=ScopeType.choices)
    scope_id = forms.IntegerField(label=_("Scope id"), required=False, min_value=0)
    period = forms.ChoiceField(label=_("Period"), choices=PeriodType.choices, initial=PeriodType.MONTH)
    kpi = forms.CharField(label=_("KPI"), required=False)
    date_from = forms.DateField(label=_("From"), required=False)
    date_to = forms.DateField(label=_("To"), required=False)

    def clean(self):
        from kpis.definitions import KPI_BY_SLUG

        data = super().clean()
        if data.get("kpi") and data["kpi"] not in KPI_BY_SLUG:
            self.add_error("kpi", _("Unknown KPI “%(kpi)s”.") % {"kpi": data["kpi"]})
        today = timezone.localdate()
        data["date_from"] = data.get("date_from") or datetime.date(today.year - 1, 1, 1)
        data["date_to"] = data.get("date_to") or datetime.date(today.year + 1, 1, 1)
        if data["date_from"] >= data["date_to"]:
            self.add_error("date_to", _("The end must be after the start."))
        return data

    def query(self) -> dict:
        """The arguments of kpis.selectors.kpi_rows, for the dashboard export, the API and the command."""
        data = self.cleaned_data
        return {
            "scope_type": data["scope"],
            "scope_id": data.get("scope_id"),
            "period_type": data["period"],
            "date_from": data["date_from"],
            "date_to": data["date_to"],
            "kpi": data.get("kpi") or None,
        }
