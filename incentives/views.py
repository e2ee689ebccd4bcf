"""Recognition pages: the team feed and hall of fame, profiles, kudos and notification preferences.

Each view checks access, parses input, calls one service or selector, and renders.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from incentives import selectors, services
from incentives.forms import KudosForm, PreferenceForm, ReactionForm
from incentives.models import RecognitionSettings
from kpis import leaderboards
from salesteam.models import Team, User
from salesteam.views import add_service_errors


def _kudos_form(request: HttpRequest, data=None, initial=None) -> KudosForm:
    shout_out_ids = set(selectors.shout_out_team_ids(request.user))
    teams = [t for t in selectors.team_list(user=request.user) if t.pk in shout_out_ids]
    return KudosForm(
        data,
        initial=initial,
        recipients=selectors.kudos_recipient_choices(user=request.user),
        teams=teams,
    )


@login_required
def recognition_home(request: HttpRequest) -> HttpResponse:
    """Opens the recognition page of the user's first team."""
    team = selectors.team_list(user=request.user).first()
    if team is None:
        return render(request, "incentives/recognition_empty.html", {"kudos_form": _kudos_form(request)})
    return redirect("incentives:team_recognition", pk=team.pk)


@login_required
def team_recognition(request: HttpRequest, pk: int) -> HttpResponse:
    team = selectors.team_get(user=request.user, pk=pk)
    today = timezone.localdate()
    settings_row = RecognitionSettings.load()
    members = selectors.team_members(team=team, day=today)
    month_start = today.replace(day=1)
    streaks = selectors.activity_streaks(user_ids=[m.pk for m in members], today=today)
    return render(
        request,
        "incentives/team_recognition.html",
        {
            "team": team,
            "teams": list(selectors.team_list(user=request.user)),
            "feed": selectors.feed(user=request.user, team=team),
            "hall_of_fame": leaderboards.hall_of_fame(
                user=request.user, team_id=team.pk, day=today, settings_row=settings_row
            ),
            "goals_achieved": list(
                selectors.goals_achieved(user_ids=[m.pk for m in members], since=month_start)[:20]
            ),
            "members": [{"user": m, "streak": streaks[m.pk]} for m in members],
            "kudos_form": _kudos_form(request, initial={"team": None}),
            "reaction_choices": ReactionForm.base_fields["emoji"].choices,
            "month_start": month_start,
        },
    )


@login_required
def profile(request: HttpRequest, pk: int) -> HttpResponse:
    person = selectors.person_get(user=request.user, pk=pk)
    context = selectors.profile(user=request.user, person=person)
    context["kudos_form"] = (
        _kudos_form(request, initial={"recipient": person.pk}) if person != request.user else None
    )
    if person == request.user:
        context["preference_form"] = PreferenceForm(
            initial={"email": selectors.preference_get(user=request.user).email}
        )
    return render(request, "incentives/profile.html", context)


def _back(request: HttpRequest, fallback: str = "incentives:home"):
    target = request.POST.get("next", "")
    if target.startswith("/") and not target.startswith("//"):
        return redirect(target)
    return redirect(fallback)


@login_required
def kudos_create(request: HttpRequest) -> HttpResponse:
    form = _kudos_form(request, request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        recipient = User.objects.filter(pk=data["recipient"]).first() if data.get("recipient") else None
        team = Team.objects.filter(pk=data.get("team")).first() if data.get("team") else None
        try:
            services.kudos_give(
                sender=request.user,
                recipient=recipient,
                team=team,
                message=data["message"],
                deal_id=data.get("deal"),
                goal_id=data.get("goal"),
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Kudos sent. Thank you for saying it!"))
            return _back(request)
    return render(request, "incentives/kudos_form.html", {"form": form}, status=400 if form.is_bound else 200)


@login_required
@require_POST
def kudos_react(request: HttpRequest, pk: int) -> HttpResponse:
    kudos = selectors.kudos_get(user=request.user, pk=pk)
    form = ReactionForm(request.POST)
    if not form.is_valid():
        raise Http404
    services.kudos_react(user=request.user, kudos=kudos, emoji=form.cleaned_data["emoji"])
    return _back(request)


@login_required
@require_POST
def preferences(request: HttpRequest) -> HttpResponse:
    form = PreferenceForm(request.POST)
    form.is_valid()
    services.notification_preference_set(user=request.user, email=form.cleaned_data.get("email", False))
    messages.success(request, _("Your notification preference is saved."))
    return redirect("incentives:profile", pk=request.user.pk)
