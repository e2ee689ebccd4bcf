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
from salesteam.models import Membership, Role, User
from salesteam.selectors import managed_team_ids

Ranges = list[tuple[datetime.date, datetime.date]]


# --- Participants -------------------------------------------------------------------------------------


def clip_ranges(ranges: Ranges) -> Ranges:
    """Non-empty ranges, sorted, with overlapping or touching ones merged."""
    merged: Ranges = []
    for lo, hi in sorted(r for r in ranges if r[0] < r[1]):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def plan_span(
    *, plan: IncentivePlan, start: datetime.date, end: datetime.date
) -> tuple[datetime.date, datetime.date] | None:
    """[start, end) within the plan's effective dates, or None when they do not meet."""
    lo = max(start, plan.effective_from)
    hi = min(end, plan.effective_to + datetime.timedelta(days=1)) if plan.effective_to else end
    return (lo, hi) if lo < hi else None


def plan_participants(*, plan: IncentivePlan, start: datetime.date, end: datetime.date) -> dict[int, Ranges]:
    """Each participant of the plan in [start, end) and the date ranges they take part in.

    Members of a participating team take part while their membership lasts (joining, leaving or
    moving inside the period prorates them); named reps and the active users of a participating role
    for the whole period. All stay inside the plan's effective dates.
    """
    span = plan_span(plan=plan, start=start, end=end)
    if span is None:
        return {}
    lo, hi = span
    ranges: dict[int, Ranges] = {}
    memberships = Membership.objects.during(lo, hi).filter(team__in=plan.teams.all())
    for user_id, valid_from, valid_to in memberships.values_list("user_id", "valid_from", "valid_to"):
        ranges.setdefault(user_id, []).append((max(lo, valid_from), min(hi, valid_to or hi)))
    whole = User.objects.filter(pk__in=plan.reps.values("pk"))
    if plan.roles:
        whole = whole | User.objects.filter(role__in=plan.roles, is_active=True)
    for user_id in whole.values_list("pk", flat=True):
        ranges.setdefault(user_id, []).append((lo, hi))
    return {user_id: clip_ranges(r) for user_id, r in ranges.items()}


# --- Awards ------------------------------------------------------------------------------------------


def _managed_reps_q(user: User) -> Q:
    """Awards of reps who were members of a team `user` manages at some time in the award's period."""
    in_team = Membership.objects.during(OuterRef("period_start"), OuterRef("period_end")).filter(
        user_id=OuterRef("rep_id"), team_id__in=managed_team_ids(user)
    )
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


def plan_people_get(*, user: User, pk: int, today: datetime.date | None = None) -> IncentivePlan:
    """A plan whose contest standings `user` may see: admins any plan; otherwise a published plan the user
    takes part in, or one with a participant in a team the user manages, in the previous or the current
    period. Anything else answers 404."""
    plan = get_object_or_404(IncentivePlan.objects.prefetch_related("versions"), pk=pk)
    if user.is_admin:
        return plan
    if plan.status != IncentivePlan.Status.PUBLISHED:
        raise Http404
    today = today or timezone.localdate()
    current = engine.period_start(plan.period, today)
    start, end = engine.previous_start(plan.period, current), engine.period_end(plan.period, current)
    people = plan_participants(plan=plan, start=start, end=end)
    if user.pk in people:
        return plan
    if user.is_manager and (
        Membership.objects.during(start, end)
        .filter(user_id__in=list(people), team_id__in=managed_team_ids(user))
        .exists()
    ):
        return plan
    raise Http404


def plan_list(*, user: User) -> QuerySet[IncentivePlan]:
    """Plans with their participants and versions, for admins (who configure them); none for others."""
    if not user.is_admin:
        return IncentivePlan.objects.none()
    return IncentivePlan.objects.prefetch_related("teams", "reps", "versions").order_by("name")


def award_deciders(*, award: BonusAward) -> list[User]:
    """Who is told about a rep's question on an award: the managers of the teams the rep was in during
    the award's period (the people who decide on it), or the active admins when there are none."""
    teams = Membership.objects.during(award.period_start, award.period_end).filter(user_id=award.rep_id)
    managers = list(
        User.objects.filter(managed_teams__in=teams.values("team_id"), is_active=True)
        .exclude(pk=award.rep_id)
        .distinct()
    )
    if managers:
        return managers
    return list(
        User.objects.filter(Q(role=Role.ADMIN) | Q(is_superuser=True), is_active=True).exclude(
            pk=award.rep_id
        )
    )
