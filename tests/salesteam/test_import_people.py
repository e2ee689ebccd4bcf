import datetime

import pytest
from django.urls import reverse

from salesteam.models import ImportJob, Role, User
from tests.salesteam.import_support import errors_of, run_import, upload

pytestmark = pytest.mark.django_db

FILE = (
    "Username;E-mail;Full name;Role;Team;Manager;Team from\n"
    "rep.a;a@example.com;Rep A;Sales rep;East;mgr.e;2023-01-01\n"
    "mgr.e;e@example.com;Manager E;manager;East;;\n"
    "bad name!;x@example.com;X;rep;East;;\n"
    "rep.b;not-an-email;Rep B;rep;East;;\n"
    "rep.c;c@example.com;Rep C;pilot;East;;\n"
    "rep.d;d@example.com;Rep D;rep;East;nobody;\n"
)


def test_people_are_created_with_team_and_manager_and_bad_rows_are_reported(admin_user):
    job = run_import(FILE, actor=admin_user, kind=ImportJob.Kind.PEOPLE)
    assert (job.created_count, job.error_count) == (2, 4)
    assert [(line, column) for line, column, _message in errors_of(job)] == [
        (4, "Username"),
        (5, "E-mail"),
        (6, "Role"),
        (7, "Manager"),
    ]
    rep_a = User.objects.get(username="rep.a")
    assert rep_a.role == Role.REP and rep_a.manager.username == "mgr.e"
    assert rep_a.memberships.get().valid_from == datetime.date(2023, 1, 1)
    assert User.objects.get(username="mgr.e").managed_teams.get().name == "East"


def test_people_import_is_idempotent_and_updates_changes(admin_user):
    run_import(FILE, actor=admin_user, kind=ImportJob.Kind.PEOPLE)
    again = run_import(FILE, actor=admin_user, kind=ImportJob.Kind.PEOPLE)
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 2)
    changed = run_import(FILE.replace("Rep A;", "Rep Anna;"), actor=admin_user, kind=ImportJob.Kind.PEOPLE)
    assert changed.updated_count == 1
    assert User.objects.get(username="rep.a").full_name == "Rep Anna"


def test_the_people_page_is_for_admins(client, admin_user, manager):
    client.force_login(manager)
    assert client.get(reverse("people_import")).status_code == 404
    client.force_login(admin_user)
    response = client.post(reverse("people_import"), {"file": upload(FILE, name="people.csv")})
    job = ImportJob.objects.get()
    assert job.kind == ImportJob.Kind.PEOPLE and response.url == reverse("import_detail", args=[job.pk])
    data = {"action": "check", **{f"col_{i}": job.columns[h] for i, h in enumerate(job.headers)}}
    client.post(response.url, data)
    client.post(response.url, {"action": "commit"})
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE and job.created_count == 2
