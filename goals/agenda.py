"""What about goals needs someone's attention today, for the list at the top of the dashboard."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import ngettext

from goals import selectors
from goals.models import Goal
from salesteam.models import User


def items(*, user: User) -> list[dict]:
    """Proposals to answer, own goals behind pace, goals to approve and other people's goals behind
    pace (for managers and admins). One counting query whatever the numbers."""
    counts = selectors.attention_counts(user=user)
    found = []
    if proposals := counts["proposals"]:
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
    found.extend(_behind(counts["off_track"], counts["at_risk"], reverse("goals:goal_list"), own=True))
    if user.is_admin or user.is_manager:
        if waiting := counts["waiting_for_me"]:
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
        found.extend(_behind(counts["others_off_track"], counts["others_at_risk"], team_url, own=False))
    return found


def _behind(off: int, at_risk: int, url: str, *, own: bool) -> list[dict]:
    found = []
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
