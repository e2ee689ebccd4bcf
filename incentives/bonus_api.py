"""/api/v1/awards/, /api/v1/payroll-exports/ and /api/v1/plans/: the same selectors and services as the
pages and the admin."""

from decimal import ROUND_HALF_UP

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from incentives import bonus_selectors, bonus_services
from incentives.bonus_rules import describe_line, describe_plan
from incentives.models import (
    AwardMessage,
    AwardQuestion,
    BonusAward,
    IncentivePlan,
    PayrollExport,
    PlanVersion,
)
from salesteam.models import Role, Team, User


class AwardSerializer(serializers.ModelSerializer):
    rep_name = serializers.CharField(source="rep.display_name", read_only=True)
    plan_name = serializers.CharField(source="plan.name", read_only=True)
    version_from = serializers.DateField(source="version.valid_from", read_only=True)
    sentences = serializers.SerializerMethodField()
    # A plain string in the schema: an enum named "kind" would collide with the import job's.
    kind = serializers.CharField(read_only=True, help_text="award or adjustment")

    class Meta:
        model = BonusAward
        fields = [
            "id", "rep", "rep_name", "plan", "plan_name", "version", "version_from", "period_start",
            "period_end", "kind", "adjusts", "status", "total", "currency", "breakdown", "sentences",
            "computed_at", "decided_by", "decided_at", "reason",
        ]  # fmt: skip
        read_only_fields = fields

    def get_sentences(self, award: BonusAward) -> list[str]:
        return [describe_line(line, currency=award.currency) for line in award.breakdown]


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class MessageSerializer(serializers.ModelSerializer):
    author_name = serializers.CharField(source="author.display_name", read_only=True)

    class Meta:
        model = AwardMessage
        fields = ["id", "author", "author_name", "body", "created_at"]


class QuestionSerializer(serializers.ModelSerializer):
    messages = MessageSerializer(many=True, read_only=True)

    class Meta:
        model = AwardQuestion
        fields = ["id", "status", "created_at", "resolved_by", "resolved_at", "messages"]


class QuestionPostSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=2000)
    question = serializers.IntegerField(required=False, help_text="Reply in this thread; omit to ask.")
    resolve = serializers.BooleanField(default=False)


class AwardViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Awards the user may see: reps their own, managers their teams', admins all."""

    serializer_class = AwardSerializer
    filterset_fields = ["status", "kind", "plan", "rep", "period_start"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return BonusAward.objects.none()
        return bonus_selectors.award_list(user=self.request.user)

    def _decide(self, request, service):
        award = self.get_object()
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        award = service(actor=request.user, award=award, reason=body.validated_data["reason"])
        return Response(self.get_serializer(bonus_selectors.award_get(user=request.user, pk=award.pk)).data)

    @extend_schema(request=ReasonSerializer, responses=AwardSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approves a pending award of an ended period (not one's own); 400 if already decided."""
        return self._decide(request, bonus_services.award_approve)

    @extend_schema(request=ReasonSerializer, responses=AwardSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Rejects a pending award; the reason is required."""
        return self._decide(request, bonus_services.award_reject)

    @extend_schema(request=QuestionPostSerializer, responses=QuestionSerializer(many=True))
    @action(detail=True, methods=["get", "post"], pagination_class=None)  # every thread, not a page
    def questions(self, request, pk=None):
        """The award's question threads; POST asks (the rep) or replies (the rep, their managers)."""
        award = self.get_object()
        if request.method == "POST":
            body = QuestionPostSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            data = body.validated_data
            if data.get("question"):
                question = bonus_selectors.question_get(user=request.user, award=award, pk=data["question"])
                bonus_services.award_question_reply(
                    actor=request.user, question=question, body=data["body"], resolve=data["resolve"]
                )
            else:
                bonus_services.award_question_ask(actor=request.user, award=award, body=data["body"])
        return Response(QuestionSerializer(bonus_selectors.award_questions(award=award), many=True).data)


class PayrollRequestSerializer(serializers.Serializer):
    period_start = serializers.DateField()


class PayrollExportSerializer(serializers.ModelSerializer):
    class Meta:
        model = PayrollExport
        fields = ["id", "period_start", "sequence", "created_by", "created_at", "award_count"]


class PayrollExportViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Admins: POST a period start to pay its approved awards and get the CSV; GET lists the batches."""

    serializer_class = PayrollExportSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return PayrollExport.objects.none()
        return bonus_selectors.payroll_exports(user=self.request.user)

    def list(self, request, *args, **kwargs):
        if not request.user.is_admin:
            return Response(status=status.HTTP_404_NOT_FOUND)
        return super().list(request, *args, **kwargs)

    @extend_schema(request=PayrollRequestSerializer, responses={(200, "text/csv"): bytes})
    def create(self, request, *args, **kwargs):
        if not request.user.is_admin:
            return Response(status=status.HTTP_404_NOT_FOUND)
        body = PayrollRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        batch = bonus_services.payroll_export(
            actor=request.user, period_start=body.validated_data["period_start"]
        )
        return csv_response(batch)


class PlanVersionSerializer(serializers.ModelSerializer):
    description = serializers.SerializerMethodField()

    class Meta:
        model = PlanVersion
        fields = ["id", "valid_from", "rules", "note", "description"]
        read_only_fields = fields

    def get_description(self, version: PlanVersion) -> list[str]:
        return describe_plan(version.rules, currency=version.plan.currency)


class PlanVersionWriteSerializer(serializers.Serializer):
    valid_from = serializers.DateField()
    rules = serializers.JSONField(help_text="The ordered rules; see docs/incentives.md for each type.")
    note = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")


class PlanSerializer(serializers.ModelSerializer):
    """Reads a plan; on write only parses input and leaves the rules to `bonus_services.plan_save`."""

    teams = serializers.PrimaryKeyRelatedField(many=True, queryset=Team.objects.all(), required=False)
    reps = serializers.PrimaryKeyRelatedField(many=True, queryset=User.objects.all(), required=False)
    roles = serializers.ListField(
        child=serializers.ChoiceField(choices=Role.choices),
        required=False,
        help_text="Every active user with one of these roles takes part for the whole period.",
    )
    versions = PlanVersionSerializer(many=True, read_only=True)

    class Meta:
        model = IncentivePlan
        fields = [
            "id", "name", "effective_from", "effective_to", "period", "currency", "needs_approval",
            "status", "teams", "roles", "reps", "versions", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at"]
        validators = []  # the unique name is checked by the service, with the other rules

    def get_fields(self):
        fields = super().get_fields()
        fields["name"].validators = []
        return fields


class StandingSerializer(serializers.Serializer):
    rep = serializers.IntegerField(source="rep.pk")
    rep_name = serializers.CharField(source="rep.display_name")
    rank = serializers.IntegerField(allow_null=True, help_text="Empty: no activity, no place.")
    tied = serializers.IntegerField(help_text="How many share the place.")
    value = serializers.DecimalField(
        max_digits=20, decimal_places=2, allow_null=True, help_text="Empty when hidden from the reader."
    )
    prize = serializers.DecimalField(max_digits=14, decimal_places=2, rounding=ROUND_HALF_UP)


class ContestSerializer(serializers.Serializer):
    position = serializers.IntegerField(help_text="The contest's rule position in its plan version.")
    name = serializers.CharField()
    kpi = serializers.CharField(source="kpi.slug")
    first_day = serializers.DateField()
    last_day = serializers.DateField()
    paid_in = serializers.DateField(help_text="Start of the plan period that pays the prizes.")
    state = serializers.ChoiceField(choices=["upcoming", "running", "ended"])
    description = serializers.CharField()
    value_hidden = serializers.BooleanField()
    entries = StandingSerializer(many=True)


class PlanViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet
):
    """Incentive plans with their participants (teams, roles, named reps) and rule versions: admins list,
    create and change them. `contests` shows a plan's contest standings to the people in the plan."""

    serializer_class = PlanSerializer
    filterset_fields = ["status", "period"]
    lookup_value_regex = r"\d+"  # `contests` reads the id as a number: anything else is a 404

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return IncentivePlan.objects.none()
        return bonus_selectors.plan_list(user=self.request.user)

    def create(self, request, *args, **kwargs):
        if not request.user.is_admin:
            return Response(status=status.HTTP_404_NOT_FOUND)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        plan = bonus_services.plan_save(actor=request.user, **serializer.validated_data)
        return Response(self._read(plan), status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        plan = self.get_object()
        serializer = self.get_serializer(plan, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        plan = bonus_services.plan_save(actor=request.user, plan=plan, **serializer.validated_data)
        return Response(self._read(plan))

    def _read(self, plan: IncentivePlan) -> dict:
        return self.get_serializer(self.get_queryset().get(pk=plan.pk)).data

    @extend_schema(request=PlanVersionWriteSerializer, responses=PlanSerializer)
    @action(detail=True, methods=["post"])
    def versions(self, request, pk=None):
        """Sets the rules from `valid_from` on (a new version, or that version's rules replaced); 400 with a
        message per bad rule and parameter."""
        plan = self.get_object()
        body = PlanVersionWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        bonus_services.plan_version_save(actor=request.user, plan=plan, **body.validated_data)
        return Response(self._read(plan))

    @extend_schema(request=None, responses=ContestSerializer(many=True))
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def contests(self, request, pk=None):
        """Standings of the plan's running and recent contests: place, name, value and prize of each
        participant. For the people in the plan, their managers and admins; 404 for anyone else."""
        plan = bonus_selectors.plan_people_get(user=request.user, pk=int(pk))
        standings = bonus_services.contest_standings(plan=plan, viewer=request.user)
        return Response(ContestSerializer(standings, many=True).data)


def csv_response(batch: PayrollExport) -> HttpResponse:
    response = HttpResponse(batch.content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="payroll-{batch.period_start}-{batch.sequence}.csv"'
    )
    response["X-Payroll-Export"] = str(batch.pk)
    return response


router = SimpleRouter()
router.register("awards", AwardViewSet, basename="award")
router.register("payroll-exports", PayrollExportViewSet, basename="payroll-export")
router.register("plans", PlanViewSet, basename="plan")
