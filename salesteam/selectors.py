"""Read queries of the core domain, each scoped to what the requesting user may see.

A rep sees their own deals, a manager the deals of the teams they manage (and their own), an admin
everything. Views and API endpoints read only through these functions, so an object outside the scope
answers 404 exactly like a missing one. A deal that credits a share to someone is visible to them too
(and to the managers of their current team), read only: `deal_get_for_change` tells the two apart.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch, Q, QuerySet, Sum
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _

from salesteam.models import (
    OPEN_STAGES,
    Campaign,
    Customer,
    Deal,
    DealCredit,
    ImportJob,
    ImportRowError,
    Membership,
    Team,
    User,
)
from salesteam.services import percent_text, round_money

# Within one request, the lists of the requesting user's teams are looked up once:
# RequestScopeCacheMiddleware gives request.user an empty `scope_cache`. Elsewhere (tasks, services,
# tests holding a user) nothing is cached. The subquery forms below cost no query of their own.
SCOPE_CACHE = "scope_cache"


def _once_per_request(user: User, key: str, compute: Callable[[], list[int]]) -> list[int]:
    cache = getattr(user, SCOPE_CACHE, None)
    if cache is None:
        return compute()
    if key not in cache:
        cache[key] = compute()
    return cache[key]


def managed_team_ids(user: User) -> list[int]:
    return _once_per_request(
        user, "managed", lambda: list(managed_teams_subquery(user).values_list("pk", flat=True))
    )


def managed_teams_subquery(user: User) -> QuerySet:
    """The ids of the teams `user` manages, as a subquery to embed in a filter (no query of its own)."""
    return Team.objects.filter(managers=user).values("pk")


def current_team_ids(user: User) -> list[int]:
    return _once_per_request(
        user,
        f"current:{timezone.localdate()}",
        lambda: [row["team_id"] for row in current_teams_subquery(user)],
    )


def current_teams_subquery(user: User) -> QuerySet:
    """The ids of the teams `user` belongs to today, as a subquery to embed in a filter."""
    today = timezone.localdate()
    return Membership.objects.on(today).filter(user=user).values("team_id")


def member_ids(team_ids: list[int] | QuerySet | None, day: datetime.date | None = None) -> QuerySet:
    """The users who belong on `day` (today by default) to one of the teams, or to any team when
    `team_ids` is None, as a subquery of user ids."""
    members = Membership.objects.on(day or timezone.localdate())
    if team_ids is not None:
        members = members.filter(team_id__in=team_ids)
    return members.values("user_id")


def deal_change_scope(user: User) -> Q:
    """The condition on Deal that `user` may change: a rep their own deals, a manager the deals of the
    teams they manage and their own, an admin every deal."""
    if user.is_admin:
        return Q()
    if user.is_manager:
        teams = Q(team_id__in=managed_team_ids(user))
        # Most managers sell nothing themselves: without the OR, PostgreSQL reads a team's deals newest
        # first from its index instead of walking every deal by date until a page is full.
        return teams | Q(rep=user) if Deal.objects.filter(rep=user).exists() else teams
    return Q(rep=user)


def deal_scope(user: User) -> Q:
    """The condition on Deal that `user` may see: what they may change, and the deals that credit a
    share to them or, for a manager, to a current member of a team they manage (read only).

    The credited deals' ids are read first (once per request), so that the condition stays a plain OR
    of indexed columns.
    """
    if user.is_admin:
        return Q()
    credited = DealCredit.objects.filter(rep=user)
    if user.is_manager:
        credited = DealCredit.objects.filter(
            Q(rep=user) | Q(rep__in=member_ids(managed_teams_subquery(user)))
        )
    deal_ids = _once_per_request(
        user, "credited", lambda: sorted(set(credited.order_by().values_list("deal_id", flat=True)))
    )
    scope = deal_change_scope(user)
    return scope | Q(pk__in=deal_ids) if deal_ids else scope


def _credits_prefetch() -> Prefetch:
    return Prefetch("credits", queryset=DealCredit.objects.select_related("rep").order_by("-share", "id"))


DEAL_RELATED = ("rep", "team", "customer", "customer__segment", "campaign", "category", "touch_point")
# What a list of deals shows besides the deal's own fields; fewer joins also plan faster.
DEAL_LIST_RELATED = ("rep", "customer")


def _deals(condition: Q, related: tuple[str, ...] = DEAL_RELATED) -> QuerySet[Deal]:
    return Deal.objects.filter(condition).select_related(*related).order_by("-created_on", "-id")


def deal_list(*, user: User, with_credits: bool = False, brief: bool = False) -> QuerySet[Deal]:
    """The deals `user` may see, newest first; `with_credits` prefetches each deal's credit split, and
    `brief` joins only the rep and the customer, what a list of deals shows."""
    deals = _deals(deal_scope(user), DEAL_LIST_RELATED if brief else DEAL_RELATED)
    return deals.prefetch_related(_credits_prefetch()) if with_credits else deals


def deal_get(*, user: User, pk: int) -> Deal:
    """A deal `user` may see, with its credit split prefetched; 404 otherwise."""
    return get_object_or_404(deal_list(user=user, with_credits=True), pk=pk)


def can_change_deal(*, user: User, deal: Deal) -> bool:
    return Deal.objects.filter(deal_change_scope(user), pk=deal.pk).exists()


def deal_get_for_change(*, user: User, pk: int) -> Deal:
    """A deal `user` may change. One they only see (a credited rep's) answers 403, one they may not
    see 404."""
    deal = deal_get(user=user, pk=pk)
    if not can_change_deal(user=user, deal=deal):
        raise PermissionDenied(
            _("You are credited on this deal; only its rep, their manager or an admin change it.")
        )
    return deal


def deal_credit_lines(*, deal: Deal) -> list[dict]:
    """The deal's credit split for display: rep, share and the amount it credits (full precision);
    empty when the deal is not split. Uses the credits `deal_get` prefetched."""
    return [
        {"rep": credit.rep, "share": credit.share, "amount": deal.amount * credit.share / 100}
        for credit in deal.credits.all()
    ]


def credit_rep_choices(*, user: User, deal: Deal | None = None) -> tuple[list[User], set[int]]:
    """For a deal's credit split: the reps to list (those `user` may assign deals to, and those already
    credited on the deal) and the ids of those whose share `user` may set. A credited rep outside them
    keeps their share: only their manager or an admin changes it."""
    choosable = list(rep_choices(user=user))
    allowed = {rep.pk for rep in choosable}
    listed = {rep.pk: rep for rep in choosable}
    if deal is not None:
        for credit in deal.credits.all():
            listed.setdefault(credit.rep_id, credit.rep)
    return sorted(listed.values(), key=lambda rep: (rep.display_name.lower(), rep.pk)), allowed


def _credit_history(deal: Deal) -> list[dict]:
    """Changes of the deal's credit split, one entry per save (its lines share the same time)."""
    records = DealCredit.history.filter(deal_id=deal.pk).select_related("history_user", "rep")
    shares: dict[int, str] = {}
    entries: dict[tuple, dict] = {}
    for record in records.order_by("history_date", "history_id"):
        line = _("%(rep)s %(share)s") % {
            "rep": record.rep.display_name if record.rep else "?",
            "share": percent_text(record.share),
        }
        old = shares.get(record.id)
        new = None if record.history_type == "-" else line
        if record.history_type == "-":
            shares.pop(record.id, None)
        else:
            shares[record.id] = line
        entry = entries.setdefault(
            (record.history_date, record.history_user_id),
            {
                "when": record.history_date,
                "who": record.history_user,
                "type": _("Credit split"),
                "changes": [],
            },
        )
        entry["changes"].append({"field": _("credit"), "old": old, "new": new})
    return list(entries.values())


