"""Filters shared by the deal list page and the deals API."""

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from salesteam import selectors
from salesteam.forms import LongSelect
from salesteam.models import Category, Deal, Segment, Stage, Team, User


class DealFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Search"), method="search")
    # A column of the deal itself: no join can repeat a row, and DISTINCT would make PostgreSQL sort
    # every matching deal before the page's LIMIT.
    stage = django_filters.MultipleChoiceFilter(label=_("Stage"), choices=Stage.choices, distinct=False)
    rep = django_filters.ModelChoiceFilter(label=_("Rep"), queryset=User.objects.all(), widget=LongSelect)
    team = django_filters.ModelChoiceFilter(label=_("Team"), queryset=Team.objects.all())
    segment = django_filters.ModelChoiceFilter(
        label=_("Segment"), field_name="customer__segment", queryset=Segment.objects.all()
    )
    category = django_filters.ModelChoiceFilter(label=_("Category"), queryset=Category.objects.all())
    closed_from = django_filters.DateFilter(label=_("Closed from"), field_name="closed_on", lookup_expr="gte")
    closed_to = django_filters.DateFilter(label=_("Closed until"), field_name="closed_on", lookup_expr="lte")
    created_from = django_filters.DateFilter(
        label=_("Created from"), field_name="created_on", lookup_expr="gte"
    )
    created_to = django_filters.DateFilter(
        label=_("Created until"), field_name="created_on", lookup_expr="lte"
    )

    class Meta:
        model = Deal
        fields = ["source"]

    def __init__(self, *args, user: User | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        user = user or getattr(self.request, "user", None)
        if user is not None and user.is_authenticated:
            self.filters["rep"].queryset = selectors.user_list(user=user)
            self.filters["team"].queryset = selectors.team_list(user=user)

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(title__icontains=value)
            | Q(external_id__icontains=value)
            | Q(customer__name__icontains=value)
            | Q(rep__username__icontains=value)
            | Q(rep__full_name__icontains=value)
        )
