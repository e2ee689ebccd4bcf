"""Reads of bonus awards and payroll exports, each scoped to what the requesting user may see.

A rep sees their own awards, a manager also the awards of reps who were in a team they manage during
the award's period, an admin everything. Anything outside that scope answers 404, like a missing one.
"""

from __future__ import annotations

import datetime

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from incentives.models import AwardMessage, AwardQuestion, BonusAward, IncentivePlan, PayrollExport
from kpis import engine
from salesteam.models import Membership, User
from salesteam.selectors import managed_team_ids


def _managed_reps_q(user: User) -> Q:
    """Awards of reps who were members of a team `user` manages at some time in the award's period."""
    in_team = Membership.objects.filter(
        user_id=OuterRef("rep_id"),
        team_id__in=managed_team_ids(user),
        valid_from__lt=OuterRef("period_end"),
    ).filter(Q(valid_to__isnull=True) | Q(valid_to__gt=OuterRef("period_start")))
    return Q(Exists(in_team))


def award_scope(user: User) -> Q:
    if user.is_admin:
        return Q()
    if user.is_manager:
        return Q(rep=user) | _managed_reps_q(user)
    return Q(rep=user)


def decidable_q(user: User) -> Q:
    """Awards `user` may approve or reject: their teams' (managers) or all (admins), never their own."""
    if user.is_admin:
        return ~Q(rep=user)
    if user.is_manager:
        return _managed_reps_q(user) & ~Q(rep=user)
    return Q(pk__in=[])


def can_decide(*, user: User, award: BonusAward) -> bool:
    return BonusAward.objects.filter(decidable_q(user), pk=award.pk).exists()


def award_list(*, user: User) -> QuerySet[BonusAward]:
    return (
        BonusAward.objects.filter(award_scope(user))
        .select_related("rep", "plan", "version", "adjusts", "decided_by")
        .order_by("-period_start", "rep__username", "plan__name", "kind", "pk")
    )


def award_get(*, user: User, pk: int) -> BonusAward:
    return get_object_or_404(award_list(user=user), pk=pk)


def award_decisions(*, award: BonusAward):
    return award.decisions.select_related("actor").order_by("at", "pk")


def award_questions(*, award: BonusAward) -> list[AwardQuestion]:
    return list(
        award.questions.prefetch_related(
            Prefetch(
                "messages",
                queryset=AwardMessage.objects.select_related("author").order_by("created_at", "pk"),
            )
        ).order_by("created_at", "pk")
    )


def question_get(*, user: User, award: BonusAward, pk: int) -> AwardQuestion:
    return get_object_or_404(AwardQuestion.objects.select_related("award"), award=award, pk=pk)


def approval_queue(*, user: User) -> QuerySet[BonusAward]:
    """Pending awards of ended periods that `user` may decide on, oldest period first."""
    return (
        award_list(user=user)
        .filter(decidable_q(user), status=BonusAward.Status.PENDING, period_end__lte=timezone.localdate())
        .annotate(
            open_question=Exists(
                AwardQuestion.objects.filter(award_id=OuterRef("pk"), status=AwardQuestion.Status.OPEN)
            )
        )
        .order_by("period_start", "rep__username", "plan__name", "kind", "pk")
    )


def my_earnings(*, user: User, today: datetime.date | None = None) -> dict:
    """The rep's estimate for the running periods ("if the period ended today") and their history."""
    today = today or timezone.localdate()
    awards = list(award_list(user=user).filter(rep=user))
    current = [
        a for a in awards if a.period_start <= today < a.period_end and a.status == BonusAward.Status.PENDING
    ]
    history = [a for a in awards if a not in current]
    return {"current": current, "history": history, "today": today}


def payroll_exports(*, user: User) -> QuerySet[PayrollExport]:
    if not user.is_admin:
        return PayrollExport.objects.none()
    return PayrollExport.objects.select_related("created_by").order_by("-period_start", "-sequence")


def payroll_export_get(*, user: User, pk: int) -> PayrollExport:
    return get_object_or_404(payroll_exports(user=user), pk=pk)


def exportable_periods(*, user: User) -> list[datetime.date]:
    """Period starts that have approved awards waiting for payroll (admins)."""
    if not user.is_admin:
        return []
    return list(
        BonusAward.objects.filter(status=BonusAward.Status.APPROVED)
        .order_by("period_start")
        .values_list("period_start", flat=True)
        .distinct()
    )


def plan_get(*, user: User, pk: int) -> IncentivePlan:
    """A plan, draft or published, for admins; 404 for everyone else."""
    if not user.is_admin:
        raise Http404
    return get_object_or_404(IncentivePlan.objects.prefetch_related("versions"), pk=pk)


def current_period_start(*, plan: IncentivePlan, today: datetime.date) -> datetime.date:
    return engine.period_start(plan.period, today)
