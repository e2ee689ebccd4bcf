import pytest
from django.core.management import CommandError, call_command

from salesteam.models import Deal, ImportJob, Team, User
from tests.factories import CustomerFactory
from tests.salesteam.import_support import HEADER

pytestmark = pytest.mark.django_db


@pytest.fixture
def deals_file(tmp_path, rep):
    CustomerFactory(external_id="C1")
    path = tmp_path / "deals.csv"
    path.write_text(
        HEADER + "\nD1,rep,C1,won,10,0,2024-01-10,2024-02-01\nD2,rep,C1,won,10,0,bad,2024-02-01\n"
    )
    return path


def test_import_deals_prints_counts_and_the_first_errors(deals_file, capsys):
    call_command("import_deals", str(deals_file), "--source", "crm")
    out = capsys.readouterr().out
    assert "2 rows, 1 new, 0 changed, 0 unchanged, 1 in error" in out
    assert "line 3, created_on:" in out
    assert Deal.objects.get().source == "crm"
    assert ImportJob.objects.get().status == ImportJob.Status.DONE


def test_import_deals_dry_run_writes_nothing(deals_file, capsys):
    call_command("import_deals", str(deals_file), "--dry-run")
    assert "dry run" in capsys.readouterr().out
    assert not Deal.objects.exists()
    assert ImportJob.objects.get().dry_run


def test_import_deals_fails_with_the_reason_for_an_unreadable_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(CommandError, match="empty"):
        call_command("import_deals", str(path))


def test_import_people_creates_then_leaves_people_unchanged(tmp_path, capsys):
    path = tmp_path / "people.csv"
    path.write_text(
        "username,email,full name,role,team,manager\n"
        "ann,ann@example.com,Ann Peeters,rep,North,boss\n"
        "boss,boss@example.com,Bo Ss,manager,North,\n"
    )
    call_command("import_people", str(path))
    assert "2 new" in capsys.readouterr().out
    call_command("import_people", str(path))
    assert "0 new, 0 changed, 2 unchanged" in capsys.readouterr().out
    ann = User.objects.get(username="ann")
    assert ann.manager.username == "boss" and ann.memberships.get().team.name == "North"
    assert list(Team.objects.get(name="North").managers.values_list("username", flat=True)) == ["boss"]
