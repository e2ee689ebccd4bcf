"""Worked examples of each rule type, computed by hand with Decimal; lines keep full precision."""

from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.core.exceptions import ValidationError

from incentives.bonus_rules import (
    GoalFacts,
    RepInputs,
    calculate,
    describe_line,
    describe_rule,
    validate_rules,
)
from kpis.definitions import Parts

TIERS = [["0", "0.02"], ["1.0", "0.05"], ["1.2", "0.08"]]


def total_of(rules, **inputs):
    return calculate(validate_rules(rules), RepInputs(**inputs))


def test_commission_on_revenue_is_the_rate_times_revenue():
    lines, total = total_of(
        [{"type": "commission", "base": "revenue", "rate": "0.08"}], parts=Parts(revenue=Decimal("12400.00"))
    )
    assert total == Decimal("12400.00") * Decimal("0.08") == Decimal("992.00")
    assert Decimal(lines[0]["amount"]) == Decimal("992")


def test_commission_on_gross_margin_uses_revenue_minus_cost_and_never_goes_negative():
    rules = [{"type": "commission", "base": "gross_margin", "rate": "0.10"}]
    _, total = total_of(rules, parts=Parts(revenue=Decimal("5000.00"), cost=Decimal("3200.00")))
    assert total == (Decimal("5000.00") - Decimal("3200.00")) * Decimal("0.10")  # 180.00
    _, negative = total_of(rules, parts=Parts(revenue=Decimal("100.00"), cost=Decimal("300.00")))
    assert negative == Decimal("0.00")


def test_narrowed_commission_reads_the_narrowed_parts():
    rules = [{"type": "commission", "rate": "0.05", "narrow": {"scope": "segment", "id": 7}}]
    _, total = total_of(
        rules,
        parts=Parts(revenue=Decimal("9000.00")),
        narrowed={("segment", 7): Parts(revenue=Decimal("2000.00"))},
    )
    assert total == Decimal("2000.00") * Decimal("0.05")


def test_marginal_tiers_pay_each_rate_on_the_part_inside_its_tier():
    rules = [{"type": "tiered", "quota": "10000", "mode": "marginal", "tiers": TIERS}]
    lines, total = total_of(rules, parts=Parts(revenue=Decimal("13000.00")))
    expected = (
        Decimal("10000") * Decimal("0.02")  # 0 – 100 % of quota
        + Decimal("2000") * Decimal("0.05")  # 100 – 120 %
        + Decimal("1000") * Decimal("0.08")  # above 120 %
    )
    assert total == expected == Decimal("380.00")
    assert [line["tier"] for line in lines] == [1, 2, 3]


def test_retroactive_tiers_pay_the_reached_rate_on_everything():
    rules = [{"type": "tiered", "quota": "10000", "mode": "retroactive", "tiers": TIERS}]
    _, total = total_of(rules, parts=Parts(revenue=Decimal("13000.00")))
    assert total == Decimal("13000") * Decimal("0.08") == Decimal("1040.00")


def test_a_decelerator_below_the_floor_is_just_a_lower_tier():
    tiers = [["0", "0.01"], ["0.5", "0.03"], ["1.0", "0.05"]]
    rules = [{"type": "tiered", "quota": "10000", "mode": "retroactive", "tiers": tiers}]
    _, total = total_of(rules, parts=Parts(revenue=Decimal("4000.00")))  # 40 % of quota
    assert total == Decimal("4000") * Decimal("0.01")


def test_below_the_first_tier_pays_nothing():
    rules = [{"type": "tiered", "quota": "10000", "mode": "marginal", "tiers": [["0.5", "0.05"]]}]
    _, total = total_of(rules, parts=Parts(revenue=Decimal("4000.00")))
    assert total == Decimal("0.00")


def goal(achieved: bool, reached: str | None) -> GoalFacts:
    return GoalFacts(id=1, title="Q1 revenue", metric="revenue", achieved=achieved,
                     reached=Decimal(reached) if reached else None)  # fmt: skip


def test_a_fixed_goal_bonus_pays_only_for_an_achieved_goal():
    rules = [{"type": "goal_bonus", "mode": "fixed", "amount": "500.00"}]
    assert total_of(rules, parts=Parts(), goals=[goal(True, "1.1")])[1] == Decimal("500.00")
    assert total_of(rules, parts=Parts(), goals=[goal(False, "0.9")])[1] == Decimal("0.00")
    assert total_of(rules, parts=Parts(), goals=[])[1] == Decimal("0.00")


def test_a_pro_rata_goal_bonus_pays_the_share_reached_above_the_threshold_up_to_the_full_amount():
    rules = [{"type": "goal_bonus", "mode": "pro_rata", "amount": "500.00", "threshold": "0.8"}]
    assert total_of(rules, parts=Parts(), goals=[goal(False, "0.9")])[1] == Decimal("500.00") * Decimal("0.9")
    assert total_of(rules, parts=Parts(), goals=[goal(False, "0.7")])[1] == Decimal("0.00")
    assert total_of(rules, parts=Parts(), goals=[goal(True, "1.3")])[1] == Decimal("500.00")


