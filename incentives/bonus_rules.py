"""The rule types of incentive plans: validated parameters, a plain-language description, the arithmetic.

Pure functions on Decimal, without database access: `incentives.bonus_services` gathers a rep's inputs
from the KPI engine and goals, `calculate` turns them into breakdown lines. Rates and attainment are
fractions (0.05 is 5 %, 1.0 is 100 % of quota). Each line keeps full Decimal precision; only the award
total is rounded, half up, to cents (see docs/incentives.md).

Rule parameters, as stored in PlanVersion.rules (decimals as strings):

- commission: {"type": "commission", "base": "revenue" | "gross_margin", "rate": "0.05",
  "narrow": {"scope": "segment" | "category" | "campaign" | "touch_point", "id": 3}}  (narrow optional)
- tiered: {"type": "tiered", "base": "revenue" | "gross_margin", "quota": "50000.00",
  "mode": "marginal" | "retroactive", "tiers": [["0", "0.02"], ["1.0", "0.05"], ["1.2", "0.08"]]}
- goal_bonus: {"type": "goal_bonus", "mode": "fixed" | "pro_rata", "amount": "500.00",
  "threshold": "0.8", "metric": "revenue"}  (threshold only for pro_rata; metric optional)
- gate: {"type": "gate", "kpi": "gross_margin_pct", "op": ">=", "value": "0.20", "rule": 1}  (rule: the
  1-based position of the gated rule; without it the gate applies to the whole plan)
- cap: {"type": "cap", "max": "5000.00", "rule": 1}  (rule: 1-based position of the capped rule;
  without it the cap applies to the whole plan)
- contest: {"type": "contest", "name": "Spring race", "kpi": "revenue", "from": "2024-03-01",
  "to": "2024-04-15", "prizes": ["500.00", "300.00", "100.00"], "narrow": {...}}  (to inclusive; narrow
  optional, as for commission; paid in the period containing `to`)
- team_bonus: {"type": "team_bonus", "pool": "4000.00", "split": "equal" | "contribution",
  "kpi": "revenue", "metric": "revenue"}  (kpi: what measures a contribution, only for that split;
  metric optional: only team goals on that metric)

Contests and team pools need every participant's figures before one rep's award can be computed; the
evaluation gathers them once per plan and period (`ContestFacts`, `TeamPool`) and shares them through
each rep's `RepInputs`.
"""

from __future__ import annotations

import datetime
import operator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cached_property
from itertools import groupby

from django.core.exceptions import ValidationError
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _

from kpis.definitions import KPI_BY_SLUG, Parts

CENTS = Decimal("0.01")
ZERO = Decimal(0)
RULE_TYPES = ("commission", "tiered", "goal_bonus", "gate", "cap", "contest", "team_bonus")
PAYOUT_TYPES = ("commission", "tiered", "goal_bonus", "contest", "team_bonus")
# KPIs a contest ranks on and a team pool splits by: sums of a rep's own deals where more is better.
RACE_KPIS = (
    "revenue",
    "gross_margin",
    "deals_won",
    "new_customers",
    "new_customer_revenue",
    "active_customers",
)
TEAM_SPLITS = ("equal", "contribution")
MAX_PRIZES = 50
BASES = ("revenue", "gross_margin")
NARROW_SCOPES = ("segment", "category", "campaign", "touch_point")
TIER_MODES = ("marginal", "retroactive")
GOAL_MODES = ("fixed", "pro_rata")
OPERATORS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}


def round_total(amount: Decimal) -> Decimal:
    """The award total: half up to cents (0.005 -> 0.01, -0.005 -> -0.01)."""
    return amount.quantize(CENTS, rounding=ROUND_HALF_UP)


# --- Validation --------------------------------------------------------------------------------------


def _decimal(rule: dict, key: str, where: str, errors: list[str], *, positive: bool = False) -> str | None:
    raw = rule.get(key)
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError, TypeError):
        value = None
    if value is None or not value.is_finite() or value < 0 or (positive and value == 0):
        if positive:
            message = _("%(where)s: %(key)s must be a number above zero.")
        else:
            message = _("%(where)s: %(key)s must be a number of at least zero.")
        errors.append(message % {"where": where, "key": key})
        return None
    return str(value)


def _choice(rule: dict, key: str, choices: tuple, where: str, errors: list[str], default=None) -> str | None:
    value = rule.get(key, default)
    if value not in choices:
        errors.append(
            _("%(where)s: %(key)s must be one of %(choices)s.")
            % {"where": where, "key": key, "choices": ", ".join(choices)}
        )
        return None
    return value


def _narrow(rule: dict, out: dict, where: str, errors: list[str]) -> None:
    narrow = rule.get("narrow")
    if not narrow:
        return
    if (
        not isinstance(narrow, dict)
        or narrow.get("scope") not in NARROW_SCOPES
        or not isinstance(narrow.get("id"), int)
    ):
        errors.append(
            _("%(where)s: narrow must name a scope (%(scopes)s) and an id.")
            % {"where": where, "scopes": ", ".join(NARROW_SCOPES)}
        )
    else:
        out["narrow"] = {"scope": narrow["scope"], "id": narrow["id"]}


