"""A rep proposes the playbook goal "+15 % revenue in segment X within six months"; the manager reads the
SMART evidence and approves it; the rep is notified."""

import datetime

import pytest
from playwright.sync_api import expect

from salesteam.models import Role
from tests.browser.support import inline_tasks, log_in, person, today
from tests.factories import CustomerFactory, SegmentFactory, TeamFactory
from tests.goals.helpers import won

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
TITLE = "+15 % revenue in New vehicles within six months"


def six_months_on(day: datetime.date) -> datetime.date:
    """The last day of the six months starting on `day` (inclusive, as the goal form takes it)."""
    month = day.month + 6
    year, month = day.year + (month - 1) // 12, (month - 1) % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return datetime.date(year, month, candidate) - datetime.timedelta(days=1)
        except ValueError:
            continue
    raise AssertionError("unreachable")


@pytest.fixture
def north():
    """Anna sold cars in the segment New vehicles over the last year and a half."""
    day = today()
    with inline_tasks():
        team = TeamFactory(name="North")
        person("mark", "Mark De Smet", team=team, role=Role.MANAGER)
        anna = person("anna", "Anna Jansen", team=team)
        cars = SegmentFactory(name="New vehicles")
        SegmentFactory(name="Fleet")
        buyer = CustomerFactory(name="Garage Peeters", segment=cars)
        for days_ago, amount in ((40, "10000.00"), (150, "6000.00"), (250, "9000.00"), (420, "7000.00")):
            won(anna, amount, day - datetime.timedelta(days=days_ago), customer=buyer)
    return anna


def test_the_rep_proposes_the_playbook_goal_the_manager_approves_it_and_the_rep_is_told(
    north, open_page, shot
):
    start = today()
    rep = open_page()
    log_in(rep, "anna")

    # Anna drafts the goal and submits it
    rep.get_by_role("navigation", name="Main").get_by_role("link", name="Goals").click()
    rep.get_by_role("link", name="New goal").click()
    rep.get_by_label("Title").fill(TITLE)
    rep.get_by_label("Why it matters").fill("Dealers expect the new models in spring.")
    rep.get_by_label("Metric").select_option(label="Revenue")
    rep.get_by_label("Only the segment").select_option(label="New vehicles")
    rep.get_by_label("First day").fill(start.isoformat())
    rep.get_by_label("Last day").fill(six_months_on(start).isoformat())
    rep.get_by_role("combobox", name="Target", exact=True).select_option(label="A change against a baseline")
    rep.get_by_label("Change in %").fill("15")
    rep.get_by_label("Compared with").select_option(label="The equally long period just before")
    rep.get_by_role("button", name="Save draft").click()
    expect(rep.get_by_role("status")).to_contain_text("Draft saved.")
    rep.get_by_role("button", name="Submit for approval").click()
    expect(rep.get_by_role("status")).to_contain_text("Goal submitted.")
    expect(rep.locator(".goal-status")).to_have_text("Waiting for approval")
    shot(rep, "rep-submitted")

    # Mark finds it in his approval queue, with the SMART check and its evidence beside it
    manager = open_page()
    log_in(manager, "mark")
    manager.get_by_role("navigation", name="Main").get_by_role("link", name="Goals").click()
    waiting = manager.get_by_role("main").get_by_role("link", name="Approvals")
    expect(waiting).to_have_text("Approvals 1")
    waiting.click()
    card = manager.locator(".approval").filter(has_text=TITLE)
    check = card.locator(".smart-list")
    for part in ("Specific", "Measurable", "Achievable", "Time-bound"):
        expect(check).to_contain_text(part)
    # The baseline: 10,000 + 6,000 won in the six months before the start; the target 15 % above it.
    expect(check.locator(".smart-evidence").first).to_contain_text("Baseline 16,000")
    expect(check.locator(".smart-evidence").first).to_contain_text("target 18,400")
    expect(check).to_contain_text("Best change so far")
    shot(manager, "manager-queue")
    acknowledge = card.get_by_label("I have read the warnings and approve anyway")
    if acknowledge.count():
        acknowledge.check()
    card.get_by_label("Comment").fill("Good stretch. Go for it.")
    card.get_by_role("button", name="Approve").click()
    expect(manager.get_by_role("status")).to_contain_text("Goal approved.")

    # Anna sees the notification and opens the approved goal from it
    rep.reload()
    bell = rep.get_by_role("link", name="Notifications")
    expect(bell).to_contain_text("1")
    bell.click()
    notification = rep.locator(".notification.unread").first
    expect(notification).to_contain_text("approved")
    notification.get_by_role("button").click()
    expect(rep.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(rep.locator(".goal-status")).to_have_text("Active")
    expect(rep.locator(".history")).to_contain_text("Good stretch. Go for it.")
    shot(rep, "rep-notified")
