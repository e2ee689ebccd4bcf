"""`manage.py seed_demo` builds a realistic, deterministic demo data set, once."""

import datetime
import io
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.conf import global_settings
from django.core.management import call_command
from django.db import transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from salesteam.models import (
    OPEN_STAGES,
    Campaign,
    Category,
    Customer,
    Deal,
    DealCredit,
    ExchangeRate,
    Membership,
    Role,
    Segment,
    Stage,
    Team,
    User,
)

REPS = [
    "rep.anna", "rep.bram", "rep.chloe", "rep.daan", "rep.emma", "rep.finn",
    "rep.greet", "rep.hugo", "rep.ines", "rep.jonas", "rep.lotte", "rep.milan",
]  # fmt: skip
MODELS = (User, Team, Membership, Segment, Category, Customer, Campaign, ExchangeRate, Deal)


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """Seeds once for the module inside a transaction that is rolled back afterwards."""
    with django_db_blocker.unblock(), transaction.atomic():
        output = seed()
        yield output
        transaction.set_rollback(True)


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS} | {
        "deal history": Deal.history.count(),
        "amount": Deal.objects.aggregate(total=Sum("amount"))["total"],
    }


def test_it_creates_the_admin_three_teams_two_managers_and_twelve_reps(seeded, db, settings):
    # The module fixture hashed the passwords before the per-test MD5 hasher was configured.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    admin = User.objects.get(username="admin")
    assert admin.role == Role.ADMIN and admin.is_superuser and admin.is_staff
    assert sorted(Team.objects.values_list("name", flat=True)) == ["East", "North", "South"]

    north, south = User.objects.get(username="manager.north"), User.objects.get(username="manager.south")
    assert sorted(north.managed_teams.values_list("name", flat=True)) == ["East", "North"]
    assert list(south.managed_teams.values_list("name", flat=True)) == ["South"]
    assert north.manager == admin and south.manager == admin
    assert User.objects.filter(role=Role.MANAGER).count() == 2

    assert sorted(User.objects.filter(role=Role.REP).values_list("username", flat=True)) == REPS
    demo_users = User.objects.filter(username__in=["admin", "manager.north", "manager.south", *REPS])
    hashes = set(demo_users.values_list("password", flat=True))
    assert demo_users.count() == 15 and len(hashes) == 1  # one shared hash, checked once
    assert demo_users.first().check_password("demo-pass-2024")
    assert list(User.objects.filter(is_active=False).values_list("username", flat=True)) == ["rep.milan"]
    assert "rep.anna" in seeded and "demo-pass-2024" in seeded


def test_reps_are_spread_over_the_teams_and_one_moved_a_year_ago(seeded, db):
    today = timezone.localdate()
    open_memberships = Membership.objects.filter(valid_to__isnull=True, user__role=Role.REP)
    per_team = dict(open_memberships.values_list("team__name").annotate(n=Count("id")))
    assert set(per_team) == {"North", "South", "East"}
    assert sum(per_team.values()) == 11  # the twelfth rep left: their membership ended that day
    left = User.objects.get(is_active=False)
    [membership] = left.memberships.all()
    assert membership.valid_to is not None and membership.valid_to <= today
    assert not Deal.objects.filter(rep=left, closed_on__gte=membership.valid_to).exists()

    moved = [u for u in User.objects.filter(role=Role.REP) if u.memberships.count() == 2]
    assert len(moved) == 1
    before, after = moved[0].memberships.order_by("valid_from")
    assert before.team != after.team
    assert before.valid_to == after.valid_from == today - datetime.timedelta(days=365)
    # Deals keep the team the rep had when they closed.
    assert Deal.objects.filter(rep=moved[0], closed_on__lt=after.valid_from, team=before.team).exists()
    assert Deal.objects.filter(rep=moved[0], closed_on__gte=after.valid_from, team=after.team).exists()