def _date(rule: dict, key: str, where: str, errors: list[str]) -> str | None:
    raw = rule.get(key)
    try:
        return datetime.date.fromisoformat(raw).isoformat()
    except (TypeError, ValueError):
        errors.append(_("%(where)s: %(key)s must be a date (YYYY-MM-DD).") % {"where": where, "key": key})
        return None


def _contest_rule(rule: dict, out: dict, where: str, errors: list[str]) -> None:
    name = rule.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 100:
        errors.append(_("%(where)s: name must be a text of 1 to 100 characters.") % {"where": where})
    else:
        out["name"] = name.strip()
    out["kpi"] = _choice(rule, "kpi", RACE_KPIS, where, errors, default="revenue")
    out["from"] = _date(rule, "from", where, errors)
    out["to"] = _date(rule, "to", where, errors)
    if out["from"] and out["to"] and out["to"] < out["from"]:
        errors.append(_("%(where)s: to must be on or after from.") % {"where": where})
    prizes = rule.get("prizes")
    if not isinstance(prizes, list) or not 1 <= len(prizes) <= MAX_PRIZES:
        errors.append(
            _(
                "%(where)s: prizes must be a list of 1 to %(max)s amounts, one per place, "
                "e.g. [500, 300, 100]."
            )
            % {"where": where, "max": MAX_PRIZES}
        )
    else:
        parsed: list[str] = []
        for prize in prizes:
            amount = _decimal({"prizes": prize}, "prizes", where, errors)
            if amount is None:
                break
            if parsed and Decimal(amount) > Decimal(parsed[-1]):
                errors.append(
                    _("%(where)s: prizes must not grow from one place to the next.") % {"where": where}
                )
                break
            parsed.append(amount)
        out["prizes"] = parsed
    _narrow(rule, out, where, errors)


def _team_bonus_rule(rule: dict, out: dict, where: str, errors: list[str]) -> None:
    out["pool"] = _decimal(rule, "pool", where, errors, positive=True)
    out["split"] = _choice(rule, "split", TEAM_SPLITS, where, errors, default="equal")
    if out["split"] == "contribution":
        out["kpi"] = _choice(rule, "kpi", RACE_KPIS, where, errors, default="revenue")
    _metric(rule, out, where, errors)


def _metric(rule: dict, out: dict, where: str, errors: list[str]) -> None:
    """An optional KPI slug naming which goals count (goal bonus, team bonus)."""
    metric = rule.get("metric")
    if metric:
        if not isinstance(metric, str) or metric not in KPI_BY_SLUG:
            errors.append(_("%(where)s: unknown metric %(metric)s.") % {"where": where, "metric": metric})
        out["metric"] = metric


def validate_rules(rules) -> list[dict]:
    """The rules in their stored form, or a ValidationError naming each bad rule and parameter."""
    if not isinstance(rules, list):
        raise ValidationError(_("Rules must be a list."))
    errors: list[str] = []
    clean: list[dict] = []
    for position, rule in enumerate(rules, start=1):
        where = _("Rule %(n)s") % {"n": position}
        if not isinstance(rule, dict):
            errors.append(_("%(where)s must be an object with a type.") % {"where": where})
            continue
        kind = _choice(rule, "type", RULE_TYPES, where, errors)
        out: dict = {"type": kind}
        if kind == "commission":
            out["base"] = _choice(rule, "base", BASES, where, errors, default="revenue")
            out["rate"] = _decimal(rule, "rate", where, errors)
            _narrow(rule, out, where, errors)
        elif kind == "tiered":
            out["base"] = _choice(rule, "base", BASES, where, errors, default="revenue")
            if rule.get("quota") == "goal":
                out["quota"] = "goal"
            else:
                out["quota"] = _decimal(rule, "quota", where, errors, positive=True)
            out["mode"] = _choice(rule, "mode", TIER_MODES, where, errors, default="marginal")
            tiers = rule.get("tiers")
            parsed: list[list[str]] = []
            if not isinstance(tiers, list) or not tiers:
                errors.append(_("%(where)s: tiers must be a list of [from, rate] pairs.") % {"where": where})
            else:
                for tier in tiers:
                    if not isinstance(tier, list | tuple) or len(tier) != 2:
                        errors.append(
                            _("%(where)s: tiers must be a list of [from, rate] pairs.") % {"where": where}
                        )
                        break
                    start = _decimal({"from": tier[0]}, "from", where, errors)
                    rate = _decimal({"rate": tier[1]}, "rate", where, errors)
                    if start is None or rate is None:
                        break
                    if parsed and Decimal(start) <= Decimal(parsed[-1][0]):
                        errors.append(
                            _("%(where)s: each tier must start above the one before.") % {"where": where}
                        )
                        break
                    parsed.append([start, rate])
            out["tiers"] = parsed
        elif kind == "goal_bonus":
            out["mode"] = _choice(rule, "mode", GOAL_MODES, where, errors, default="fixed")
            out["amount"] = _decimal(rule, "amount", where, errors)
            if out["mode"] == "pro_rata":
                out["threshold"] = _decimal(rule, "threshold", where, errors)
            _metric(rule, out, where, errors)
        elif kind in ("gate", "cap"):
            if kind == "gate":
                out["kpi"] = _choice(rule, "kpi", tuple(KPI_BY_SLUG), where, errors)
                out["op"] = _choice(rule, "op", tuple(OPERATORS), where, errors, default=">=")
                out["value"] = _decimal(rule, "value", where, errors)
            else:
                out["max"] = _decimal(rule, "max", where, errors)
            target = rule.get("rule")
            if target is not None:
                if not isinstance(target, int) or not 1 <= target <= len(rules) or target == position:
                    errors.append(
                        _("%(where)s: rule must be the position of another rule.") % {"where": where}
                    )
                elif (
                    not isinstance(rules[target - 1], dict)
                    or rules[target - 1].get("type") not in PAYOUT_TYPES
                ):
                    errors.append(
                        _(
                            "%(where)s: only a commission, tiered, goal bonus, contest or team bonus rule "
                            "can be its target."
                        )
                        % {"where": where}
                    )
                else:
                    out["rule"] = target
        elif kind == "contest":
            _contest_rule(rule, out, where, errors)
        elif kind == "team_bonus":
            _team_bonus_rule(rule, out, where, errors)
        clean.append(out)
    if errors:
        raise ValidationError(errors)
    return clean


