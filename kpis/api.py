"""/api/v1/kpis/ and /api/v1/kpi-runs/: the same selectors and services as the dashboard."""

import datetime

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from kpis import selectors, services
from kpis.definitions import KPI_BY_SLUG
from kpis.forms import ExportForm
from kpis.models import KpiRun, PeriodType, ScopeType


class KpiRowSerializer(serializers.Serializer):
    kpi = serializers.CharField()
    scope = serializers.CharField()
    scope_id = serializers.IntegerField()
    scope_name = serializers.CharField()
    period = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField()
    value = serializers.DecimalField(max_digits=24, decimal_places=6, allow_null=True)
    numerator = serializers.DecimalField(max_digits=24, decimal_places=6, allow_null=True)
    denominator = serializers.DecimalField(max_digits=24, decimal_places=6, allow_null=True)


class KpiViewSet(viewsets.GenericViewSet):
    serializer_class = KpiRowSerializer
    filter_backends = []

    @extend_schema(
        parameters=[
            OpenApiParameter("kpi", str, enum=sorted(KPI_BY_SLUG)),
            OpenApiParameter("scope", str, enum=ScopeType.values),
            OpenApiParameter("scope_id", int),
            OpenApiParameter("period", str, enum=PeriodType.values),
            OpenApiParameter("from", datetime.date),
            OpenApiParameter("to", datetime.date),
        ]
    )
    def list(self, request):
        """KPI values, one row per (kpi, scope, period), for the scopes the user may see."""
        params = request.query_params.copy()
        for short, long in (("from", "date_from"), ("to", "date_to")):
            if short in params:
                params[long] = params.pop(short)[0]
        params.setdefault("scope", ScopeType.COMPANY)
        params.setdefault("period", PeriodType.MONTH)
        query = ExportForm(params)  # the same validation as the dashboard's CSV export and the command
        if not query.is_valid():
            raise serializers.ValidationError(query.errors)
        rows = selectors.kpi_rows(user=request.user, **query.query())
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class IsAdminRole(permissions.BasePermission):
    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.is_admin)


class KpiRunSerializer(serializers.ModelSerializer):
    full = serializers.BooleanField(default=False)

    class Meta:
        model = KpiRun
        fields = [
            "id", "status", "trigger", "started_by", "full", "date_from", "date_to", "periods",
            "shards_total", "shards_done", "rows_written", "error", "started_at", "finished_at",
        ]  # fmt: skip
        read_only_fields = [f for f in fields if f not in ("full", "date_from", "date_to")]


class KpiRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """KPI runs (admins). POST starts a run; 400 while another run is in progress."""

    serializer_class = KpiRunSerializer
    permission_classes = [IsAdminRole]
    queryset = KpiRun.objects.all()
    filter_backends = []

    def create(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        run = services.kpi_run_start(
            trigger=KpiRun.Trigger.API, user=request.user, **serializer.validated_data
        )
        return Response(self.get_serializer(run).data, status=status.HTTP_202_ACCEPTED)


router = SimpleRouter()
router.register("kpis", KpiViewSet, basename="kpi")
router.register("kpi-runs", KpiRunViewSet, basename="kpi-run")