def test_deals_span_two_years_with_wins_losses_and_open_deals(seeded, db):
    today = timezone.localdate()
    deals = Deal.objects.filter(source="demo")
    assert 3000 <= deals.count() <= 5000

    for year in (today.year - 2, today.year - 1, today.year):
        closed = deals.filter(closed_on__year=year)
        assert closed.filter(stage=Stage.WON).exists(), year
        assert closed.filter(stage=Stage.LOST).exists(), year
    assert deals.filter(created_on__lt=today - datetime.timedelta(days=700)).exists()
    assert not deals.filter(Q(created_on__gt=today) | Q(closed_on__gt=today)).exists()

    won, lost = deals.filter(stage=Stage.WON).count(), deals.filter(stage=Stage.LOST).count()
    assert 0.35 <= won / (won + lost) <= 0.45
    assert not deals.exclude(stage=Stage.LOST).exclude(lost_reason="").exists()
    assert not deals.filter(stage=Stage.LOST, lost_reason="").exists()
    for stage in OPEN_STAGES:
        assert deals.filter(stage=stage).count() >= 5, stage

    cycles = [
        (closed - created).days
        for created, closed in deals.exclude(closed_on=None).values_list("created_on", "closed_on")
    ]
    assert min(cycles) >= 5 and max(cycles) <= 120
    assert len({cycle // 10 for cycle in cycles}) >= 10

    above_cost = deals.filter(cost__gt=F("amount")).count()
    assert 0 < above_cost < deals.count() * 0.1


def test_q4_is_stronger_than_the_summer(seeded, db):
    year = timezone.localdate().year - 1  # the last complete year
    won = Deal.objects.filter(stage=Stage.WON, closed_on__year=year)
    q3 = won.filter(closed_on__month__in=[7, 8, 9]).count()
    q4 = won.filter(closed_on__month__in=[10, 11, 12]).count()
    assert q4 > q3 * 1.2


def test_every_deal_has_its_rep_team_on_the_closing_day_and_a_created_history_entry(seeded, db):
    today = timezone.localdate()
    memberships = defaultdict(list)
    for user_id, team_id, start, end in Membership.objects.values_list(
        "user_id", "team_id", "valid_from", "valid_to"
    ):
        memberships[user_id].append((team_id, start, end))
    for rep_id, team_id, closed_on in Deal.objects.values_list("rep_id", "team_id", "closed_on"):
        day = closed_on or today
        expected = [t for t, start, end in memberships[rep_id] if start <= day and (end is None or day < end)]
        assert [team_id] == expected

    history = Deal.history.values("id").annotate(
        n=Count("history_id"), created=Count("history_id", filter=Q(history_type="+"))
    )
    assert history.count() == Deal.objects.count()
    # One creation record each; the demo's split deals also keep the change that split them.
    split = DealCredit.objects.values("deal_id")
    assert not history.exclude(n=1, created=1).exclude(id__in=split).exists()
    assert not history.filter(id__in=split).exclude(n=2, created=1).exists()


def test_dollar_deals_are_converted_at_the_closing_day_rate(seeded, db):
    usd = list(Deal.objects.filter(currency="USD"))
    assert 10 <= len(usd) <= 500
    rates = list(
        ExchangeRate.objects.filter(currency="USD").order_by("valid_from").values_list("valid_from", "rate")
    )
    for deal in usd:
        day = deal.closed_on or deal.created_on
        rate = [r for valid_from, r in rates if valid_from <= day][-1]
        assert deal.exchange_rate == rate
        assert deal.amount == (deal.amount_original * rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert not Deal.objects.exclude(currency="USD").exclude(currency="EUR").exists()


def test_campaigns_have_costs_and_some_cross_a_quarter_end(seeded, db):
    campaigns = list(Campaign.objects.all())
    assert len(campaigns) >= 6
    assert all(c.cost > 0 for c in campaigns)
    quarter_ends = [
        c
        for c in campaigns
        if (c.start_on.month - 1) // 3 != (c.end_on.month - 1) // 3 or c.start_on.year != c.end_on.year
    ]
    assert len(quarter_ends) >= 2
    assert Deal.objects.exclude(campaign=None).count() > 100
    assert Segment.objects.count() >= 4 and Category.objects.count() >= 4


def test_customers_return_in_later_years_and_some_churn(seeded, db):
    today = timezone.localdate()
    assert 200 <= Customer.objects.count() <= 600
    won_years = defaultdict(set)
    last_deal = {}
    for customer_id, closed_on in Deal.objects.filter(stage=Stage.WON).values_list(
        "customer_id", "closed_on"
    ):
        won_years[customer_id].add(closed_on.year)
    for customer_id, created_on in Deal.objects.values_list("customer_id", "created_on"):
        last_deal[customer_id] = max(created_on, last_deal.get(customer_id, created_on))
    returning = [c for c, years in won_years.items() if len(years) >= 2]
    assert len(returning) >= 20
    churned = [c for c in won_years if last_deal[c] < today - datetime.timedelta(days=240)]
    assert len(churned) >= 20


def test_running_it_twice_changes_nothing(seeded, db):
    before = counts()

    output = seed()

    assert "already exists" in output
    assert counts() == before


def test_reset_rebuilds_the_same_data(seeded, db):
    before = counts()
    history_before = Deal.history.count()

    seed("--reset")

    assert counts() == before
    assert Deal.history.count() == history_before
