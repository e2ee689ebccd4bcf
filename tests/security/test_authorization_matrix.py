"""Who may reach what, generated from the URL resolver so that a new URL cannot be missed.

1. Every route, with its parameters filled by an object of team North, answers an anonymous visitor
   with a redirect to the login page (pages) or 401/403 (API) — never with data — unless it is listed
   in PUBLIC.
2. For the routes that show or change one object of team North, each role gets the expected answer:
   the rep and manager of North and the admin reach it; the rep and manager of South get 404, exactly
   as for an object that does not exist. Admin-only routes answer 403 to everyone else.
"""

import re
from decimal import Decimal

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from goals.models import Notification
from kpis.models import KpiRun
from salesteam.models import DealCredit, ImportJob, Stage
from tests.factories import CustomerFactory, DealFactory
from tests.goals.helpers import draft
from tests.incentives.bonus_helpers import make_plan

pytestmark = pytest.mark.django_db

SKIPPED_PREFIXES = ("admin/", "i18n/", "accounts/", "static/", "api/docs/")
PUBLIC = {"api_token", "schema", "leaderboards:wallboard"}


def routes():
    """(route, name, converters) of every URL pattern, without the format-suffix variants."""

    def walk(patterns, prefix="", namespace=None):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(
                    pattern.url_patterns, prefix + str(pattern.pattern), pattern.namespace or namespace
                )
            elif isinstance(pattern, URLPattern):
                name = f"{namespace}:{pattern.name}" if namespace else pattern.name
                yield prefix + str(pattern.pattern), name

    for route, name in walk(get_resolver().url_patterns):
        if route.startswith(SKIPPED_PREFIXES) or "format" in route:
            continue
        yield route, name


def fill(route: str, objects: dict) -> str:
    """Turns a route into a path, filling each parameter with the id of a North object of that kind."""
    path = route.replace("^", "").replace("$", "")
    kind = next((k for k in OBJECT_FOR if re.search(k, path)), None)

    def value(match):
        param = match.group("name")
        if param == "pk":
            assert kind is not None, f"{route}: add the kind of object it shows to OBJECT_FOR"
            return str(objects[OBJECT_FOR[kind]].pk)
        if param == "action":
            return "submit"
        if param == "token":
            return "no-such-token"
        raise AssertionError(f"{route}: unknown parameter {param}; teach this test how to fill it")

    path = re.sub(r"\(\?P<(?P<name>\w+)>[^)]*\)", value, path)
    path = re.sub(r"<(?:\w+:)?(?P<name>\w+)>", value, path)
    return "/" + path


# Which object a route with a pk shows, by a pattern on its path.
OBJECT_FOR = {
    r"^deals/": "deal",
    r"^api/v1/deals/": "deal",
    r"^imports/": "import",
    r"^api/v1/imports/": "import",
    r"^kpis/runs/": "run",
    r"^api/v1/kpi-runs/": "run",
    r"notifications/": "notification",
    r"^goals/": "goal",
    r"^api/v1/goals/": "goal",
    r"^recognition/teams/": "team",
    r"^recognition/people/": "rep_north",
    r"kudos/": "missing",
    r"badges/": "missing",
    r"^api/v1/users/": "rep_north",
    r"^api/v1/teams/": "team",
    r"^api/v1/customers/": "customer",
    r"^api/v1/campaigns/": "missing",
    r"awards/": "missing",
    r"^earnings/plans/": "plan",
    r"^api/v1/plans/": "plan",
    r"^earnings/": "missing",
    r"payroll": "missing",
}


class Missing:
    pk = 999999


@pytest.fixture
def world(rep, other_rep, manager, other_manager, admin_user, team):
    deal = DealFactory(rep=rep, team=team, customer=CustomerFactory(), stage=Stage.WON)
    today = timezone.localdate()
    goal = draft(rep, title="North goal", start_on=today, end_on=today, target_value=Decimal("1000"))
    notification = Notification.objects.create(recipient=rep, message="hello")
    job = ImportJob.objects.create(original_name="north.csv", created_by=manager)
    run = KpiRun.objects.create(trigger=KpiRun.Trigger.COMMAND, status=KpiRun.Status.SUCCEEDED, is_open=None)
    plan = make_plan(rules=[{"type": "commission", "rate": "0.05"}], teams=[team], effective_from=today)
    return {
        "deal": deal, "goal": goal, "notification": notification, "import": job, "run": run, "team": team,
        "plan": plan,
        "rep_north": rep, "customer": deal.customer, "missing": Missing(),
        "users": {"rep": rep, "other_rep": other_rep, "manager": manager, "other_manager": other_manager,
                  "admin": admin_user},
    }  # fmt: skip


