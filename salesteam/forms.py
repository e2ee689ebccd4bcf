import html

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse_lazy
from django.utils.choices import BaseChoiceIterator
from django.utils.formats import localize
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
        f" {_text(name)}" if value is True else f' {_text(name)}="{_text(value)}"'
        for name, value in attrs.items()
        if value is not False
    )


def _text(value) -> str:
    """`value` escaped for HTML as Django's conditional_escape does it, at a fraction of the cost."""
    if hasattr(value, "__html__"):
        return value.__html__()
    return html.escape(str(value))


def _label(value) -> str:
    """A label as a template writes it: numbers and dates in the active locale's format, escaped."""
    return _text(value if isinstance(value, str) else localize(value))


class LongSelect(forms.Select):
    """A select with the same markup as Django's, written in Python: Django builds a dict and renders
    a template per option, which costs tens of milliseconds for the thousands of people of a company."""

    def render(self, name, value, attrs=None, renderer=None):
        attrs = self.build_attrs(self.attrs, attrs)
        if self.allow_multiple_selected:
            attrs["multiple"] = True
        wanted = set(self.format_value(value))
        any_selected = False

        def option(key: str, label) -> str:
            nonlocal any_selected
            selected = key in wanted and (self.allow_multiple_selected or not any_selected)
            any_selected |= selected
            # Each option ends a line, as Django's option template does.
            chosen = " selected" if selected else ""
            return f'\n  <option value="{_text(key)}"{chosen}>{_label(label)}</option>\n'

        html_parts = [f'<select name="{_text(name)}"{_html_attrs(attrs)}>']
        for choice_value, choice_label in self.choices:
            if not isinstance(choice_label, list | tuple):
                html_parts.append(option("" if choice_value is None else str(choice_value), choice_label))
            elif choice_value:  # an optgroup; Django writes the options of an unnamed one bare
                html_parts.append(f'\n  <optgroup label="{_label(choice_value)}">')
                html_parts.extend(option(str(v), label) for v, label in choice_label)
                html_parts.append("\n  </optgroup>")
            else:
                html_parts.extend(option(str(v), label) for v, label in choice_label)
        html_parts.append("\n</select>")
        # Every value and label above is escaped.
        return SafeString("".join(html_parts))


class PlainChoices(BaseChoiceIterator):
    """(value, label) pairs a ChoiceField takes as they are: Django otherwise inspects every pair when
    the choices are set (12 ms for the 2,200 people of a kudos form's recipient list)."""

    def __init__(self, pairs: list[tuple]) -> None:
        self.pairs = pairs

    def __iter__(self):
        return iter(self.pairs)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class SearchInput(forms.TextInput):
    """A text input with suggestions: as the user types, static/js/app.js fills the <datalist> after it
    from `search_url` (an API list with ?search=), values from `value_field`, labels from
    `label_fields`. Without JavaScript it is a plain text input."""

    def __init__(self, *, search_url: str, value_field: str, label_fields: tuple[str, ...], attrs=None):
        super().__init__(attrs={"autocomplete": "off", **(attrs or {})})
        self.search_url, self.value_field, self.label_fields = search_url, value_field, label_fields

    def render(self, name, value, attrs=None, renderer=None):
        options = f"{(attrs or {}).get('id') or name}-options"
        attrs = {
            **(attrs or {}),
            "list": options,
            "data-search-url": str(self.search_url),
            "data-value-field": self.value_field,
            "data-label-fields": " ".join(self.label_fields),
        }
        return SafeString(
            f'{super().render(name, value, attrs, renderer)}<datalist id="{_text(options)}"></datalist>'
        )


class CustomerField(forms.ModelChoiceField):
    """A customer typed by its id (external id) or its exact name, with suggestions from the customers
    API: a company has too many customers for a select (200,000 made the deal form 10 MB)."""

    default_error_messages = {
        "invalid_choice": _(
            "No customer has this id or name: type a few letters and pick one from the list."
        ),
        "ambiguous": _("%(count)s customers go by “%(name)s”: pick one by its id."),
    }

    def __init__(self, **kwargs):
        super().__init__(
            queryset=Customer.objects.all(),
            to_field_name="external_id",
            widget=SearchInput(
                search_url=reverse_lazy("customer-list"),
                value_field="external_id",
                label_fields=("name", "segment"),
            ),
            help_text=_("Its id or name; type a few letters for suggestions."),
            **kwargs,
        )

    def to_python(self, value):
        if isinstance(value, Customer):
            return value
        value = str(value).strip() if value is not None else ""
        if value in self.empty_values:
            return None
        customer, fitting = selectors.customer_lookup(value)
        if fitting > 1:
            raise ValidationError(
                self.error_messages["ambiguous"], code="ambiguous", params={"count": fitting, "name": value}
            )
        if customer is None:
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return customer

    def has_changed(self, initial, data) -> bool:
        if self.disabled:
            return False
        try:
            customer = self.to_python(data)
        except ValidationError:
            return True
        initial_id = initial.pk if isinstance(initial, Customer) else initial
        return (customer.pk if customer else None) != initial_id


class DealForm(forms.Form):
    """Input of a deal. Validation of the deal itself happens in `services.prepare_deal`."""

    title = forms.CharField(label=_("Title"), max_length=200, required=False)
    rep = forms.ModelChoiceField(label=_("Rep"), queryset=User.objects.none(), widget=LongSelect)
    customer = CustomerField(label=_("Customer"))
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
        if isinstance(customer := self.initial.get("customer"), Customer):
            # The field shows the customer's id; say whose it is.
            self.fields["customer"].help_text = _(
                "Now %(name)s. Its id or name; type a few letters for suggestions."
            ) % {"name": customer.name}

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
