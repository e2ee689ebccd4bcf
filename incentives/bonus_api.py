"""/api/v1/awards/ and /api/v1/payroll-exports/: the same selectors and services as the pages."""

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from incentives import bonus_selectors, bonus_services
from incentives.bonus_rules import describe_line
from incentives.models import AwardMessage, AwardQuestion, BonusAward, PayrollExport


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
    @action(detail=True, methods=["get", "post"])
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