# --- Words -------------------------------------------------------------------------------------------


def money(amount: Decimal, currency: str) -> str:
    return f"{currency} {number_format(round_total(amount), 2, force_grouping=True)}"


def day(iso: str) -> str:
    return date_format(datetime.date.fromisoformat(iso), "DATE_FORMAT")


def share(fraction: Decimal | str) -> str:
    """A share as a percentage to at most two decimals: 1/3 is "33.33 %", 1/4 is "25 %"."""
    return percent((Decimal(fraction) * 100).quantize(CENTS, rounding=ROUND_HALF_UP) / 100)


def percent(fraction: Decimal | str, *, places: int | None = None) -> str:
    """A fraction as a percentage without trailing zeros: exactly as configured (rates, thresholds), or
    rounded to `places` decimals for measured values (attainment, a rep's gross margin %)."""
    value = Decimal(fraction) * 100
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    value = value.normalize()
    if value == value.to_integral():
        value = value.quantize(Decimal(1))
    return f"{number_format(value, force_grouping=True)} %"


def base_name(base: str) -> str:
    return _("gross margin") if base == "gross_margin" else _("revenue")


def describe_rule(rule: dict, *, currency: str = "EUR", narrow_name: str = "") -> str:
    """The rule in one sentence, as the admin preview and the plan pages show it."""
    kind = rule.get("type")
    if kind == "commission":
        text = _("%(rate)s of the %(base)s of won deals") % {
            "rate": percent(rule["rate"]),
            "base": base_name(rule["base"]),
        }
        return text + _narrow_words(rule, narrow_name) + "."
    if kind == "tiered":
        steps = "; ".join(
            _("from %(from)s of quota: %(rate)s") % {"from": percent(start), "rate": percent(rate)}
            for start, rate in rule["tiers"]
        )
        if rule["mode"] == "retroactive":
            how = _("the rate of the highest tier reached applies to all of it")
        else:
            how = _("each tier's rate applies to the part inside the tier")
        if rule["quota"] == "goal":
            quota = _("the target of the rep's approved goal on it")
        else:
            quota = _("a quota of %(quota)s") % {"quota": money(Decimal(rule["quota"]), currency)}
        return _("Tiered on %(base)s against %(quota)s (%(how)s): %(steps)s.") % {
            "base": base_name(rule["base"]),
            "quota": quota,
            "how": how,
            "steps": steps,
        }
    if kind == "goal_bonus":
        if rule["mode"] == "pro_rata":
            return _(
                "%(amount)s for each approved goal ending in the period, in proportion to how much of "
                "its target was reached, once at least %(threshold)s is."
            ) % {"amount": money(Decimal(rule["amount"]), currency), "threshold": percent(rule["threshold"])}
        return _("%(amount)s for each approved goal ending in the period that is achieved.") % {
            "amount": money(Decimal(rule["amount"]), currency)
        }
    if kind == "gate":
        values = {
            "kpi": KPI_BY_SLUG[rule["kpi"]].name,
            "op": rule["op"],
            "value": _gate_value(rule["kpi"], Decimal(rule["value"]), currency),
        }
        if rule.get("rule"):
            return _("Rule %(n)s pays only when %(kpi)s %(op)s %(value)s.") % (values | {"n": rule["rule"]})
        return _("The plan pays only when %(kpi)s %(op)s %(value)s.") % values
    if kind == "cap":
        if rule.get("rule"):
            return _("Rule %(n)s pays at most %(max)s per period.") % {
                "n": rule["rule"],
                "max": money(Decimal(rule["max"]), currency),
            }
        return _("The plan pays at most %(max)s per period.") % {"max": money(Decimal(rule["max"]), currency)}
    if kind == "contest":
        text = _(
            "Contest “%(name)s” from %(from)s to %(to)s on %(kpi)s%(narrow)s: prizes %(prizes)s for places "
            "1 to %(places)s among participants with activity; tied participants share the prizes of the "
            "places they occupy."
        ) % {
            "name": rule["name"],
            "from": day(rule["from"]),
            "to": day(rule["to"]),
            "kpi": KPI_BY_SLUG[rule["kpi"]].name,
            "narrow": _narrow_words(rule, narrow_name),
            "prizes": ", ".join(money(Decimal(prize), currency) for prize in rule["prizes"]),
            "places": len(rule["prizes"]),
        }
        return text
    if kind == "team_bonus":
        values = {"pool": money(Decimal(rule["pool"]), currency)}
        if rule.get("metric"):
            values["goals"] = _("each achieved goal on %(metric)s of a team") % {
                "metric": KPI_BY_SLUG[rule["metric"]].name
            }
        else:
            values["goals"] = _("each achieved goal of a team")
        if rule["split"] == "contribution":
            return _(
                "A pool of %(pool)s for %(goals)s ending in the period, split among the team's members "
                "in the plan by their share of the team's %(kpi)s."
            ) % (values | {"kpi": KPI_BY_SLUG[rule["kpi"]].name})
        text = _(
            "A pool of %(pool)s for %(goals)s ending in the period, split equally among the team's "
            "members in the plan (by their days in the plan)."
        )
        return text % values
    return ""


