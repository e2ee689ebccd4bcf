"""Bonus awards: evaluation from the KPI engine, approval, and the payroll export that pays them.

`award_evaluate` is what the nightly KPI run triggers (incentives.tasks.evaluate_after_kpi_run, listed
in settings.KPI_RUN_FOLLOW_UP_TASKS) for the open periods of each plan; the pages, the API and the admin
call the approval and export services. Every status change leaves an AwardDecision row.
"""

from __future__ import annotations

import csv
import datetime
import io
from dataclasses import fields
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from goals.models import Goal
from incentives import bonus_rules
from incentives.bonus_rules import GoalFacts, RepInputs
from incentives.bonus_selectors import can_decide
from incentives.models import (
    AwardDecision,
    AwardMessage,
    AwardQuestion,
    BonusAward,
    IncentivePlan,
    PayrollExport,
    PlanVersion,
)
from kpis import engine
from kpis.definitions import Parts
from kpis.models import ScopeType
from kpis.selectors import parts_for, parts_for_range
from salesteam.models import Membership, User

ADDITIVE = [
    f.name
    for f in fields(Parts)
    if f.name not in {"cycle_days_median", "campaign_cost"}  # not sums, and not defined for a rep
]
PAYROLL_COLUMNS = ["employee_id", "name", "period", "plan", "amount", "currency", "award_id"]
# How far an adjustment may travel looking for a free slot after its original's period.
ADJUSTMENT_HORIZON = 24


# --- Plans and periods -------------------------------------------------------------------------------


def version_for(*, plan: IncentivePlan, start: datetime.date, end: datetime.date) -> PlanVersion | None:
    """The version in force for the period [start, end): the latest one applying from `start` or
    before; for a plan whose first version starts inside the period, that one."""
    versions = list(plan.versions.order_by("valid_from"))
    before = [v for v in versions if v.valid_from <= start]
    if before:
        return before[-1]
    inside = [v for v in versions if v.valid_from < end]
    return inside[0] if inside else None


def _clip(ranges: list[tuple[datetime.date, datetime.date]]) -> list[tuple[datetime.date, datetime.date]]:
    merged: list[tuple[datetime.date, datetime.date]] = []
    for lo, hi in sorted(r for r in ranges if r[0] < r[1]):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def plan_participants(
    *, plan: IncentivePlan, start: datetime.date, end: datetime.date
) -> dict[int, list[tuple[datetime.date, datetime.date]]]:
    """Each participant of the plan in [start, end) and the date ranges they take part in.

    Members of a participating team take part while their membership lasts (joining, leaving or
    moving inside the period prorates them); named reps for the whole period. Both stay inside the
    plan's effective dates.
    """
    lo = max(start, plan.effective_from)
    hi = min(end, plan.effective_to + datetime.timedelta(days=1)) if plan.effective_to else end
    if lo >= hi:
        return {}
    ranges: dict[int, list[tuple[datetime.date, datetime.date]]] = {}
    memberships = Membership.objects.filter(team__in=plan.teams.all(), valid_from__lt=hi).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gt=lo)
    )
    for user_id, valid_from, valid_to in memberships.values_list("user_id", "valid_from", "valid_to"):
        ranges.setdefault(user_id, []).append((max(lo, valid_from), min(hi, valid_to or hi)))
    for user_id in plan.reps.values_list("pk", flat=True):
        ranges.setdefault(user_id, []).append((lo, hi))
    return {user_id: _clip(r) for user_id, r in ranges.items()}


def _add(a: Parts, b: Parts) -> Parts:
    for name in ADDITIVE:
        setattr(a, name, getattr(a, name) + getattr(b, name))
    return a


def _range_parts(rep_id: int, ranges, narrow=None) -> Parts:
    total = Parts()
    for lo, hi in ranges:
        _add(
            total, parts_for_range(scope_type=ScopeType.REP, scope_id=rep_id, start=lo, end=hi, narrow=narrow)
        )
    return total


