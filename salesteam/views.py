"""HTML pages of the core domain. Each view checks access, parses input, calls one service or
selector, and renders."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from salesteam import selectors, services
from salesteam.filters import DealFilter
from salesteam.forms import DealForm, StageForm
from salesteam.models import Stage

PAGE_SIZE = 25


def add_service_errors(form, error: ValidationError) -> None:
    """Shows a service's ValidationError on the form, next to the field it names."""
    for field, messages_ in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages_)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("deal_list")


@login_required
def deal_list(request: HttpRequest) -> HttpResponse:
    deal_filter = DealFilter(request.GET, queryset=selectors.deal_list(user=request.user), user=request.user)
    page = Paginator(deal_filter.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "salesteam/deal_list.html",
        {"filter": deal_filter, "page": page, "query": query.urlencode()},
    )


@login_required
def deal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    deal = selectors.deal_get(user=request.user, pk=pk)
    return render(
        request,
        "salesteam/deal_detail.html",
        {
            "deal": deal,
            "history": selectors.deal_history(deal=deal),
            "stage_form": StageForm(initial={"stage": deal.stage}),
        },
    )


@login_required
def deal_create(request: HttpRequest) -> HttpResponse:
    form = DealForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            deal = services.deal_create(actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Deal saved."))
            return redirect("deal_detail", pk=deal.pk)
    return render(request, "salesteam/deal_form.html", {"form": form})


@login_required
def deal_update(request: HttpRequest, pk: int) -> HttpResponse:
    deal = selectors.deal_get(user=request.user, pk=pk)
    form = DealForm(request.POST or None, user=request.user, initial=DealForm.initial_for(deal))
    if request.method == "POST" and form.is_valid():
        try:
            services.deal_update(actor=request.user, deal=deal, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Deal saved."))
            return redirect("deal_detail", pk=deal.pk)
    return render(request, "salesteam/deal_form.html", {"form": form, "deal": deal})


@login_required
@require_POST
def deal_stage(request: HttpRequest, pk: int) -> HttpResponse:
    deal = selectors.deal_get(user=request.user, pk=pk)
    form = StageForm(request.POST)
    if form.is_valid():
        try:
            services.deal_set_stage(actor=request.user, deal=deal, **form.cleaned_data)
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
        else:
            stage = Stage(form.cleaned_data["stage"]).label
            messages.success(request, _("Moved “%(deal)s” to %(stage)s.") % {"deal": deal, "stage": stage})
    else:
        messages.error(request, _("Choose a valid stage."))
    next_url = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        return redirect(next_url)
    return redirect("deal_detail", pk=pk)


@login_required
def pipeline(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "salesteam/pipeline.html",
        {"columns": selectors.pipeline(user=request.user), "stages": Stage.choices},
    )