def test_a_gate_not_met_zeroes_the_whole_plan_and_says_why():
    rules = [
        {"type": "gate", "kpi": "gross_margin_pct", "op": ">=", "value": "0.20"},
        {"type": "commission", "rate": "0.10"},
    ]
    low = Parts(revenue=Decimal("10000.00"), cost=Decimal("8500.00"))  # 15 % margin
    lines, total = total_of(rules, parts=low)
    assert total == Decimal("0.00")
    assert lines[0]["inputs"]["met"] is False
    assert lines[1]["gated"] is True and Decimal(lines[1]["inputs"]["would_be"]) == Decimal("1000.00")
    high = Parts(revenue=Decimal("10000.00"), cost=Decimal("7000.00"))  # 30 % margin
    assert total_of(rules, parts=high)[1] == Decimal("10000.00") * Decimal("0.10")


def test_a_gate_on_deals_won_counts_the_won_deals():
    rules = [
        {"type": "gate", "kpi": "deals_won", "op": ">=", "value": "3"},
        {"type": "commission", "rate": "0.1"},
    ]
    assert total_of(rules, parts=Parts(revenue=Decimal("100"), won_count=2))[1] == Decimal("0.00")
    assert total_of(rules, parts=Parts(revenue=Decimal("100"), won_count=3))[1] == Decimal("10.00")


def test_a_gate_on_a_ratio_without_denominator_is_not_met():
    rules = [
        {"type": "gate", "kpi": "conversion_ratio", "op": ">=", "value": "0.3"},
        {"type": "commission", "rate": "0.1"},
    ]
    assert total_of(rules, parts=Parts(revenue=Decimal("100")))[1] == Decimal("0.00")


def test_a_rule_cap_limits_its_rule_and_a_plan_cap_the_total():
    rules = [
        {"type": "commission", "rate": "0.10"},
        {"type": "cap", "max": "5000", "rule": 1},
    ]
    _, total = total_of(rules, parts=Parts(revenue=Decimal("60000.00")))
    assert total == min(Decimal("60000") * Decimal("0.10"), Decimal("5000")) == Decimal("5000.00")
    plan_cap = [
        {"type": "commission", "rate": "0.05"},
        {"type": "commission", "base": "gross_margin", "rate": "0.10"},
        {"type": "cap", "max": "5000"},
    ]
    parts = Parts(revenue=Decimal("60000.00"), cost=Decimal("30000.00"))
    uncapped = Decimal("60000") * Decimal("0.05") + Decimal("30000") * Decimal("0.10")  # 6,000
    assert uncapped > Decimal("5000")
    assert total_of(plan_cap, parts=parts)[1] == Decimal("5000.00")


def test_caps_and_quotas_are_prorated_by_days_in_the_plan():
    rules = [{"type": "commission", "rate": "0.10"}, {"type": "cap", "max": "3100"}]
    _, total = total_of(rules, parts=Parts(revenue=Decimal("50000")), days_in_plan=10, days_in_period=31)
    assert total == (Decimal("3100") * 10 / 31).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def test_lines_keep_full_precision_and_only_the_total_is_rounded_half_up():
    rules = [
        {"type": "commission", "base": "revenue", "rate": "0.001"},
        {"type": "commission", "base": "gross_margin", "rate": "0.001"},
    ]
    lines, total = total_of(rules, parts=Parts(revenue=Decimal("5.00")))
    assert [Decimal(line["amount"]) for line in lines] == [Decimal("0.005"), Decimal("0.005")]
    assert total == Decimal("0.01")  # rounding each line first would give 0.02
    _, half = total_of([{"type": "commission", "rate": "0.0125"}], parts=Parts(revenue=Decimal("99.60")))
    assert Decimal("99.60") * Decimal("0.0125") == Decimal("1.245")
    assert half == Decimal("1.25")  # half up; half even would give 1.24


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ([{"type": "bonus"}], "Rule 1: type must be one of"),
        ([{"type": "commission", "rate": "-0.1"}], "Rule 1: rate must be a number of at least zero."),
        (
            [{"type": "tiered", "quota": "0", "tiers": [["0", "0.1"]]}],
            "Rule 1: quota must be a number above zero.",
        ),
        (
            [{"type": "tiered", "quota": "10", "tiers": [["1", "0.1"], ["0.5", "0.2"]]}],
            "each tier must start above",
        ),
        ([{"type": "gate", "kpi": "happiness", "value": "1"}], "Rule 1: kpi must be one of"),
        (
            [{"type": "commission", "rate": "0.1"}, {"type": "cap", "max": "5", "rule": 3}],
            "Rule 2: rule must be",
        ),
    ],
)
def test_bad_parameters_are_refused_with_the_rule_and_the_field(rules, message):
    with pytest.raises(ValidationError) as error:
        validate_rules(rules)
    assert any(message in m for m in error.value.messages), error.value.messages


