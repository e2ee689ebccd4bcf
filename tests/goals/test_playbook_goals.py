"""The playbook's two goals end to end: deals -> KPI run -> the run's follow-up task -> progress, pace
and the final state. Expected numbers are worked out here from the deals the test creates."""

import datetime
from decimal import Decimal

import pytest
from django.conf import settings

from goals import services, tasks
from goals.models import Goal
from kpis import services as kpi_services
from kpis.models import KpiRun
from tests.factories import CustomerFactory, SegmentFactory
from tests.goals.helpers import D, lost, open_deal, won

pytestmark = pytest.mark.django_db
FOLLOW_UP = "goals.tasks.refresh_after_kpi_run"  # sent with the run id when a run is published


def nightly_run(django_capture_on_commit_callbacks) -> KpiRun:
    """A full KPI run. On publishing it sends its follow-up tasks, which tests run eagerly."""
    with django_capture_on_commit_callbacks(execute=True):
        return kpi_services.kpi_run_start(trigger=KpiRun.Trigger.COMMAND, full=True, in_process=True)


def test_the_follow_up_task_is_registered_with_the_kpi_run():
    assert FOLLOW_UP in settings.KPI_RUN_FOLLOW_UP_TASKS


def test_increase_the_lead_conversion_ratio_by_10_percent_by_the_end_of_the_year(
    rep, manager, clock, django_capture_on_commit_callbacks
):
    # 2023: 10 deals created, 4 of them won -> lead conversion 4 / 10.
    for month in (1, 2, 3, 4):
        won(rep, "1000.00", D(2023, month, 20), created_on=D(2023, month, 1))
    for month in (5, 6, 7):
        lost(rep, D(2023, month, 20), created_on=D(2023, month, 1))
    for month in (8, 9, 10):
        open_deal(rep, D(2023, month, 1))
    baseline = Decimal(4) / Decimal(10)
    target = baseline * Decimal("1.10")

    clock(D(2024, 1, 15))
    goal = services.goal_create(
        actor=rep, title="Increase the lead conversion ratio by 10 % by the end of the year",
        metric="lead_conversion", start_on=D(2024, 1, 1), end_on=D(2024, 12, 31),
        target_kind=Goal.TargetKind.RELATIVE, relative_change=Decimal("0.10"),
        baseline_kind=Goal.Baseline.LAST_YEAR,
    )  # fmt: skip
    goal = services.goal_approve(actor=manager, goal=services.goal_submit(actor=rep, goal=goal))
    assert goal.baseline_value == baseline
    assert goal.target_value == target

    # By the end of June: 4 deals created in 2024, 2 won -> 0.5, above the 0.44 to hold: on track.
    won(rep, "1000.00", D(2024, 2, 20), created_on=D(2024, 2, 1))
    won(rep, "1000.00", D(2024, 4, 20), created_on=D(2024, 4, 1))
    lost(rep, D(2024, 5, 20), created_on=D(2024, 5, 1))
    open_deal(rep, D(2024, 6, 1))
    clock(D(2024, 6, 30))
    nightly_run(django_capture_on_commit_callbacks)
    goal.refresh_from_db()
    assert goal.status == Goal.Status.ACTIVE
    assert goal.current_value == Decimal(2) / Decimal(4)
    assert goal.pace == Goal.Pace.ON_TRACK
    assert goal.pace_basis == "level"

    # The rest of the year: 6 more created, 2 won -> 4 / 10 = 0.4 < 0.44: missed.
    for month in (7, 8):
        won(rep, "1000.00", D(2024, month, 20), created_on=D(2024, month, 1))
    for month in (9, 10, 11, 12):
        lost(rep, D(2024, month, 20), created_on=D(2024, month, 1))
    clock(D(2025, 1, 1))
    run = nightly_run(django_capture_on_commit_callbacks)
    tasks.refresh_after_kpi_run(run.pk)  # a second delivery changes nothing
    goal.refresh_from_db()
    assert goal.current_value == Decimal(4) / Decimal(10)
    assert goal.status == Goal.Status.MISSED
    assert goal.transitions.filter(action="close").count() == 1


def test_increase_revenue_by_15_percent_in_new_vehicles_within_six_months(
    rep, manager, clock, django_capture_on_commit_callbacks
):
    cars, fleet = SegmentFactory(name="New vehicles"), SegmentFactory(name="Fleet")
    car_buyer, fleet_buyer = CustomerFactory(segment=cars), CustomerFactory(segment=fleet)
    start, end = D(2024, 4, 1), D(2024, 9, 30)
    days = (end - start).days + 1
    assert start - datetime.timedelta(days=days) == D(2023, 10, 1)  # the baseline period starts here
    won(rep, "10000.00", D(2023, 11, 15), customer=car_buyer)
    won(rep, "6000.00", D(2024, 2, 15), customer=car_buyer)
    won(rep, "50000.00", D(2024, 2, 20), customer=fleet_buyer)  # another segment: not counted
    won(rep, "99999.00", D(2023, 3, 15), customer=car_buyer)  # long before: only in the history
    baseline = Decimal("16000.00")
    target = baseline * Decimal("1.15")

    clock(start)
    goal = services.goal_create(
        actor=rep, title="Increase revenue by 15 % in the segment new vehicles within the next six months",
        metric="revenue", segment=cars, start_on=start, end_on=end,
        target_kind=Goal.TargetKind.RELATIVE, relative_change=Decimal("0.15"),
    )  # fmt: skip
    goal = services.goal_submit(actor=rep, goal=goal)
    # The history only ever fell (99,999 in early 2023, then nothing): any growth is a stretch.
    achievable = next(i for i in goal.smart["items"] if i["key"] == "achievable")
    assert achievable["evidence"]["flag"] == "stretch"
    goal = services.goal_approve(actor=manager, goal=goal, acknowledge_warnings=True)
    assert (goal.baseline_value, goal.target_value) == (baseline, target)

    won(rep, "12000.00", D(2024, 5, 10), customer=car_buyer)
    won(rep, "70000.00", D(2024, 5, 11), customer=fleet_buyer)
    today = D(2024, 6, 30)
    clock(today)
    nightly_run(django_capture_on_commit_callbacks)
    goal.refresh_from_db()
    share = Decimal((today - start).days + 1) / Decimal(days)
    expected = (target * share).quantize(Decimal("0.000001"))
    assert goal.current_value == Decimal("12000.00")
    assert goal.pace_basis == "linear"  # nothing in the same months of 2023
    assert goal.expected_value == expected
    assert goal.forecast_value == (Decimal("12000.00") / share).quantize(Decimal("0.000001"))
    assert goal.pace == (Goal.Pace.ON_TRACK if Decimal("12000") / expected >= Decimal("0.95") else "?")

    won(rep, "7000.00", D(2024, 9, 30), customer=car_buyer)  # on the last day
    clock(D(2024, 10, 1))
    nightly_run(django_capture_on_commit_callbacks)
    goal.refresh_from_db()
    assert goal.current_value == Decimal("19000.00") >= target
    assert goal.status == Goal.Status.ACHIEVED
