"""/api/v1/goals/ and /api/v1/notifications/: the same selectors and services as the goal pages."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from goals import selectors, services
from goals.models import METRIC_CHOICES, Goal, Milestone, Notification
from salesteam.models import Campaign, Category, Segment, Team, TouchPoint, User


class MilestoneSerializer(serializers.ModelSerializer):
    class Meta:
        model = Milestone
        fields = ["due_on", "value"]


class GoalSerializer(serializers.ModelSerializer):
    """Reads a goal; on write only parses input and leaves every rule to the services.

    Values are in the metric's unit, percentages as fractions (0.25 is 25 %), like /api/v1/kpis/.
    """

    owner_user = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(), required=False, allow_null=True
    )
    owner_team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.all(), required=False, allow_null=True
    )
    metric = serializers.ChoiceField(choices=METRIC_CHOICES, required=False, allow_blank=True)
    segment = serializers.PrimaryKeyRelatedField(
        queryset=Segment.objects.all(), required=False, allow_null=True
    )
    category = serializers.PrimaryKeyRelatedField(
        queryset=Category.objects.all(), required=False, allow_null=True
    )
    campaign = serializers.PrimaryKeyRelatedField(
        queryset=Campaign.objects.all(), required=False, allow_null=True
    )
    touch_point = serializers.PrimaryKeyRelatedField(
        queryset=TouchPoint.objects.all(), required=False, allow_null=True
    )
    parent = serializers.PrimaryKeyRelatedField(queryset=Goal.objects.none(), required=False, allow_null=True)
    milestones = MilestoneSerializer(many=True, required=False)
    # Declared so that the schema lists "" (not measured yet): a read-only model field loses allow_blank.
    pace = serializers.ChoiceField(choices=Goal.Pace.choices, allow_blank=True, read_only=True)

    class Meta:
        model = Goal
        fields = [
            "id", "title", "why", "owner_user", "owner_team", "metric", "segment", "category", "campaign",
            "touch_point", "start_on", "end_on", "target_kind", "target_value", "relative_change",
            "baseline_kind", "baseline_value", "baseline_frozen_at", "parent", "milestones", "status",
            "created_by", "decided_by", "decided_at", "submitted_at", "closed_at", "smart",
            "warnings_acknowledged", "current_value", "expected_value", "forecast_value",
            "percent_of_target", "elapsed", "pace_basis", "pace", "progress_refreshed_at", "created_at",
        ]  # fmt: skip
        read_only_fields = [
            "baseline_value", "baseline_frozen_at", "status", "created_by", "decided_by", "decided_at",
            "submitted_at", "closed_at", "smart", "warnings_acknowledged", "current_value",
            "expected_value", "forecast_value", "percent_of_target", "elapsed", "pace_basis", "pace",
            "progress_refreshed_at", "created_at",
        ]  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None and request.user.is_authenticated:
            self.fields["parent"].queryset = selectors.goal_list(user=request.user)

    def service_values(self) -> dict:
        data = dict(self.validated_data)
        if "milestones" in data:
            data["milestones"] = [(m["due_on"], m["value"]) for m in data["milestones"]]
        return data


class DecisionSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")
    acknowledge_warnings = serializers.BooleanField(required=False, default=False)


class GoalViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Goals the user may see. POST creates a draft; PUT/PATCH change a draft; the actions move it on."""

    serializer_class = GoalSerializer
    filterset_fields = ["status", "metric", "owner_user", "owner_team", "pace"]
    search_fields = ["title"]
    ordering_fields = ["created_at", "end_on", "start_on"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation runs without a user
            return Goal.objects.none()
        return selectors.goal_list(user=self.request.user).prefetch_related("milestones")

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        goal = services.goal_create(actor=request.user, **serializer.service_values())
        return Response(self.get_serializer(goal).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        goal = self.get_object()
        serializer = self.get_serializer(goal, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        goal = services.goal_update(actor=request.user, goal=goal, **serializer.service_values())
        return Response(self.get_serializer(goal).data)

    def _decide(self, request, service, **extra):
        goal = self.get_object()
        decision = DecisionSerializer(data=request.data)
        decision.is_valid(raise_exception=True)
        kwargs = {"comment": decision.validated_data["comment"]}
        if extra.get("acknowledge"):
            kwargs["acknowledge_warnings"] = decision.validated_data["acknowledge_warnings"]
        goal = service(actor=request.user, goal=goal, **kwargs)
        return Response(self.get_serializer(selectors.goal_get(user=request.user, pk=goal.pk)).data)

    @extend_schema(request=DecisionSerializer, responses=GoalSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        """Runs the SMART check; 400 with a message per field on hard errors."""
        return self._decide(request, services.goal_submit)

    @extend_schema(request=DecisionSerializer, responses=GoalSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approves; SMART warnings need acknowledge_warnings=true. 400 if someone decided already."""
        return self._decide(request, services.goal_approve, acknowledge=True)

    @extend_schema(request=DecisionSerializer, responses=GoalSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._decide(request, services.goal_reject)

    @extend_schema(request=DecisionSerializer, responses=GoalSerializer)
    @action(detail=True, methods=["post"], url_path="request-changes")
    def request_changes(self, request, pk=None):
        return self._decide(request, services.goal_request_changes)

    @extend_schema(request=DecisionSerializer, responses=GoalSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        return self._decide(request, services.goal_accept)

    @extend_schema(request=DecisionSerializer, responses=GoalSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._decide(request, services.goal_cancel)


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "kind", "message", "goal", "created_at", "read_at"]
        read_only_fields = fields


class NotificationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The user's notifications, newest first; POST .../read/ marks one read, .../read-all/ all."""

    serializer_class = NotificationSerializer
    filter_backends = []
    lookup_value_regex = r"\d+"  # the id goes to the selector as it is: anything else is a 404

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Notification.objects.none()
        return selectors.notification_list(user=self.request.user)

    @extend_schema(request=None, responses=NotificationSerializer)
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        notification = selectors.notification_get(user=request.user, pk=pk)
        services.notification_mark_read(actor=request.user, notification=notification)
        notification.refresh_from_db()
        return Response(self.get_serializer(notification).data)

    @extend_schema(request=None, responses={200: None})
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request):
        count = services.notification_mark_read(actor=request.user)
        return Response({"marked": count})


router = SimpleRouter()
router.register("goals", GoalViewSet, basename="goal")
router.register("notifications", NotificationViewSet, basename="notification")
