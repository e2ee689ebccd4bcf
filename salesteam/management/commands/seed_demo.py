"""`manage.py seed_demo`: a deterministic, realistic demo data set for a car dealership group.

Three teams, two managers, twelve reps (one moved team a year ago, one left), customer segments,
product categories, campaigns with costs, monthly USD exchange rates, a few hundred customers (some
return year after year, some churn) and two years of deals up to today with seasonality, wins and
losses, varied sales cycles and open deals in every open stage.

Idempotent: when demo deals exist it says so and changes nothing, unless `--reset` is given, which
removes the demo deals and memberships and builds them again. Deals are validated and derived by
`services.prepare_deal` (team on the closing date, exchange rate, reporting amounts) and written with
one bulk insert plus one "created" history row each, so the command takes a few seconds.
"""

from __future__ import annotations

import calendar
import datetime
import math
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history

from salesteam import services
from salesteam.models import (
    Campaign,
    Category,
    Customer,
    Deal,
    ExchangeRate,
    Membership,
    Role,
    Segment,
    Stage,
    Team,
    TouchPoint,
    User,
)

SOURCE = "demo"
PASSWORD = "demo-pass-2024"
CUSTOMER_PREFIX = "DEMO-C"
CUSTOMER_COUNT = 420
YEARS = 2
# Expected new deals on an ordinary weekday; about 4,000 deals over two years.
DEALS_PER_WEEKDAY = 6.8
WEEKDAY_FACTOR = (1.0, 1.0, 1.0, 1.0, 1.05, 0.55, 0.08)
# Q4 is the strongest quarter, the summer holidays the weakest.
MONTH_FACTOR = {
    1: 0.85,
    2: 0.9,
    3: 1.05,
    4: 1.0,
    5: 1.0,
    6: 0.9,
    7: 0.7,
    8: 0.62,
    9: 1.0,
    10: 1.15,
    11: 1.3,
    12: 1.4,
}
MONTH_WIN_BONUS = {7: -0.04, 8: -0.05, 10: 0.03, 11: 0.05, 12: 0.07}
BASE_WIN_RATE = 0.38

TEAMS = ("North", "South", "East")
MANAGERS = (
    # username, full name, managed teams
    ("manager.north", "Sofie Janssens", ("North", "East")),
    ("manager.south", "Pieter De Smet", ("South",)),
)


@dataclass(frozen=True)
class RepSpec:
    first: str
    last: str
    team: str
    volume: float  # share of the deal flow relative to an average rep
    skill: float  # added to the win probability
    joined_months_ago: int = 48
    moves_to: str = ""  # moves to this team a year ago
    leaves_months_ago: int = 0  # inactive since then


REPS = (
    RepSpec("Anna", "Peeters", "North", 1.35, 0.08),
    RepSpec("Bram", "Maes", "North", 1.0, 0.0),
    RepSpec("Chloe", "Willems", "North", 0.9, 0.03),
    RepSpec("Daan", "Claes", "North", 1.1, -0.04),
    RepSpec("Emma", "Goossens", "South", 1.2, 0.05),
    RepSpec("Finn", "Wouters", "South", 1.0, 0.02, moves_to="East"),
    RepSpec("Greet", "Mertens", "South", 0.85, -0.02),
    RepSpec("Hugo", "Dubois", "South", 1.05, -0.06),
    RepSpec("Ines", "Lambert", "East", 1.15, 0.04),
    RepSpec("Jonas", "Dupont", "East", 0.95, 0.0),
    RepSpec("Lotte", "Jacobs", "East", 0.9, 0.01, joined_months_ago=9),
    RepSpec("Milan", "Hermans", "East", 0.8, -0.05, leaves_months_ago=5),
)

SEGMENTS = {
    # name: (share of customers, deals weight, share of fleet-sized orders)
    "New vehicles": (0.34, 1.0, 0.0),
    "Used vehicles": (0.30, 0.9, 0.0),
    "Fleet": (0.16, 1.8, 0.85),
    "Parts & service": (0.20, 1.3, 0.0),
}