def _narrow_words(rule: dict, narrow_name: str = "") -> str:
    if not rule.get("narrow"):
        return ""
    return " " + _("in %(scope)s %(name)s") % {
        "scope": rule["narrow"]["scope"].replace("_", " "),
        "name": narrow_name or f"#{rule['narrow']['id']}",
    }


def describe_plan(rules: list[dict], *, currency: str = "EUR") -> list[str]:
    return [f"{n}. {describe_rule(rule, currency=currency)}" for n, rule in enumerate(rules, start=1)]


def _gate_value(kpi: str, value, currency: str, *, measured: bool = False) -> str:
    if value is None:
        return "—"
    unit = KPI_BY_SLUG[kpi].unit
    if unit == "percent":
        return percent(value, places=1 if measured else None)
    if unit == "money":
        return money(Decimal(value), currency)
    return number_format(value, force_grouping=True)


def describe_line(line: dict, *, currency: str) -> str:
    """The sentence a rep reads for one breakdown line, in the active language."""
    kind, amount = line["type"], Decimal(line["amount"])
    values = {"amount": money(amount, currency)}
    if kind == "commission":
        values |= {"rate": percent(line["rate"]), "base": money(Decimal(line["inputs"]["base"]), currency)}
        values["what"] = base_name(line["inputs"]["base_kind"])
        text = _("%(rate)s on %(base)s %(what)s = %(amount)s") % values
    elif kind == "tiered" and line["inputs"].get("no_goal"):
        text = _("No approved goal on %(what)s with a target ends in this period = %(amount)s") % (
            values | {"what": base_name(line["inputs"]["base_kind"])}
        )
    elif kind == "tiered" and line.get("tier") is None:
        text = _("%(base)s is %(attainment)s of the %(quota)s quota, below the first tier = %(amount)s") % (
            values
            | {
                "base": money(Decimal(line["inputs"]["base"]), currency),
                "attainment": percent(line["inputs"]["attainment"], places=1),
                "quota": money(Decimal(line["inputs"]["quota"]), currency),
            }
        )
    elif kind == "tiered" and line["inputs"]["mode"] == "retroactive":
        text = _("%(rate)s on all %(base)s (%(attainment)s of quota, tier %(tier)s) = %(amount)s") % (
            values
            | {
                "rate": percent(line["rate"]),
                "base": money(Decimal(line["inputs"]["base"]), currency),
                "attainment": percent(line["inputs"]["attainment"], places=1),
                "tier": line["tier"],
            }
        )
    elif kind == "tiered":
        values |= {
            "rate": percent(line["rate"]),
            "part": money(Decimal(line["inputs"]["part"]), currency),
            "from": percent(line["inputs"]["from"]),
            "tier": line["tier"],
        }
        if line["inputs"]["to"] is None:
            text = _("%(rate)s on %(part)s above %(from)s of quota (tier %(tier)s) = %(amount)s") % values
        else:
            text = _(
                "%(rate)s on %(part)s between %(from)s and %(to)s of quota (tier %(tier)s) = %(amount)s"
            ) % (values | {"to": percent(line["inputs"]["to"])})
    elif kind == "goal_bonus" and line["inputs"].get("goal") is None:
        text = _("No approved goal ending in this period qualifies = %(amount)s") % values
    elif kind == "goal_bonus":
        values |= {
            "goal": line["inputs"]["goal_title"],
            "reached": percent(line["inputs"]["reached"], places=1)
            if line["inputs"]["reached"] is not None
            else "—",
        }
        text = _("Goal “%(goal)s” at %(reached)s of target = %(amount)s") % values
    elif kind == "gate":
        values |= {
            "kpi": KPI_BY_SLUG[line["inputs"]["kpi"]].name,
            "op": line["inputs"]["op"],
            "actual": _gate_value(line["inputs"]["kpi"], line["inputs"]["actual"], currency, measured=True),
            "value": _gate_value(line["inputs"]["kpi"], Decimal(line["inputs"]["value"]), currency),
        }
        if line["inputs"]["met"]:
            text = _("Condition met: %(kpi)s is %(actual)s, needs %(op)s %(value)s") % values
        elif line["inputs"].get("rule"):
            text = _(
                "Condition not met: %(kpi)s is %(actual)s, needs %(op)s %(value)s; rule %(rule)s pays nothing"
            ) % (values | {"rule": line["inputs"]["rule"]})
        else:
            text = _(
                "Condition not met: %(kpi)s is %(actual)s, needs %(op)s %(value)s; the plan pays nothing"
            ) % (values)
    elif kind == "cap":
        values["max"] = money(Decimal(line["inputs"]["max"]), currency)
        if line["inputs"].get("rule"):
            values["rule"] = line["inputs"]["rule"]
            text = _("Rule %(rule)s is capped at its maximum of %(max)s = %(amount)s") % values
        else:
            text = _("Capped at the plan's maximum of %(max)s = %(amount)s") % values
    elif kind == "credit":
        text = _("Includes %(share)s of deal “%(deal)s”: %(credited)s of its %(revenue)s revenue") % {
            "share": percent(Decimal(line["inputs"]["share"]) / 100),
            "deal": line["inputs"]["deal_name"],
            "credited": money(Decimal(line["inputs"]["revenue"]), currency),
            "revenue": money(Decimal(line["inputs"]["deal_revenue"]), currency),
        }
    elif kind == "adjustment":
        values |= {
            "recalculated": money(Decimal(line["inputs"]["recalculated"]), currency),
            "settled": money(Decimal(line["inputs"]["settled"]), currency),
            "period": line["inputs"]["period"],
        }
        text = _(
            "Correction of %(period)s: recalculated %(recalculated)s, "
            "already settled %(settled)s = %(amount)s"
        ) % (values)
    elif kind == "contest":
        text = _contest_sentence(line["inputs"], values, currency)
    elif kind == "team_bonus":
        text = _team_bonus_sentence(line["inputs"], values, currency)
    else:
        text = values["amount"]
    if line.get("gated"):
        text += " " + _("(not paid: a condition of the plan is not met)")
    if line.get("prorated"):
        text += " " + _("(prorated for %(days)s of %(total)s days in the plan)") % {
            "days": line["prorated"][0],
            "total": line["prorated"][1],
        }
    return text


