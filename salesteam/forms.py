from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from salesteam import selectors
from salesteam.models import Campaign, Category, Customer, Deal, Stage, TouchPoint, User


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


class StageForm(forms.Form):
    stage = forms.ChoiceField(label=_("Stage"), choices=Stage.choices)
    lost_reason = forms.CharField(label=_("Lost reason"), max_length=200, required=False)
