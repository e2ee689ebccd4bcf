"""Bonus awards: evaluation from the KPI engine, approval, and the payroll export that pays them.

`award_evaluate` is what the nightly KPI run triggers (incentives.tasks.evaluate_after_kpi_run, listed
in settings.KPI_RUN_FOLLOW_UP_TASKS) for the open periods of each plan; the pages, the API and the admin
call the approval and export services. Every status change leaves an AwardDecision row.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import datetime
import io
from dataclasses import fields
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from goals.models import Goal
from incentives import bonus_rules
from incentives.bonus_rules import ContestFacts, GoalFacts, RepInputs, TeamPool
from incentives.bonus_selectors import (
    Ranges,
    award_deciders,
    can_decide,
    clip_ranges,
    plan_participants,
    plan_span,
)
from incentives.credit_selectors import credited_totals
from incentives.models import (
    AwardDecision,
    AwardMessage,
    AwardQuestion,
    BonusAward,
    IncentivePlan,
    PayrollExport,
    PlanVersion,
    RecognitionSettings,
)
from incentives.services import notify
from kpis import engine
from kpis.definitions import KPI_BY_SLUG, Parts
from kpis.leaderboards import money_hidden_for
from kpis.models import ScopeType
from kpis.selectors import parts_for
from salesteam.models import Membership, Team, User

ADDITIVE = [
    f.name
    for f in fields(Parts)
    if f.name not in {"cycle_days_median", "campaign_cost"}  # not sums, and not defined for a rep
]
PAYROLL_COLUMNS = ["employee_id", "name", "period", "plan", "amount", "currency", "award_id"]
# How far an adjustment may travel looking for a free slot after its original's period.
ADJUSTMENT_HORIZON = 24
# Goals that count for goal bonuses and team pools: approved, whatever their outcome so far.
COUNTED_GOALS = [Goal.Status.APPROVED, Goal.Status.ACTIVE, Goal.Status.ACHIEVED, Goal.Status.MISSED]


# --- Plans and periods -------------------------------------------------------------------------------


def version_for(*, plan: IncentivePlan, start: datetime.date, end: datetime.date) -> PlanVersion | None:
    """The version in force for the period [start, end): the latest one applying from `start` or
    before; for a plan whose first version starts inside the period, that one."""
    versions = sorted(plan.versions.all(), key=lambda v: v.valid_from)  # uses a prefetch when there is one
    before = [v for v in versions if v.valid_from <= start]
    if before:
        return before[-1]
    inside = [v for v in versions if v.valid_from < end]
    return inside[0] if inside else None


def _add(a: Parts, b: Parts) -> Parts:
    for name in ADDITIVE:
        setattr(a, name, getattr(a, name) + getattr(b, name))
    return a


def _range_parts(rep_ranges: dict[int, list], narrow=None) -> dict[int, Parts]:
    """Each rep's parts over their own date ranges, computed on demand: reps with the same ranges
    (joined or left on the same day) share one engine pass per range."""
    by_ranges: dict[tuple, list[int]] = {}
    for rep_id, ranges in rep_ranges.items():
        by_ranges.setdefault(tuple(ranges), []).append(rep_id)
    totals = {rep_id: Parts() for rep_id in rep_ranges}
    for ranges, rep_ids in by_ranges.items():
        for lo, hi in ranges:
            computed = engine.compute(
                ScopeType.REP, date_from=lo, date_to=hi, custom=True, scope_ids=rep_ids, narrow=narrow
            )
            for rep_id in rep_ids:
                _add(totals[rep_id], computed.get((rep_id, lo)) or engine.empty_parts(ScopeType.REP))
    return totals


def rep_inputs(
    *, plan: IncentivePlan, rules: list[dict], start: datetime.date, end: datetime.date, participants: dict
) -> dict[int, RepInputs]:
    """The inputs of every participant: stored KPI parts for a full calendar period, parts computed on
    demand for the days a prorated rep was in the plan, narrowed parts for narrowed commissions, and
    the rep's approved goals ending in the period; their revenue and cost are the rep's credited ones."""
    full = [rep_id for rep_id, r in participants.items() if r == [(start, end)]]
    stored = parts_for(scope_type=ScopeType.REP, scope_ids=full, period_type=plan.period, starts=[start])
    narrows = {
        (r["narrow"]["scope"], r["narrow"]["id"])
        for r in rules
        if r["type"] == "commission" and r.get("narrow")
    }
    narrowed_full = {
        narrow: engine.compute(
            ScopeType.REP, date_from=start, date_to=end, custom=True, scope_ids=full, narrow=narrow
        )
        for narrow in narrows
    }
    goals: dict[int, list[GoalFacts]] = {}
    if any(r["type"] == "goal_bonus" or (r["type"] == "tiered" and r["quota"] == "goal") for r in rules):
        approved = Goal.objects.filter(
            owner_user_id__in=list(participants),
            end_on__gte=start,
            end_on__lt=end,
            status__in=COUNTED_GOALS,
        ).order_by("end_on", "pk")
        for goal in approved:
            goals.setdefault(goal.owner_user_id, []).append(
                GoalFacts(
                    id=goal.pk,
                    title=str(goal),
                    metric=goal.metric,
                    achieved=goal.status == Goal.Status.ACHIEVED,
                    reached=goal.percent_of_target,
                    target=goal.target_value if goal.target_kind == Goal.TargetKind.ABSOLUTE else None,
                )
            )
    days_in_period = (end - start).days
    full_set = set(full)
    partial = {rep_id: ranges for rep_id, ranges in participants.items() if rep_id not in full_set}
    prorated = _range_parts(partial)
    prorated_narrowed = {n: _range_parts(partial, narrow=n) for n in narrows}
    result = {}
    for rep_id, ranges in participants.items():
        if rep_id in full_set:
            parts = stored[(rep_id, start)]
            narrowed = {n: narrowed_full[n].get((rep_id, start)) or Parts() for n in narrows}
        else:
            parts = prorated[rep_id]
            narrowed = {n: prorated_narrowed[n][rep_id] for n in narrows}
        result[rep_id] = RepInputs(
            parts=parts,
            narrowed=narrowed,
            goals=goals.get(rep_id, []),
            days_in_plan=sum((hi - lo).days for lo, hi in ranges),
            days_in_period=days_in_period,
        )
    # Credit splits: commission and quota count each rep's credited share of won deals' revenue and
    # cost, not the KPI money of the deals they own (docs/incentives.md, "Credit splits").
    credited = credited_totals(participants=participants, start=start, end=end, narrows=narrows)
    for rep_id, rep_input in result.items():
        credited[rep_id].apply_to(rep_input)
    return result


def _with_sentences(lines: list[dict], currency: str) -> list[dict]:
    # Stored in the installation's language for exports and the audit trail; pages re-render each
    # sentence in the reader's language from the same line.
    with translation.override(settings.LANGUAGE_CODE):
        return [line | {"sentence": bonus_rules.describe_line(line, currency=currency)} for line in lines]


# --- Plan-wide facts: contests and team pools ---------------------------------------------------------
# A contest ranks all participants and a team pool splits among a team's members, so both are gathered
# once per plan and period, before any rep's award, and shared by every rep's inputs: one engine pass
# for all the reps covering the whole range, a computation on demand only for prorated ones.


def _parts_by_rep(
    rep_ranges: dict[int, Ranges],
    *,
    span: tuple[datetime.date, datetime.date],
    narrow: tuple[str, int] | None = None,
    period_type: str | None = None,
) -> dict[int, Parts]:
    """KPI parts of each rep over their ranges: one pass for everyone whose ranges cover `span` (the
    stored rows when `span` is a stored period of `period_type`), on demand for the others."""
    full = [rep_id for rep_id, ranges in rep_ranges.items() if ranges == [span]]
    if period_type is not None and narrow is None:
        found = parts_for(scope_type=ScopeType.REP, scope_ids=full, period_type=period_type, starts=[span[0]])
    elif full:
        found = engine.compute(
            ScopeType.REP, date_from=span[0], date_to=span[1], custom=True, scope_ids=full, narrow=narrow
        )
    else:
        found = {}
    result = {rep_id: found.get((rep_id, span[0])) or Parts() for rep_id in full}
    result.update(_range_parts({r: ranges for r, ranges in rep_ranges.items() if r not in result}, narrow))
    return result


def contest_dates(rule: dict) -> tuple[datetime.date, datetime.date]:
    """First day and exclusive end of a contest rule."""
    return (
        datetime.date.fromisoformat(rule["from"]),
        datetime.date.fromisoformat(rule["to"]) + datetime.timedelta(days=1),
    )


def contest_parts(*, plan: IncentivePlan, rule: dict, rep_ids, cache: dict | None = None) -> dict[int, Parts]:
    """The KPI parts of each of `rep_ids` over their days in the plan within the contest's dates; reps
    who were not in the plan during the contest are left out. Contests on the same dates and deals
    share one computation through `cache` (for the same `rep_ids`)."""
    if cache is not None:
        key = (rule["from"], rule["to"], str(rule.get("narrow")), frozenset(rep_ids))
        if key not in cache:
            cache[key] = contest_parts(plan=plan, rule=rule, rep_ids=rep_ids)
        return cache[key]
    first, stop = contest_dates(rule)
    span = plan_span(plan=plan, start=first, end=stop)
    if span is None:
        return {}
    wanted = set(rep_ids)
    window = {
        rep_id: ranges
        for rep_id, ranges in plan_participants(plan=plan, start=first, end=stop).items()
        if rep_id in wanted
    }
    narrow = (rule["narrow"]["scope"], rule["narrow"]["id"]) if rule.get("narrow") else None
    return _parts_by_rep(window, span=span, narrow=narrow)


def _contests(
    *, plan: IncentivePlan, rules: list[dict], start: datetime.date, end: datetime.date, participants: dict
) -> dict[int, ContestFacts]:
    """The contests touching [start, end), by rule position. A contest is ranked (and paid) in the period
    containing its last day, among that period's participants; in the other periods it runs through it
    only shows up."""
    contests, cache = {}, {}
    for position, rule in enumerate(rules, start=1):
        if rule["type"] != "contest":
            continue
        first, stop = contest_dates(rule)
        if stop <= start or first >= end:
            continue
        prizes = [Decimal(prize) for prize in rule["prizes"]]
        if stop > end:
            contests[position] = ContestFacts(kpi=rule["kpi"], prizes=prizes, pays=False)
        else:
            parts = contest_parts(plan=plan, rule=rule, rep_ids=participants, cache=cache)
            contests[position] = ContestFacts(kpi=rule["kpi"], prizes=prizes, parts=parts)
    return contests


def _team_pools(
    *, plan: IncentivePlan, rules: list[dict], start: datetime.date, end: datetime.date, participants: dict
) -> list[TeamPool]:
    """The approved goals of teams ending in [start, end) with the team's members in the plan: the days
    each was both a member and in the plan, and (for a split by contribution of an achieved goal) their
    KPI parts over those days."""
    team_rules = [rule for rule in rules if rule["type"] == "team_bonus"]
    if not team_rules or not participants:
        return []
    in_team: dict[int, dict[int, Ranges]] = {}
    memberships = Membership.objects.during(start, end).filter(user_id__in=list(participants))
    for user_id, team_id, valid_from, valid_to in memberships.values_list(
        "user_id", "team_id", "valid_from", "valid_to"
    ):
        lo, hi = max(start, valid_from), min(end, valid_to or end)
        members = in_team.setdefault(team_id, {})
        for plan_lo, plan_hi in participants[user_id]:
            members.setdefault(user_id, []).append((max(lo, plan_lo), min(hi, plan_hi)))
    goals = Goal.objects.filter(
        owner_team_id__in=list(in_team), end_on__gte=start, end_on__lt=end, status__in=COUNTED_GOALS
    ).order_by("end_on", "pk")
    team_names = dict(Team.objects.filter(pk__in=list(in_team)).values_list("pk", "name"))
    by_contribution = any(rule["split"] == "contribution" for rule in team_rules)
    pools, parts_of_team = [], {}
    for goal in goals:
        members = {rep_id: clip_ranges(r) for rep_id, r in in_team[goal.owner_team_id].items()}
        members = {rep_id: ranges for rep_id, ranges in members.items() if ranges}
        if not members:
            continue
        achieved = goal.status == Goal.Status.ACHIEVED
        if achieved and by_contribution and goal.owner_team_id not in parts_of_team:
            parts_of_team[goal.owner_team_id] = _parts_by_rep(
                members, span=(start, end), period_type=plan.period
            )
        pools.append(
            TeamPool(
                goal=GoalFacts(
                    id=goal.pk,
                    title=str(goal),
                    metric=goal.metric,
                    achieved=achieved,
                    reached=goal.percent_of_target,
                ),
                team=team_names.get(goal.owner_team_id, ""),
                days={rep_id: sum((hi - lo).days for lo, hi in ranges) for rep_id, ranges in members.items()},
                parts=parts_of_team.get(goal.owner_team_id, {}) if achieved else {},
            )
        )
    return pools


def plan_inputs(
    *,
    plan: IncentivePlan,
    rules: list[dict],
    start: datetime.date,
    end: datetime.date,
    participants: dict,
    rep_ids: list[int] | None = None,
) -> dict[int, RepInputs]:
    """The inputs of every participant (or of `rep_ids` only), with the plan-wide facts they share:
    contests ranked across all participants and team pools. The evaluation, the simulation and the
    what-if call it; reads only."""
    chosen = participants if rep_ids is None else {r: participants[r] for r in rep_ids if r in participants}
    inputs = rep_inputs(plan=plan, rules=rules, start=start, end=end, participants=chosen)
    contests = _contests(plan=plan, rules=rules, start=start, end=end, participants=participants)
    pools = _team_pools(plan=plan, rules=rules, start=start, end=end, participants=participants)
    for rep_id, rep_input in inputs.items():
        rep_input.rep_id, rep_input.contests, rep_input.team_pools = rep_id, contests, pools
    return inputs


# --- Evaluation --------------------------------------------------------------------------------------


def _decide(
    award: BonusAward, *, actor: User | None, from_status: str, to_status: str, reason: str = ""
) -> None:
    AwardDecision.objects.create(
        award=award, actor=actor, from_status=from_status, to_status=to_status, reason=reason
    )


def _auto_approve(award: BonusAward, plan: IncentivePlan, today: datetime.date) -> None:
    """A plan without approval approves its awards once their period has ended."""
    if plan.needs_approval or award.status != BonusAward.Status.PENDING or award.period_end > today:
        return
    award.status, award.decided_at = BonusAward.Status.APPROVED, timezone.now()
    award.save(update_fields=["status", "decided_at"])
    _decide(award, actor=None, from_status=BonusAward.Status.PENDING, to_status=BonusAward.Status.APPROVED)


@transaction.atomic
def award_evaluate(
    *, period_start: datetime.date, plan: IncentivePlan | None = None, today: datetime.date | None = None
) -> dict[str, int]:
    """Computes every published plan's awards (or one plan's) for the period containing `period_start`.

    Pending awards are created or recomputed in place; approved and paid awards never change: a
    difference becomes a pending adjustment in the next free period, linked to the original. Rejected
    awards stay as decided. Idempotent: a second run with the same data changes nothing. Called by the
    nightly follow-up task and by tests and the shell.
    """
    today = today or timezone.localdate()
    plans = IncentivePlan.objects.filter(status=IncentivePlan.Status.PUBLISHED)
    if plan is not None:
        plans = plans.filter(pk=plan.pk)
    counts = {"created": 0, "updated": 0, "unchanged": 0, "removed": 0, "adjusted": 0}
    for current in plans.prefetch_related("versions"):
        start = engine.period_start(current.period, period_start)
        _evaluate_plan(current, start, engine.period_end(current.period, start), today, counts)
    return counts


def _evaluate_plan(plan: IncentivePlan, start, end, today, counts: dict[str, int]) -> None:
    version = version_for(plan=plan, start=start, end=end)
    if version is None:
        return
    rules = bonus_rules.validate_rules(version.rules)
    participants = plan_participants(plan=plan, start=start, end=end)
    inputs = plan_inputs(plan=plan, rules=rules, start=start, end=end, participants=participants)
    existing = {
        award.rep_id: award
        for award in BonusAward.objects.select_for_update().filter(
            plan=plan, period_start=start, kind=BonusAward.Kind.AWARD
        )
    }
    now = timezone.now()
    created = []
    for rep_id, rep_input in inputs.items():
        lines, total = bonus_rules.calculate(rules, rep_input)
        lines = _with_sentences(lines, plan.currency)
        award = existing.get(rep_id)
        if award is None:
            created.append(
                BonusAward(
                    rep_id=rep_id,
                    plan=plan,
                    version=version,
                    period_start=start,
                    period_end=end,
                    total=total,
                    currency=plan.currency,
                    breakdown=lines,
                    computed_at=now,
                )
            )
            counts["created"] += 1
            continue
        elif award.status == BonusAward.Status.PENDING:
            if award.total != total or award.breakdown != lines or award.version_id != version.pk:
                award.total, award.breakdown, award.version, award.computed_at = total, lines, version, now
                award.save(update_fields=["total", "breakdown", "version", "computed_at"])
                counts["updated"] += 1
            else:
                counts["unchanged"] += 1
        elif award.status in BonusAward.SETTLED:
            counts["adjusted" if _adjust(award, total, lines, version, now) else "unchanged"] += 1
            continue
        else:
            counts["unchanged"] += 1
            continue
        _auto_approve(award, plan, today)
    # New awards in two statements rather than two per rep (a first evaluation creates thousands).
    BonusAward.objects.bulk_create(created, batch_size=1000)
    AwardDecision.objects.bulk_create(
        (AwardDecision(award=a, actor=None, from_status="", to_status=a.status) for a in created),
        batch_size=1000,
    )
    for award in created:
        _auto_approve(award, plan, today)
    gone = [
        a.pk
        for rep_id, a in existing.items()
        if rep_id not in inputs and a.status == BonusAward.Status.PENDING
    ]
    if gone:
        counts["removed"] += (
            BonusAward.objects.filter(pk__in=gone).delete()[1].get("incentives.BonusAward", 0)
        )


def _adjust(original: BonusAward, total: Decimal, lines: list[dict], version: PlanVersion, now) -> bool:
    """Keeps the pending adjustment of a settled award equal to recalculated − settled; True if it
    changed anything."""
    adjustments = list(original.adjustments.select_for_update())
    settled = original.total + sum(
        (a.total for a in adjustments if a.status in BonusAward.SETTLED), Decimal("0.00")
    )
    difference = total - settled
    pending = next((a for a in adjustments if a.status == BonusAward.Status.PENDING), None)
    if pending is None and any(
        a.status == BonusAward.Status.REJECTED and a.total == difference for a in adjustments
    ):
        return False  # this very correction was rejected; it is not proposed again
    if difference == 0:
        if pending is None:
            return False
        pending.delete()
        return True
    line = {
        "rule": None,
        "type": "adjustment",
        "inputs": {
            "recalculated": str(total),
            "settled": str(settled),
            "period": period_label(original),
            "original": original.pk,
            "lines": lines,
        },
        "tier": None,
        "rate": None,
        "amount": str(difference),
    }
    breakdown = _with_sentences([line], original.currency)
    if pending is not None:
        if pending.total == difference and pending.breakdown == breakdown:
            return False
        pending.total, pending.breakdown, pending.version, pending.computed_at = (
            difference,
            breakdown,
            version,
            now,
        )
        pending.save(update_fields=["total", "breakdown", "version", "computed_at"])
        return True
    slot = original.period_end
    taken = set(
        BonusAward.objects.filter(
            rep_id=original.rep_id,
            plan_id=original.plan_id,
            kind=BonusAward.Kind.ADJUSTMENT,
            period_start__gte=slot,
        ).values_list("period_start", flat=True)
    )
    for _step in range(ADJUSTMENT_HORIZON):
        if slot not in taken:
            break
        slot = engine.period_end(original.plan.period, slot)
    adjustment = BonusAward.objects.create(
        rep_id=original.rep_id,
        plan_id=original.plan_id,
        version=version,
        period_start=slot,
        period_end=engine.period_end(original.plan.period, slot),
        kind=BonusAward.Kind.ADJUSTMENT,
        adjusts=original,
        total=difference,
        currency=original.currency,
        breakdown=breakdown,
        computed_at=now,
    )
    _decide(adjustment, actor=None, from_status="", to_status=adjustment.status)
    return True


def open_period_starts(*, plan: IncentivePlan, today: datetime.date) -> list[datetime.date]:
    """The periods the nightly evaluation recomputes: the previous one and the current one."""
    current = engine.period_start(plan.period, today)
    return [engine.previous_start(plan.period, current), current]


def awards_evaluate_open(*, today: datetime.date | None = None) -> dict[str, int]:
    """Evaluates the open periods of every published plan. Idempotent; called after each KPI run."""
    today = today or timezone.localdate()
    totals: dict[str, int] = {}
    for plan in IncentivePlan.objects.filter(status=IncentivePlan.Status.PUBLISHED):
        for start in open_period_starts(plan=plan, today=today):
            for key, value in award_evaluate(period_start=start, plan=plan, today=today).items():
                totals[key] = totals.get(key, 0) + value
    return totals


# --- Approval ----------------------------------------------------------------------------------------


def _check_decidable(actor: User, award: BonusAward, today: datetime.date) -> None:
    if award.rep_id == actor.pk:
        raise ValidationError(_("Nobody approves or rejects their own award."))
    if not can_decide(user=actor, award=award):
        raise ValidationError(_("Only a manager of the rep's team or an admin decides on this award."))
    if award.period_end > today:
        raise ValidationError(_("This award's period has not ended yet; it is still an estimate."))


def _transition(*, actor: User, award: BonusAward, to_status: str, reason: str) -> BonusAward:
    today = timezone.localdate()
    _check_decidable(actor, award, today)
    now = timezone.now()
    # A conditional update: of two concurrent decisions exactly one finds the award still pending.
    changed = BonusAward.objects.filter(pk=award.pk, status=BonusAward.Status.PENDING).update(
        status=to_status, decided_by=actor, decided_at=now, reason=reason
    )
    if changed != 1:
        award.refresh_from_db(fields=["status", "decided_by"])
        raise ValidationError(
            _("This award was already decided (now %(status)s); nothing was changed.")
            % {"status": award.get_status_display()}
        )
    _decide(award, actor=actor, from_status=BonusAward.Status.PENDING, to_status=to_status, reason=reason)
    award.refresh_from_db()
    _notify_decision(award)
    return award


def _award_words(award: BonusAward) -> dict[str, str]:
    """The award's plan, period and amount in the active language."""
    first, last = award.period_start, award.period_end - datetime.timedelta(days=1)
    return {
        "plan": award.plan.name,
        "period": f"{date_format(first, 'DATE_FORMAT')} – {date_format(last, 'DATE_FORMAT')}",
        "amount": bonus_rules.money(award.total, award.currency),
    }


