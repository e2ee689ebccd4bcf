"""Forms of the bonus pages; the rules live in incentives.bonus_services."""

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from salesteam.models import Segment


class WhatIfForm(forms.Form):
    amount = forms.DecimalField(
        label=_("One more deal of"), max_digits=14, decimal_places=2, min_value=Decimal("0.01")
    )
    cost = forms.DecimalField(
        label=_("with a cost of"), max_digits=14, decimal_places=2, min_value=Decimal("0"), required=False
    )
    segment = forms.ModelChoiceField(
        label=_("in segment"), queryset=Segment.objects.all(), required=False, empty_label="—"
    )


class SimulateForm(forms.Form):
    period = forms.DateField(label=_("Period containing"), required=False)
