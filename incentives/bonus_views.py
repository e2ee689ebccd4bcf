"""Bonus pages: My earnings with printable statements, the managers' approval queue, payroll export.

Each view checks access, parses input, calls one service or selector, and renders.
"""

import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from incentives import bonus_selectors, bonus_services
from incentives.bonus_api import csv_response
from incentives.bonus_rules import describe_line


def _with_sentences(awards):
    for award in awards:
        award.sentences = [describe_line(line, currency=award.currency) for line in award.breakdown]
    return awards


@login_required
def my_earnings(request: HttpRequest) -> HttpResponse:
    earnings = bonus_selectors.my_earnings(user=request.user)
    _with_sentences(earnings["current"])
    return render(request, "incentives/earnings.html", earnings)


@login_required
def statement(request: HttpRequest, pk: int) -> HttpResponse:
    award = bonus_selectors.award_get(user=request.user, pk=pk)
    _with_sentences([award])
    return render(
        request,
        "incentives/award_statement.html",
        {"award": award, "decisions": bonus_selectors.award_decisions(award=award)},
    )


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