def rep_inputs(
    *, plan: IncentivePlan, rules: list[dict], start: datetime.date, end: datetime.date, participants: dict
) -> dict[int, RepInputs]:
    """The inputs of every participant: stored KPI parts for a full calendar period, parts computed on
    demand for the days a prorated rep was in the plan, narrowed parts for narrowed commissions, and
    the rep's approved goals ending in the period."""
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
            status__in=[Goal.Status.APPROVED, Goal.Status.ACTIVE, Goal.Status.ACHIEVED, Goal.Status.MISSED],
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
    result = {}
    for rep_id, ranges in participants.items():
        if rep_id in full_set:
            parts = stored[(rep_id, start)]
            narrowed = {n: narrowed_full[n].get((rep_id, start)) or Parts() for n in narrows}
        else:
            parts = _range_parts(rep_id, ranges)
            narrowed = {n: _range_parts(rep_id, ranges, narrow=n) for n in narrows}
        result[rep_id] = RepInputs(
            parts=parts,
            narrowed=narrowed,
            goals=goals.get(rep_id, []),
            days_in_plan=sum((hi - lo).days for lo, hi in ranges),
            days_in_period=days_in_period,
        )
    return result


def _with_sentences(lines: list[dict], currency: str) -> list[dict]:
    # Stored in the installation's language for exports and the audit trail; pages re-render each
    # sentence in the reader's language from the same line.
    with translation.override(settings.LANGUAGE_CODE):
        return [line | {"sentence": bonus_rules.describe_line(line, currency=currency)} for line in lines]


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
    inputs = rep_inputs(plan=plan, rules=rules, start=start, end=end, participants=participants)
    existing = {
        award.rep_id: award
        for award in BonusAward.objects.select_for_update().filter(
            plan=plan, period_start=start, kind=BonusAward.Kind.AWARD
        )
    }
    now = timezone.now()
    for rep_id, rep_input in inputs.items():
        lines, total = bonus_rules.calculate(rules, rep_input)
        lines = _with_sentences(lines, plan.currency)
        award = existing.get(rep_id)
        if award is None:
            award = BonusAward.objects.create(
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
            _decide(award, actor=None, from_status="", to_status=award.status)
            counts["created"] += 1
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
    return award


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
    inputs = rep_inputs(plan=plan, rules=rules, start=start, end=end, participants=participants)
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
    *, award: BonusAward, amount: Decimal, cost: Decimal = Decimal("0.00"), segment_id: int | None = None
) -> Decimal:
    """How much one more won deal of `amount` (and `cost`, optionally in a segment) would add to the
    award's plan for its rep and period, computed from the same inputs as the evaluation. Reads only."""
    plan = award.plan
    version = version_for(plan=plan, start=award.period_start, end=award.period_end)
    if version is None:
        return Decimal("0.00")
    rules = bonus_rules.validate_rules(version.rules)
    participants = plan_participants(plan=plan, start=award.period_start, end=award.period_end)
    if award.rep_id not in participants:
        return Decimal("0.00")
    rep_input = rep_inputs(
        plan=plan,
        rules=rules,
        start=award.period_start,
        end=award.period_end,
        participants={award.rep_id: participants[award.rep_id]},
    )[award.rep_id]
    _, before = bonus_rules.calculate(rules, rep_input)
    extra = Parts(revenue=amount, cost=cost, won_count=1)
    _add(rep_input.parts, extra)
    for (scope, scope_id), parts in rep_input.narrowed.items():
        if scope == "segment" and scope_id == segment_id:
            _add(parts, Parts(revenue=amount, cost=cost, won_count=1))
    _, after = bonus_rules.calculate(rules, rep_input)
    return after - before


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
    AwardMessage.objects.create(question=question, author=actor, body=body)
    return question


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
    AwardMessage.objects.create(question=question, author=actor, body=body)
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
