"""Demo goals for `manage.py seed_demo` (listed in settings.DEMO_SEEDERS), made through the services.

Every active demo rep gets a revenue goal for the current quarter, agreed with their manager; the first
rep of each team also the playbook goal "+10 % lead conversion by the end of the year"; one rep has the
playbook goal "+15 % revenue in New vehicles within six months" waiting for approval, one has a draft,
and each team has an approved revenue goal for the year. Progress is refreshed at the end.
"""

import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils import timezone

from goals import services
from goals.models import Goal
from salesteam.models import Membership, Role, Segment, User

DEMO_PREFIX = "rep."


def _quarter(today: datetime.date) -> tuple[datetime.date, datetime.date]:
    first_month = 3 * ((today.month - 1) // 3) + 1
    start = datetime.date(today.year, first_month, 1)
    next_start = datetime.date(today.year + (first_month == 10), (first_month + 2) % 12 + 1, 1)
    return start, next_start - datetime.timedelta(days=1)


def agree(goal: Goal, *, owner: User, approver: User | None, fallback_target: Decimal) -> None:
    """Submits and approves a goal (approver None: leaves it waiting); without history to compare with,
    it becomes a value to reach. Used by the demo and the load benchmark's data."""
    try:
        services.goal_submit(actor=owner, goal=goal)
    except ValidationError:
        goal = services.goal_update(
            actor=owner, goal=goal, target_kind=Goal.TargetKind.ABSOLUTE, target_value=fallback_target
        )
        services.goal_submit(actor=owner, goal=goal)
    if approver is not None:
        services.goal_approve(actor=approver, goal=goal, acknowledge_warnings=True)


def seed(*, reset: bool = False) -> int:
    """Creates the demo goals once; with `reset`, replaces them. Returns the number of goals created."""
    demo_goals = Goal.objects.filter(owner_user__username__startswith=DEMO_PREFIX) | Goal.objects.filter(
        owner_team__memberships__user__username__startswith=DEMO_PREFIX
    )
    if demo_goals.exists():
        if not reset:
            return 0
        Goal.objects.filter(pk__in=demo_goals.values("pk")).delete()

    today = timezone.localdate()
    quarter_start, quarter_end = _quarter(today)
    year_end = datetime.date(today.year, 12, 31)
    admin = User.objects.filter(role=Role.ADMIN).order_by("pk").first()
    new_vehicles = Segment.objects.filter(name="New vehicles").first()
    memberships = (
        Membership.objects.filter(
            valid_to__isnull=True, user__is_active=True, user__username__startswith=DEMO_PREFIX
        )
        .select_related("user", "team")
        .order_by("team__name", "user__username")
    )
    created, seen_teams = 0, set()
    for membership in memberships:
        rep, team = membership.user, membership.team
        manager = team.managers.order_by("pk").first()
        if manager is None:
            continue
        goal = services.goal_create(
            actor=rep, title="Revenue this quarter", why="Keep the pipeline converting into revenue.",
            metric="revenue", start_on=quarter_start, end_on=quarter_end,
            target_kind=Goal.TargetKind.RELATIVE, relative_change=Decimal("0.10"),
            baseline_kind=Goal.Baseline.LAST_YEAR,
        )  # fmt: skip
        agree(goal, owner=rep, approver=manager, fallback_target=Decimal("150000"))
        created += 1
        if team.pk in seen_teams:
            continue
        seen_teams.add(team.pk)
        goal = services.goal_create(
            actor=rep, title="Increase the lead conversion ratio by 10 % by the end of the year",
            why="Better qualified leads mean less wasted effort.", metric="lead_conversion",
            start_on=datetime.date(today.year, 1, 1), end_on=year_end,
            target_kind=Goal.TargetKind.RELATIVE, relative_change=Decimal("0.10"),
            baseline_kind=Goal.Baseline.LAST_YEAR,
        )  # fmt: skip
        agree(goal, owner=rep, approver=manager, fallback_target=Decimal("0.10"))
        team_goal = services.goal_create(
            actor=manager, owner_team=team, title=f"{team.name}: revenue this year",
            why="The team's share of the company plan.", metric="revenue",
            start_on=datetime.date(today.year, 1, 1), end_on=year_end,
            target_kind=Goal.TargetKind.RELATIVE, relative_change=Decimal("0.08"),
            baseline_kind=Goal.Baseline.LAST_YEAR,
        )  # fmt: skip
        agree(team_goal, owner=manager, approver=admin, fallback_target=Decimal("2000000"))
        created += 2
        if new_vehicles is not None and len(seen_teams) == 1:
            waiting = services.goal_create(
                actor=rep,
                title="Increase revenue by 15 % in the segment new vehicles within the next six months",
                why="New vehicles carry the best margins.", metric="revenue", segment=new_vehicles,
                start_on=today, end_on=today + datetime.timedelta(days=182),
                target_kind=Goal.TargetKind.RELATIVE, relative_change=Decimal("0.15"),
                baseline_kind=Goal.Baseline.LAST_YEAR,
            )  # fmt: skip
            agree(waiting, owner=rep, approver=None, fallback_target=Decimal("80000"))
            services.goal_create(
                actor=rep, title="More new customers", metric="new_customers", start_on=quarter_start,
                end_on=quarter_end, target_kind=Goal.TargetKind.ABSOLUTE, target_value=Decimal("6"),
            )  # fmt: skip
            created += 2
    services.goals_refresh_all(today=today)
    return created
