"""A rep logs a won deal on a phone; after the nightly run they see the KPI, their goal's progress and
their new rank."""

import datetime
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from goals import services as goal_services
from goals.models import Goal
from salesteam.models import Role
from tests.browser.support import inline_tasks, kpi_run_in_process, log_in, nightly_run, person, today
from tests.factories import CustomerFactory, SegmentFactory, TeamFactory
from tests.goals.helpers import won

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def team_north():
    """Anna is third of team North this month, with a revenue goal for the month; a night has passed."""
    day = today()
    first = day.replace(day=1)
    last = (first + datetime.timedelta(days=32)).replace(day=1) - datetime.timedelta(days=1)
    with inline_tasks():
        north = TeamFactory(name="North")
        manager = person("mark", "Mark De Smet", team=north, role=Role.MANAGER)
        anna = person("anna", "Anna Jansen", team=north)
        won(person("ben", "Ben Peeters", team=north), "8000.00", day)
        won(person("carla", "Carla Maes", team=north), "5000.00", day)
        won(anna, "2000.00", day)
        CustomerFactory(name="Garage Peeters", segment=SegmentFactory(name="New vehicles"))
        goal = goal_services.goal_create(
            actor=anna, title="EUR 20,000 revenue this month", metric="revenue", start_on=first, end_on=last,
            target_kind=Goal.TargetKind.ABSOLUTE, target_value=Decimal("20000.00"),
        )  # fmt: skip
        goal = goal_services.goal_submit(actor=anna, goal=goal)
        goal_services.goal_approve(actor=manager, goal=goal, acknowledge_warnings=True)
        kpi_run_in_process()
    return anna


def test_a_won_deal_logged_on_a_phone_shows_in_kpi_goal_and_rank_after_the_nightly_run(
    team_north, open_page, live_app, shot
):
    page = open_page(phone=True)
    log_in(page, "anna")
    leaderboard = page.get_by_role("navigation", name="Main").get_by_role("link", name="Leaderboards")
    leaderboard.click()
    expect(page.locator(".lb-me .lb-rank")).to_have_text("3")

    # Given a phone-sized screen, when Anna logs a won deal through the deal form
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Deals").click()
    page.get_by_role("link", name="New deal").first.click()
    page.get_by_label("Title").fill("Fleet renewal Garage Peeters")
    # The customer field suggests customers from the API as she types; she takes the suggestion.
    page.get_by_label("Customer").press_sequentially("garage")
    suggestion = page.locator("#id_customer-options option")
    expect(suggestion).to_have_attribute("label", "Garage Peeters · New vehicles")
    page.get_by_label("Customer").fill(suggestion.get_attribute("value"))
    page.get_by_label("Stage").select_option(label="Won")
    page.get_by_label("Amount").fill("12500")
    page.get_by_label("Created on").fill((today() - datetime.timedelta(days=14)).isoformat())
    page.get_by_label("Closed on").fill(today().isoformat())
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Deal saved.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Fleet renewal Garage Peeters")
    shot(page, "deal-saved")

    # and the nightly run has computed the figures
    nightly_run(live_app)

    # then her dashboard shows the month's revenue: 2,000 + 12,500
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    revenue = page.locator(".kpi-card").filter(has=page.get_by_role("heading", name="Revenue", exact=True))
    expect(revenue.locator(".kpi-value")).to_have_text("14,500.00 EUR")
    shot(page, "kpi-dashboard")

    # her goal's progress
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Goals").click()
    card = page.locator(".goal-card").filter(has_text="EUR 20,000 revenue this month")
    expect(card.locator(".goal-figures dd").first).to_have_text("14,500.00 EUR")
    shot(page, "goal-progress")

    # and her new rank: first, two places up since the previous run
    leaderboard.click()
    expect(page.locator(".lb-me .lb-rank")).to_have_text("1")
    expect(page.locator(".lb-me .lb-name")).to_have_text("Anna Jansen")
    expect(page.locator(".lb-me .lb-move")).to_have_text("↑2")
    shot(page, "leaderboard")
