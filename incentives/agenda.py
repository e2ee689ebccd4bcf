"""What about bonuses needs someone's attention today, for the list at the top of the dashboard."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import ngettext

from incentives import bonus_selectors
from salesteam.models import User


def items(*, user: User) -> list[dict]:
    """Awards of ended periods waiting for the user's decision and, among them, those with an open
    question from the rep (managers and admins). At most two counting queries."""
    found = []
    if user.is_admin or user.is_manager:
        counts = bonus_selectors.approval_queue(user=user).order_by()
        waiting = counts.count()
        if waiting:
            questions = counts.filter(open_question=True).count()
            text = ngettext(
                "%(count)d bonus award waiting for your approval",
                "%(count)d bonus awards waiting for your approval",
                waiting,
            ) % {"count": waiting}
            if questions:
                text += " · " + ngettext(
                    "%(count)d with an open question", "%(count)d with open questions", questions
                ) % {"count": questions}
            found.append({"text": text, "url": reverse("bonuses:approval_queue"), "tone": "info"})
    return found
