"""Bonus pages: My earnings with printable statements, the managers' approval queue, payroll export.

Each view checks access, parses input, calls one service or selector, and renders.
"""

import datetime
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from incentives import bonus_selectors, bonus_services
from incentives.bonus_api import csv_response
from incentives.bonus_forms import SimulateForm, WhatIfForm
from incentives.bonus_rules import describe_line
from kpis import engine


def _with_sentences(awards):
    for award in awards:
        award.sentences = [describe_line(line, currency=award.currency) for line in award.breakdown]
        award.has_contest = any(line.get("type") == "contest" for line in award.breakdown)
    return awards


@login_required
def my_earnings(request: HttpRequest) -> HttpResponse:
    earnings = bonus_selectors.my_earnings(user=request.user)
    _with_sentences(earnings["current"])
    form = WhatIfForm(request.GET if "amount" in request.GET else None)
    what_if = []
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        segment = data["segment"]
        for award in earnings["current"]:
            added = bonus_services.award_what_if(
                award=award,
                amount=data["amount"],
                cost=data["cost"] or Decimal("0.00"),
                segment_id=segment.pk if segment else None,
            )
            what_if.append({"award": award, "added": added})
    return render(request, "incentives/earnings.html", {**earnings, "what_if_form": form, "what_if": what_if})


@login_required
def plan_simulate(request: HttpRequest, pk: int) -> HttpResponse:
    plan = bonus_selectors.plan_get(user=request.user, pk=pk)
    form = SimulateForm(request.GET or None)
    today = timezone.localdate()
    period = engine.previous_start(plan.period, engine.period_start(plan.period, today))
    if form.is_bound and form.is_valid() and form.cleaned_data["period"]:
        period = form.cleaned_data["period"]
    rows = bonus_services.plan_simulate(plan=plan, period_start=period)
    start = engine.period_start(plan.period, period)
    return render(
        request,
        "incentives/plan_simulate.html",
        {
            "plan": plan,
            "form": form,
            "rows": rows,
            "start": start,
            "end": engine.period_end(plan.period, start),
            "total": sum((row["total"] for row in rows), Decimal("0.00")),
            "has_contests": any(
                rule.get("type") == "contest" for version in plan.versions.all() for rule in version.rules
            ),
        },
    )


@login_required
def contest_standings(request: HttpRequest, pk: int) -> HttpResponse:
    """The plan's running and recent contests: place, name, value and prize of each participant."""
    plan = bonus_selectors.plan_people_get(user=request.user, pk=pk)
    contests = bonus_services.contest_standings(plan=plan, viewer=request.user)
    return render(request, "incentives/contest_list.html", {"plan": plan, "contests": contests})


@login_required
def statement(request: HttpRequest, pk: int) -> HttpResponse:
    award = bonus_selectors.award_get(user=request.user, pk=pk)
    _with_sentences([award])
    return render(
        request,
        "incentives/award_statement.html",
        {
            "award": award,
            "decisions": bonus_selectors.award_decisions(award=award),
            "questions": bonus_selectors.award_questions(award=award),
            "can_resolve": bonus_selectors.can_decide(user=request.user, award=award),
        },
    )


@login_required
@require_POST
def award_question(request: HttpRequest, pk: int) -> HttpResponse:
    """Asks a question on an award (its rep) or replies in a thread (the rep, their managers)."""
    award = bonus_selectors.award_get(user=request.user, pk=pk)
    body = request.POST.get("body", "")
    question_id = request.POST.get("question", "")
    try:
        if question_id.isdigit():
            question = bonus_selectors.question_get(user=request.user, award=award, pk=int(question_id))
            bonus_services.award_question_reply(
                actor=request.user, question=question, body=body, resolve=bool(request.POST.get("resolve"))
            )
        else:
            bonus_services.award_question_ask(actor=request.user, award=award, body=body)
        messages.success(request, _("Message sent."))
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    return redirect("bonuses:statement", pk=award.pk)


@login_required
def approval_queue(request: HttpRequest) -> HttpResponse:
    if not (request.user.is_admin or request.user.is_manager):
        raise Http404
    if request.method == "POST":
        ids = [int(pk) for pk in request.POST.getlist("award") if pk.isdigit()]
        awards = list(bonus_selectors.approval_queue(user=request.user).filter(pk__in=ids))
        if not awards:
            messages.warning(request, _("Select at least one award to approve."))
        else:
            approved, problems = bonus_services.award_approve_many(actor=request.user, awards=awards)
            if approved:
                messages.success(request, _("%(n)s awards approved.") % {"n": len(approved)})
            for problem in problems:
                messages.error(request, problem)
        return redirect("bonuses:approval_queue")
    awards = _with_sentences(list(bonus_selectors.approval_queue(user=request.user)))
    return render(request, "incentives/award_queue.html", {"awards": awards})


@login_required
@require_POST
def award_decide(request: HttpRequest, pk: int) -> HttpResponse:
    award = bonus_selectors.award_get(user=request.user, pk=pk)
    reason = request.POST.get("reason", "")
    try:
        if request.POST.get("decision") == "reject":
            bonus_services.award_reject(actor=request.user, award=award, reason=reason)
            messages.success(request, _("Award rejected."))
        else:
            bonus_services.award_approve(actor=request.user, award=award, reason=reason)
            messages.success(request, _("Award approved."))
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    return redirect("bonuses:approval_queue")


@login_required
def payroll(request: HttpRequest) -> HttpResponse:
    if not request.user.is_admin:
        raise Http404
    if request.method == "POST":
        try:
            period_start = datetime.date.fromisoformat(request.POST.get("period_start", ""))
            batch = bonus_services.payroll_export(actor=request.user, period_start=period_start)
        except ValueError:
            messages.error(request, _("Give the period's first day as YYYY-MM-DD."))
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
        else:
            return csv_response(batch)
        return redirect("bonuses:payroll")
    return render(
        request,
        "incentives/payroll.html",
        {
            "periods": bonus_selectors.exportable_periods(user=request.user),
            "exports": bonus_selectors.payroll_exports(user=request.user)[:50],
        },
    )


@login_required
def payroll_download(request: HttpRequest, pk: int) -> HttpResponse:
    return csv_response(bonus_selectors.payroll_export_get(user=request.user, pk=pk))