# name: (lowest, highest amount per unit in whole euros, cost share range in percent)
CATEGORIES = {
    "City cars": (16000, 26000, (80, 92)),
    "SUVs": (32000, 68000, (76, 90)),
    "Vans": (27000, 52000, (78, 91)),
    "Electric cars": (29000, 72000, (80, 94)),
    "Maintenance plans": (600, 3600, (35, 60)),
    "Parts & accessories": (150, 2800, (45, 70)),
}
SEGMENT_CATEGORIES = {
    "New vehicles": {"City cars": 3, "SUVs": 3, "Electric cars": 3, "Maintenance plans": 1},
    "Used vehicles": {"City cars": 4, "SUVs": 3, "Vans": 1, "Electric cars": 1, "Maintenance plans": 1},
    "Fleet": {"Vans": 4, "Electric cars": 3, "City cars": 2, "Maintenance plans": 2},
    "Parts & service": {"Maintenance plans": 3, "Parts & accessories": 5},
}
USED_PRICE_FACTOR = Decimal("0.55")

TOUCH_POINT_WEIGHTS = {
    "web": 30,
    "phone": 20,
    "email": 14,
    "event": 8,
    "referral": 12,
    "partner": 9,
    "other": 7,
}
LOST_REASONS = (
    ("Price too high", 30),
    ("Chose a competitor", 25),
    ("No budget", 12),
    ("Delivery time too long", 12),
    ("No response", 15),
    ("Financing refused", 6),
)

COMPANY_NAMES = (
    "Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Goossens", "Wouters",
    "De Smet", "Dubois", "Lambert", "Dupont", "Hermans", "Van Damme", "Verhoeven", "Desmet", "Lemmens",
    "Michiels", "Martens", "Aerts", "Segers", "Cools", "Smets", "Vermeulen", "Bogaert", "Dumont",
    "Leclercq", "Renard", "Simon", "Coppens", "Verstraete", "De Backer", "Hendrickx", "Vandenberghe",
)  # fmt: skip
COMPANY_KINDS = (
    "Logistics", "Bouw", "Transport", "Catering", "Consult", "Installaties", "Garden", "Pharma",
    "Bakery", "Architects", "Electric", "Care", "Print", "Retail", "Taxi", "Rent", "Events", "Plumbing",
)  # fmt: skip


@dataclass
class CustomerPlan:
    customer: Customer
    weight: float
    first_day: datetime.date
    last_day: datetime.date  # churned after this day (far in the future for loyal customers)
    currency: str


