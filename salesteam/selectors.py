"""Read queries of the core domain, each scoped to what the requesting user may see.

A rep sees their own deals, a manager the deals of the teams they manage (and their own), an admin
everything. Views and API endpoints read only through these functions, so an object outside the scope
answers 404 exactly like a missing one.
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.shortcuts import get_object_or_404
from django.utils import timezone

from salesteam.models import (
    OPEN_STAGES,
    Campaign,
    Customer,
    Deal,
    ImportJob,
    ImportRowError,
    Membership,
    Team,
    User,
)
from salesteam.services import round_money


def managed_team_ids(user: User) -> list[int]:
    return list(managed_teams_subquery(user).values_list("pk", flat=True))


def managed_teams_subquery(user: User) -> QuerySet:
    """The ids of the teams `user` manages, as a subquery to embed in a filter (no query of its own)."""
    return Team.objects.filter(managers=user).values("pk")


def current_team_ids(user: User) -> list[int]:
    return [row["team_id"] for row in current_teams_subquery(user)]


def current_teams_subquery(user: User) -> QuerySet:
    """The ids of the teams `user` belongs to today, as a subquery to embed in a filter."""
    today = timezone.localdate()
    return (
        Membership.objects.filter(user=user, valid_from__lte=today)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=today))
        .values("team_id")
    )


def deal_scope(user: User) -> Q:
    """The condition on Deal that `user` may see."""
    if user.is_admin:
        return Q()
    if user.is_manager:
        return Q(team_id__in=managed_team_ids(user)) | Q(rep=user)
    return Q(rep=user)


def deal_list(*, user: User) -> QuerySet[Deal]:
    return (
        Deal.objects.filter(deal_scope(user))
        .select_related("rep", "team", "customer", "customer__segment", "campaign", "category", "touch_point")
        .order_by("-created_on", "-id")
    )


def deal_get(*, user: User, pk: int) -> Deal:
    return get_object_or_404(deal_list(user=user), pk=pk)


def deal_history(*, deal: Deal) -> list[dict]:
    """The deal's changes, newest first: who, when, and each field's old and new value."""
    records = list(deal.history.select_related("history_user").order_by("-history_date", "-history_id"))
    entries = []
    for index, record in enumerate(records):
        previous = records[index + 1] if index + 1 < len(records) else None
        changes = []
        if previous is not None and record.history_type == "~":
            delta = record.diff_against(previous)
            changes = [
                {
                    "field": Deal._meta.get_field(change.field).verbose_name,
                    "old": change.old,
                    "new": change.new,
                }
                for change in delta.changes
            ]
        entries.append(
            {
                "when": record.history_date,
                "who": record.history_user,
                "type": record.get_history_type_display(),
                "changes": changes,
            }
        )
    return entries


def pipeline(*, user: User, per_stage: int = 20) -> list[dict]:
    """Open deals grouped by stage: each group's count and total amount, and its `per_stage` newest deals.

    Five queries whatever the number of deals: one aggregate and one bounded list per stage.
    """
    deals = deal_list(user=user)
    totals = {
        row["stage"]: row
        for row in deals.filter(stage__in=OPEN_STAGES)
        .order_by()
        .values("stage")
        .annotate(count=Count("id"), total=Sum("amount"))
    }
    groups = []
    for stage in OPEN_STAGES:
        summary = totals.get(stage, {})
        groups.append(
            {
                "stage": stage,
                "label": stage.label,
                "count": summary.get("count", 0),
                # SQLite sums decimals with extra places; show cents like every other amount.
                "total": round_money(summary.get("total") or Decimal(0)),
                "deals": deals.filter(stage=stage)[:per_stage],
            }
        )
    return groups


def rep_choices(*, user: User) -> QuerySet[User]:
    """The reps `user` may assign a deal to."""
    if user.is_admin:
        return User.objects.filter(is_active=True)
    if user.is_manager:
        today = timezone.localdate()
        members = Membership.objects.filter(team__in=managed_team_ids(user), valid_from__lte=today).filter(
            Q(valid_to__isnull=True) | Q(valid_to__gt=today)
        )
        return User.objects.filter(Q(pk=user.pk) | Q(pk__in=members.values("user_id")), is_active=True)
    return User.objects.filter(pk=user.pk)


def user_list(*, user: User) -> QuerySet[User]:
    """Admins see everyone; managers their teams' members; reps themselves and their current team."""
    if user.is_admin:
        return User.objects.all()
    team_ids = managed_team_ids(user) if user.is_manager else current_team_ids(user)
    today = timezone.localdate()
    members = Membership.objects.filter(team__in=team_ids, valid_from__lte=today).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gt=today)
    )
    return User.objects.filter(Q(pk=user.pk) | Q(pk__in=members.values("user_id"))).distinct()


def team_list(*, user: User) -> QuerySet[Team]:
    if user.is_admin:
        teams = Team.objects.all()
    elif user.is_manager:
        teams = user.managed_teams.all()
    else:
        teams = Team.objects.filter(pk__in=current_team_ids(user))
    return teams.prefetch_related("managers").annotate(
        member_count=Count("memberships", filter=Q(memberships__valid_to__isnull=True), distinct=True)
    )


def customer_list(*, user: User) -> QuerySet[Customer]:
    """Customers are company reference data: every signed-in user may look them up."""
    return Customer.objects.select_related("segment")


def campaign_list(*, user: User) -> QuerySet[Campaign]:
    """Campaigns are company reference data: every signed-in user may look them up."""
    return Campaign.objects.all()


def import_list(*, user: User) -> QuerySet[ImportJob]:
    jobs = ImportJob.objects.select_related("created_by")
    return jobs if user.is_admin else jobs.filter(created_by=user)


def import_get(*, user: User, pk: int) -> ImportJob:
    return get_object_or_404(import_list(user=user), pk=pk)


def import_errors(*, job: ImportJob) -> QuerySet[ImportRowError]:
    """The row errors of an import the caller already got through `import_get`, in file order."""
    return ImportRowError.objects.filter(job=job).order_by("line", "id")
