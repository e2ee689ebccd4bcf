import datetime
from decimal import Decimal

import factory
from django.utils import timezone

from salesteam.models import (
    Campaign,
    Category,
    Customer,
    Deal,
    DealCredit,
    Membership,
    Role,
    Segment,
    Stage,
    Team,
    User,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    full_name = factory.Faker("name")
    role = Role.REP
    password = factory.django.Password("pw-for-tests-1")


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    team = factory.SubFactory(TeamFactory)
    valid_from = datetime.date(2000, 1, 1)


class SegmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Segment
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Segment {n}")


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Category {n}")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    external_id = factory.Sequence(lambda n: f"C{n:05d}")
    name = factory.Faker("company")
    segment = factory.SubFactory(SegmentFactory)


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    code = factory.Sequence(lambda n: f"camp-{n}")
    name = factory.Sequence(lambda n: f"Campaign {n}")
    channel = "email"
    cost = Decimal("1000.00")
    start_on = datetime.date(2024, 1, 1)
    end_on = datetime.date(2024, 1, 31)


class DealFactory(factory.django.DjangoModelFactory):
    """A won deal in the reporting currency. Pass stage/closed_on for others."""

    class Meta:
        model = Deal

    source = "test"
    external_id = factory.Sequence(lambda n: f"D{n:06d}")
    rep = factory.SubFactory(UserFactory)
    customer = factory.SubFactory(CustomerFactory)
    stage = Stage.WON
    currency = "EUR"
    amount_original = Decimal("1000.00")
    cost_original = Decimal("400.00")
    amount = factory.LazyAttribute(lambda d: d.amount_original)
    cost = factory.LazyAttribute(lambda d: d.cost_original)
    created_on = datetime.date(2024, 1, 10)
    closed_on = factory.LazyAttribute(
        lambda d: d.created_on + datetime.timedelta(days=20) if d.stage in (Stage.WON, Stage.LOST) else None
    )
    team = factory.LazyAttribute(
        lambda d: m.team if (m := d.rep.memberships.order_by("-valid_from").first()) else None
    )


class DealCreditFactory(factory.django.DjangoModelFactory):
    """A line of a credit split, written directly: tests of the split's rules go through the services."""

    class Meta:
        model = DealCredit

    deal = factory.SubFactory(DealFactory)
    rep = factory.SubFactory(UserFactory)
    share = Decimal("100.00")


def today() -> datetime.date:
    return timezone.localdate()
