"""Leaderboards: competition ranking, minimum activity, movement since the previous run, privacy."""

import dataclasses
import datetime
import random
from decimal import Decimal

import pytest
from django.urls import reverse

from incentives.models import RecognitionSettings
from kpis import leaderboards
from kpis.definitions import Parts
from salesteam.models import Stage
from tests.factories import CustomerFactory, MembershipFactory, SegmentFactory, UserFactory
from tests.incentives.conftest import deal

pytestmark = pytest.mark.django_db
D = datetime.date


@pytest.fixture
def four(team):
    reps = [UserFactory(username=name, full_name=name.title()) for name in ("ann", "bob", "cas", "dee")]
    for rep in reps:
        MembershipFactory(user=rep, team=team)
    return reps


def ranks(board):
    return [(e.name, e.rank) for e in board.ranked]


def test_ties_share_a_rank_and_the_next_rank_skips(clock, nightly, four):
    ann, bob, cas, dee = four
    amounts = {ann: ["2000.00", "1000.00"], bob: ["2000.00"], cas: ["1500.00", "500.00"], dee: ["1000.00"]}
    for rep, values in amounts.items():
        for value in values:
            deal(rep, value)
    nightly()
    board = leaderboards.leaderboard(user=ann, metric="revenue")
    assert ranks(board) == [("Ann", 1), ("Bob", 2), ("Cas", 2), ("Dee", 4)]
    totals = {e.name: e.value for e in board.ranked if e.value is not None}
    assert totals == {"Ann": Decimal("3000.00")}  # colleagues' money is private by default


def test_competition_ranks_helper_gives_1224():
    values = [(1, Decimal(5)), (2, Decimal(7)), (3, Decimal(5)), (4, Decimal(1))]
    assert leaderboards.competition_ranks(values) == {2: 1, 1: 2, 3: 2, 4: 4}


def test_conversion_needs_the_minimum_closed_deals_and_lists_the_others_unranked(
    clock, nightly, four, admin_user
):
    ann, bob, _cas, _dee = four
    for _ in range(4):
        deal(ann)
    deal(ann, stage=Stage.LOST)  # ann: 4 of 5 closed
    for _ in range(3):
        deal(bob)  # bob: 3 of 3 closed, a better ratio but too little activity
    nightly()
    board = leaderboards.leaderboard(user=admin_user, metric="conversion_ratio")
    assert [(e.name, e.rank, e.value) for e in board.ranked] == [("Ann", 1, Decimal(4) / Decimal(5))]
    assert [e.name for e in board.unranked] == ["Bob", "Cas", "Dee"]

    RecognitionSettings.objects.filter(pk=1).update(min_closed_deals=3)
    board = leaderboards.leaderboard(user=admin_user, metric="conversion_ratio")
    assert ranks(board) == [("Bob", 1), ("Ann", 2)]


def test_rank_change_since_the_previous_run(clock, nightly, four, team, admin_user):
    ann, bob, cas, dee = four
    deal(ann, "4000.00")
    deal(bob, "3000.00")
    deal(cas, "2000.00")
    deal(dee, "1000.00")
    nightly()
    first = leaderboards.leaderboard(user=admin_user, metric="revenue", within_type="team", within_id=team.pk)
    assert all(e.movement is None and not e.is_new for e in first.ranked)  # nothing to compare with yet

    deal(dee, "9000.00")
    eve = UserFactory(username="eve", full_name="Eve")
    MembershipFactory(user=eve, team=team)
    deal(eve, "500.00")
    clock(D(2024, 3, 21))
    nightly()
    board = leaderboards.leaderboard(user=admin_user, metric="revenue", within_type="team", within_id=team.pk)
    moves = {e.name: (e.rank, e.movement, e.is_new) for e in board.ranked}
    assert moves == {
        "Dee": (1, 3, False),
        "Ann": (2, -1, False),
        "Bob": (3, -1, False),
        "Cas": (4, -1, False),
        "Eve": (5, None, True),
    }
    page = _page(admin_user, {"metric": "revenue", "within": f"team:{team.pk}"})
    assert "↑3" in page and "↓1" in page and "new" in page


def _page(user, params):
    from django.test import Client

    client = Client()
    client.force_login(user)
    response = client.get(reverse("leaderboards:leaderboard"), params)
    assert response.status_code == 200
    return response.content.decode()