def test_every_route_turns_anonymous_visitors_away(client, world):
    checked = 0
    for route, name in routes():
        if name in PUBLIC:
            continue
        path = fill(route, world)
        for method in ("get", "post"):
            response = getattr(client, method)(path)
            if response.status_code == 405:
                continue
            if path.startswith("/api/"):
                assert response.status_code in (401, 403), (method, path, response.status_code)
            else:
                assert response.status_code == 302, (method, path, response.status_code)
                assert response["Location"].startswith("/accounts/login/"), (method, path)
            checked += 1
    assert checked > 40


# (path template, method, expected status for: rep, other_rep, manager, other_manager, admin)
MATRIX = [
    ("/deals/{deal}/", "get", (200, 404, 200, 404, 200)),
    ("/deals/{deal}/edit/", "get", (200, 404, 200, 404, 200)),
    ("/deals/{deal}/stage/", "post", (302, 404, 302, 404, 302)),
    ("/api/v1/deals/{deal}/", "get", (200, 404, 200, 404, 200)),
    ("/api/v1/deals/{deal}/", "patch", (200, 404, 200, 404, 200)),
    ("/imports/{import}/", "get", (404, 404, 200, 404, 200)),
    ("/api/v1/imports/{import}/", "get", (404, 404, 200, 404, 200)),
    ("/goals/{goal}/", "get", (200, 404, 200, 404, 200)),
    ("/api/v1/goals/{goal}/", "get", (200, 404, 200, 404, 200)),
    ("/kpis/runs/", "get", (403, 403, 403, 403, 200)),
    ("/kpis/runs/{run}/progress/", "get", (403, 403, 403, 403, 200)),
    ("/api/v1/kpi-runs/{run}/", "get", (403, 403, 403, 403, 200)),
    ("/kpis/?s=rep:{rep_north}", "get", (200, 404, 200, 404, 200)),
    ("/kpis/?s=team:{team}", "get", (200, 404, 200, 404, 200)),
    ("/api/v1/kpis/?scope=rep&scope_id={rep_north}", "get", (200, 404, 200, 404, 200)),
    ("/api/v1/users/{rep_north}/", "get", (200, 404, 200, 404, 200)),
    ("/api/v1/teams/{team}/", "get", (200, 404, 200, 404, 200)),
    ("/earnings/plans/{plan}/contests/", "get", (200, 404, 200, 404, 200)),
    ("/api/v1/plans/{plan}/contests/", "get", (200, 404, 200, 404, 200)),
    ("/earnings/plans/{plan}/simulate/", "get", (404, 404, 404, 404, 200)),
    ("/api/v1/plans/{plan}/", "get", (404, 404, 404, 404, 200)),
    ("/api/v1/plans/{plan}/", "patch", (404, 404, 404, 404, 200)),
]
ROLES = ("rep", "other_rep", "manager", "other_manager", "admin")


@pytest.mark.parametrize(("template", "method", "expected"), MATRIX, ids=[f"{m} {t}" for t, m, _ in MATRIX])
def test_each_role_reaches_only_what_is_theirs(client, world, template, method, expected):
    path = template.format(
        **{key: getattr(value, "pk", None) for key, value in world.items() if key != "users"}
    )
    for role, status in zip(ROLES, expected, strict=True):
        client.force_login(world["users"][role])
        data = {"stage": "lost"} if method == "post" else None
        if method == "patch":
            response = client.patch(path, data='{"title": "x"}', content_type="application/json")
        else:
            response = getattr(client, method)(path, data)
        assert response.status_code == status, (role, method, path, response.status_code)


# The same deal of team North, 40 % of it credited to the rep of South: the credited rep and the
# manager of their team see it, read only (403 on a change); nobody else's answer changes.
CREDITED_MATRIX = [
    ("/deals/{deal}/", "get", (200, 200, 200, 200, 200)),
    ("/deals/{deal}/edit/", "get", (200, 403, 200, 403, 200)),
    ("/deals/{deal}/stage/", "post", (302, 403, 302, 403, 302)),
    ("/api/v1/deals/{deal}/", "get", (200, 200, 200, 200, 200)),
    ("/api/v1/deals/{deal}/", "patch", (200, 403, 200, 403, 200)),
]


@pytest.mark.parametrize(
    ("template", "method", "expected"), CREDITED_MATRIX, ids=[f"{m} {t}" for t, m, _ in CREDITED_MATRIX]
)
def test_a_credited_rep_and_their_manager_see_the_deal_read_only(client, world, template, method, expected):
    deal = world["deal"]
    DealCredit.objects.create(deal=deal, rep=world["users"]["rep"], share=Decimal("60"))
    DealCredit.objects.create(deal=deal, rep=world["users"]["other_rep"], share=Decimal("40"))
    path = template.format(deal=deal.pk)
    for role, status in zip(ROLES, expected, strict=True):
        client.force_login(world["users"][role])
        data = {"stage": "lost"} if method == "post" else None
        if method == "patch":
            response = client.patch(path, data='{"title": "x"}', content_type="application/json")
        else:
            response = getattr(client, method)(path, data)
        assert response.status_code == status, (role, method, path, response.status_code)
