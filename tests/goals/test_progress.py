"""Progress equals the engine's numbers for the same range, scope and narrowing; pace, forecast and
status follow docs/goals.md; deals changed during the day are picked up by the per-minute refresh."""

from decimal import Decimal

import pytest

from goals import progress, services, tasks
from goals.models import Goal
from kpis.definitions import KPI_BY_SLUG
from kpis.selectors import parts_for_range
from tests.factories import CategoryFactory
from tests.goals.helpers import D, draft, lost, won

pytestmark = pytest.mark.django_db
Q6 = Decimal("0.000001")


def active(rep, manager, **values):
    return services.goal_approve(
        actor=manager,
        goal=services.goal_submit(actor=rep, goal=draft(rep, **values)),
        acknowledge_warnings=True,
    )


def test_progress_equals_the_engine_for_the_exact_range_and_narrowing(rep, manager, clock):
    hardware = CategoryFactory(name="Hardware")
    deals = [
        won(rep, "700.00", D(2024, 1, 1), category=hardware),  # first day
        won(rep, "300.00", D(2024, 6, 30), category=hardware),  # last day
        won(rep, "5000.00", D(2024, 3, 1)),  # another category
        won(rep, "800.00", D(2024, 7, 1), category=hardware),  # after the end
        lost(rep, D(2024, 2, 1), category=hardware),
    ]
    goal = active(rep, manager, metric="revenue", category=hardware)
    clock(D(2024, 4, 1))
    services.goal_refresh(goal_id=goal.pk)
    goal.refresh_from_db()
    in_goal = [d for d in deals if d.category == hardware and D(2024, 1, 1) <= d.closed_on <= D(2024, 6, 30)]
    by_hand = sum((d.amount for d in in_goal if d.is_won), Decimal(0))
    engine = parts_for_range(
        scope_type="rep",
        scope_id=rep.pk,
        start=D(2024, 1, 1),
        end=D(2024, 7, 1),
        narrow=("category", hardware.pk),
    )
    assert goal.current_value == by_hand == engine.revenue == Decimal("1000.00")

    ratio_goal = active(
        rep, manager, metric="conversion_ratio", target_value=Decimal("0.5"), category=hardware
    )
    services.goal_refresh(goal_id=ratio_goal.pk)
    ratio_goal.refresh_from_db()
    assert ratio_goal.current_value == KPI_BY_SLUG["conversion_ratio"].evaluate(engine)["value"]
    assert ratio_goal.current_value == (Decimal(2) / Decimal(3)).quantize(Q6)


def test_linear_pace_forecast_and_thresholds(rep, manager, clock):
    goal = active(
        rep, manager, target_value=Decimal("18200.00"), start_on=D(2024, 1, 1), end_on=D(2024, 6, 30)
    )
    days = 182
    won(rep, "4000.00", D(2024, 1, 20))
    today = D(2024, 2, 29)  # day 60 of 182
    clock(today)
    services.goal_refresh(goal_id=goal.pk)
    goal.refresh_from_db()
    expected = (Decimal("18200.00") * 60 / days).quantize(Q6)
    assert goal.expected_value == expected == Decimal("6000.000000")
    assert goal.forecast_value == (Decimal("4000.00") * days / 60).quantize(Q6)
    assert goal.percent_of_target == (Decimal("4000") / Decimal("18200")).quantize(Q6)
    ratio = Decimal("4000") / expected  # 0.67: below 80 %
    assert ratio < progress.AT_RISK_AT
    assert goal.pace == Goal.Pace.OFF_TRACK
    won(rep, "1000.00", D(2024, 2, 1))  # 5000 / 6000 = 0.83: at risk
    services.goal_refresh(goal_id=goal.pk)
    goal.refresh_from_db()
    assert goal.pace == Goal.Pace.AT_RISK
    won(rep, "800.00", D(2024, 2, 2))  # 5800 / 6000 = 0.97: on track
    services.goal_refresh(goal_id=goal.pk)
    goal.refresh_from_db()
    assert goal.pace == Goal.Pace.ON_TRACK


def test_pace_follows_last_years_season_when_there_is_a_year_of_history(rep, manager, clock):
    # Last year: 1000 in January, 3000 in May: a quarter of the half year's revenue by the end of January.
    won(rep, "1000.00", D(2023, 1, 10))
    won(rep, "3000.00", D(2023, 5, 10))
    goal = active(rep, manager, target_value=Decimal("8000.00"))
    clock(D(2024, 1, 31))
    services.goal_refresh(goal_id=goal.pk)
    goal.refresh_from_db()
    assert goal.pace_basis == "seasonal"
    assert goal.expected_value == Decimal("8000.00") * Decimal(1000) / Decimal(4000)


def test_the_snapshot_of_a_day_is_replaced_not_added(rep, manager, clock):
    goal = active(rep, manager)
    clock(D(2024, 2, 1))
    services.goal_refresh(goal_id=goal.pk)
    won(rep, "500.00", D(2024, 1, 20))
    services.goal_refresh(goal_id=goal.pk)
    assert list(goal.snapshots.values_list("day", "value")) == [(D(2024, 2, 1), Decimal("500"))]


def test_the_minute_refresh_picks_up_goals_whose_owners_deals_changed(rep, other_rep, manager, clock):
    mine = active(rep, manager)
    clock(D(2024, 2, 1))
    tasks.refresh_changed()  # first refresh of every goal
    assert tasks.refresh_changed() == []  # nothing changed since
    won(other_rep, "900.00", D(2024, 1, 20))
    assert tasks.refresh_changed() == []
    won(rep, "900.00", D(2024, 1, 20))
    assert tasks.refresh_changed() == [mine.pk]
    mine.refresh_from_db()
    assert mine.current_value == Decimal("900")