def test_privacy_setting_hides_colleagues_money_from_reps_only(clock, nightly, four, manager):
    ann, bob, _cas, _dee = four
    deal(ann, "1234.00")
    deal(bob, "4321.00")
    for _ in range(5):
        deal(bob, "10.00", stage=Stage.LOST)
    nightly()
    as_ann = leaderboards.leaderboard(user=ann, metric="revenue")
    values = {e.name: (e.value, e.hidden) for e in as_ann.ranked}
    assert values["Ann"] == (Decimal("1234.00"), False)
    assert values["Bob"] == (None, True)
    assert "4.321" not in _page(ann, {"metric": "revenue"}) and "4,321" not in _page(
        ann, {"metric": "revenue"}
    )
    # Percentages stay visible.
    conversion = leaderboards.leaderboard(user=ann, metric="conversion_ratio")
    assert conversion.ranked[0].name == "Bob" and not conversion.ranked[0].hidden
    assert conversion.ranked[0].value == (Decimal(1) / Decimal(6)).quantize(Decimal("0.000001"))
    # Managers always see amounts, and reps do once the admin allows it.
    assert {e.name: e.value for e in leaderboards.leaderboard(user=manager, metric="revenue").ranked}[
        "Bob"
    ] == (Decimal("4321.00"))
    RecognitionSettings.objects.update_or_create(pk=1, defaults={"reps_see_money": True})
    assert {e.name: e.value for e in leaderboards.leaderboard(user=ann, metric="revenue").ranked}["Bob"] == (
        Decimal("4321.00")
    )


def test_chosen_range_and_segment_boards(clock, nightly, four, admin_user):
    ann, bob, _cas, _dee = four
    fleet = SegmentFactory(name="Fleet")
    deal(ann, "100.00", D(2024, 2, 27))
    deal(ann, "100.00", D(2024, 3, 2))
    deal(bob, "150.00", D(2024, 3, 1), customer=CustomerFactory(segment=fleet))
    deal(bob, "900.00", D(2024, 3, 10))
    nightly()
    board = leaderboards.leaderboard(
        user=admin_user, metric="revenue", period_type=None, date_from=D(2024, 2, 25), date_to=D(2024, 3, 5)
    )
    assert [(e.name, e.value) for e in board.ranked[:2]] == [
        ("Ann", Decimal("200.00")),
        ("Bob", Decimal("150.00")),
    ]
    in_fleet = leaderboards.leaderboard(
        user=admin_user, metric="revenue", within_type="segment", within_id=fleet.pk
    )
    assert [(e.name, e.value) for e in in_fleet.ranked[:1]] == [("Bob", Decimal("150.00"))]


def test_teams_rank_on_their_own_rows(clock, nightly, rep, other_rep, admin_user):
    deal(rep, "100.00")
    deal(other_rep, "300.00")
    nightly()
    board = leaderboards.leaderboard(user=admin_user, metric="revenue", entity="team")
    assert ranks(board) == [("South", 1), ("North", 2)]


def test_rep_cannot_open_another_teams_board(client, clock, rep, other_team):
    client.force_login(rep)
    url = reverse("leaderboards:leaderboard")
    assert client.get(url, {"within": f"team:{other_team.pk}"}).status_code == 404
    assert (
        client.get(url, {"period": "range", "date_from": "2024-03-01", "date_to": "2024-02-01"}).status_code
        == 200
    )


def test_api_returns_the_same_board(api_client, clock, nightly, four):
    ann, bob, _cas, _dee = four
    deal(ann, "10.00")
    deal(bob, "20.00")
    nightly()
    api_client.force_authenticate(ann)
    data = api_client.get("/api/v1/leaderboards/", {"metric": "revenue"}).json()
    assert [(e["name"], e["rank"], e["hidden"]) for e in data["entries"][:2]] == [
        ("Bob", 1, True),
        ("Ann", 2, False),
    ]
    assert data["entries"][0]["value"] is None
    assert api_client.get("/api/v1/leaderboards/", {"metric": "nonsense"}).status_code == 400


