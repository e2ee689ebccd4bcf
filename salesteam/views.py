"""HTML pages of the core domain. Each view checks access, parses input, calls one service or
selector, and renders."""

import csv

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.formats import number_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import i18n as django_i18n
from django.views.decorators.http import require_POST

from salesteam import selectors, services
from salesteam.filters import DealFilter
from salesteam.forms import (
    DealForm,
    ImportMappingForm,
    ImportUploadForm,
    PeopleUploadForm,
    StageForm,
    deal_credit_formset,
)
from salesteam.i18n import remember_language
from salesteam.importing import services as importing
from salesteam.importing.mapping import DEAL_COLUMNS, PEOPLE_COLUMNS
from salesteam.models import ImportJob, Stage
from salesteam.paging import CappedPaginator

PAGE_SIZE = 25


def add_service_errors(form, error: ValidationError) -> None:
    """Shows a service's ValidationError on the form, next to the field it names."""
    for field, messages_ in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages_)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("kpis:dashboard")


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Django's language switch, which also remembers the choice on a logged-in user (for the messages
    sent to them)."""
    response = django_i18n.set_language(request)
    if request.user.is_authenticated and request.POST.get("language"):
        remember_language(request.user, request.POST["language"])
    return response


@login_required
def deal_list(request: HttpRequest) -> HttpResponse:
    deals = selectors.deal_list(user=request.user, brief=True)
    deal_filter = DealFilter(request.GET, queryset=deals, user=request.user)
    page = CappedPaginator(deal_filter.qs, PAGE_SIZE).get_page(request.GET.get("page"))
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
            "credits": selectors.deal_credit_lines(deal=deal),
            "can_change": selectors.can_change_deal(user=request.user, deal=deal),
            "history": selectors.deal_history(deal=deal),
            "stage_form": StageForm(initial={"stage": deal.stage}),
        },
    )


def _deal_form_page(request: HttpRequest, deal=None) -> HttpResponse:
    """The deal form with its credit split editor, for a new deal or an existing one."""
    data = request.POST if request.method == "POST" else None
    initial = DealForm.initial_for(deal) if deal is not None else None
    form = DealForm(data, user=request.user, initial=initial)
    reps, allowed = selectors.credit_rep_choices(user=request.user, deal=deal)
    # Someone who can credit nobody but themselves has no split to make; they see the split as it is.
    credits = deal_credit_formset(data, reps=reps, allowed=allowed, deal=deal) if len(allowed) > 1 else None
    credit_errors: list[str] = []
    # Both are checked, so that the page shows the split's problems along with the deal's.
    valid = [form.is_valid(), credits is None or credits.is_valid()]
    if data is not None and all(valid):
        split = credits.credits(reps) if credits is not None else None
        try:
            if deal is None:
                deal = services.deal_create(actor=request.user, credits=split, **form.cleaned_data)
            else:
                services.deal_update(actor=request.user, deal=deal, credits=split, **form.cleaned_data)
        except ValidationError as error:
            problems = error.message_dict
            credit_errors = problems.pop("credits", [])
            if problems:
                add_service_errors(form, ValidationError(problems))
        else:
            messages.success(request, _("Deal saved."))
            return redirect("deal_detail", pk=deal.pk)
    return render(
        request,
        "salesteam/deal_form.html",
        {
            "form": form,
            "deal": deal,
            "credits": credits,
            "credit_errors": credit_errors,
            "current_credits": selectors.deal_credit_lines(deal=deal) if deal is not None else [],
        },
    )


@login_required
def deal_create(request: HttpRequest) -> HttpResponse:
    return _deal_form_page(request)


@login_required
def deal_update(request: HttpRequest, pk: int) -> HttpResponse:
    return _deal_form_page(request, selectors.deal_get_for_change(user=request.user, pk=pk))


@login_required
@require_POST
def deal_stage(request: HttpRequest, pk: int) -> HttpResponse:
    deal = selectors.deal_get_for_change(user=request.user, pk=pk)
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


# --- Imports -----------------------------------------------------------------------------------------


def _importer_only(request: HttpRequest, *, people: bool = False) -> None:
    """Imports are for managers and admins (people imports for admins): anyone else gets a 404."""
    allowed = importing.can_import_people if people else importing.can_import_deals
    if not allowed(request.user):
        raise Http404


@login_required
def import_list(request: HttpRequest) -> HttpResponse:
    _importer_only(request)
    page = Paginator(selectors.import_list(user=request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "salesteam/import_list.html",
        {"page": page, "can_import_people": importing.can_import_people(request.user)},
    )


@login_required
def import_new(request: HttpRequest) -> HttpResponse:
    _importer_only(request)
    form = ImportUploadForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            job = importing.import_upload(
                actor=request.user,
                file=data["file"],
                source=data["source"],
                preset=data["preset"],
                options=data,
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            return redirect("import_detail", pk=job.pk)
    return render(request, "salesteam/import_new.html", {"form": form})


@login_required
def people_import(request: HttpRequest) -> HttpResponse:
    _importer_only(request, people=True)
    form = PeopleUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        job = importing.import_upload(
            actor=request.user,
            file=form.cleaned_data["file"],
            kind=ImportJob.Kind.PEOPLE,
            source="people",
            options={"dayfirst": form.cleaned_data["dayfirst"]},
        )
        return redirect("import_detail", pk=job.pk)
    return render(request, "salesteam/people_import.html", {"form": form})


def _mapping_form(request: HttpRequest, job: ImportJob) -> ImportMappingForm | None:
    editable = job.status in (ImportJob.Status.UPLOADED, ImportJob.Status.PREVIEWED, ImportJob.Status.FAILED)
    if not editable or not job.headers:
        return None
    columns = PEOPLE_COLUMNS if job.kind == ImportJob.Kind.PEOPLE else DEAL_COLUMNS
    data = request.POST if request.method == "POST" else None
    return ImportMappingForm(data, job=job, user=request.user, columns=columns)


@login_required
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _importer_only(request)
    job = selectors.import_get(user=request.user, pk=pk)
    form = _mapping_form(request, job)
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "commit" and job.status == ImportJob.Status.PREVIEWED:
            job = importing.import_start(actor=request.user, job=job, commit=True)
            return redirect("import_detail", pk=job.pk)
        if action == "check" and form is not None and form.is_valid():
            columns, stages, options = form.mapping()
            try:
                job = importing.import_configure(
                    actor=request.user, job=job, columns=columns, stages=stages, options=options
                )
                if form.cleaned_data.get("preset_name"):
                    importing.preset_save(
                        actor=request.user,
                        name=form.cleaned_data["preset_name"],
                        columns=columns,
                        stages=stages,
                    )
                    name = form.cleaned_data["preset_name"]
                    messages.success(request, _("Mapping saved as “%(name)s”.") % {"name": name})
                importing.import_start(actor=request.user, job=job, commit=False)
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                return redirect("import_detail", pk=job.pk)
    errors = Paginator(selectors.import_errors(job=job), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "salesteam/import_detail.html",
        {"job": job, "form": form, "errors": errors, "page": errors},
    )


@login_required
def import_progress(request: HttpRequest, pk: int) -> JsonResponse:
    _importer_only(request)
    job = selectors.import_get(user=request.user, pk=pk)
    label = _("%(done)s of %(total)s rows") % {
        "done": number_format(job.processed_rows, force_grouping=True),
        "total": number_format(job.total_rows, force_grouping=True),
    }
    return JsonResponse({"percent": job.progress_percent, "label": label, "finished": not job.is_active})


class _Echo:
    def write(self, value: str) -> str:
        return value


@login_required
def import_errors_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    _importer_only(request)
    job = selectors.import_get(user=request.user, pk=pk)
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow([_("line"), _("column"), _("value"), _("reason")])
        for error in selectors.import_errors(job=job).iterator(chunk_size=2000):
            yield writer.writerow([error.line, error.column, error.value, error.message])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
    return response
