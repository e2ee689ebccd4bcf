import csv
import datetime
import html
import io
import json
import re
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from kpis import services
from kpis.models import KpiRun
from salesteam.models import Role
from tests.factories import DealFactory, MembershipFactory, UserFactory
from tests.kpis.fixtures import build_fixture

pytestmark = pytest.mark.django_db
D = datetime.date


@pytest.fixture
def world():
    fixture = build_fixture()
    north = fixture["teams"][0]
    manager = UserFactory(username="boss", role=Role.MANAGER)
    north.managers.add(manager)
    admin = UserFactory(username="root", role=Role.ADMIN, is_staff=True)
    services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, full=True, in_process=True)
    return {**fixture, "manager": manager, "admin": admin}


def test_rep_sees_own_dashboard_and_gets_404_for_a_colleague(client, world):
    ann, bob, _ = world["reps"]
    client.force_login(ann)
    page = client.get(reverse("kpis:dashboard"), {"period": "quarter", "date": "2024-01-15"})
    assert page.status_code == 200
    assert page.context["scope"].id == ann.pk
    assert page.context["scope"].name == ann.display_name
    revenue = next(c for c in page.context["cards"] if c["kpi"].slug == "revenue")
    assert revenue["value"] == Decimal("2000.00")
    assert client.get(reverse("kpis:dashboard"), {"s": f"rep:{bob.pk}"}).status_code == 404
    south = world["teams"][1]
    assert client.get(reverse("kpis:dashboard"), {"s": f"team:{south.pk}"}).status_code == 404
    assert client.get(reverse("kpis:dashboard"), {"s": "company:0"}).status_code == 200


def test_each_role_lands_on_its_dashboard_without_parameters(client, world):
    landings = [(world["reps"][0], "rep"), (world["manager"], "company"), (world["admin"], "company")]
    for user, scope in landings:
        client.force_login(user)
        response = client.get("/", follow=True)
        assert response.status_code == 200
        assert response.context["scope"].type == scope
    assert client.get(reverse("kpis:dashboard"), {"period": "decade", "s": "nonsense"}).status_code == 200


def test_manager_sees_the_reps_of_their_team(client, world):
    north = world["teams"][0]
    client.force_login(world["manager"])
    page = client.get(
        reverse("kpis:dashboard"), {"s": f"team:{north.pk}", "period": "quarter", "date": "2024-01-01"}
    )
    assert page.status_code == 200
    names = [row["rep"].username for row in page.context["reps"]]
    assert names == ["ann"]  # cas moved to South; bob was never in North
    assert page.context["breakdowns"]


def test_scope_picker_offers_what_the_user_may_see_with_the_shown_scope_selected(client, world):
    north, (ann, bob, _cas) = world["teams"][0], world["reps"]
    ann.full_name = "Ann <b> & Co"
    ann.save()
    client.force_login(world["manager"])
    text = client.get(reverse("kpis:dashboard"), {"s": f"team:{north.pk}"}).content.decode()
    start = text.index('<select name="s" id="id_s">')
    picker = text[start : text.index("</select>", start)]

    options = re.findall(r'<option value="([^"]+)"( selected)?>([^<]*)</option>', picker)
    # The company, the manager's team, and by name its rep today and the manager themself.
    people = sorted([ann, world["manager"]], key=lambda person: person.display_name)
    offered = [("company:0", "Company"), (f"team:{north.pk}", north.name)]
    offered += [(f"rep:{person.pk}", person.display_name) for person in people]
    assert [(value, html.unescape(name)) for value, _selected, name in options] == offered
    assert [value for value, selected, _name in options if selected] == [f"team:{north.pk}"]
    assert "Ann &lt;b&gt; &amp; Co" in picker and f"rep:{ann.pk}" in picker
    assert f"rep:{bob.pk}" not in picker  # never in North
    assert '<optgroup label="Team">' in picker


def test_dashboard_query_count_does_not_grow_with_the_team(client, world, django_assert_max_num_queries):
    north = world["teams"][0]
    client.force_login(world["manager"])
    url = reverse("kpis:dashboard")
    params = {"s": f"team:{north.pk}", "period": "month", "date": "2024-03-01"}
    with django_assert_max_num_queries(40) as small:  # figures, trend, breakdowns, funnel, agenda
        client.get(url, params)
    for i in range(40):
        rep = UserFactory(username=f"extra{i}")
        MembershipFactory(user=rep, team=north)
        DealFactory(rep=rep, team=north, created_on=D(2024, 3, 1), closed_on=D(2024, 3, 5))
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(url, params).status_code == 200