def _notify_decision(award: BonusAward) -> None:
    """Tells the rep that their award was approved or rejected (in the app, and by e-mail unless they
    opted out), in the rep's language. Keyed by award and status: a decision is announced once."""

    def message() -> str:
        if award.status == BonusAward.Status.APPROVED:
            return _("Your bonus of %(amount)s (%(plan)s, %(period)s) was approved.") % _award_words(award)
        return _("Your bonus of %(amount)s (%(plan)s, %(period)s) was rejected: %(reason)s") % (
            _award_words(award) | {"reason": award.reason}
        )

    notify(
        recipients=[award.rep],
        kind=f"award_{award.status}",
        key=f"award:{award.pk}:{award.status}",
        message=message,
    )


@transaction.atomic
def award_approve(*, actor: User, award: BonusAward, reason: str = "") -> BonusAward:
    """Approves a pending award of an ended period. Managers of the rep's team and admins, never the
    rep; of two concurrent approvals exactly one succeeds, the other gets a ValidationError."""
    return _transition(actor=actor, award=award, to_status=BonusAward.Status.APPROVED, reason=reason.strip())


@transaction.atomic
def award_reject(*, actor: User, award: BonusAward, reason: str) -> BonusAward:
    """Rejects a pending award with a reason (required); the award is not evaluated again."""
    if not reason.strip():
        raise ValidationError({"reason": _("Give a reason for rejecting the award.")})
    return _transition(actor=actor, award=award, to_status=BonusAward.Status.REJECTED, reason=reason.strip())


