"""KPI dashboard, CSV export and the admins' run page."""

import io

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kpis import exports, selectors, services
from kpis.forms import DashboardForm, ExportForm, scope_select
from kpis.models import KpiRun, PeriodType


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    form = DashboardForm(request.GET)
    if not form.is_valid():  # every field is optional: fall back to the defaults
        form = DashboardForm({})
        form.is_valid()
    key = form.scope_key()
    if key:
        scope = selectors.scope_get(user=request.user, scope_type=key[0], scope_id=key[1])
    else:
        scope = selectors.default_scope(user=request.user)
    context = selectors.dashboard(
        user=request.user, scope=scope, period_type=form.period_type(), day=form.day()
    )
    context.update(
        form=form,
        periods=PeriodType.choices,
        scope_select=scope_select(groups=selectors.scope_choices(user=request.user), scope=scope),
        last_run=selectors.last_run(),
        last_success=selectors.last_successful_run(),
        agenda=selectors.agenda(user=request.user),
    )
    return render(request, "kpis/dashboard.html", context)


@login_required
def export(request: HttpRequest) -> HttpResponse:
    form = ExportForm(request.GET)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors}, status=400)
    data = form.cleaned_data
    rows = selectors.kpi_rows(user=request.user, **form.query())
    buffer = io.StringIO()
    exports.write_csv(rows, buffer)
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="kpis-{data["scope"]}-{data["period"]}.csv"'
    return response


def _admin_only(request: HttpRequest) -> None:
    if not request.user.is_admin:
        raise PermissionDenied


@login_required
def run_list(request: HttpRequest) -> HttpResponse:
    _admin_only(request)
    runs = KpiRun.objects.select_related("started_by")[:30]
    return render(request, "kpis/run_list.html", {"runs": runs})


@login_required
@require_POST
def run_start(request: HttpRequest) -> HttpResponse:
    _admin_only(request)
    try:
        services.kpi_run_start(
            trigger=KpiRun.Trigger.MANUAL, user=request.user, full=bool(request.POST.get("full"))
        )
    except ValidationError as error:
        messages.error(request, error.messages[0])
    else:
        messages.success(request, _("KPI run started. Figures update as its shards finish."))
    return redirect("kpis:run_list")


@login_required
def run_progress(request: HttpRequest, pk: int) -> JsonResponse:
    _admin_only(request)
    run = get_object_or_404(KpiRun, pk=pk)
    label = _("%(done)s of %(total)s shards done") % {"done": run.shards_done, "total": run.shards_total}
    return JsonResponse(
        {"percent": run.progress_percent, "label": label, "finished": run.status != KpiRun.Status.RUNNING}
    )
