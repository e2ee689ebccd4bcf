"""The Dutch interface end to end: a rep whose browser asks for Dutch logs in, logs a won deal and, after
the nightly run, reads it on the deal list and the dashboard, with Dutch words, numbers and dates."""

import datetime

import pytest
from playwright.sync_api import expect

from tests.browser.support import PASSWORD, nightly_run, person, today
from tests.factories import CustomerFactory, TeamFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
MONTHS = [
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
]


def dutch_date(day: datetime.date) -> str:
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


@pytest.fixture
def north():
    person("anna", "Anna Jansen", team=TeamFactory(name="Noord"))
    CustomerFactory(name="Garage Peeters")


def test_a_dutch_rep_logs_a_deal_and_reads_it_back_in_dutch(north, open_page, live_app, shot):
    closed = today()
    page = open_page(locale="nl-BE")
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    expect(page.get_by_role("heading", level=1)).to_have_text("Inloggen")
    page.get_by_label("Gebruikersnaam").fill("anna")
    page.get_by_label("Wachtwoord").fill(PASSWORD)
    page.get_by_role("button", name="Inloggen").click()

    nav = page.get_by_role("navigation", name="Hoofdmenu")
    nav.get_by_role("link", name="Deals").click()
    page.get_by_role("link", name="Nieuwe deal").first.click()
    page.get_by_label("Titel").fill("Bestelwagens Garage Peeters")
    page.get_by_label("Klant").fill("Garage Peeters")
    page.get_by_label("Fase").select_option(label="Gewonnen")
    page.get_by_label("Bedrag").fill("1234.56")
    page.get_by_label("Aangemaakt op").fill((closed - datetime.timedelta(days=9)).isoformat())
    page.get_by_label("Afgesloten op").fill(closed.isoformat())
    page.get_by_role("button", name="Opslaan").click()

    expect(page.get_by_role("status")).to_contain_text("Deal opgeslagen.")
    facts = page.locator(".facts")
    expect(facts).to_contain_text(dutch_date(closed))
    expect(page.locator(".stats")).to_contain_text("1.234,56 EUR")
    expect(page.locator(".stats")).to_contain_text("9 dagen")

    nav.get_by_role("link", name="Deals").click()
    row = page.locator("table.deals tbody tr").filter(has_text="Bestelwagens Garage Peeters")
    expect(row).to_contain_text("1.234,56")
    expect(row).to_contain_text("Gewonnen")
    shot(page, "deal-list")

    nightly_run(live_app)
    nav.get_by_role("link", name="Dashboard").click()
    expect(page.locator(".asof")).to_contain_text("Cijfers per")
    revenue = page.locator(".kpi-card").filter(has=page.get_by_role("heading", name="Omzet", exact=True))
    expect(revenue.locator(".kpi-value")).to_have_text("1.234,56 EUR")
    shot(page, "dashboard")
