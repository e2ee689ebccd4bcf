from django import forms
from django.conf import settings
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from salesteam import selectors
from salesteam.models import (
    Campaign,
    Category,
    Customer,
    Deal,
    ImportJob,
    MappingPreset,
    Stage,
    TouchPoint,
    User,
)
from salesteam.services import CreditInput


def _html_attrs(attrs: dict) -> str:
    """Attributes as Django's widgets/attrs.html writes them: True bare, False left out, escaped."""
    return "".join(
        f" {conditional_escape(name)}"
        if value is True
        else f' {conditional_escape(name)}="{conditional_escape(value)}"'
        for name, value in attrs.items()
        if value is not False
    )


class LongSelect(forms.Select):
    """A select with the same markup as Django's, written in Python: Django renders a template per
    option, which costs tens of milliseconds for the thousands of people of a company."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        html = [f'<select name="{conditional_escape(widget["name"])}"{_html_attrs(widget["attrs"])}>']
        for group_name, options, _index in widget["optgroups"]:
            if group_name:
                html.append(f'\n  <optgroup label="{conditional_escape(group_name)}">')
            # Each option ends a line, as Django's option template does.
            html.extend(
                f'\n  <option value="{conditional_escape(str(option["value"]))}"'
                f"{_html_attrs(option['attrs'])}>{conditional_escape(option['label'])}</option>\n"
                for option in options
            )
            if group_name:
                html.append("\n  </optgroup>")
        html.append("\n</select>")
        # Every value and label above is escaped.
        return SafeString("".join(html))


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class DealForm(forms.Form):
    """Input of a deal. Validation of the deal itself happens in `services.prepare_deal`."""

    title = forms.CharField(label=_("Title"), max_length=200, required=False)
    rep = forms.ModelChoiceField(label=_("Rep"), queryset=User.objects.none())
    customer = forms.ModelChoiceField(label=_("Customer"), queryset=Customer.objects.all())
    stage = forms.ChoiceField(label=_("Stage"), choices=Stage.choices, initial=Stage.LEAD)
    amount_original = forms.DecimalField(label=_("Amount"), max_digits=14, decimal_places=2, min_value=0)
    cost_original = forms.DecimalField(
        label=_("Cost"), max_digits=14, decimal_places=2, min_value=0, required=False, initial=0
    )
    currency = forms.CharField(label=_("Currency"), max_length=3, initial=settings.REPORTING_CURRENCY)
    created_on = forms.DateField(label=_("Created on"), widget=DateInput())
    closed_on = forms.DateField(
        label=_("Closed on"), widget=DateInput(), required=False, help_text=_("Only for won or lost deals.")
    )
    category = forms.ModelChoiceField(label=_("Category"), queryset=Category.objects.all(), required=False)
    campaign = forms.ModelChoiceField(label=_("Campaign"), queryset=Campaign.objects.all(), required=False)
    touch_point = forms.ModelChoiceField(
        label=_("Touch point"), queryset=TouchPoint.objects.all(), required=False
    )
    lost_reason = forms.CharField(label=_("Lost reason"), max_length=200, required=False)

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rep"].queryset = selectors.rep_choices(user=user)
        if not (user.is_admin or user.is_manager):
            self.fields["rep"].initial = user.pk

    @classmethod
    def initial_for(cls, deal: Deal) -> dict:
        return {name: getattr(deal, name) for name in cls.base_fields}


class DealCreditForm(forms.Form):
    """One line of a deal's credit split. The split's rules live in `services.deal_credits_validate`."""

    rep = forms.TypedChoiceField(label=_("Rep"), coerce=int, widget=LongSelect)
    share = forms.DecimalField(label=_("Share (%)"), max_digits=5, decimal_places=2)

    def __init__(self, *args, reps: list[User], allowed: set[int], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rep"].choices = [("", "—"), *((rep.pk, rep.display_name) for rep in reps)]
        rep_id = self.initial.get("rep")
        if rep_id is not None and rep_id not in allowed:
            # A credited rep the user may not set the share of: shown, and kept as it is whatever is sent.
            self.fields["rep"].disabled = self.fields["share"].disabled = True
            self.locked = True
        else:
            self.locked = False


class BaseDealCreditFormSet(forms.BaseFormSet):
    def add_fields(self, form, index):
        super().add_fields(form, index)
        if getattr(form, "locked", False):
            del form.fields["DELETE"]

    def credits(self, reps: list[User]) -> list[CreditInput]:
        """The split as entered: the lines that are neither empty nor marked for removal."""
        by_id = {rep.pk: rep for rep in reps}
        lines = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE"):
                continue
            lines.append(CreditInput(by_id.get(data.get("rep")), data.get("share")))
        return lines


DealCreditFormSet = forms.formset_factory(
    DealCreditForm, formset=BaseDealCreditFormSet, extra=2, can_delete=True, max_num=20
)


def deal_credit_formset(data, *, reps: list[User], allowed: set[int], deal: Deal | None = None):
    """The split editor of a deal: its current lines (prefetched on `deal`) and two empty ones."""
    initial = [{"rep": c.rep_id, "share": c.share} for c in deal.credits.all()] if deal is not None else []
    return DealCreditFormSet(
        data, initial=initial, prefix="credits", form_kwargs={"reps": reps, "allowed": allowed}
    )


class StageForm(forms.Form):
    stage = forms.ChoiceField(label=_("Stage"), choices=Stage.choices)
    lost_reason = forms.CharField(label=_("Lost reason"), max_length=200, required=False)


# --- Imports -----------------------------------------------------------------------------------------


class ImportUploadForm(forms.Form):
    """Upload of a deals file. `create_missing` is offered to admins only."""

    file = forms.FileField(label=_("File"), help_text=_("CSV (comma, semicolon or tab) or XLSX."))
    source = forms.CharField(
        label=_("Source"),
        max_length=50,
        initial="import",
        help_text=_("Deals are matched on source and external id: use the same source to update them."),
    )
    preset = forms.ModelChoiceField(
        label=_("Saved mapping"), queryset=MappingPreset.objects.all(), required=False
    )
    dayfirst = forms.BooleanField(label=_("Dates are day first (DD/MM/YYYY)"), required=False)
    decimal_comma = forms.BooleanField(label=_("Amounts use a decimal comma (1.234,56)"), required=False)
    create_missing = forms.BooleanField(
        label=_("Create missing reps, teams, customers, categories and campaigns"), required=False
    )

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        if not user.is_admin:
            del self.fields["create_missing"]


class PeopleUploadForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=_("CSV or XLSX with the columns username, email, full name, role, team and manager."),
    )
    dayfirst = forms.BooleanField(label=_("Dates are day first (DD/MM/YYYY)"), required=False)


class ImportMappingForm(forms.Form):
    """The column mapping (one select per header of the file), the stage mapping and the options."""

    dayfirst = forms.BooleanField(label=_("Dates are day first (DD/MM/YYYY)"), required=False)
    decimal_comma = forms.BooleanField(label=_("Amounts use a decimal comma (1.234,56)"), required=False)
    create_missing = forms.BooleanField(
        label=_("Create missing reps, teams, customers, categories and campaigns"), required=False
    )
    preset_name = forms.CharField(
        label=_("Save this mapping as"),
        max_length=100,
        required=False,
        help_text=_("Optional: a name to reuse this mapping for the next file."),
    )

    def __init__(self, *args, job: ImportJob, user: User, columns: dict, **kwargs):
        initial = {**job.options}
        super().__init__(*args, initial=initial, **kwargs)
        if not user.is_admin:
            del self.fields["create_missing"]
        if job.kind == ImportJob.Kind.PEOPLE:
            del self.fields["decimal_comma"]
            self.fields.pop("create_missing", None)
            del self.fields["preset_name"]
        self.job = job
        column_choices = [("", _("— ignore —")), *columns.items()]
        self.column_fields = []
        for index, header in enumerate(job.headers):
            name = f"col_{index}"
            self.fields[name] = forms.ChoiceField(
                label=header, choices=column_choices, required=False, initial=job.columns.get(header, "")
            )
            self.column_fields.append((header, name))
        self.stage_fields = []
        if job.kind == ImportJob.Kind.DEALS:
            stage_choices = [("", _("— not mapped —")), *Stage.choices]
            for index, value in enumerate(job.stages):
                name = f"stage_{index}"
                self.fields[name] = forms.ChoiceField(
                    label=value, choices=stage_choices, required=False, initial=job.stages.get(value, "")
                )
                self.stage_fields.append((value, name))

    def bound_columns(self):
        return [(header, self[name]) for header, name in self.column_fields]

    def bound_stages(self):
        return [(value, self[name]) for value, name in self.stage_fields]

    def mapping(self) -> tuple[dict[str, str], dict[str, str], dict[str, bool]]:
        data = self.cleaned_data
        columns = {header: data.get(name, "") for header, name in self.column_fields}
        stages = {value: data.get(name, "") for value, name in self.stage_fields}
        options = {key: bool(data.get(key)) for key in ("dayfirst", "decimal_comma", "create_missing")}
        return columns, stages, options