def award_approve_many(*, actor: User, awards: list[BonusAward]) -> tuple[list[BonusAward], list[str]]:
    """Approves each award on its own (one failing does not stop the others); the approved awards and
    a message for each one that was not."""
    approved, problems = [], []
    for award in awards:
        try:
            approved.append(award_approve(actor=actor, award=award))
        except ValidationError as error:
            problems.append(
                _("Award %(id)s (%(rep)s): %(message)s")
                % {"id": award.pk, "rep": award.rep, "message": " ".join(error.messages)}
            )
    return approved, problems


# --- Payroll -----------------------------------------------------------------------------------------


def period_label(award: BonusAward) -> str:
    return f"{award.period_start.isoformat()}/{(award.period_end - datetime.timedelta(days=1)).isoformat()}"


def payroll_csv(awards: list[BonusAward]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(PAYROLL_COLUMNS)
    for award in awards:
        writer.writerow(
            [
                award.rep.employee_id,
                award.rep.display_name,
                period_label(award),
                award.plan.name,
                f"{award.total:.2f}",
                award.currency,
                award.pk,
            ]
        )
    return out.getvalue()


@transaction.atomic
def payroll_export(*, actor: User, period_start: datetime.date) -> PayrollExport:
    """Pays the approved awards of the periods starting on `period_start` in one recorded batch and
    returns it with its CSV. Exporting again with nothing newly approved returns the latest batch of
    that period unchanged, so nothing is paid twice. Admins only."""
    if not actor.is_admin:
        raise ValidationError(_("Only admins export payroll."))
    awards = list(
        BonusAward.objects.select_for_update(of=("self",))
        .filter(period_start=period_start, status=BonusAward.Status.APPROVED)
        .select_related("rep", "plan")
        .order_by("rep__employee_id", "rep__username", "plan__name", "kind", "pk")
    )
    latest = PayrollExport.objects.filter(period_start=period_start).order_by("-sequence").first()
    if not awards:
        if latest is None:
            raise ValidationError(
                {"period_start": _("There are no approved awards in this period to export.")}
            )
        return latest
    batch = PayrollExport.objects.create(
        period_start=period_start,
        sequence=(latest.sequence + 1) if latest else 1,
        created_by=actor,
        content=payroll_csv(awards),
        award_count=len(awards),
    )
    paid = BonusAward.objects.filter(pk__in=[a.pk for a in awards], status=BonusAward.Status.APPROVED).update(
        status=BonusAward.Status.PAID, export=batch
    )
    if paid != len(awards):  # the awards are locked, so this would be a bug, not a race
        raise RuntimeError("Approved awards changed status during the payroll export.")
    AwardDecision.objects.bulk_create(
        AwardDecision(
            award=award,
            actor=actor,
            from_status=BonusAward.Status.APPROVED,
            to_status=BonusAward.Status.PAID,
            reason=_("Payroll export %(batch)s") % {"batch": batch},
        )
        for award in awards
    )
    return batch


# --- Simulation and what-if (read only) --------------------------------------------------------------


def plan_simulate(*, plan: IncentivePlan, period_start: datetime.date) -> list[dict]:
    """Every participant's payout if `plan` (draft or published) were evaluated for the period
    containing `period_start`, with its breakdown. Reads only; stores nothing. Admins' simulate page."""
    start = engine.period_start(plan.period, period_start)
    end = engine.period_end(plan.period, start)
    version = version_for(plan=plan, start=start, end=end) or plan.versions.order_by("-valid_from").first()
    if version is None:
        return []
    rules = bonus_rules.validate_rules(version.rules)
    participants = plan_participants(plan=plan, start=start, end=end)
    inputs = plan_inputs(plan=plan, rules=rules, start=start, end=end, participants=participants)
    reps = User.objects.in_bulk(list(inputs))
    rows = []
    for rep_id, rep_input in inputs.items():
        lines, total = bonus_rules.calculate(rules, rep_input)
        rows.append(
            {
                "rep": reps[rep_id],
                "total": total,
                "days_in_plan": rep_input.days_in_plan,
                "days_in_period": rep_input.days_in_period,
                "sentences": [bonus_rules.describe_line(line, currency=plan.currency) for line in lines],
            }
        )
    rows.sort(key=lambda row: (-row["total"], row["rep"].username))
    return rows


def award_what_if(
    *,
    award: BonusAward,
    amount: Decimal,
    cost: Decimal = Decimal("0.00"),
    segment_id: int | None = None,
    today: datetime.date | None = None,
) -> Decimal:
    """How much one more won deal of `amount` (and `cost`, optionally in a segment), closed today, would
    add to the award's plan for its rep and period, computed from the same inputs as the evaluation:
    it also counts in a running contest (which may change places) and in the rep's contribution to a
    team pool. Reads only."""
    plan = award.plan
    today = today or timezone.localdate()
    version = version_for(plan=plan, start=award.period_start, end=award.period_end)
    if version is None:
        return Decimal("0.00")
    rules = bonus_rules.validate_rules(version.rules)
    participants = plan_participants(plan=plan, start=award.period_start, end=award.period_end)
    if award.rep_id not in participants:
        return Decimal("0.00")
    rep_input = plan_inputs(
        plan=plan,
        rules=rules,
        start=award.period_start,
        end=award.period_end,
        participants=participants,
        rep_ids=[award.rep_id],
    )[award.rep_id]
    _, before = bonus_rules.calculate(rules, rep_input)
    extra = Parts(revenue=amount, cost=cost, won_count=1)
    _add(rep_input.parts, extra)
    for (scope, scope_id), parts in rep_input.narrowed.items():
        if scope == "segment" and scope_id == segment_id:
            _add(parts, Parts(revenue=amount, cost=cost, won_count=1))
    rep_input.contests = {
        position: _with_deal(contest, rep_id=award.rep_id, extra=extra)
        if _deal_counts_in_contest(rules[position - 1], today=today, segment_id=segment_id)
        else contest
        for position, contest in rep_input.contests.items()
    }
    rep_input.team_pools = [
        _with_deal(pool, rep_id=award.rep_id, extra=extra) for pool in rep_input.team_pools
    ]
    _, after = bonus_rules.calculate(rules, rep_input)
    return after - before


def contest_standings(*, plan: IncentivePlan, viewer: User, today: datetime.date | None = None) -> list[dict]:
    """The plan's contests paid in its previous period or later, each with every participant's place,
    value and prize as the evaluation pays them (a running contest: as if it ended today). A rep sees
    colleagues' money values only when the leaderboard settings allow it. Reads only; the standings page
    and the API. Access is checked by `bonus_selectors.plan_people_get`."""
    today = today or timezone.localdate()
    since = open_period_starts(plan=plan, today=today)[0]
    found = []
    for version in sorted(plan.versions.all(), key=lambda v: v.valid_from):
        for position, rule in enumerate(bonus_rules.validate_rules(version.rules), start=1):
            if rule["type"] != "contest":
                continue
            first, stop = contest_dates(rule)
            start = engine.period_start(plan.period, stop - datetime.timedelta(days=1))
            end = engine.period_end(plan.period, start)
            in_force = version_for(plan=plan, start=start, end=end)
            if start >= since and in_force is not None and in_force.pk == version.pk:
                found.append((position, rule, first, stop, start, end))
    if not found:
        return []
    hide_money = money_hidden_for(viewer, RecognitionSettings.load().reps_see_money)
    participants_of: dict[datetime.date, dict] = {}
    cache: dict = {}
    ranked = []
    for position, rule, first, stop, start, end in found:
        if start not in participants_of:
            participants_of[start] = plan_participants(plan=plan, start=start, end=end)
        parts = contest_parts(plan=plan, rule=rule, rep_ids=participants_of[start], cache=cache)
        facts = ContestFacts(
            kpi=rule["kpi"], prizes=[Decimal(prize) for prize in rule["prizes"]], parts=parts
        )
        ranked.append((position, rule, first, stop, start, facts))
    people = User.objects.in_bulk({rep_id for *_rest, facts in ranked for rep_id in facts.parts})
    contests = []
    for position, rule, first, stop, start, facts in ranked:
        hidden = hide_money and KPI_BY_SLUG[rule["kpi"]].unit == "money"
        entries = [
            {
                "rep": people[entry.rep_id],
                "is_viewer": entry.rep_id == viewer.pk,
                "rank": entry.rank,
                "tied": entry.tied,
                "value": entry.value if entry.rep_id == viewer.pk or not hidden else None,
                "prize": entry.prize,
            }
            for entry in facts.standings.values()
        ]
        entries.sort(key=lambda e: (e["rank"] is None, e["rank"] or 0, e["rep"].display_name.lower()))
        if today < first:
            state = "upcoming"
        elif today < stop:
            state = "running"
        else:
            state = "ended"
        contests.append(
            {
                "position": position,
                "rule": rule,
                "name": rule["name"],
                "kpi": KPI_BY_SLUG[rule["kpi"]],
                "first_day": first,
                "last_day": stop - datetime.timedelta(days=1),
                "paid_in": start,
                "state": state,
                "description": bonus_rules.describe_rule(rule, currency=plan.currency),
                "value_hidden": hidden,
                "entries": entries,
            }
        )
    return contests


def _deal_counts_in_contest(rule: dict, *, today: datetime.date, segment_id: int | None) -> bool:
    first, stop = contest_dates(rule)
    narrow = rule.get("narrow")
    return first <= today < stop and (
        narrow is None or (narrow["scope"] == "segment" and narrow["id"] == segment_id)
    )


def _with_deal(facts, *, rep_id: int, extra: Parts):
    """A copy of contest or team pool facts with `extra` added to the rep's parts (the shared original
    and its cached ranking stay untouched)."""
    if rep_id not in facts.parts:
        return facts
    mine = _add(copy.copy(facts.parts[rep_id]), extra)
    return dataclasses.replace(facts, parts={**facts.parts, rep_id: mine})


# --- Questions -------------------------------------------------------------------------------------


def _clean_body(body: str) -> str:
    body = body.strip()
    if not body:
        raise ValidationError({"body": _("Write a message.")})
    if len(body) > 2000:
        raise ValidationError({"body": _("Keep the message under 2,000 characters.")})
    return body


@transaction.atomic
def award_question_ask(*, actor: User, award: BonusAward, body: str) -> AwardQuestion:
    """The rep asks about their award: opens a question, or adds to the one already open."""
    if award.rep_id != actor.pk:
        raise ValidationError(_("Only the rep of an award asks questions about it."))
    body = _clean_body(body)
    question = (
        AwardQuestion.objects.select_for_update()
        .filter(award=award, status=AwardQuestion.Status.OPEN)
        .first()
    )
    if question is None:
        question = AwardQuestion.objects.create(award=award)
    message = AwardMessage.objects.create(question=question, author=actor, body=body)
    _notify_message(message, award=award)
    return question


def _notify_message(message: AwardMessage, *, award: BonusAward) -> None:
    """A message by the rep goes to whoever decides on the award (their managers, or the admins when
    they have none); a message by one of those goes to the rep. Each reads it in their own language.
    Keyed by message: sent once."""
    who, body = message.author.display_name, message.body
    if message.author_id == award.rep_id:
        recipients = award_deciders(award=award)
        template = gettext_lazy("%(who)s asks about their bonus (%(plan)s, %(period)s): %(body)s")
    else:
        recipients = [award.rep]
        template = gettext_lazy(
            "%(who)s answered your question on your bonus (%(plan)s, %(period)s): %(body)s"
        )
    notify(
        recipients=recipients,
        kind="award_question",
        key=f"award_message:{message.pk}",
        message=lambda: template % (_award_words(award) | {"who": who, "body": body}),
    )


@transaction.atomic
def award_question_reply(
    *, actor: User, question: AwardQuestion, body: str, resolve: bool = False
) -> AwardQuestion:
    """A reply in the thread, by the rep or by whoever decides on the award (their manager, an admin);
    only the latter resolve it. A rep's reply to a resolved question opens it again."""
    award = question.award
    decides = can_decide(user=actor, award=award)
    if not (decides or award.rep_id == actor.pk):
        raise ValidationError(_("Only the rep and their managers take part in this thread."))
    if resolve and not decides:
        raise ValidationError(_("Only a manager of the rep's team or an admin resolves a question."))
    body = _clean_body(body)
    question = AwardQuestion.objects.select_for_update().get(pk=question.pk)
    message = AwardMessage.objects.create(question=question, author=actor, body=body)
    _notify_message(message, award=award)
    if resolve:
        question.status, question.resolved_by, question.resolved_at = (
            AwardQuestion.Status.RESOLVED,
            actor,
            timezone.now(),
        )
        question.save(update_fields=["status", "resolved_by", "resolved_at"])
    elif question.status == AwardQuestion.Status.RESOLVED and award.rep_id == actor.pk:
        if AwardQuestion.objects.filter(award=award, status=AwardQuestion.Status.OPEN).exists():
            raise ValidationError(_("Another question on this award is open; reply there."))
        question.status, question.resolved_by, question.resolved_at = AwardQuestion.Status.OPEN, None, None
        question.save(update_fields=["status", "resolved_by", "resolved_at"])
    return question


# --- Plans (admins) ----------------------------------------------------------------------------------

PLAN_FIELDS = (
    "name",
    "effective_from",
    "effective_to",
    "period",
    "currency",
    "needs_approval",
    "status",
    "roles",
)


def _check_configures(actor: User) -> None:
    if not actor.is_admin:
        raise ValidationError(_("Only admins configure incentive plans."))


@transaction.atomic
def plan_save(
    *,
    actor: User,
    plan: IncentivePlan | None = None,
    teams: list[Team] | None = None,
    reps: list[User] | None = None,
    **values: Any,
) -> IncentivePlan:
    """Creates a plan (without `plan`) or changes one: the fields in `values` (PLAN_FIELDS, roles among
    them) and, when given, the participating teams and named reps. Admins only; validated like the
    admin form (a message per field); the change is kept in the plan's history with the actor. Called
    by the API; the admin saves through its model form with the same validation."""
    _check_configures(actor)
    unknown = set(values) - set(PLAN_FIELDS)
    if unknown:
        raise ValidationError({key: _("This field cannot be set.") for key in sorted(unknown)})
    plan = IncentivePlan.objects.select_for_update().get(pk=plan.pk) if plan else IncentivePlan()
    for key, value in values.items():
        setattr(plan, key, list(value) if key == "roles" else value)
    plan.full_clean()
    plan._history_user = actor
    plan.save()
    if teams is not None:
        plan.teams.set(teams)
    if reps is not None:
        plan.reps.set(reps)
    return plan


@transaction.atomic
def plan_version_save(
    *, actor: User, plan: IncentivePlan, valid_from: datetime.date, rules: list, note: str = ""
) -> PlanVersion:
    """Sets the rules of `plan` from `valid_from` on (creating that version or replacing its rules), after
    validating them: a message per bad rule and parameter under `rules`. Admins only."""
    _check_configures(actor)
    try:
        clean = bonus_rules.validate_rules(rules)
    except ValidationError as error:
        raise ValidationError({"rules": error.messages}) from error
    # The plan's row is the lock: two saves of the same new start wait for each other instead of one
    # failing on the unique start.
    IncentivePlan.objects.select_for_update().filter(pk=plan.pk).first()
    version = PlanVersion.objects.filter(plan=plan, valid_from=valid_from).first()
    version = version or PlanVersion(plan=plan, valid_from=valid_from)
    version.rules, version.note = clean, note
    version._history_user = actor
    version.save()
    return version