def _contest_sentence(facts: dict, values: dict, currency: str) -> str:
    values = values | {"name": facts["name"], "kpi": KPI_BY_SLUG[facts["kpi"]].name}
    if not facts["pays"]:
        return _(
            "Contest “%(name)s” runs from %(from)s to %(to)s; its prizes are paid in the period it ends "
            "= %(amount)s"
        ) % (values | {"from": day(facts["from"]), "to": day(facts["to"])})
    if facts.get("rank") is None:
        return _("Contest “%(name)s”: no %(kpi)s in the contest, so no place = %(amount)s") % values
    values |= {
        "rank": facts["rank"],
        "ranked": facts["ranked"],
        "value": _gate_value(facts["kpi"], Decimal(facts["value"]), currency),
    }
    if facts["tied"] > 1:
        return _(
            "Contest “%(name)s”: place %(rank)s of %(ranked)s shared by %(tied)s (%(kpi)s %(value)s), the "
            "prizes of places %(rank)s to %(last)s split equally = %(amount)s"
        ) % (values | {"tied": facts["tied"], "last": facts["rank"] + facts["tied"] - 1})
    return _("Contest “%(name)s”: place %(rank)s of %(ranked)s (%(kpi)s %(value)s) = %(amount)s") % values


def _team_bonus_sentence(facts: dict, values: dict, currency: str) -> str:
    if facts.get("goal") is None:
        return _("No goal of your team ends in this period = %(amount)s") % values
    values |= {"goal": facts["goal_title"]}
    if not facts["achieved"]:
        reached = percent(facts["reached"], places=1) if facts["reached"] is not None else "—"
        return _("Team goal “%(goal)s” not achieved (%(reached)s of target) = %(amount)s") % (
            values | {"reached": reached}
        )
    values |= {"share": share(facts["share"]), "pool": money(Decimal(facts["pool"]), currency)}
    text = _("Team goal “%(goal)s” achieved: your share %(share)s of %(pool)s pool = %(amount)s") % values
    if facts["basis"] == "contribution":
        text += " " + _("(your %(kpi)s %(mine)s of the team's %(all)s)") % {
            "kpi": KPI_BY_SLUG[facts["kpi"]].name,
            "mine": _gate_value(facts["kpi"], Decimal(facts["mine"]), currency),
            "all": _gate_value(facts["kpi"], Decimal(facts["all"]), currency),
        }
    elif facts["split"] == "contribution":
        text += " " + _("(nobody in the team contributed, so split by days)")
    return text


