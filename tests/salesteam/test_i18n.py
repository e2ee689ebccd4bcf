"""English and Dutch: chosen by the browser or the switcher, numbers and dates in the locale's format."""

import ast
import datetime
import gettext
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from kpis import services as kpi_services
from kpis.models import KpiRun
from salesteam.models import Stage, TouchPoint
from tests.factories import DealFactory
from tests.goals.helpers import draft, won

pytestmark = pytest.mark.django_db

PO_FILE = Path(settings.BASE_DIR) / "locale" / "nl" / "LC_MESSAGES" / "django.po"
MO_FILE = PO_FILE.with_suffix(".mo")


@pytest.fixture
def deal(rep):
    return DealFactory(
        rep=rep,
        customer__name="Garage Peeters",
        stage=Stage.WON,
        amount_original=Decimal("1234.56"),
        cost_original=Decimal("234.56"),
        created_on=datetime.date(2024, 1, 10),
        closed_on=datetime.date(2024, 3, 5),
    )


def test_the_login_page_answers_in_the_browsers_language(client):
    dutch = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="nl-BE,nl;q=0.9,en;q=0.5")
    english = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9")

    assert dutch.status_code == english.status_code == 200
    assert '<html lang="nl">' in dutch.text
    assert "Wachtwoord vergeten?" in dutch.text
    assert "Je deals, doelen en teamresultaten op één plek." in dutch.text
    assert "Forgot your password?" not in dutch.text
    assert '<html lang="en">' in english.text
    assert "Forgot your password?" in english.text


def test_the_deal_list_answers_in_dutch_with_dutch_numbers_and_dates(client, rep, deal):
    client.force_login(rep)

    page = client.get(reverse("deal_list"), HTTP_ACCEPT_LANGUAGE="nl")

    assert page.status_code == 200
    assert "Nieuwe deal" in page.text
    assert "Meer filters" in page.text
    assert ">Gewonnen<" in page.text
    assert "1 deal<" in page.text
    assert "1.234,56" in page.text
    assert "10-1-2024" in page.text  # Dutch short date: day-month-year
    assert "5-3-2024" in page.text
    assert "New deal" not in page.text


def test_the_language_switcher_switches_to_dutch_and_back(client, rep, deal):
    client.force_login(rep)
    assert "New deal" in client.get(reverse("deal_list")).text

    switched = client.post(reverse("set_language"), {"language": "nl", "next": reverse("deal_list")})

    assert switched.status_code == 302
    assert switched.url == reverse("deal_list")
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "nl"
    page = client.get(reverse("deal_list"), HTTP_ACCEPT_LANGUAGE="en")
    assert "Nieuwe deal" in page.text
    assert '<option value="nl" selected>' in page.text

    client.post(reverse("set_language"), {"language": "en", "next": reverse("deal_list")})
    assert "New deal" in client.get(reverse("deal_list"), HTTP_ACCEPT_LANGUAGE="nl").text


@pytest.mark.parametrize(
    ("language", "amount", "margin", "closed", "words"),
    [
        ("nl", "1.234,56 EUR", "1.000,00 EUR", "5 maart 2024", ["Bedrag", "Verkoopcyclus", "55 dagen"]),
        ("en", "1,234.56 EUR", "1,000.00 EUR", "March 5, 2024", ["Amount", "Sales cycle", "55 days"]),
    ],
)
def test_the_deal_page_formats_money_and_dates_in_the_locale(
    client, rep, deal, language, amount, margin, closed, words
):
    client.force_login(rep)

    page = client.get(reverse("deal_detail", args=[deal.pk]), HTTP_ACCEPT_LANGUAGE=language)

    assert page.status_code == 200
    assert amount in page.text
    assert margin in page.text
    assert closed in page.text
    for word in words:
        assert word in page.text


@pytest.mark.parametrize(("language", "total"), [("nl", "1.234,56 EUR"), ("en", "1,234.56 EUR")])
def test_the_pipeline_groups_thousands_in_the_locale(client, rep, language, total):
    DealFactory(rep=rep, stage=Stage.PROPOSAL, amount_original=Decimal("1234.56"), closed_on=None)
    client.force_login(rep)

    page = client.get(reverse("pipeline"), HTTP_ACCEPT_LANGUAGE=language)

    assert page.status_code == 200
    assert page.text.count(total) == 2  # the column total and the deal card


@pytest.mark.parametrize(
    ("language", "revenue", "heading"),
    [("nl", "1.234,56 EUR", "Omzet"), ("en", "1,234.56 EUR", "Revenue")],
)
def test_the_kpi_dashboard_formats_money_in_the_locale(client, rep, deal, language, revenue, heading):
    kpi_services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, full=True, in_process=True)
    client.force_login(rep)

    page = client.get(
        reverse("kpis:dashboard"), {"period": "month", "date": "2024-03-05"}, HTTP_ACCEPT_LANGUAGE=language
    )

    assert page.status_code == 200
    assert f'<p class="kpi-value">{revenue}</p>' in page.text
    assert f">{heading}</h2>" in page.text