def add_months(day: datetime.date, months: int) -> datetime.date:
    month_index = day.year * 12 + day.month - 1 + months
    year, month = divmod(month_index, 12)
    month += 1
    return datetime.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method: fine for the small rates used here."""
    limit, count, product = math.exp(-lam), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


class Command(BaseCommand):
    help = "Loads a deterministic demo data set: people, teams, customers, campaigns and two years of deals."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=2024, help="Random seed (default 2024).")
        parser.add_argument(
            "--reset", action="store_true", help="Remove existing demo deals and build the data again."
        )

    def handle(self, *args: Any, seed: int, reset: bool, **options: Any) -> None:
        if Deal.objects.filter(source=SOURCE).exists() and not reset:
            self.stdout.write(_("Demo data already exists; nothing changed (use --reset to rebuild it)."))
            self.print_logins()
            return
        with transaction.atomic():
            if reset:
                self.reset()
            count = self.build(random.Random(seed))
            for seeder in settings.DEMO_SEEDERS:
                import_string(seeder)(reset=reset)
        self.stdout.write(self.style.SUCCESS(_("Demo data loaded: %(count)d deals.") % {"count": count}))
        self.print_logins()

    # --- Steps -------------------------------------------------------------------------------------

    def reset(self) -> None:
        demo_users = User.objects.filter(username__in=self.demo_usernames())
        # The demo deals' history goes with them, so deleting them need not write a history row each.
        Deal.history.filter(source=SOURCE).delete()
        with override_settings(SIMPLE_HISTORY_ENABLED=False):
            Deal.objects.filter(source=SOURCE).delete()
        Membership.objects.filter(user__in=demo_users).delete()

    def build(self, rng: random.Random) -> int:
        today = timezone.localdate()
        start = add_months(today.replace(day=1), -12 * YEARS)
        teams = {name: Team.objects.get_or_create(name=name)[0] for name in TEAMS}
        reps = self.people(teams, today)
        segments = {name: Segment.objects.get_or_create(name=name)[0] for name in SEGMENTS}
        categories = {name: Category.objects.get_or_create(name=name)[0] for name in CATEGORIES}
        touch_points = {tp.code: tp for tp in TouchPoint.objects.all()}
        campaigns = self.campaigns(rng, start, today)
        self.exchange_rates(start, today)
        customers = self.customers(rng, segments, start, today)
        deals = self.deals(rng, start, today, reps, customers, categories, touch_points, campaigns)
        for index, deal in enumerate(deals):
            # The history's "Created" entry is dated and signed as if the rep had logged the deal.
            deal._history_user = deal.rep
            deal._history_date = timezone.make_aware(
                datetime.datetime.combine(deal.created_on, datetime.time(9 + index % 8, 0))
            )
        bulk_create_with_history(deals, Deal, batch_size=500)
        return len(deals)

    def demo_usernames(self) -> list[str]:
        return ["admin", *(m[0] for m in MANAGERS), *(f"rep.{r.first.lower()}" for r in REPS)]

    def people(self, teams: dict[str, Team], today: datetime.date) -> list[tuple[User, RepSpec, tuple]]:
        existing = set(
            User.objects.filter(username__in=self.demo_usernames()).values_list("username", flat=True)
        )
        new_users: list[User] = []

        admin, _changed = services.user_upsert(
            actor=None,
            username="admin",
            email="admin@salesteam.example",
            full_name="Ada Admin",
            role=Role.ADMIN,
        )
        if "admin" not in existing:
            admin.is_superuser = True
            new_users.append(admin)

        managers: dict[str, User] = {}
        for username, full_name, team_names in MANAGERS:
            for team_name in team_names:
                manager, _changed = services.user_upsert(
                    actor=admin,
                    username=username,
                    email=f"{username}@salesteam.example",
                    full_name=full_name,
                    role=Role.MANAGER,
                    team=teams[team_name],
                    manager=admin,
                )
            for team_name in team_names:
                managers[team_name] = manager
            if username not in existing:
                new_users.append(manager)

        reps = []
        for spec in REPS:
            username = f"rep.{spec.first.lower()}"
            joined = add_months(today.replace(day=1), -spec.joined_months_ago)
            manager = managers[spec.moves_to or spec.team]
            rep, _changed = services.user_upsert(
                actor=admin,
                username=username,
                email=f"{spec.first.lower()}.{spec.last.lower()}@salesteam.example",
                full_name=f"{spec.first} {spec.last}",
                role=Role.REP,
                manager=manager,
            )
            if not Membership.objects.filter(user=rep).exists():
                services.membership_move(actor=admin, user=rep, team=teams[spec.team], valid_from=joined)
                if spec.moves_to:
                    moved = today - datetime.timedelta(days=365)
                    services.membership_move(
                        actor=admin, user=rep, team=teams[spec.moves_to], valid_from=moved
                    )
            left = add_months(today, -spec.leaves_months_ago) if spec.leaves_months_ago else None
            if left:  # also after a reset, which rebuilt the memberships
                rep = services.user_deactivate(actor=admin, user=rep, on=left)
            if username not in existing:
                new_users.append(rep)
            reps.append((rep, spec, (joined, left)))

        # One hash for every demo login: hashing a dozen passwords one by one would take seconds.
        password = make_password(PASSWORD)
        for user in new_users:
            user.password = password
            user.save(update_fields=["password", "is_superuser"])
        return reps

    def campaigns(self, rng: random.Random, start: datetime.date, today: datetime.date) -> list[Campaign]:
        """Yearly campaigns; several run across a month or quarter end, so costs are spread."""
        plans = (
            # code, name, channel, (month, day) start, length in days, cost range in euros
            ("motor-show", "Motor show", "event", (1, 10), 26, (38000, 52000)),
            ("spring-drive", "Spring test-drive weeks", "dealer", (3, 15), 31, (14000, 22000)),
            ("summer-ev", "Summer electric offer", "online", (6, 10), 53, (18000, 30000)),
            ("fleet-days", "Fleet days", "event", (9, 15), 30, (22000, 34000)),
            ("year-end", "Year-end stock offers", "online", (11, 15), 61, (26000, 40000)),
            ("service-check", "Winter service check", "email", (10, 20), 45, (4000, 7500)),
        )
        result = []
        for year in range(start.year, today.year + 1):
            for code, name, channel, (month, day), length, (low, high) in plans:
                start_on = datetime.date(year, month, day)
                if start_on < start or start_on > today:
                    continue
                campaign, _created = Campaign.objects.get_or_create(
                    code=f"{code}-{year}",
                    defaults={
                        "name": f"{name} {year}",
                        "channel": channel,
                        "cost": Decimal(rng.randrange(low, high, 250)),
                        "start_on": start_on,
                        "end_on": start_on + datetime.timedelta(days=length - 1),
                    },
                )
                result.append(campaign)
        return result

    def exchange_rates(self, start: datetime.date, today: datetime.date) -> None:
        """Monthly EUR per USD rates, each month's value derived from the month alone."""
        month = start
        while month <= today:
            wobble = random.Random(f"usd-{month:%Y-%m}").randint(-300, 300)
            rate = Decimal("0.9200") + Decimal(wobble) / Decimal(10000)
            ExchangeRate.objects.get_or_create(currency="USD", valid_from=month, defaults={"rate": rate})
            month = add_months(month, 1)

    def customers(
        self, rng: random.Random, segments: dict[str, Segment], start: datetime.date, today: datetime.date
    ) -> list[CustomerPlan]:
        existing = {
            c.external_id: c for c in Customer.objects.filter(external_id__startswith=CUSTOMER_PREFIX)
        }
        segment_names = list(SEGMENTS)
        shares = [SEGMENTS[name][0] for name in segment_names]
        span = (today - start).days
        names_used: set[str] = set()
        plans, new_customers = [], []
        for index in range(CUSTOMER_COUNT):
            segment_name = rng.choices(segment_names, shares)[0]
            name = f"{rng.choice(COMPANY_NAMES)} {rng.choice(COMPANY_KINDS)}"
            while name in names_used:
                name = f"{rng.choice(COMPANY_NAMES)} {rng.choice(COMPANY_KINDS)} {rng.randint(2, 9)}"
            names_used.add(name)
            external_id = f"{CUSTOMER_PREFIX}{index + 1:04d}"
            customer = existing.get(external_id)
            if customer is None:
                customer = Customer(external_id=external_id, name=name, segment=segments[segment_name])
                new_customers.append(customer)
            # A third were customers before the period; the others arrive over time.
            if rng.random() < 0.35:
                first_day = start - datetime.timedelta(days=rng.randint(0, 365))
            else:
                first_day = start + datetime.timedelta(days=rng.randint(0, span - 20))
            # About four in ten churn after a while; the others keep coming back.
            if rng.random() < 0.4:
                last_day = max(first_day, start) + datetime.timedelta(days=rng.randint(90, 540))
            else:
                last_day = datetime.date.max
            # A few international fleet accounts buy in US dollars.
            currency = "USD" if segment_name == "Fleet" and index % 6 == 0 else "EUR"
            weight = SEGMENTS[segment_name][1] * rng.uniform(0.5, 1.5)
            plans.append(CustomerPlan(customer, weight, first_day, last_day, currency))
        bulk_create_with_history(new_customers, Customer, batch_size=500)
        return plans

    def deals(
        self,
        rng: random.Random,
        start: datetime.date,
        today: datetime.date,
        reps: list[tuple[User, RepSpec, tuple]],
        customers: list[CustomerPlan],
        categories: dict[str, Category],
        touch_points: dict[str, TouchPoint],
        campaigns: list[Campaign],
    ) -> list[Deal]:
        ref = services.ReferenceData.load(user_ids=[rep.pk for rep, _spec, _dates in reps])
        tp_codes = [code for code in TOUCH_POINT_WEIGHTS if code in touch_points]
        tp_weights = [TOUCH_POINT_WEIGHTS[code] for code in tp_codes]
        reasons, reason_weights = zip(*LOST_REASONS, strict=True)
        deals: list[Deal] = []
        day = start
        while day <= today:
            lam = DEALS_PER_WEEKDAY * WEEKDAY_FACTOR[day.weekday()] * MONTH_FACTOR[day.month]
            active_customers = [c for c in customers if c.first_day <= day <= c.last_day]
            active_campaigns = [c for c in campaigns if c.start_on <= day <= c.end_on]
            for _n in range(poisson(rng, lam)):
                cycle = min(120, max(5, round(rng.lognormvariate(math.log(28), 0.65))))
                close_day = day + datetime.timedelta(days=cycle)
                eligible = [
                    (rep, spec)
                    for rep, spec, (joined, left) in reps
                    if joined <= day and (left is None or close_day < left)
                ]
                rep, spec = rng.choices(eligible, [spec.volume for _rep, spec in eligible])[0]
                plan = rng.choices(active_customers, [c.weight for c in active_customers])[0]
                values = self.deal_values(rng, plan, categories)
                campaign = None
                if active_campaigns and rng.random() < 0.45:
                    campaign = rng.choice(active_campaigns)
                touch_point = touch_points[
                    campaign.channel if campaign and campaign.channel in touch_points else "web"
                ]
                if campaign is None or rng.random() < 0.5:
                    touch_point = touch_points[rng.choices(tp_codes, tp_weights)[0]]
                if close_day <= today:
                    win_rate = BASE_WIN_RATE + spec.skill + MONTH_WIN_BONUS.get(close_day.month, 0.0)
                    if campaign is not None:
                        win_rate += 0.03
                    won = rng.random() < win_rate
                    if not won:
                        # Lost deals are usually given up sooner.
                        close_day = day + datetime.timedelta(
                            days=max(5, round(cycle * rng.uniform(0.5, 1.0)))
                        )
                    stage = Stage.WON if won else Stage.LOST
                    lost_reason = "" if won else rng.choices(reasons, reason_weights)[0]
                    closed_on = close_day
                else:
                    progress = (today - day).days / cycle
                    stage = (Stage.LEAD, Stage.QUALIFIED, Stage.PROPOSAL, Stage.NEGOTIATION)[
                        min(3, int(progress * 4))
                    ]
                    lost_reason, closed_on = "", None
                values.update(
                    rep=rep,
                    customer=plan.customer,
                    campaign=campaign,
                    touch_point=touch_point,
                    stage=stage,
                    created_on=day,
                    closed_on=closed_on,
                    lost_reason=lost_reason,
                )
                prepared = services.prepare_deal(values, ref)
                deals.append(Deal(source=SOURCE, external_id=f"D-{len(deals) + 1:06d}", **prepared))
            day += datetime.timedelta(days=1)
        return deals

    def deal_values(
        self, rng: random.Random, plan: CustomerPlan, categories: dict[str, Category]
    ) -> dict[str, Any]:
        segment = plan.customer.segment.name
        options = SEGMENT_CATEGORIES[segment]
        category_name = rng.choices(list(options), list(options.values()))[0]
        low, high, (cost_low, cost_high) = CATEGORIES[category_name]
        unit = Decimal(rng.randrange(low, high, 50))
        if segment == "Used vehicles" and category_name not in ("Maintenance plans", "Parts & accessories"):
            unit = services.round_money(unit * USED_PRICE_FACTOR)
        quantity = 1
        if rng.random() < SEGMENTS[segment][2]:
            quantity = rng.randint(2, 8)
        amount = unit * quantity
        if rng.random() < 0.03:
            # Now and then a deal is sold below cost (a stock clearance or a customer worth keeping).
            cost_share = Decimal(rng.randint(102, 115))
        else:
            cost_share = Decimal(rng.randint(cost_low, cost_high))
        cost = services.round_money(amount * cost_share / 100)
        title = plan.customer.name + " · " + category_name
        if quantity > 1:
            title = f"{plan.customer.name} · {quantity} × {category_name}"
        return {
            "title": title,
            "category": categories[category_name],
            "currency": plan.currency,
            "amount_original": amount,
            "cost_original": cost,
        }

    def print_logins(self) -> None:
        users = (
            User.objects.filter(username__in=self.demo_usernames())
            .prefetch_related("managed_teams", "memberships__team")
            .order_by("role", "username")
        )
        self.stdout.write("")
        self.stdout.write(_("Demo logins (password “%(password)s”):") % {"password": PASSWORD})
        for user in users:
            teams = [team.name for team in user.managed_teams.all()]
            teams += [m.team.name for m in user.memberships.all() if m.valid_to is None]
            line = f"  {user.username:<16} {user.get_role_display():<10} {', '.join(teams)}"
            if not user.is_active:
                line += " " + _("(inactive, cannot log in)")
            self.stdout.write(line.rstrip())