# --- Arithmetic --------------------------------------------------------------------------------------


@dataclass
class GoalFacts:
    id: int
    title: str
    metric: str
    achieved: bool
    reached: Decimal | None  # share of target reached, 1 = 100 %
    target: Decimal | None = None  # an absolute target in the metric's unit


@dataclass
class ContestEntry:
    rep_id: int
    value: Decimal | None
    rank: int | None = None  # None: no activity, no place
    tied: int = 1  # how many share the place
    prize: Decimal = ZERO


def contest_ranking(values: dict[int, Decimal | None], prizes: list[Decimal]) -> list[ContestEntry]:
    """Participants ranked on their value, highest first, in standard competition ranking (1, 1, 3): the
    k participants tied on a value occupy k places and split the prizes of those places equally.
    Participants without activity (no value, or not above zero) get no place and no prize."""
    active = sorted(
        ((Decimal(value), rep_id) for rep_id, value in values.items() if value is not None and value > 0),
        key=lambda item: (-item[0], item[1]),
    )
    entries: list[ContestEntry] = []
    for value, members in groupby(active, key=lambda item: item[0]):
        group = [rep_id for _value, rep_id in members]
        place = len(entries)  # places taken so far: the group occupies the next len(group)
        pot = sum((Decimal(p) for p in prizes[place : place + len(group)]), ZERO)
        entries += [
            ContestEntry(rep_id, value, rank=place + 1, tied=len(group), prize=pot / len(group))
            for rep_id in group
        ]
    inactive = sorted(rep_id for rep_id, value in values.items() if value is None or value <= 0)
    entries += [ContestEntry(rep_id, values[rep_id]) for rep_id in inactive]
    return entries


def kpi_value(kpi: str, parts: Parts) -> Decimal | None:
    value = KPI_BY_SLUG[kpi].evaluate(parts)["value"]
    return Decimal(value) if value is not None else None


@dataclass
class ContestFacts:
    """One contest across all the plan's participants of the period it ends in: each one's KPI parts over
    their days in the plan within the contest's dates. `pays` is False in the other periods the contest
    runs through. Shared by every participant's inputs; the ranking is computed once."""

    kpi: str
    prizes: list[Decimal]
    parts: dict[int, Parts] = field(default_factory=dict)
    pays: bool = True

    @cached_property
    def standings(self) -> dict[int, ContestEntry]:
        values = {rep_id: kpi_value(self.kpi, parts) for rep_id, parts in self.parts.items()}
        return {entry.rep_id: entry for entry in contest_ranking(values, self.prizes)}

    @cached_property
    def ranked(self) -> int:
        return sum(1 for entry in self.standings.values() if entry.rank is not None)


@dataclass
class TeamPool:
    """A goal of a team ending in the period, and the team's members in the plan: the days each was both
    a member and in the plan, and their KPI parts over those days (for a split by contribution)."""

    goal: GoalFacts
    team: str
    days: dict[int, int]
    parts: dict[int, Parts] = field(default_factory=dict)

    _weights: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def weights(self, rule: dict) -> tuple[dict[int, Decimal], str]:
        """Each member's weight in the split and its basis. Equal split: days ("days"; a member for half
        the period weighs half); by contribution: each member's KPI value, never below zero
        ("contribution"), or days when nobody contributed anything. Computed once per split."""
        key = (rule["split"], rule.get("kpi"))
        if key not in self._weights:
            basis, weights = "days", {rep_id: Decimal(days) for rep_id, days in self.days.items()}
            if rule["split"] == "contribution":
                contributions = {
                    rep_id: max(kpi_value(rule["kpi"], self.parts.get(rep_id, Parts())) or ZERO, ZERO)
                    for rep_id in self.days
                }
                if sum(contributions.values(), ZERO) > 0:
                    basis, weights = "contribution", contributions
            self._weights[key] = (weights, basis)
        return self._weights[key]


@dataclass
class RepInputs:
    """What a rep's award is computed from: KPI parts of their days in the plan, goals, proration, and
    the plan-wide facts (contests, team pools) computed once for all participants."""

    parts: Parts
    narrowed: dict[tuple[str, int], Parts] = field(default_factory=dict)
    # Lines of type "credit" (amount 0) naming the split deals whose share is in `parts`; they go into
    # the breakdown as they are (incentives.credit_selectors).
    credit_lines: list[dict] = field(default_factory=list)
    goals: list[GoalFacts] = field(default_factory=list)
    days_in_plan: int = 1
    days_in_period: int = 1
    rep_id: int = 0
    contests: dict[int, ContestFacts] = field(default_factory=dict)  # by rule position
    team_pools: list[TeamPool] = field(default_factory=list)

    @property
    def factor(self) -> Decimal:
        return Decimal(self.days_in_plan) / Decimal(self.days_in_period)

    @property
    def prorated(self) -> list[int] | None:
        return None if self.days_in_plan == self.days_in_period else [self.days_in_plan, self.days_in_period]


