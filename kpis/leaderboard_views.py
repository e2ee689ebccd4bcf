"""Leaderboard pages and the team wallboard: check access, parse the query, call the selector, render."""

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache

from kpis import leaderboards
from kpis.models import PeriodType, ScopeType
from salesteam.models import Segment

PAGE_SIZE = 50  # places per page: a company of thousands stays readable (and fast) at a glance

PERIOD_CHOICES = [*PeriodType.choices, ("range", _("Chosen range"))]


class LeaderboardForm(forms.Form):
    metric = forms.ChoiceField(
        label=_("Ranked on"), choices=[(m.slug, m.name) for m in leaderboards.METRICS], required=False
    )
    period = forms.ChoiceField(label=_("Period"), choices=PERIOD_CHOICES, required=False)
    date = forms.DateField(
        label=_("Containing the day"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("Until (exclusive)"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    within = forms.RegexField(label=_("Within"), regex=r"^(company|team|segment):\d+$", required=False)
    entity = forms.ChoiceField(
        label=_("Rank"), choices=[(ScopeType.REP, _("Reps")), (ScopeType.TEAM, _("Teams"))], required=False
    )

    def clean(self):
        data = super().clean()
        if data.get("period") == "range":
            start, end = data.get("date_from"), data.get("date_to")
            if not start or not end or start >= end:
                self.add_error("date_to", _("Give a start and an end after it."))
        return data

    def options(self) -> dict:
        data = self.cleaned_data if self.is_valid() else {}
        today = timezone.localdate()
        within_type, within_id = (data.get("within") or "company:0").split(":")
        period = data.get("period") or PeriodType.MONTH
        return {
            "metric": data.get("metric") or "revenue",
            "entity": data.get("entity") or ScopeType.REP,
            "within_type": within_type,
            "within_id": int(within_id),
            "period_type": None if period == "range" else period,
            "day": data.get("date") or today,
            "date_from": data.get("date_from"),
            "date_to": data.get("date_to"),
        }


@login_required
def leaderboard(request: HttpRequest) -> HttpResponse:
    form = LeaderboardForm(request.GET or None)
    options = form.options() if form.is_bound else LeaderboardForm({}).options()
    board = leaderboards.leaderboard(user=request.user, **options)
    page = Paginator(board.ranked, PAGE_SIZE).get_page(request.GET.get("page"))
    me = next((entry for entry in board.ranked if entry.is_me), None)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "kpis/leaderboard.html",
        {
            "form": form,
            "board": board,
            "page": page,
            "query": query.urlencode(),
            # The viewer's own place, shown under the page when it is on another one.
            "my_entry": me if me is not None and me not in page.object_list else None,
            "options": options,
            "metrics": leaderboards.METRICS,
            "periods": PERIOD_CHOICES,
            "teams": leaderboards.board_teams(user=request.user),
            "segments": list(Segment.objects.order_by("name")),
        },
    )


@never_cache
def wallboard(request: HttpRequest, token: str) -> HttpResponse:
    """A team's full-screen board, opened by its secret link without logging in. The token grants
    this page only: nothing is stored in the session."""
    from incentives import selectors as recognition
    from incentives.models import RecognitionSettings

    link = recognition.wallboard_get(token=token)
    settings_row = RecognitionSettings.load()
    today = timezone.localdate()
    boards = leaderboards.hall_of_fame(user=None, team_id=link.team_id, day=today, settings_row=settings_row)
    return render(
        request,
        "kpis/wallboard.html",
        {
            "link": link,
            "team": link.team,
            "boards": boards,
            "today": today,
            "refresh": max(30, settings_row.wallboard_refresh_seconds),
            "now": timezone.localtime(),
        },
    )


# Mounted at /leaderboards/ by salesteam/urls.py (namespace "leaderboards").
urls = (
    [
        path("", leaderboard, name="leaderboard"),
        path("wall/<str:token>/", wallboard, name="wallboard"),
    ],
    "leaderboards",
)
