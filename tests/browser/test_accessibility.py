"""Accessibility basics of the main pages, on a 375 px phone and a desktop screen: axe-core's WCAG 2.1
A/AA rules (every form control labelled, text contrast at least 4.5:1, ...), no sideways scrolling on a
phone, and on the login page and the deal form a tab order that follows the page and a focus ring that
stands out from what is around it (3:1)."""

import datetime
import itertools
from decimal import Decimal

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from goals import services as goal_services
from goals.models import Goal
from salesteam.models import Role, Stage
from tests.browser.support import inline_tasks, kpi_run_in_process, log_in, person, today
from tests.factories import CustomerFactory, DealFactory, TeamFactory
from tests.goals.helpers import won
from tests.incentives.bonus_helpers import make_plan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REP_PAGES = {
    "dashboard": "/",
    "deal-list": "/deals/",
    "deal-form": "/deals/new/",
    "goals": "/goals/",
    "leaderboard": "/leaderboards/",
    "earnings": "/earnings/",
    "kpi-dashboard": "/kpis/",
}
MANAGER_PAGES = {"team-dashboard": "/", "goal-approvals": "/goals/approvals/"}
PHONE, DESKTOP = {"width": 375, "height": 740}, {"width": 1280, "height": 860}
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}

# The focus ring of the focused element, and the contrast of its colour against the background behind it.
FOCUS_RING = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  const rgb = (text) => (text.match(/[\\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => {
    const c = [r, g, b].map((v) => v / 255)
      .map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  let node = el.parentElement, behind = [255, 255, 255];
  while (node) {
    const color = rgb(getComputedStyle(node).backgroundColor);
    if (color.length === 3 || (color.length === 4 && color[3] === 1)) { behind = color.slice(0, 3); break; }
    node = node.parentElement;
  }
  const [a, b] = [luminance(rgb(style.outlineColor).slice(0, 3)), luminance(behind)];
  const box = el.getBoundingClientRect();
  return {
    tag: el.tagName,
    name: el.id || el.name || el.textContent.trim().slice(0, 30),
    ring: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2,
    contrast: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05),
    top: Math.round(box.top + window.scrollY), left: Math.round(box.left),
  };
}"""


@pytest.fixture
def north():
    """A team with a month of activity, a running goal and a bonus plan, after a night's KPI run."""
    day = today()
    first = day.replace(day=1)
    with inline_tasks():
        team = TeamFactory(name="North")
        manager = person("mark", "Mark De Smet", team=team, role=Role.MANAGER)
        anna = person("anna", "Anna Jansen", team=team)
        ben = person("ben", "Ben Peeters", team=team)
        make_plan(name="Commission", rules=[{"type": "commission", "rate": "0.05"}], teams=[team])
        for rep, amount in ((anna, "4200.00"), (ben, "3100.00"), (anna, "1250.50")):
            won(rep, amount, day)
        DealFactory(rep=anna, customer=CustomerFactory(), stage=Stage.PROPOSAL, created_on=first)
        goal = goal_services.goal_create(
            actor=anna, title="Revenue this quarter", metric="revenue", start_on=first,
            end_on=first + datetime.timedelta(days=80),
            target_kind=Goal.TargetKind.ABSOLUTE, target_value=Decimal("30000.00"),
        )  # fmt: skip
        goal_services.goal_approve(
            actor=manager, goal=goal_services.goal_submit(actor=anna, goal=goal), acknowledge_warnings=True
        )
        draft = goal_services.goal_create(
            actor=ben, title="More new customers", metric="new_customers", start_on=day,
            end_on=day + datetime.timedelta(days=60), target_kind=Goal.TargetKind.ABSOLUTE,
            target_value=Decimal("5"),
        )  # fmt: skip
        goal_services.goal_submit(actor=ben, goal=draft)
        kpi_run_in_process()


def problems_on(page, *, phone: bool) -> list[str]:
    found = []
    for violation in Axe().run(page, options=AXE_OPTIONS).response["violations"]:
        targets = ", ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
        found.append(f"{violation['id']} ({violation['impact']}): {violation['help']} -> {targets}")
    if phone:
        width = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        if width[0] > width[1]:
            found.append(f"scrolls sideways: {width[0]} px of content in {width[1]} px")
    return found


def test_the_main_pages_pass_axe_on_a_phone_and_a_desktop_and_fit_the_phone(north, open_page, shot):
    report = {}
    page = open_page()

    def check(name: str) -> None:
        for size, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
            page.set_viewport_size(viewport)
            report[f"{name} ({size})"] = problems_on(page, phone=size == "phone")
            if size == "phone":  # the journeys show the desktop screens
                shot(page, name)

    page.goto("/accounts/login/")
    check("login")
    for who, pages in (("anna", REP_PAGES), ("mark", MANAGER_PAGES)):
        page.context.clear_cookies()
        log_in(page, who)
        for name, url in pages.items():
            page.goto(url)
            expect(page.get_by_role("heading", level=1)).to_be_visible()
            check(name)
    assert {name: found for name, found in report.items() if found} == {}


def tab_through(page, presses: int) -> list[dict]:
    stops = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        stop = page.evaluate(FOCUS_RING)
        if not stops or stops[-1]["name"] != stop["name"]:  # a date field takes several presses
            stops.append(stop)
    return stops


def test_the_login_page_is_tabbed_in_order_with_a_visible_focus_ring(north, open_page):
    page = open_page()
    page.goto("/accounts/login/")
    # The username field has the focus at first; after the form the focus leaves the page and comes
    # back to the top bar.
    stops = [page.evaluate(FOCUS_RING), *tab_through(page, 6)]
    stops = [stop for stop in stops if stop["tag"] != "BODY"]
    names = [stop["name"] for stop in stops]
    assert names == [
        "id_username",
        "id_password",
        "Log in",
        "Forgot your password?",
        "Salesteam",
        "lang-select",
    ]
    unclear = [stop for stop in stops if not stop["ring"] or stop["contrast"] < 3]
    assert unclear == []


def test_the_deal_form_is_tabbed_in_reading_order_with_a_visible_focus_ring(north, open_page):
    page = open_page()
    log_in(page, "anna")
    page.goto("/deals/new/")
    page.get_by_label("Title").focus()
    fields = page.eval_on_selector_all(
        "form.form-grid :is(input, select, textarea, button, a[href]):not([type=hidden])",
        "elements => elements.map((el) => el.id || el.name || el.textContent.trim().slice(0, 30))",
    )
    stops = [page.evaluate(FOCUS_RING), *tab_through(page, 40)]
    stops = stops[: next((i for i, stop in enumerate(stops) if stop["name"] == "Cancel"), len(stops)) + 1]
    assert [stop["name"] for stop in stops] == fields
    # Reading order: each stop is below the previous one, or on the same row further right.
    for before, after in itertools.pairwise(stops):
        assert after["top"] > before["top"] + 5 or (
            abs(after["top"] - before["top"]) <= 5 and after["left"] > before["left"]
        ), (before, after)
    unclear = [stop for stop in stops if not stop["ring"] or stop["contrast"] < 3]
    assert unclear == []