def base_of(parts: Parts, base: str) -> Decimal:
    """Revenue or gross margin, never below zero (a negative margin earns nothing, it does not cost)."""
    value = parts.revenue - parts.cost if base == "gross_margin" else parts.revenue
    return max(value, ZERO)


def _line(position: int, kind: str, *, inputs: dict, amount: Decimal, tier=None, rate=None, **extra) -> dict:
    return {
        "rule": position,
        "type": kind,
        "inputs": inputs,
        "tier": tier,
        "rate": str(rate) if rate is not None else None,
        "amount": str(amount),
        **extra,
    }


def _commission(position: int, rule: dict, inputs: RepInputs) -> list[dict]:
    parts = inputs.parts
    if rule.get("narrow"):
        parts = inputs.narrowed.get((rule["narrow"]["scope"], rule["narrow"]["id"]), Parts())
    base = base_of(parts, rule["base"])
    rate = Decimal(rule["rate"])
    return [
        _line(
            position,
            "commission",
            inputs={"base": str(base), "base_kind": rule["base"], "narrow": rule.get("narrow")},
            rate=rate,
            amount=base * rate,
        )
    ]


def _goal_quota(rule: dict, inputs: RepInputs) -> GoalFacts | None:
    """The rep's approved goal on the rule's base with an absolute target, the last one ending."""
    goals = [g for g in inputs.goals if g.metric == rule["base"] and g.target is not None and g.target > 0]
    return goals[-1] if goals else None


def _tiered(position: int, rule: dict, inputs: RepInputs) -> list[dict]:
    base = base_of(inputs.parts, rule["base"])
    extra = {"prorated": inputs.prorated} if inputs.prorated else {}
    if rule["quota"] == "goal":
        goal = _goal_quota(rule, inputs)
        if goal is None:
            facts = {"base": str(base), "no_goal": True, "base_kind": rule["base"], "mode": rule["mode"]}
            return [_line(position, "tiered", inputs=facts, amount=ZERO)]
        quota, extra = goal.target, {"goal": goal.id}  # the goal has its own dates: no proration
    else:
        quota = Decimal(rule["quota"]) * inputs.factor
    attainment = base / quota
    tiers = [(Decimal(start), Decimal(rate)) for start, rate in rule["tiers"]]
    common = {"base": str(base), "quota": str(quota), "attainment": str(attainment), "mode": rule["mode"]}
    if rule["mode"] == "retroactive":
        reached = [(n, rate) for n, (start, rate) in enumerate(tiers, start=1) if attainment >= start]
        if not reached:
            return [_line(position, "tiered", inputs=common, amount=ZERO, **extra)]
        tier, rate = reached[-1]
        return [_line(position, "tiered", inputs=common, tier=tier, rate=rate, amount=base * rate, **extra)]
    lines = []
    for n, (start, rate) in enumerate(tiers, start=1):
        upper = tiers[n][0] if n < len(tiers) else None
        low = start * quota
        high = base if upper is None else min(base, upper * quota)
        part = high - low
        if part <= 0:
            continue
        lines.append(
            _line(
                position,
                "tiered",
                inputs=common
                | {"part": str(part), "from": str(start), "to": str(upper) if upper is not None else None},
                tier=n,
                rate=rate,
                amount=part * rate,
                **extra,
            )
        )
    return lines or [_line(position, "tiered", inputs=common, amount=ZERO, **extra)]


def _goal_bonus(position: int, rule: dict, inputs: RepInputs) -> list[dict]:
    amount = Decimal(rule["amount"])
    lines = []
    for goal in inputs.goals:
        if rule.get("metric") and goal.metric != rule["metric"]:
            continue
        facts = {
            "goal": goal.id,
            "goal_title": goal.title,
            "reached": str(goal.reached) if goal.reached is not None else None,
        }
        if rule["mode"] == "fixed":
            if goal.achieved:
                lines.append(_line(position, "goal_bonus", inputs=facts, amount=amount))
        elif goal.reached is not None and goal.reached >= Decimal(rule["threshold"]):
            share = min(goal.reached, Decimal(1))
            lines.append(_line(position, "goal_bonus", inputs=facts, rate=share, amount=amount * share))
    return lines or [_line(position, "goal_bonus", inputs={"goal": None}, amount=ZERO)]


def _gate(position: int, rule: dict, inputs: RepInputs) -> list[dict]:
    actual = KPI_BY_SLUG[rule["kpi"]].evaluate(inputs.parts)["value"]
    threshold = Decimal(rule["value"])
    met = actual is not None and OPERATORS[rule["op"]](Decimal(actual), threshold)
    facts = {
        "kpi": rule["kpi"],
        "op": rule["op"],
        "value": rule["value"],
        "actual": str(actual) if actual is not None else None,
        "met": met,
        "rule": rule.get("rule"),
    }
    return [_line(position, "gate", inputs=facts, amount=ZERO)]