def test_goal_attainment_ranks_reps_with_a_goal_in_the_period(clock, four, admin_user):
    from goals.models import Goal

    ann, bob, _cas, _dee = four

    def goal(owner, percent, start, end):
        return Goal.objects.create(
            owner_user=owner, created_by=owner, metric="revenue", start_on=start, end_on=end,
            status=Goal.Status.ACTIVE, percent_of_target=Decimal(percent),
        )  # fmt: skip

    goal(ann, "1.2", D(2024, 3, 1), D(2024, 3, 31))
    goal(bob, "0.5", D(2024, 1, 1), D(2024, 6, 30))
    goal(bob, "0.9", D(2024, 3, 1), D(2024, 3, 31))
    goal(bob, "3.0", D(2024, 4, 1), D(2024, 4, 30))  # another month: not counted
    board = leaderboards.leaderboard(user=admin_user, metric="goal_attainment")
    expected_bob = (Decimal("0.5") + Decimal("0.9")) / 2
    assert [(e.name, e.rank, e.value) for e in board.ranked] == [
        ("Ann", 1, Decimal("1.2")),
        ("Bob", 2, expected_bob),
    ]
    assert [e.name for e in board.unranked] == ["Cas", "Dee"]


def test_the_page_shows_fifty_places_at_a_time_and_pins_the_viewers_own_place(
    client, clock, nightly, team, monkeypatch
):
    from kpis import leaderboard_views

    assert leaderboard_views.PAGE_SIZE == 50
    monkeypatch.setattr(leaderboard_views, "PAGE_SIZE", 3)  # three places a page keeps the data small
    reps = [UserFactory(username=f"r{i}", full_name=f"Rep {i}") for i in range(1, 8)]
    for i, rep in enumerate(reps, start=1):
        MembershipFactory(user=rep, team=team)
        deal(rep, f"{1000 * (8 - i)}.00")  # Rep 1 sells most, Rep 7 least
    nightly()
    client.force_login(reps[5])  # Rep 6: place 6, on page 2 of 3

    first = client.get(reverse("leaderboards:leaderboard"), {"metric": "revenue"})
    assert [e.name for e in first.context["page"].object_list] == ["Rep 1", "Rep 2", "Rep 3"]
    assert first.context["my_entry"].rank == 6
    assert "Page 1 of 3" in first.text

    second = client.get(reverse("leaderboards:leaderboard"), {"metric": "revenue", "page": 2})
    assert [e.name for e in second.context["page"].object_list] == ["Rep 4", "Rep 5", "Rep 6"]
    assert second.context["my_entry"] is None  # already on the page
    assert "metric=revenue&amp;page=3" in second.text


@pytest.mark.parametrize(
    "metric", [m for m in leaderboards.METRICS if m.slug != leaderboards.GOAL_ATTAINMENT]
)
def test_a_board_reads_every_part_its_metric_needs(metric):
    """Boards read only `Metric.parts` of each stored row: the value and the activity computed from
    those columns alone must equal those computed from the whole row."""
    rng = random.Random(metric.slug)
    decimal_parts = {f.name for f in dataclasses.fields(Parts) if "Decimal" in str(f.type)}
    for _ in range(200):
        whole = Parts(
            **{
                f.name: Decimal(rng.randint(0, 10**7)) / 100
                if f.name in decimal_parts
                else rng.randint(0, 50)
                for f in dataclasses.fields(Parts)
            }
        )
        narrow = Parts(**{name: getattr(whole, name) for name in metric.parts})
        assert leaderboards._value(metric, narrow) == leaderboards._value(metric, whole)
        assert leaderboards._activity(metric, narrow) == leaderboards._activity(metric, whole)


def test_previous_ranks_of_several_boards_are_each_boards_previous_ranks():
    from incentives.models import LeaderboardSnapshot
    from kpis.models import KpiRun

    runs = [
        KpiRun.objects.create(trigger="test", status=KpiRun.Status.SUCCEEDED, is_open=None) for _ in range(3)
    ]
    for run, ranks in zip(runs, [{1: 1, 2: 2}, {1: 2, 2: 1}, {2: 1}], strict=True):
        LeaderboardSnapshot.objects.create(run=run, board="a", ranks=ranks)
    LeaderboardSnapshot.objects.create(run=runs[0], board="b", ranks={7: 1})
    keys = ["a", "b", "never"]
    for before in (None, runs[0].pk, runs[1].pk, runs[2].pk):
        expected = {key: leaderboards.previous_ranks(key=key, before_run_id=before) for key in keys}
        assert leaderboards.previous_ranks_of(keys=keys, before_run_id=before) == expected
    assert leaderboards.previous_ranks_of(keys=keys, before_run_id=runs[2].pk)["a"] == {1: 2, 2: 1}
