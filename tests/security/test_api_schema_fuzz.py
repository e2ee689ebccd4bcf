"""The API against its own OpenAPI schema: schemathesis reads /api/schema/ from the WSGI app and sends
generated requests, valid and invalid, to every operation, as an admin and as a rep.

Every answer must be something other than a server error, with the documented content type and, for
a documented status code, a body that matches the schema. Half of the generated object ids are
replaced by the id of an object the rep can see, so that detail pages and actions (approve, submit,
react, …) run on real rows and not only into 404. Bounded: a few examples per operation, all in one
database transaction per role. Django's own test client is not used: the requests go through the WSGI
application and its whole middleware stack.

Status codes the schema does not list (400, 403, 404 of DRF) are not checked: drf-spectacular
documents the successful answer only.
"""

from __future__ import annotations

import datetime
import os
from decimal import Decimal

import pytest
import schemathesis
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from goals import services as goal_services
from goals.models import Goal, Notification
from incentives import services as recognition
from incentives.models import Badge, BadgeKind, BadgeRule, BonusAward, Kudos
from kpis import services as kpi_services
from kpis.models import KpiRun
from salesteam.importing import services as importing
from salesteam.models import Stage
from tests.factories import CampaignFactory, CustomerFactory, DealFactory, UserFactory
from tests.incentives.bonus_helpers import make_plan

pytestmark = pytest.mark.django_db

CHECKS = [not_a_server_error, content_type_conformance, response_schema_conformance]
# Examples per operation: valid requests, then half as many invalid ones. Derandomized, so a run is
# repeatable; raise API_FUZZ_EXAMPLES to explore further (the default keeps both roles within a minute).
EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "4"))
MODES = {GenerationMode.POSITIVE: EXAMPLES, GenerationMode.NEGATIVE: max(1, EXAMPLES // 2)}


def bounded(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: the first failing example is reported
        suppress_health_check=list(HealthCheck),
    )


# Which kind of object an operation's {id} names, by the collection in its path.
ID_OF = {
    "deals": "deal",
    "goals": "goal",
    "awards": "award",
    "badges": "badge",
    "campaigns": "campaign",
    "customers": "customer",
    "imports": "import",
    "kpi-runs": "run",
    "kudos": "kudos",
    "notifications": "notification",
    "teams": "team",
    "users": "user",
}


@pytest.fixture
def world(team, rep, manager, other_rep, django_capture_on_commit_callbacks):
    """A small company with one of everything the API shows, as of today."""
    today = timezone.localdate()
    admin = UserFactory(username="fuzz-admin", role="admin", is_staff=True, is_superuser=True)
    make_plan(
        rules=[{"type": "commission", "rate": "0.05"}],
        teams=[team],
        effective_from=today.replace(day=1) - datetime.timedelta(days=70),
    )
    customer = CustomerFactory()
    campaign = CampaignFactory()
    deals = []
    for stage, amount, days in [
        (Stage.WON, "5200.00", 2),
        (Stage.WON, "1800.00", 40),
        (Stage.LOST, "900.00", 5),
        (Stage.PROPOSAL, "3100.00", 0),
    ]:
        closed = stage in (Stage.WON, Stage.LOST)
        deal = DealFactory(
            rep=rep, team=team, customer=customer, campaign=campaign, stage=stage,
            amount_original=Decimal(amount), cost_original=Decimal("100.00"),
            created_on=today - datetime.timedelta(days=days + 12),
            closed_on=today - datetime.timedelta(days=days) if closed else None,
        )  # fmt: skip
        deals.append(deal)
    goal = goal_services.goal_create(
        actor=rep, title="Revenue this month", why="Growth", metric="revenue",
        start_on=today.replace(day=1), end_on=today + datetime.timedelta(days=20),
        target_value=Decimal("10000.00"),
    )  # fmt: skip
    goal_services.goal_submit(actor=rep, goal=goal)
    goal_services.goal_create(
        actor=rep, title="Draft", metric="deals_won", start_on=today, end_on=today, target_value=Decimal("3")
    )
    recognition.kudos_give(sender=manager, recipient=rep, message="Great quarter!")
    BadgeRule.objects.create(name="First win", kind=BadgeKind.FIRST_WON_DEAL)  # earned in the run below
    with django_capture_on_commit_callbacks(execute=True):
        kpi_services.kpi_run_start(trigger=KpiRun.Trigger.NIGHTLY, full=True, in_process=True)
    job = importing.import_upload(
        actor=manager,
        file=SimpleUploadedFile("deals.csv", b"external_id,rep,amount\nX1,rep,oops\n", "text/csv"),
        source="crm",
    )
    found = {
        "deal": deals[0].pk,
        "goal": goal.pk,
        "award": BonusAward.objects.filter(rep=rep).values_list("pk", flat=True).first(),
        "badge": Badge.objects.values_list("pk", flat=True).first(),
        "campaign": campaign.pk,
        "customer": customer.pk,
        "import": job.pk,
        "run": KpiRun.objects.values_list("pk", flat=True).first(),
        "kudos": Kudos.objects.values_list("pk", flat=True).first(),
        "notification": Notification.objects.filter(recipient=rep).values_list("pk", flat=True).first()
        or Notification.objects.create(recipient=rep, message="hello").pk,
        "team": team.pk,
        "user": rep.pk,
    }
    assert Goal.objects.filter(status=Goal.Status.SUBMITTED).exists()
    # Every detail endpoint is probed with a real object too, not only with ids that do not exist.
    assert all(pk is not None for pk in found.values()), found
    tokens = {"admin": Token.objects.create(user=admin).key, "rep": Token.objects.create(user=rep).key}
    return {"ids": found, "tokens": tokens, "other_rep": other_rep}


@pytest.fixture
def wsgi_app():
    """The project's WSGI application, on the test's database connection: Django closes the
    connection after each request (request_finished), which would end the test's transaction, so
    that handler is off while the test runs, as in Django's own test client."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    from salesteam.wsgi import application

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield application
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def call(case, world: dict, role: str) -> None:
    """Sends the case as `role` (token authentication) and checks the answer."""
    value = case.path_parameters.get("id") if case.path_parameters else None
    if isinstance(value, int) and value % 2 == 0:
        kind = ID_OF.get(case.operation.path.split("/")[3])
        if kind and world["ids"][kind] is not None:
            case.path_parameters["id"] = world["ids"][kind]
    case.call_and_validate(headers={"Authorization": f"Token {world['tokens'][role]}"}, checks=CHECKS)


@pytest.mark.parametrize("role", ["admin", "rep"])
def test_the_api_answers_without_server_errors_and_as_documented(world, wsgi_app, role):
    schema = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app)
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode, examples in MODES.items():

            @bounded(examples)
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case):
                call(case, world, role)

            try:
                check()
            except Unsatisfiable:  # nothing to send that breaks the schema (no parameters, no body)
                continue
            except (Exception, FailureGroup) as error:  # one failing operation must not hide others
                failures.append(f"{operation.label} ({mode}): {error}")
    assert operations > 40
    assert not failures, "\n\n".join(failures)
