"""The /api/v1/ endpoints of the core domain. Same selectors and services as the HTML pages."""

import json
from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import exception_handler as drf_exception_handler

from salesteam import selectors, services
from salesteam.filters import DealFilter
from salesteam.importing import services as importing
from salesteam.models import (
    Campaign,
    Category,
    Customer,
    Deal,
    ImportJob,
    ImportRowError,
    MappingPreset,
    Stage,
    Team,
    TouchPoint,
    User,
)


def exception_handler(exc, context):
    """Turns the services' ValidationError into a 400 with one message per field."""
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = DRFValidationError(detail=detail)
    return drf_exception_handler(exc, context)


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "full_name", "email", "role", "is_active", "manager"]


class TeamSerializer(serializers.ModelSerializer):
    managers = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    member_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Team
        fields = ["id", "name", "managers", "member_count"]


class CustomerSerializer(serializers.ModelSerializer):
    segment = serializers.StringRelatedField()

    class Meta:
        model = Customer
        fields = ["id", "external_id", "name", "segment"]


class CampaignSerializer(serializers.ModelSerializer):
    class Meta:
        model = Campaign
        fields = ["id", "code", "name", "channel", "cost", "start_on", "end_on"]


class DealCreditSerializer(serializers.Serializer):
    rep = serializers.PrimaryKeyRelatedField(queryset=User.objects.none())
    share = serializers.DecimalField(max_digits=5, decimal_places=2, help_text="Percentage, e.g. 60.00.")


