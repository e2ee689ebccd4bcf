"""/api/v1/leaderboards/, /api/v1/badges/ and /api/v1/kudos/: the same selectors and services as the pages."""

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from incentives import selectors, services
from incentives.models import KUDOS_MAX_LENGTH, Badge, Kudos, KudosReaction
from kpis import leaderboards
from kpis.models import PeriodType, ScopeType
from salesteam.models import Team, User


class LeaderboardQuerySerializer(serializers.Serializer):
    metric = serializers.ChoiceField(choices=list(leaderboards.METRIC_BY_SLUG), default="revenue")
    entity = serializers.ChoiceField(choices=[ScopeType.REP, ScopeType.TEAM], default=ScopeType.REP)
    within = serializers.ChoiceField(
        choices=[ScopeType.COMPANY, ScopeType.TEAM, ScopeType.SEGMENT], default=ScopeType.COMPANY
    )
    within_id = serializers.IntegerField(default=0, min_value=0)
    period = serializers.ChoiceField(choices=[*PeriodType.values, "range"], default=PeriodType.MONTH)
    date = serializers.DateField(required=False)
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)

    def validate(self, attrs):
        if attrs["period"] == "range" and not (
            attrs.get("date_from") and attrs.get("date_to") and attrs["date_from"] < attrs["date_to"]
        ):
            message = _("Give date_from and a later date_to for a range.")
            raise serializers.ValidationError({"date_to": message})
        return attrs


class EntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    rank = serializers.IntegerField(allow_null=True)
    value = serializers.DecimalField(max_digits=24, decimal_places=6, allow_null=True)
    hidden = serializers.BooleanField()
    movement = serializers.IntegerField(allow_null=True)
    is_new = serializers.BooleanField()
    reason = serializers.CharField()


class WithinSerializer(serializers.Serializer):
    type = serializers.CharField()
    id = serializers.IntegerField()
    name = serializers.CharField()


class LeaderboardSerializer(serializers.Serializer):
    metric = serializers.CharField()
    unit = serializers.CharField()
    entity = serializers.CharField()
    within = WithinSerializer()
    start = serializers.DateField()
    end = serializers.DateField()
    money_hidden = serializers.BooleanField()
    entries = EntrySerializer(many=True)


class OneObjectSchema(AutoSchema):
    """The answer of `list` is one object (a whole leaderboard), not an array."""

    def _is_list_view(self, serializer=None) -> bool:
        return False


class LeaderboardViewSet(viewsets.GenericViewSet):
    filter_backends = []
    pagination_class = None
    serializer_class = EntrySerializer
    schema = OneObjectSchema()

    @extend_schema(
        parameters=[
            OpenApiParameter("metric", str, enum=list(leaderboards.METRIC_BY_SLUG)),
            OpenApiParameter("entity", str, enum=[ScopeType.REP, ScopeType.TEAM]),
            OpenApiParameter("within", str, enum=[ScopeType.COMPANY, ScopeType.TEAM, ScopeType.SEGMENT]),
            OpenApiParameter("within_id", int),
            OpenApiParameter("period", str, enum=[*PeriodType.values, "range"]),
            OpenApiParameter("date", str),
            OpenApiParameter("date_from", str),
            OpenApiParameter("date_to", str),
        ],
        responses=LeaderboardSerializer,
    )
    def list(self, request):
        """One leaderboard: ranked entries, then those below the minimum activity (rank null)."""
        query = LeaderboardQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        is_range = data["period"] == "range"
        board = leaderboards.leaderboard(
            user=request.user,
            metric=data["metric"],
            entity=data["entity"],
            within_type=data["within"],
            within_id=data["within_id"],
            period_type=None if is_range else data["period"],
            day=data.get("date") or timezone.localdate(),
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
        )
        board_data = {
            "metric": board.metric.slug,
            "unit": board.metric.unit,
            "entity": board.entity,
            "within": {"type": board.within[0], "id": board.within[1], "name": board.within_name},
            "start": board.start,
            "end": board.end,
            "money_hidden": board.money_hidden,
            "entries": [*board.ranked, *board.unranked],
        }
        return Response(LeaderboardSerializer(board_data).data)


class BadgeSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="rule.name")
    icon = serializers.CharField(source="rule.icon")
    kind = serializers.CharField(source="rule.kind")
    user_name = serializers.CharField(source="user.display_name")

    class Meta:
        model = Badge
        fields = ["id", "name", "icon", "kind", "user", "user_name", "achievement", "awarded_on"]


class BadgeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Badges of the people in the teams the user sees."""

    serializer_class = BadgeSerializer
    filterset_fields = ["user", "rule"]
    ordering_fields = ["awarded_on"]
    search_fields = []

    queryset = Badge.objects.none()  # for the schema; requests go through the selector

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return selectors.badge_list(user=self.request.user)


class KudosSerializer(serializers.ModelSerializer):
    recipient = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(), required=False, allow_null=True
    )
    team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all(), required=False, allow_null=True)
    message = serializers.CharField(max_length=KUDOS_MAX_LENGTH * 2, trim_whitespace=False)
    deal = serializers.IntegerField(source="deal_id", required=False, allow_null=True)
    goal = serializers.IntegerField(source="goal_id", required=False, allow_null=True)
    reactions = serializers.SerializerMethodField()

    class Meta:
        model = Kudos
        fields = ["id", "sender", "recipient", "team", "message", "deal", "goal", "created_at", "reactions"]
        read_only_fields = ["id", "sender", "created_at", "reactions"]

    def get_reactions(self, kudos) -> dict:
        return {row["emoji"]: row["count"] for row in selectors.reaction_counts(kudos)}


class ReactionSerializer(serializers.Serializer):
    emoji = serializers.ChoiceField(choices=KudosReaction.Emoji.values)


class KudosViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Kudos the user may see. POST sends kudos (or a manager's shout-out with `team`); POST
    /kudos/{id}/react/ toggles a reaction."""

    serializer_class = KudosSerializer
    filterset_fields = ["recipient", "team"]
    ordering_fields = ["created_at"]
    search_fields = []

    queryset = Kudos.objects.none()  # for the schema; requests go through the selector

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return selectors.kudos_list(user=self.request.user)

    def create(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        kudos = services.kudos_give(
            sender=request.user,
            recipient=data.get("recipient"),
            team=data.get("team"),
            message=data["message"],
            deal_id=data.get("deal_id"),
            goal_id=data.get("goal_id"),
        )
        kudos = selectors.kudos_get(user=request.user, pk=kudos.pk)
        return Response(self.get_serializer(kudos).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ReactionSerializer, responses={200: KudosSerializer})
    @action(detail=True, methods=["post"])
    def react(self, request, pk=None):
        kudos = self.get_object()
        serializer = ReactionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.kudos_react(user=request.user, kudos=kudos, emoji=serializer.validated_data["emoji"])
        return Response(self.get_serializer(selectors.kudos_get(user=request.user, pk=kudos.pk)).data)


router = SimpleRouter()
router.register("leaderboards", LeaderboardViewSet, basename="leaderboard")
router.register("badges", BadgeViewSet, basename="badge")
router.register("kudos", KudosViewSet, basename="kudos")