def deal_history(*, deal: Deal) -> list[dict]:
    """The deal's changes, newest first: who, when, and each field's old and new value; changes of its
    credit split are entries of their own."""
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
    entries += _credit_history(deal)
    entries.sort(key=lambda entry: entry["when"], reverse=True)
    return entries


def pipeline(*, user: User, per_stage: int = 20) -> list[dict]:
    """Open deals grouped by stage: each group's count and total amount, and its `per_stage` newest deals.

    Five queries whatever the number of deals: one aggregate and one bounded list per stage.
    """
    # The deals the user may move, not those only credited.
    deals = _deals(deal_change_scope(user), DEAL_LIST_RELATED)
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


def display_names(users: QuerySet[User]) -> dict[int, str]:
    """The names people see, by user id, read without building a model instance per person (a
    company-wide leaderboard or scope list has thousands)."""
    return {pk: User.name_from(*names) for pk, *names in users.values_list("pk", *User.NAME_FIELDS)}


def rep_choices(*, user: User) -> QuerySet[User]:
    """The reps `user` may assign a deal to."""
    if user.is_admin:
        return User.objects.filter(is_active=True)
    if user.is_manager:
        members = member_ids(managed_team_ids(user))
        return User.objects.filter(Q(pk=user.pk) | Q(pk__in=members), is_active=True)
    return User.objects.filter(pk=user.pk)


def user_list(*, user: User) -> QuerySet[User]:
    """Admins see everyone; managers their teams' members; reps themselves and their current team."""
    if user.is_admin:
        return User.objects.all()
    team_ids = managed_team_ids(user) if user.is_manager else current_team_ids(user)
    return User.objects.filter(Q(pk=user.pk) | Q(pk__in=member_ids(team_ids))).distinct()


def team_list(*, user: User) -> QuerySet[Team]:
    if user.is_admin:
        teams = Team.objects.all()
    elif user.is_manager:
        teams = user.managed_teams.all()
    else:
        teams = Team.objects.filter(pk__in=current_team_ids(user))
    # Ordered explicitly: with the count's GROUP BY, Meta.ordering no longer applies and pages would shift.
    return (
        teams.prefetch_related("managers")
        .annotate(
            member_count=Count("memberships", filter=Q(memberships__valid_to__isnull=True), distinct=True)
        )
        .order_by("name", "pk")
    )


def customer_list(*, user: User) -> QuerySet[Customer]:
    """Customers are company reference data: every signed-in user may look them up."""
    return Customer.objects.select_related("segment")


def customer_lookup(term: str) -> tuple[Customer | None, int]:
    """The customer someone typed: by exact id, else by id or name in any case. Returns the customer
    and how many customers fit (two or more: the caller asks for the exact id; zero: none fits)."""
    term = term.strip()
    exact = Customer.objects.filter(external_id=term).first()
    if exact is not None:
        return exact, 1
    fitting = Customer.objects.filter(Q(external_id__iexact=term) | Q(name__iexact=term))
    found = list(fitting[:2])
    if len(found) == 1:
        return found[0], 1
    return None, (fitting.count() if found else 0)


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
