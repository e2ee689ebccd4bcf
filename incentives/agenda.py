"""What about bonuses and recognition a person should see today, for the list at the top of the dashboard:
awards to decide (managers and admins), and for everyone who sells their place on this month's revenue
board, their bonus so far and the kudos they received this week."""

from __future__ import annotations

import datetime

from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from incentives import bonus_selectors
from incentives.bonus_rules import money
from incentives.models import BonusAward, Kudos
from kpis import engine, leaderboards
from kpis.models import PeriodType, ScopeType
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
    return found + _my_day(user)


def _my_day(user: User) -> list[dict]:
    """Rank on this month's company revenue board (as the last nightly run left it), the bonus so far
    in the running periods, kudos received in the last seven days. Three queries."""
    today = timezone.localdate()
    found = []
    month = engine.period_start(PeriodType.MONTH, today)
    key = leaderboards.board_key(ScopeType.REP, "revenue", PeriodType.MONTH, month, (ScopeType.COMPANY, 0))
    ranks = leaderboards.previous_ranks(key=key, before_run_id=None) or {}  # as the last run left them
    if rank := ranks.get(user.pk):
        found.append(
            {
                "text": _("You are number %(rank)s of %(count)s on revenue this month")
                % {"rank": rank, "count": len(ranks)},
                "url": reverse("leaderboards:leaderboard"),
                "tone": "good" if rank <= 3 else "info",
            }
        )
    estimates = (
        BonusAward.objects.filter(
            rep=user, status=BonusAward.Status.PENDING, period_start__lte=today, period_end__gt=today
        )
        .values_list("currency")
        .annotate(total=Sum("total"))
        .order_by("currency")
    )
    amounts = [money(total, currency) for currency, total in estimates if total]
    if amounts:
        found.append(
            {
                "text": _("Your bonus so far this period: %(amount)s") % {"amount": " + ".join(amounts)},
                "url": reverse("bonuses:my_earnings"),
                "tone": "good",
            }
        )
    kudos = Kudos.objects.filter(
        recipient=user, created_at__gte=timezone.now() - datetime.timedelta(days=7)
    ).count()
    if kudos:
        found.append(
            {
                "text": ngettext(
                    "%(count)d kudos for you this week", "%(count)d kudos for you this week", kudos
                )
                % {"count": kudos},
                "url": reverse("incentives:home"),
                "tone": "good",
            }
        )
    return found