@pytest.mark.parametrize(
    ("language", "phone", "help_text"),
    [("nl", "Telefoon", "hooguit 280 tekens"), ("en", "Phone", "up to 280 characters")],
)
def test_default_touch_points_and_form_help_follow_the_language(client, rep, language, phone, help_text):
    deal = DealFactory(rep=rep, touch_point=TouchPoint.objects.get(code="phone"))
    client.force_login(rep)

    detail = client.get(reverse("deal_detail", args=[deal.pk]), HTTP_ACCEPT_LANGUAGE=language)
    recognition = client.get(reverse("incentives:home"), HTTP_ACCEPT_LANGUAGE=language, follow=True)

    assert f"<dd>{phone}</dd>" in detail.text
    assert recognition.status_code == 200
    assert help_text in recognition.text


def _po_entries(text: str) -> list[dict]:
    """The .po file's entries: flags, msgid and every msgstr (msgstr[n] for plurals), strings joined."""
    entries = []
    for block in re.split(r"\n\s*\n", text.strip()):
        entry: dict = {"flags": [], "msgid": None, "msgstr": {}}
        key = None
        for line in block.splitlines():
            if line.startswith("#~"):
                entry["obsolete"] = True
            elif line.startswith("#,"):
                entry["flags"] += [flag.strip() for flag in line[2:].split(",")]
            elif line.startswith("#"):
                continue
            elif line.startswith('"'):
                value = ast.literal_eval(line)
                if key[0] == "msgstr":
                    entry["msgstr"][key[1]] += value
                else:
                    entry[key[0]] += value
            else:
                keyword, _, rest = line.partition(" ")
                value = ast.literal_eval(rest)
                if keyword.startswith("msgstr"):
                    key = ("msgstr", keyword)
                    entry["msgstr"][keyword] = value
                else:
                    key = (keyword, None)
                    entry[keyword] = value
        entries.append(entry)
    return entries


def test_the_dutch_catalogue_is_complete_and_compiled():
    entries = _po_entries(PO_FILE.read_text(encoding="utf-8"))
    header, messages = entries[0], [e for e in entries[1:] if not e.get("obsolete")]

    assert header["msgid"] == ""
    assert "Plural-Forms: nplurals=2; plural=(n != 1);\n" in header["msgstr"]["msgstr"]
    assert "Language: nl\n" in header["msgstr"]["msgstr"]
    assert len(messages) > 500
    assert [e["msgid"] for e in entries if "fuzzy" in e["flags"]] == []
    untranslated = [e["msgid"] for e in messages if not all(e["msgstr"].values())]
    assert untranslated == []
    plurals = [e for e in messages if "msgid_plural" in e]
    assert plurals
    assert all(set(e["msgstr"]) == {"msgstr[0]", "msgstr[1]"} for e in plurals)

    # The committed .mo matches the .po, so a machine without gettext needs no compile step.
    with MO_FILE.open("rb") as handle:
        catalogue = gettext.GNUTranslations(handle)
    for entry in messages:
        if "msgid_plural" in entry:
            one, many = entry["msgstr"]["msgstr[0]"], entry["msgstr"]["msgstr[1]"]
            assert catalogue.ngettext(entry["msgid"], entry["msgid_plural"], 1) == one
            assert catalogue.ngettext(entry["msgid"], entry["msgid_plural"], 2) == many
        else:
            assert catalogue.gettext(entry["msgid"]) == entry["msgstr"]["msgstr"], entry["msgid"]


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("nl", "Uitgangswaarde 1.234,5 (3 juli 2023 tot 31 december 2023); doelwaarde 10.000."),
        ("en", "Baseline 1,234.5 (July 3, 2023 to Dec. 31, 2023); target 10,000."),
    ],
)
def test_the_smart_check_shows_its_evidence_in_the_locale(client, rep, monkeypatch, language, expected):
    monkeypatch.setattr(timezone, "localdate", lambda value=None, timezone=None: datetime.date(2024, 1, 15))
    won(rep, "1234.50", datetime.date(2023, 9, 1))
    goal = draft(rep)  # revenue in 2024 H1 (182 days), target 10000.00
    client.force_login(rep)

    page = client.get(
        reverse("goals:goal_detail", args=[goal.pk]), {"check": "1"}, HTTP_ACCEPT_LANGUAGE=language
    )

    assert page.status_code == 200
    # The baseline is the equally long period just before: the 182 days up to 31 December 2023.
    assert f'<p class="muted smart-evidence">{expected}</p>' in page.text