def _contest(position: int, rule: dict, inputs: RepInputs) -> list[dict]:
    contest = inputs.contests.get(position)
    if contest is None:  # the contest's dates do not touch this period
        return []
    facts = {"name": rule["name"], "kpi": rule["kpi"], "from": rule["from"], "to": rule["to"]}
    if not contest.pays:
        return [_line(position, "contest", inputs=facts | {"pays": False}, amount=ZERO)]
    entry = contest.standings.get(inputs.rep_id) or ContestEntry(inputs.rep_id, None)
    facts |= {
        "pays": True,
        "value": str(entry.value) if entry.value is not None else None,
        "rank": entry.rank,
        "tied": entry.tied,
        "ranked": contest.ranked,
    }
    return [_line(position, "contest", inputs=facts, amount=entry.prize)]


def _team_bonus(position: int, rule: dict, inputs: RepInputs) -> list[dict]:
    pool_amount = Decimal(rule["pool"])
    lines = []
    for pool in inputs.team_pools:
        if inputs.rep_id not in pool.days or (rule.get("metric") and pool.goal.metric != rule["metric"]):
            continue
        facts = {
            "goal": pool.goal.id,
            "goal_title": pool.goal.title,
            "team": pool.team,
            "achieved": pool.goal.achieved,
            "reached": str(pool.goal.reached) if pool.goal.reached is not None else None,
            "pool": rule["pool"],
            "split": rule["split"],
        }
        if not pool.goal.achieved:
            lines.append(_line(position, "team_bonus", inputs=facts, amount=ZERO))
            continue
        weights, basis = pool.weights(rule)
        total = sum(weights.values(), ZERO)
        mine = weights[inputs.rep_id] / total
        facts |= {"basis": basis, "share": str(mine)}
        extra = {}
        if basis == "contribution":  # like a commission, a contribution only sees the member's days
            facts |= {"kpi": rule["kpi"], "mine": str(weights[inputs.rep_id]), "all": str(total)}
        elif pool.days[inputs.rep_id] != inputs.days_in_period:
            extra["prorated"] = [pool.days[inputs.rep_id], inputs.days_in_period]
        lines.append(
            _line(position, "team_bonus", inputs=facts, rate=mine, amount=pool_amount * mine, **extra)
        )
    return lines or [_line(position, "team_bonus", inputs={"goal": None}, amount=ZERO)]


PAYOUTS = {
    "commission": _commission,
    "tiered": _tiered,
    "goal_bonus": _goal_bonus,
    "contest": _contest,
    "team_bonus": _team_bonus,
}


def calculate(rules: list[dict], inputs: RepInputs) -> tuple[list[dict], Decimal]:
    """The breakdown lines of one rep and period, and the award total rounded half up to cents.

    Order: gates first (a plan gate not met zeroes every payout line, a rule's gate that rule's), then
    the payout rules in their
    order, then caps on single rules, then the cap on the whole plan. Caps scale with proration. The
    inputs' credit lines close the breakdown.
    """
    lines: list[dict] = []
    plan_gates_met = True
    failed_rules: set[int] = set()  # payout rules whose own gate is not met
    for position, rule in enumerate(rules, start=1):
        if rule["type"] == "gate":
            gate_lines = _gate(position, rule, inputs)
            if not gate_lines[0]["inputs"]["met"]:
                if rule.get("rule"):
                    failed_rules.add(rule["rule"])
                else:
                    plan_gates_met = False
            lines += gate_lines
    payouts: dict[int, list[dict]] = {}
    for position, rule in enumerate(rules, start=1):
        if rule["type"] in PAYOUTS:
            payouts[position] = PAYOUTS[rule["type"]](position, rule, inputs)
            if not plan_gates_met or position in failed_rules:
                for line in payouts[position]:
                    line["inputs"]["would_be"] = line["amount"]
                    line["amount"], line["gated"] = str(ZERO), True
            lines += payouts[position]
    caps = [(p, r) for p, r in enumerate(rules, start=1) if r["type"] == "cap"]
    for position, rule in sorted(caps, key=lambda c: c[1].get("rule") is None):
        limit = Decimal(rule["max"]) * inputs.factor
        if rule.get("rule"):
            paid = sum((Decimal(line["amount"]) for line in payouts.get(rule["rule"], [])), ZERO)
        else:
            paid = sum((Decimal(line["amount"]) for line in lines), ZERO)
        if paid > limit:
            facts = {"max": str(limit), "rule": rule.get("rule"), "before": str(paid)}
            extra = {"prorated": inputs.prorated} if inputs.prorated else {}
            lines.append(_line(position, "cap", inputs=facts, amount=limit - paid, **extra))
    lines += [dict(line) for line in inputs.credit_lines]
    total = round_total(sum((Decimal(line["amount"]) for line in lines), ZERO))
    return lines, total
