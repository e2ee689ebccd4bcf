"""What about goals needs someone's attention today, for the list at the top of the dashboard."""

from __future__ import annotations

from django.db.models import Count
from django.urls import reverse
from django.utils.translation import ngettext

from goals import selectors
from goals.models import Goal
from salesteam.models import User


def items(*, user: User) -> list[dict]:
    """Proposals to answer, own goals behind pace, goals to approve and other people's goals behind
    pace (for managers and admins). Four counting queries whatever the numbers."""
    found = []
    proposals = selectors.proposals_for(user=user).count()
    if proposals:
        found.append(
            {
                "text": ngettext(
                    "%(count)d goal proposed to you to accept or send back",
                    "%(count)d goals proposed to you to accept or send back",
                    proposals,
                )
                % {"count": proposals},
                "url": reverse("goals:goal_list"),
                "tone": "info",
            }
        )
    found.extend(_behind(selectors.my_goals(user=user), reverse("goals:goal_list"), own=True))
    if user.is_admin or user.is_manager:
        waiting = selectors.approval_queue(user=user).count()
        if waiting:
            found.append(
                {
                    "text": ngettext(
                        "%(count)d goal waiting for your approval",
                        "%(count)d goals waiting for your approval",
                        waiting,
                    )
                    % {"count": waiting},
                    "url": reverse("goals:approval_queue"),
                    "tone": "info",
                }
            )
        team_url = f"{reverse('goals:team_goals')}?status={Goal.Status.ACTIVE}"
        found.extend(_behind(selectors.team_goals(user=user), team_url, own=False))
    return found


def _behind(goals, url: str, *, own: bool) -> list[dict]:
    paces = dict(
        goals.filter(status=Goal.Status.ACTIVE, pace__in=[Goal.Pace.OFF_TRACK, Goal.Pace.AT_RISK])
        .order_by()
        .values_list("pace")
        .annotate(n=Count("pk"))
    )
    found = []
    off, at_risk = paces.get(Goal.Pace.OFF_TRACK, 0), paces.get(Goal.Pace.AT_RISK, 0)
    if off:
        text = (
            ngettext("%(count)d of your goals is off track", "%(count)d of your goals are off track", off)
            if own
            else ngettext("%(count)d team goal is off track", "%(count)d team goals are off track", off)
        )
        found.append({"text": text % {"count": off}, "url": url, "tone": "bad"})
    if at_risk:
        text = (
            ngettext("%(count)d of your goals is at risk", "%(count)d of your goals are at risk", at_risk)
            if own
            else ngettext("%(count)d team goal is at risk", "%(count)d team goals are at risk", at_risk)
        )
        found.append({"text": text % {"count": at_risk}, "url": url, "tone": "warn"})
    return found