def test_each_rule_has_a_plain_language_description():
    rule = validate_rules([{"type": "tiered", "quota": "10000", "mode": "marginal", "tiers": TIERS}])[0]
    assert describe_rule(rule) == (
        "Tiered on revenue against a quota of EUR 10,000.00 (each tier's rate applies to the part inside the "
        "tier): from 0 % of quota: 2 %; from 100 % of quota: 5 %; from 120 % of quota: 8 %."
    )
    gate = validate_rules([{"type": "gate", "kpi": "gross_margin_pct", "op": ">=", "value": "0.20"}])[0]
    assert describe_rule(gate) == "The plan pays only when Gross margin % >= 20 %."


def test_a_gate_on_one_rule_stops_only_that_rule():
    rules = [
        {"type": "commission", "rate": "0.10"},
        {"type": "goal_bonus", "mode": "fixed", "amount": "500.00"},
        {"type": "gate", "kpi": "conversion_ratio", "op": ">=", "value": "0.5", "rule": 1},
    ]
    parts = Parts(revenue=Decimal("10000.00"), won_count=1, lost_count=3)  # conversion 25 %
    lines, total = total_of(rules, parts=parts, goals=[goal(True, "1.0")])

    assert total == Decimal("500.00")  # the goal bonus; the commission (1,000) is gated
    assert lines[0]["type"] == "gate" and lines[0]["inputs"]["met"] is False
    assert describe_rule(validate_rules(rules)[2]) == "Rule 1 pays only when Conversion ratio >= 50 %."
    parts.won_count, parts.lost_count = 3, 1  # conversion 75 %
    assert total_of(rules, parts=parts, goals=[goal(True, "1.0")])[1] == Decimal("1000.00") + Decimal(
        "500.00"
    )


def test_tiers_can_measure_against_the_target_of_the_reps_approved_goal():
    rules = [
        {"type": "tiered", "quota": "goal", "mode": "marginal", "tiers": [["0", "0.02"], ["1.0", "0.05"]]}
    ]
    revenue_goal = GoalFacts(
        id=3, title="Q1", metric="revenue", achieved=True, reached=Decimal("1.2"), target=Decimal("10000")
    )
    lines, total = total_of(rules, parts=Parts(revenue=Decimal("12000.00")), goals=[revenue_goal])

    assert (
        total == Decimal("10000") * Decimal("0.02") + Decimal("2000") * Decimal("0.05") == Decimal("300.00")
    )
    assert lines[0]["goal"] == 3
    _, without = total_of(rules, parts=Parts(revenue=Decimal("12000.00")), goals=[])
    assert without == Decimal("0.00")
    assert describe_rule(validate_rules(rules)[0]).startswith(
        "Tiered on revenue against the target of the rep's approved goal on it"
    )


def test_sentences_round_measured_percentages_and_name_the_top_tier_by_its_floor():
    rules = [
        {"type": "gate", "kpi": "gross_margin_pct", "op": ">=", "value": "0.125"},
        {"type": "tiered", "quota": "9000", "mode": "marginal", "tiers": [["0", "0.02"], ["1.25", "0.05"]]},
    ]
    lines, _ = total_of(rules, parts=Parts(revenue=Decimal("12000.00"), cost=Decimal("10000.00")))
    sentences = [describe_line(line, currency="EUR") for line in lines]

    # 2,000 / 12,000 = 16.666…% measured, shown to one decimal; the threshold as configured.
    assert sentences[0] == "Condition met: Gross margin % is 16.7 %, needs >= 12.5 %"
    # 9,000 × 1.25 = 11,250: the first tier pays on 0–11,250, the top tier on the 750 above it.
    assert sentences[1] == "2 % on EUR 11,250.00 between 0 % and 125 % of quota (tier 1) = EUR 225.00"
    assert sentences[2] == "5 % on EUR 750.00 above 125 % of quota (tier 2) = EUR 37.50"


def test_an_attainment_below_the_first_tier_is_shown_to_one_decimal():
    rules = [{"type": "tiered", "quota": "9000", "mode": "marginal", "tiers": [["1.0", "0.05"]]}]
    [line], _ = total_of(rules, parts=Parts(revenue=Decimal("2000.00")))

    # 2,000 / 9,000 = 22.222…%
    assert describe_line(line, currency="EUR") == (
        "EUR 2,000.00 is 22.2 % of the EUR 9,000.00 quota, below the first tier = EUR 0.00"
    )


@pytest.mark.parametrize("kind", ["goal_bonus", "team_bonus"])
def test_a_metric_that_is_not_a_text_is_a_clear_error_not_a_crash(kind):
    rule = {"type": kind, "amount": "100", "pool": "100", "metric": ["revenue"]}

    with pytest.raises(ValidationError, match=r"Rule 1: unknown metric \['revenue'\]"):
        validate_rules([rule])
