"""Contests (SPIF): a race on a KPI between dates; the top places win fixed prizes, ties split them."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incentives import bonus_services
from incentives.bonus_rules import (
    ContestFacts,
    RepInputs,
    calculate,
    contest_ranking,
    describe_line,
    describe_rule,
    round_total,
    validate_rules,
)
from incentives.models import BonusAward
from kpis.definitions import Parts
from salesteam.models import Membership
from tests.factories import CustomerFactory, SegmentFactory, UserFactory
from tests.incentives.bonus_helpers import make_plan
from tests.incentives.conftest import deal

D = datetime.date
FEBRUARY, MARCH = D(2024, 2, 1), D(2024, 3, 1)
PRIZES = [Decimal("500"), Decimal("300"), Decimal("100")]


def race(**extra) -> dict:
    rule = {
        "type": "contest",
        "name": "March race",
        "kpi": "revenue",
        "from": "2024-03-01",
        "to": "2024-03-31",
        "prizes": ["500", "300", "100"],
    }
    return rule | extra


# --- The arithmetic, without the database --------------------------------------------------------------


def test_ties_split_the_prizes_of_the_places_they_occupy():
    values = {
        1: Decimal("9000"),  # tied for 1st with 2: places 1 and 2
        2: Decimal("9000"),
        3: Decimal("5000"),  # three tied for 3rd: places 3, 4 and 5
        4: Decimal("5000"),
        5: Decimal("5000"),
        6: Decimal("1000"),  # 6th: no prize left
        7: Decimal("0"),  # no activity: no place
        8: None,
    }

    entries = {entry.rep_id: entry for entry in contest_ranking(values, PRIZES)}

    first = (Decimal("500") + Decimal("300")) / 2
    third = (Decimal("100") + Decimal("0") + Decimal("0")) / 3
    assert first == Decimal("400")
    assert [(entries[r].rank, entries[r].tied, entries[r].prize) for r in (1, 2)] == [(1, 2, first)] * 2
    assert [(entries[r].rank, entries[r].tied, entries[r].prize) for r in (3, 4, 5)] == [(3, 3, third)] * 3
    assert (entries[6].rank, entries[6].prize) == (6, Decimal("0"))
    assert (entries[7].rank, entries[7].prize) == (None, Decimal("0"))
    assert (entries[8].rank, entries[8].prize) == (None, Decimal("0"))
    # Each line keeps full precision; each award total is rounded half up to cents.
    assert round_total(entries[3].prize) == Decimal("33.33")


def test_a_tie_for_second_shares_second_and_third_prize():
    entries = contest_ranking({1: Decimal("10"), 2: Decimal("7"), 3: Decimal("7")}, PRIZES)
    assert [(e.rep_id, e.rank, e.prize) for e in entries] == [
        (1, 1, Decimal("500")),
        (2, 2, (Decimal("300") + Decimal("100")) / 2),
        (3, 2, (Decimal("300") + Decimal("100")) / 2),
    ]


def test_with_fewer_active_participants_than_prizes_the_rest_is_not_paid():
    values = {1: Decimal("2000"), 2: Decimal("1000"), 3: Decimal("0"), 4: None}

    entries = {entry.rep_id: entry for entry in contest_ranking(values, PRIZES)}

    assert entries[1].prize == Decimal("500") and entries[2].prize == Decimal("300")
    assert entries[3].rank is None and entries[4].rank is None
    assert sum(e.prize for e in entries.values()) == Decimal("800")  # the 100 for 3rd is not paid


def test_a_contest_line_says_the_place_and_the_prize():
    rules = validate_rules([race()])
    contest = ContestFacts(
        kpi="revenue",
        prizes=PRIZES,
        parts={
            1: Parts(revenue=Decimal("9000.00")),
            2: Parts(revenue=Decimal("9000.00")),
            3: Parts(revenue=Decimal("4000.00")),
            4: Parts(),
        },
    )
    inputs = {
        rep_id: RepInputs(parts=Parts(), rep_id=rep_id, contests={1: contest}) for rep_id in (1, 2, 3, 4)
    }

    results = {rep_id: calculate(rules, rep_input) for rep_id, rep_input in inputs.items()}

    assert [results[r][1] for r in (1, 2, 3, 4)] == [
        Decimal("400.00"),
        Decimal("400.00"),
        Decimal("100.00"),
        Decimal("0.00"),
    ]
    sentence = describe_line(results[1][0][0], currency="EUR")
    assert sentence == (
        "Contest “March race”: place 1 of 3 shared by 2 (Revenue EUR 9,000.00), the prizes of places 1 to 2 "
        "split equally = EUR 400.00"
    )
    assert describe_line(results[3][0][0], currency="EUR") == (
        "Contest “March race”: place 3 of 3 (Revenue EUR 4,000.00) = EUR 100.00"
    )
    assert describe_line(results[4][0][0], currency="EUR") == (
        "Contest “March race”: no Revenue in the contest, so no place = EUR 0.00"
    )


def test_a_cap_and_a_gate_can_target_a_contest():
    rules = validate_rules(
        [
            race(),
            {"type": "cap", "max": "250", "rule": 1},
            {"type": "gate", "kpi": "deals_won", "op": ">=", "value": "2", "rule": 1},
        ]
    )
    contest = ContestFacts(kpi="revenue", prizes=PRIZES, parts={1: Parts(revenue=Decimal("10.00"))})

    _, capped = calculate(rules, RepInputs(parts=Parts(won_count=2), rep_id=1, contests={1: contest}))
    _, gated = calculate(rules, RepInputs(parts=Parts(won_count=1), rep_id=1, contests={1: contest}))

    assert capped == Decimal("250.00")
    assert gated == Decimal("0.00")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": " "}, "Rule 1: name must be a text of 1 to 100 characters."),
        ({"kpi": "conversion_ratio"}, "Rule 1: kpi must be one of revenue, gross_margin, deals_won"),
        ({"from": "1 March"}, "Rule 1: from must be a date (YYYY-MM-DD)."),
        ({"to": "2024-02-28"}, "Rule 1: to must be on or after from."),
        ({"prizes": []}, "Rule 1: prizes must be a list of 1 to 50 amounts, one per place"),
        ({"prizes": ["100", "300"]}, "Rule 1: prizes must not grow from one place to the next."),
        ({"prizes": ["500", "-1"]}, "Rule 1: prizes must be a number of at least zero."),
        ({"narrow": {"scope": "planet"}}, "Rule 1: narrow must name a scope"),
    ],
)
def test_bad_contest_parameters_are_refused_naming_the_field(changes, message):
    with pytest.raises(ValidationError) as error:
        validate_rules([race(**changes)])
    assert any(message in m for m in error.value.messages), error.value.messages


def test_a_contest_is_described_in_plain_language():
    rule = validate_rules([race(narrow={"scope": "segment", "id": 4})])[0]
    assert describe_rule(rule) == (
        "Contest “March race” from March 1, 2024 to March 31, 2024 on Revenue in segment #4: prizes "
        "EUR 500.00, EUR 300.00, EUR 100.00 for places 1 to 3 among participants with activity; tied "
        "participants share the prizes of the places they occupy."
    )


# --- Evaluation from the KPI engine -------------------------------------------------------------------


def member(team, username: str):
    user = UserFactory(username=username)
    Membership.objects.create(user=user, team=team, valid_from=D(2000, 1, 1))
    return user


@pytest.mark.django_db
def test_the_evaluation_ranks_all_participants_on_their_days_in_the_plan(
    clock, nightly, team, other_team, rep, other_rep
):
    # Given a March race in a plan of team North
    make_plan(rules=[race()], teams=[team])
    second, third, idle = member(team, "second"), member(team, "third"), member(team, "idle")
    late = UserFactory(username="late")  # in South until 16 March, then in North
    Membership.objects.create(user=late, team=other_team, valid_from=D(2000, 1, 1), valid_to=D(2024, 3, 16))
    Membership.objects.create(user=late, team=team, valid_from=D(2024, 3, 16))
    deal(rep, "9000.00", closed_on=D(2024, 3, 5))
    deal(second, "4000.00", closed_on=D(2024, 3, 6))
    deal(second, "5000.00", closed_on=D(2024, 3, 28))
    deal(third, "5000.00", closed_on=D(2024, 3, 7))
    deal(late, "20000.00", closed_on=D(2024, 3, 10))  # before joining the plan: does not count
    deal(late, "1000.00", closed_on=D(2024, 3, 20))
    deal(other_rep, "50000.00", closed_on=D(2024, 3, 8))  # not in the plan
    deal(rep, "7000.00", closed_on=D(2024, 2, 20))  # before the contest

    # When March is evaluated after it ended
    clock(D(2024, 4, 2))
    nightly()

    # Then rep and second tie for 1st on 9,000 and split 500 + 300; third wins 100; late is 4th
    tied = (Decimal("500") + Decimal("300")) / 2
    totals = {award.rep.username: award.total for award in BonusAward.objects.filter(period_start=MARCH)}
    assert totals == {
        "rep": tied,
        "second": tied,
        "third": Decimal("100.00"),
        "late": Decimal("0.00"),
        "idle": Decimal("0.00"),
    }
    late_line = BonusAward.objects.get(rep=late, period_start=MARCH).breakdown[0]
    assert late_line["inputs"]["rank"] == 4 and late_line["inputs"]["value"] == "1000.00"
    assert BonusAward.objects.get(rep=idle, period_start=MARCH).breakdown[0]["inputs"]["rank"] is None
    # April does not touch the contest: no line at all
    assert BonusAward.objects.get(rep=rep, period_start=D(2024, 4, 1)).breakdown == []
    # Evaluating again with the same data changes nothing
    again = bonus_services.award_evaluate(period_start=MARCH)
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 5)


@pytest.mark.django_db
def test_a_contest_across_periods_shows_up_before_and_pays_in_the_period_it_ends(clock, nightly, team, rep):
    make_plan(rules=[race(name="Winter race", **{"from": "2024-02-20", "to": "2024-03-10"})], teams=[team])
    second = member(team, "second")
    deal(rep, "3000.00", closed_on=D(2024, 2, 25))
    deal(rep, "1000.00", closed_on=D(2024, 3, 5))
    deal(rep, "9000.00", closed_on=D(2024, 3, 15))  # after the contest
    deal(second, "3500.00", closed_on=D(2024, 3, 8))
    clock(D(2024, 4, 2))
    nightly()
    bonus_services.award_evaluate(period_start=FEBRUARY)

    february = BonusAward.objects.get(rep=rep, period_start=FEBRUARY)
    assert february.total == Decimal("0.00")
    assert february.breakdown[0]["sentence"].startswith("Contest “Winter race” runs from Feb. 20, 2024")
    # rep: 3,000 + 1,000 = 4,000 over the contest's dates; second 3,500
    assert BonusAward.objects.get(rep=rep, period_start=MARCH).total == Decimal("500.00")
    assert BonusAward.objects.get(rep=second, period_start=MARCH).total == Decimal("300.00")


@pytest.mark.django_db
def test_a_narrowed_contest_counts_only_those_deals(clock, nightly, team, rep):
    fleet = SegmentFactory(name="Fleet")
    make_plan(rules=[race(narrow={"scope": "segment", "id": fleet.pk})], teams=[team])
    second = member(team, "second")
    deal(rep, "9000.00")  # another segment
    deal(rep, "1000.00", customer=CustomerFactory(segment=fleet))
    deal(second, "2000.00", customer=CustomerFactory(segment=fleet))
    clock(D(2024, 4, 2))
    nightly()

    assert BonusAward.objects.get(rep=second, period_start=MARCH).total == Decimal("500.00")
    assert BonusAward.objects.get(rep=rep, period_start=MARCH).total == Decimal("300.00")


@pytest.mark.django_db
def test_what_if_counts_the_deal_in_a_running_contest(clock, nightly, team, rep):
    make_plan(rules=[race(), {"type": "commission", "rate": "0.01"}], teams=[team])
    second = member(team, "second")
    deal(rep, "4000.00")
    deal(second, "9000.00")
    nightly()  # 20 March: rep 2nd (300), second 1st (500)
    award = BonusAward.objects.get(rep=rep, period_start=MARCH)
    assert award.total == Decimal("300") + Decimal("4000") * Decimal("0.01")

    added = bonus_services.award_what_if(award=award, amount=Decimal("6000.00"))

    # 10,000 beats 9,000: first place instead of second, and 1 % of 6,000
    assert added == (Decimal("500") - Decimal("300")) + Decimal("6000") * Decimal("0.01") == Decimal("260.00")


# --- Standings ---------------------------------------------------------------------------------------


@pytest.fixture
def running_race(clock, nightly, team, rep, manager):
    make_plan(rules=[race()], teams=[team])
    second, idle = member(team, "second"), member(team, "idle")
    second.full_name = "Sam Second"
    second.save()
    deal(rep, "4000.00")
    deal(second, "9000.00")
    nightly()  # 20 March, the race runs
    return {"second": second, "idle": idle}


@pytest.mark.django_db
def test_participants_see_the_standings_from_my_earnings(running_race, client, rep):
    client.force_login(rep)
    earnings = client.get(reverse("bonuses:my_earnings"))
    plan_id = BonusAward.objects.get(rep=rep, period_start=MARCH).plan_id
    url = reverse("bonuses:contest_standings", args=[plan_id])
    assert url in earnings.text

    page = client.get(url)

    assert page.status_code == 200
    rows = page.text.split("<tbody>")[1].split("</tbody>")[0].split("<tr")[1:]
    assert "Sam Second" in rows[0] and "EUR 500.00" in rows[0]
    assert "EUR 9,000.00" not in rows[0]  # a colleague's money value stays hidden from reps by default
    assert "(you)" in rows[1] and "EUR 4,000.00" in rows[1] and "EUR 300.00" in rows[1]
    assert running_race["idle"].display_name in rows[2] and "—" in rows[2]


@pytest.mark.django_db
def test_managers_see_values_and_people_outside_the_plan_get_404(
    running_race, client, rep, manager, other_rep, other_manager, api_client
):
    plan_id = BonusAward.objects.get(rep=rep, period_start=MARCH).plan_id
    url = reverse("bonuses:contest_standings", args=[plan_id])
    client.force_login(manager)
    assert "EUR 9,000.00" in client.get(url).text
    for outsider in (other_rep, other_manager):
        client.force_login(outsider)
        assert client.get(url).status_code == 404

    api_client.force_authenticate(rep)
    standings = api_client.get(f"/api/v1/plans/{plan_id}/contests/").json()
    assert [(e["rep_name"], e["rank"], e["prize"], e["value"]) for e in standings[0]["entries"]] == [
        ("Sam Second", 1, "500.00", None),
        (rep.display_name, 2, "300.00", "4000.00"),
        (running_race["idle"].display_name, None, "0.00", None),
    ]
    api_client.force_authenticate(other_rep)
    assert api_client.get(f"/api/v1/plans/{plan_id}/contests/").status_code == 404


def test_a_plan_id_that_is_not_a_number_answers_404(api_client, rep):
    api_client.force_authenticate(rep)
    for bad in ("abc", "null", "1.5"):
        assert api_client.get(f"/api/v1/plans/{bad}/contests/").status_code == 404


@pytest.mark.django_db
def test_the_standings_page_issues_a_bounded_number_of_queries(
    clock, nightly, team, rep, client, django_assert_max_num_queries
):
    plan = make_plan(rules=[race(), race(name="Deals race", kpi="deals_won")], teams=[team])
    for n in range(8):
        deal(member(team, f"r{n}"), f"{1000 + n}.00")
    nightly()
    client.force_login(rep)

    with django_assert_max_num_queries(30):
        page = client.get(reverse("bonuses:contest_standings", args=[plan.pk]))

    assert page.status_code == 200 and "Deals race" in page.text


@pytest.mark.django_db
def test_the_ranking_reads_the_deals_in_passes_that_do_not_grow_with_the_team(clock, nightly, team):
    make_plan(rules=[race(), {"type": "team_bonus", "pool": "900", "split": "contribution"}], teams=[team])

    def deal_reads(size: int) -> int:
        for n in range(size):
            deal(member(team, f"m{size}-{n}"), f"{100 + n}.00")
        nightly()
        with CaptureQueriesContext(connection) as queries:
            bonus_services.award_evaluate(period_start=MARCH)
        return sum("salesteam_deal" in q["sql"] for q in queries.captured_queries)

    assert deal_reads(3) == deal_reads(9) > 0