class DealSerializer(serializers.ModelSerializer):
    """Reads a deal; on write only parses input and leaves every rule to `services.prepare_deal` and
    `services.deal_credits_validate`."""

    rep = serializers.PrimaryKeyRelatedField(queryset=User.objects.all())
    customer = serializers.PrimaryKeyRelatedField(queryset=Customer.objects.all())
    campaign = serializers.PrimaryKeyRelatedField(
        queryset=Campaign.objects.all(), required=False, allow_null=True
    )
    touch_point = serializers.PrimaryKeyRelatedField(
        queryset=TouchPoint.objects.all(), required=False, allow_null=True
    )
    category = serializers.PrimaryKeyRelatedField(
        queryset=Category.objects.all(), required=False, allow_null=True
    )
    stage = serializers.ChoiceField(choices=Stage.choices, default=Stage.LEAD)
    amount_original = serializers.DecimalField(max_digits=14, decimal_places=2)
    cost_original = serializers.DecimalField(
        max_digits=14, decimal_places=2, required=False, default=Decimal("0.00")
    )
    currency = serializers.CharField(max_length=3, required=False)
    closed_on = serializers.DateField(required=False, allow_null=True)
    credits = DealCreditSerializer(
        many=True,
        required=False,
        help_text="The credit split: reps and shares adding up to 100. Empty: the deal's rep gets 100 %; "
        "left out on update: the split stays as it is.",
    )

    class Meta:
        model = Deal
        fields = [
            "id", "source", "external_id", "title", "rep", "team", "customer", "campaign", "touch_point",
            "category", "stage", "currency", "amount_original", "cost_original", "exchange_rate", "amount",
            "cost", "created_on", "closed_on", "lost_reason", "credits", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["team", "exchange_rate", "amount", "cost", "created_at", "updated_at"]
        extra_kwargs = {"source": {"required": False}, "external_id": {"required": False}}
        validators = []  # uniqueness is settled by the database constraint and the service

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None and request.user.is_authenticated and request.method not in SAFE_METHODS:
            # Only writes choose reps: reading a deal or a page of them lists nobody.
            self.fields["rep"].queryset = selectors.rep_choices(user=request.user)
            deal = self.instance if isinstance(self.instance, Deal) else None
            reps, _allowed = selectors.credit_rep_choices(user=request.user, deal=deal)
            self.fields["credits"].child.fields["rep"].queryset = User.objects.filter(
                pk__in=[rep.pk for rep in reps]
            )

    @staticmethod
    def credit_inputs(data: dict) -> list[services.CreditInput] | None:
        """The parsed split for the services, None when the request left it out."""
        if "credits" not in data:
            return None
        return [services.CreditInput(line["rep"], line["share"]) for line in data.pop("credits")]


class DealViewSet(viewsets.ModelViewSet):
    serializer_class = DealSerializer
    filterset_class = DealFilter
    lookup_value_regex = r"\d+"  # changes pass the id to the selector as it is: anything else is a 404
    search_fields = []
    ordering_fields = ["created_on", "closed_on", "amount", "updated_at"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation runs without a user
            return Deal.objects.none()
        return selectors.deal_list(user=self.request.user, with_credits=True)

    def _for_change(self) -> Deal:
        """The deal of the URL if the user may change it: 404 outside their scope, 403 when they only
        see it as a credited rep."""
        return selectors.deal_get_for_change(user=self.request.user, pk=self.kwargs["pk"])

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        credits = DealSerializer.credit_inputs(data)
        deal = services.deal_create(actor=request.user, credits=credits, **data)
        return Response(self.get_serializer(deal).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        deal = self._for_change()
        serializer = self.get_serializer(deal, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        changes = {k: v for k, v in serializer.validated_data.items() if k not in ("source", "external_id")}
        credits = DealSerializer.credit_inputs(changes)
        deal = services.deal_update(actor=request.user, deal=deal, credits=credits, **changes)
        return Response(self.get_serializer(deal).data)

    def destroy(self, request, *args, **kwargs):
        services.deal_delete(actor=request.user, deal=self._for_change())
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReadOnlyScoped(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    selector = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation runs without a user
            return self.serializer_class.Meta.model.objects.none()
        return type(self).selector(user=self.request.user)


class UserViewSet(ReadOnlyScoped):
    serializer_class = UserSerializer
    selector = staticmethod(selectors.user_list)
    filterset_fields = ["role", "is_active"]
    search_fields = ["username", "full_name", "email"]


class TeamViewSet(ReadOnlyScoped):
    serializer_class = TeamSerializer
    selector = staticmethod(selectors.team_list)
    search_fields = ["name"]


class CustomerViewSet(ReadOnlyScoped):
    serializer_class = CustomerSerializer
    selector = staticmethod(selectors.customer_list)
    filterset_fields = ["segment"]
    search_fields = ["name", "external_id"]


class CampaignViewSet(ReadOnlyScoped):
    serializer_class = CampaignSerializer
    selector = staticmethod(selectors.campaign_list)
    filterset_fields = ["channel"]
    search_fields = ["code", "name"]


class ImportRowErrorSerializer(serializers.ModelSerializer):
    class Meta:
        model = ImportRowError
        fields = ["line", "column", "value", "message"]


class ImportJobSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    progress_percent = serializers.IntegerField(read_only=True)

    class Meta:
        model = ImportJob
        fields = [
            "id", "kind", "status", "original_name", "source", "columns", "stages", "options", "dry_run",
            "total_rows", "processed_rows", "progress_percent", "created_count", "updated_count",
            "unchanged_count", "error_count", "rounded_count", "message", "created_by", "created_at",
            "started_at", "finished_at",
        ]  # fmt: skip
        read_only_fields = fields


class JSONObjectField(serializers.JSONField):
    """A JSON object sent either as JSON or as a string in a multipart form."""

    def to_internal_value(self, data):
        if isinstance(data, str | bytes):
            try:
                data = json.loads(data)
            except ValueError:
                self.fail("invalid")
        if not isinstance(data, dict):
            self.fail("invalid")
        return {str(key): str(value or "") for key, value in data.items()}


class ImportUploadSerializer(serializers.Serializer):
    """Parses an upload; the import itself is `importing.services`' job."""

    file = serializers.FileField()
    kind = serializers.ChoiceField(choices=ImportJob.Kind.choices, default=ImportJob.Kind.DEALS)
    source = serializers.CharField(max_length=50, default="import")
    mapping = serializers.SlugRelatedField(
        slug_field="name", queryset=MappingPreset.objects.all(), required=False, allow_null=True
    )
    columns = JSONObjectField(
        required=False, help_text="Header of the file -> canonical column; overrides the guess."
    )
    stages = JSONObjectField(required=False, help_text="Stage value of the file -> stage.")
    dayfirst = serializers.BooleanField(default=False)
    decimal_comma = serializers.BooleanField(default=False)
    create_missing = serializers.BooleanField(default=False)
    dry_run = serializers.BooleanField(default=False, help_text="Only check the file; write nothing.")


class ImportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Deal and people imports: POST a file to import it (or check it with dry_run), GET its status."""

    serializer_class = ImportJobSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ImportJob.objects.none()
        if not importing.can_import_deals(self.request.user):
            return ImportJob.objects.none()
        return selectors.import_list(user=self.request.user)

    @extend_schema(
        request=ImportUploadSerializer, responses={201: ImportJobSerializer, 202: ImportJobSerializer}
    )
    def create(self, request, *args, **kwargs):
        upload = ImportUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        data = upload.validated_data
        if not importing.can_import_deals(request.user):
            raise NotFound()
        options = {name: data[name] for name in importing.OPTION_NAMES}
        job = importing.import_upload(
            actor=request.user,
            file=data["file"],
            kind=data["kind"],
            source=data["source"],
            options=options,
            preset=data.get("mapping"),
            dry_run=data["dry_run"],
        )
        if job.status != ImportJob.Status.FAILED:
            if "columns" in data or "stages" in data:
                job = importing.import_configure(
                    actor=request.user,
                    job=job,
                    columns=data.get("columns") or job.columns,
                    stages=data.get("stages") if "stages" in data else None,
                )
            job = importing.import_start(actor=request.user, job=job, commit=not data["dry_run"])
        if job.status == ImportJob.Status.FAILED:
            return Response(self.get_serializer(job).data, status=status.HTTP_400_BAD_REQUEST)
        code = status.HTTP_202_ACCEPTED if job.is_active else status.HTTP_201_CREATED
        return Response(self.get_serializer(job).data, status=code)

    @extend_schema(responses=ImportRowErrorSerializer(many=True))
    @action(detail=True, methods=["get"])
    def errors(self, request, pk=None):
        job = self.get_object()
        page = self.paginate_queryset(selectors.import_errors(job=job))
        return self.get_paginated_response(ImportRowErrorSerializer(page, many=True).data)


router = DefaultRouter()
router.register("deals", DealViewSet, basename="deal")
router.register("customers", CustomerViewSet, basename="customer")
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("teams", TeamViewSet, basename="team")
router.register("users", UserViewSet, basename="user")
router.register("imports", ImportViewSet, basename="import")