def test_api_returns_rows_with_value_numerator_and_denominator(api_client, world):
    api_client.force_authenticate(world["admin"])
    response = api_client.get(
        "/api/v1/kpis/",
        {
            "kpi": "conversion_ratio",
            "scope": "company",
            "period": "quarter",
            "from": "2024-01-01",
            "to": "2024-04-01",
        },
    )
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["scope_name"] == "Company" and row["start"] == "2024-01-01" and row["end"] == "2024-04-01"
    assert Decimal(row["value"]) == Decimal("0.75")
    assert (Decimal(row["numerator"]), Decimal(row["denominator"])) == (3, 4)


def test_api_scopes_rows_like_the_pages(api_client, world):
    ann, bob, _ = world["reps"]
    api_client.force_authenticate(ann)
    rows = api_client.get(
        "/api/v1/kpis/",
        {"kpi": "revenue", "scope": "rep", "period": "year", "from": "2024-01-01", "to": "2025-01-01"},
    ).json()["results"]
    assert [r["scope_name"] for r in rows] == ["ann"]
    assert api_client.get("/api/v1/kpis/", {"scope": "rep", "scope_id": bob.pk}).status_code == 404
    assert api_client.get("/api/v1/kpis/", {"scope": "segment"}).json()["count"] == 0
    assert api_client.get("/api/v1/kpis/", {"period": "week"}).status_code == 400


def test_only_admins_start_runs_through_the_api_and_a_second_is_refused(api_client, world):
    api_client.force_authenticate(world["reps"][0])
    assert api_client.post("/api/v1/kpi-runs/", {}).status_code == 403
    api_client.force_authenticate(world["admin"])
    KpiRun.objects.create(trigger=KpiRun.Trigger.NIGHTLY)
    response = api_client.post("/api/v1/kpi-runs/", {}, format="json")
    assert response.status_code == 400 and "already in progress" in str(response.json())


def test_csv_export_on_the_dashboard_and_the_command_agree(client, world, tmp_path):
    client.force_login(world["admin"])
    response = client.get(
        reverse("kpis:export"),
        {"scope": "team", "period": "quarter", "date_from": "2024-01-01", "date_to": "2024-07-01"},
    )
    assert response.status_code == 200
    page_rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    out = tmp_path / "kpis.csv"
    call_command(
        "export_kpis",
        scope="team",
        period="quarter",
        date_from="2024-01-01",
        date_to="2024-07-01",
        output=str(out),
    )
    command_rows = list(csv.DictReader(out.open()))
    assert page_rows == command_rows
    north_q1 = next(
        r
        for r in page_rows
        if r["scope_name"] == "North" and r["start"] == "2024-01-01" and r["kpi"] == "revenue"
    )
    assert Decimal(north_q1["value"]) == Decimal("5000.00")
    json_out = tmp_path / "kpis.json"
    call_command(
        "export_kpis",
        scope="company",
        period="year",
        format="json",
        output=str(json_out),
        date_from="2024-01-01",
        date_to="2025-01-01",
    )
    data = json.loads(json_out.read_text())
    assert {row["kpi"] for row in data} >= {"revenue", "churn_rate", "cac"}


def test_admin_recompute_button_starts_a_run(client, world, django_capture_on_commit_callbacks):
    client.force_login(world["admin"])
    with django_capture_on_commit_callbacks(execute=True):  # Celery runs eagerly in tests
        response = client.post(reverse("kpis:run_start"), {"full": "1"}, follow=True)
    assert response.status_code == 200
    assert KpiRun.objects.filter(trigger=KpiRun.Trigger.MANUAL, status=KpiRun.Status.SUCCEEDED).exists()
    client.force_login(world["reps"][0])
    assert client.get(reverse("kpis:run_list")).status_code == 403


def test_compute_kpis_command_reports_the_run(world, capsys):
    call_command("compute_kpis", "--full")
    assert "Succeeded, 2/2 shards" in capsys.readouterr().out  # one per group of scope types
    with pytest.raises(CommandError, match="--jobs must be at least 1"):
        call_command("compute_kpis", "--full", "--jobs", "0")
