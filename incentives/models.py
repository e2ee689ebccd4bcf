"""Recognition: leaderboard snapshots and settings, badges, kudos, holidays and wallboard links.

Leaderboards themselves are read from the stored KPI rows (kpis/leaderboards.py); what is stored here
is what the nightly run needs to remember (each run's ranks, for the movement arrows) and what admins
configure (badge rules, privacy and minimum activity, wallboard links, team holidays).
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from salesteam.models import Role

KUDOS_MAX_LENGTH = 280


class RecognitionSettings(models.Model):
    """The single row of admin settings for leaderboards (always pk=1; see `load`)."""

    reps_see_money = models.BooleanField(
        _("reps see colleagues' money values"),
        default=False,
        help_text=_(
            "When off, reps see only ranks and percentages of their colleagues, and their own values."
        ),
    )
    min_closed_deals = models.PositiveIntegerField(_("minimum closed deals to rank on conversion"), default=5)
    min_won_deals = models.PositiveIntegerField(
        _("minimum won deals to rank on average order value"), default=1
    )
    wallboard_refresh_seconds = models.PositiveIntegerField(_("wallboard refresh (seconds)"), default=300)

    class Meta:
        verbose_name = _("leaderboard settings")
        verbose_name_plural = _("leaderboard settings")
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="recognitionsettings_singleton")]

    def __str__(self) -> str:
        return str(_("Leaderboard settings"))

    @classmethod
    def load(cls) -> "RecognitionSettings":
        return cls.objects.get_or_create(pk=1)[0]


class TeamHoliday(models.Model):
    """A day off for a whole team: it neither counts for nor breaks an activity streak."""

    team = models.ForeignKey(
        "salesteam.Team", verbose_name=_("team"), on_delete=models.CASCADE, related_name="+"
    )
    day = models.DateField(_("day"))
    name = models.CharField(_("name"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("team holiday")
        verbose_name_plural = _("team holidays")
        ordering = ["team", "day"]
        constraints = [models.UniqueConstraint(fields=["team", "day"], name="teamholiday_unique_day")]

    def __str__(self) -> str:
        return f"{self.team} {self.day} {self.name}".strip()


class LeaderboardSnapshot(models.Model):
    """The ranks of one leaderboard as one published KPI run left them: {rep or team id: rank}."""

    run = models.ForeignKey("kpis.KpiRun", on_delete=models.CASCADE, related_name="+")
    board = models.CharField(max_length=120, help_text=_("entity:metric:period:start:within"))
    ranks = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("leaderboard snapshot")
        verbose_name_plural = _("leaderboard snapshots")
        constraints = [models.UniqueConstraint(fields=["run", "board"], name="leaderboardsnapshot_unique")]
        indexes = [models.Index(fields=["board", "run"], name="lbsnapshot_board_run_idx")]

    def __str__(self) -> str:
        return f"{self.board} @ run {self.run_id}"


class BadgeKind(models.TextChoices):
    FIRST_WON_DEAL = "first_won_deal", _("First won deal")
    DEALS_WON = "deals_won", _("N deals won in a period")
    GOAL_ACHIEVED = "goal_achieved", _("Goal achieved")
    GOAL_STREAK = "goal_streak", _("Streak of N goals achieved in a row")
    ACTIVITY_STREAK = "activity_streak", _("Streak of N working days with deal activity")
    TOP_N = "top_n", _("Top N of a leaderboard")
    BIGGEST_DEAL = "biggest_deal", _("Biggest deal of the period")
    NEW_CUSTOMERS = "new_customers", _("N new customers in a period")


class BadgeRule(models.Model):
    """An admin-configured badge: a kind and its parameters (N, period, leaderboard metric)."""

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=32, choices=BadgeKind.choices)
    threshold = models.PositiveIntegerField(_("N"), default=1)
    period_type = models.CharField(
        _("period"),
        max_length=8,
        choices=[("month", _("Month")), ("quarter", _("Quarter")), ("year", _("Year"))],
        default="month",
    )
    metric = models.CharField(_("leaderboard"), max_length=32, blank=True, help_text=_("For top N badges."))
    icon = models.CharField(_("icon"), max_length=8, default="🏅")
    description = models.CharField(_("description"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("badge rule")
        verbose_name_plural = _("badge rules")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(threshold__gte=1), name="badgerule_threshold_positive")
        ]

    def __str__(self) -> str:
        return self.name


class Badge(models.Model):
    """A badge earned: one per (rule, user, achievement), whatever the number of runs that see it."""

    rule = models.ForeignKey(
        BadgeRule, verbose_name=_("badge"), on_delete=models.CASCADE, related_name="badges"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("earned by"), on_delete=models.CASCADE, related_name="badges"
    )
    achievement_key = models.CharField(max_length=100)
    achievement = models.CharField(_("achievement"), max_length=300)
    awarded_on = models.DateField(_("awarded on"))
    run = models.ForeignKey("kpis.KpiRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("badge")
        verbose_name_plural = _("badges")
        ordering = ["-awarded_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "user", "achievement_key"], name="badge_unique_achievement"
            )
        ]
        indexes = [models.Index(fields=["user", "awarded_on"], name="badge_user_day_idx")]

    def __str__(self) -> str:
        return f"{self.rule} · {self.user} · {self.achievement}"


class Kudos(models.Model):
    """A thank-you to a colleague, or a manager's shout-out to a whole team (no recipient).

    `team` is the team whose recognition feed shows it: the shout-out's team, or the recipient's team.
    """

    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("from"), on_delete=models.CASCADE, related_name="kudos_sent"
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("to"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="kudos_received",
    )
    team = models.ForeignKey(
        "salesteam.Team",
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    message = models.CharField(_("message"), max_length=KUDOS_MAX_LENGTH)
    deal = models.ForeignKey(
        "salesteam.Deal",
        verbose_name=_("deal"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    goal = models.ForeignKey(
        "goals.Goal",
        verbose_name=_("goal"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("kudos")
        verbose_name_plural = _("kudos")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(recipient__isnull=False) | Q(team__isnull=False), name="kudos_has_audience"
            ),
            models.CheckConstraint(condition=~Q(recipient=models.F("sender")), name="kudos_not_to_self"),
        ]
        indexes = [models.Index(fields=["team", "created_at"], name="kudos_team_created_idx")]

    def __str__(self) -> str:
        return self.message[:50]

    @property
    def is_shout_out(self) -> bool:
        return self.recipient_id is None


class KudosReaction(models.Model):
    class Emoji(models.TextChoices):
        CLAP = "clap", "👏"
        PARTY = "party", "🎉"
        HEART = "heart", "❤️"
        FIRE = "fire", "🔥"

    kudos = models.ForeignKey(Kudos, on_delete=models.CASCADE, related_name="reactions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    emoji = models.CharField(max_length=8, choices=Emoji.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("reaction")
        verbose_name_plural = _("reactions")
        constraints = [
            models.UniqueConstraint(fields=["kudos", "user", "emoji"], name="kudosreaction_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.get_emoji_display()}"


class WallboardLink(models.Model):
    """A secret link that opens one team's wallboard without logging in, until it is revoked."""

    team = models.ForeignKey(
        "salesteam.Team", verbose_name=_("team"), on_delete=models.CASCADE, related_name="+"
    )
    label = models.CharField(_("label"), max_length=100, blank=True, help_text=_("Where the screen hangs."))
    token = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        verbose_name = _("wallboard link")
        verbose_name_plural = _("wallboard links")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.team} {self.label}".strip()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class NotificationPreference(models.Model):
    """A user's choice about e-mail for recognition notifications (in-app ones are always shown)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recognition_preference"
    )
    email = models.BooleanField(_("also send me an e-mail"), default=True)

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")

    def __str__(self) -> str:
        return f"{self.user}: {'e-mail' if self.email else 'in-app only'}"


# --- Bonus plans and awards --------------------------------------------------------------------------
# Admin-configured incentive plans, their effective-dated rule versions, the awards the evaluation
# computes from the KPI engine, their approval history and the payroll export batches that paid them.
# The rules themselves (types, parameters, arithmetic, sentences) live in incentives/bonus_rules.py.

MONEY = {"max_digits": 14, "decimal_places": 2}


class PlanPeriod(models.TextChoices):
    MONTH = "month", _("Month")
    QUARTER = "quarter", _("Quarter")
    YEAR = "year", _("Year")


def validate_plan_roles(value) -> None:
    """Participating roles: a list of distinct user roles (rep, manager, admin)."""
    if (
        not isinstance(value, list)
        or any(role not in Role.values for role in value)
        or len(set(value)) != len(value)
    ):
        raise ValidationError(
            _("Roles must be a list of distinct roles among: %(roles)s.") % {"roles": ", ".join(Role.values)},
            code="invalid",
        )


class IncentivePlan(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")

    name = models.CharField(_("name"), max_length=150, unique=True)
    effective_from = models.DateField(_("effective from"))
    effective_to = models.DateField(
        _("effective until"), null=True, blank=True, help_text=_("Last day of the plan (inclusive).")
    )
    period = models.CharField(
        _("period"), max_length=16, choices=PlanPeriod.choices, default=PlanPeriod.MONTH
    )
    teams = models.ManyToManyField(
        "salesteam.Team", verbose_name=_("participating teams"), blank=True, related_name="+"
    )
    reps = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("named reps"), blank=True, related_name="+"
    )
    roles = models.JSONField(
        _("participating roles"),
        default=list,
        blank=True,
        validators=[validate_plan_roles],
        help_text=_("Every active user with one of these roles takes part for the whole period."),
    )
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    needs_approval = models.BooleanField(_("awards need manager approval"), default=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("incentive plan")
        verbose_name_plural = _("incentive plans")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True) | Q(effective_to__gte=F("effective_from")),
                name="incentiveplan_valid_range",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.effective_to and self.effective_from and self.effective_to < self.effective_from:
            raise ValidationError({"effective_to": _("The last day cannot be before the first day.")})


class PlanVersion(models.Model):
    """The ordered rules of a plan from one date on; each award records the version it used."""

    plan = models.ForeignKey(
        IncentivePlan, verbose_name=_("plan"), on_delete=models.CASCADE, related_name="versions"
    )
    valid_from = models.DateField(
        _("applies from"), help_text=_("Periods starting on or after this day use this version.")
    )
    rules = models.JSONField(_("rules"), default=list, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("plan version")
        verbose_name_plural = _("plan versions")
        ordering = ["plan", "valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "valid_from"], name="planversion_unique_start")
        ]

    def __str__(self) -> str:
        return f"{self.plan} {self.valid_from}"


class PayrollExport(models.Model):
    """One batch of approved awards of a period that a payroll CSV paid; its file is kept as sent."""

    period_start = models.DateField(_("period start"))
    sequence = models.PositiveIntegerField(_("batch"), default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("exported by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("exported"), auto_now_add=True)
    content = models.TextField(_("file"))
    award_count = models.PositiveIntegerField(_("awards"), default=0)

    class Meta:
        verbose_name = _("payroll export")
        verbose_name_plural = _("payroll exports")
        ordering = ["-period_start", "-sequence"]
        constraints = [
            models.UniqueConstraint(fields=["period_start", "sequence"], name="payrollexport_unique_batch")
        ]

    def __str__(self) -> str:
        return f"{self.period_start} #{self.sequence}"


class BonusAward(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        PAID = "paid", _("Paid")

    class Kind(models.TextChoices):
        AWARD = "award", _("Award")
        ADJUSTMENT = "adjustment", _("Adjustment")

    SETTLED = (Status.APPROVED, Status.PAID)

    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("rep"), on_delete=models.PROTECT, related_name="bonus_awards"
    )
    plan = models.ForeignKey(
        IncentivePlan, verbose_name=_("plan"), on_delete=models.PROTECT, related_name="awards"
    )
    version = models.ForeignKey(
        PlanVersion, verbose_name=_("plan version"), on_delete=models.PROTECT, related_name="+"
    )
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"), help_text=_("Exclusive."))
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.AWARD)
    adjusts = models.ForeignKey(
        "self",
        verbose_name=_("corrects"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="adjustments",
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    total = models.DecimalField(_("amount"), **MONEY)
    currency = models.CharField(_("currency"), max_length=3)
    breakdown = models.JSONField(_("breakdown"), default=list, blank=True)
    computed_at = models.DateTimeField(_("computed"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    export = models.ForeignKey(
        PayrollExport,
        verbose_name=_("payroll export"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="awards",
    )

    class Meta:
        verbose_name = _("bonus award")
        verbose_name_plural = _("bonus awards")
        ordering = ["-period_start", "rep", "plan", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["rep", "plan", "period_start", "kind"], name="bonusaward_unique"),
            models.CheckConstraint(
                condition=(Q(kind="award") & Q(adjusts__isnull=True))
                | (Q(kind="adjustment") & Q(adjusts__isnull=False)),
                name="bonusaward_adjustment_links_original",
            ),
        ]
        indexes = [models.Index(fields=["period_start", "status"], name="bonusaward_period_status_idx")]

    def __str__(self) -> str:
        return f"{self.rep} {self.plan} {self.period_start} {self.kind}"


class AwardDecision(models.Model):
    """Every change of an award's status: who (empty for the system), when, from, to and why."""

    award = models.ForeignKey(
        BonusAward, verbose_name=_("award"), on_delete=models.CASCADE, related_name="decisions"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    at = models.DateTimeField(_("when"), auto_now_add=True)
    from_status = models.CharField(_("from"), max_length=16, blank=True)
    to_status = models.CharField(_("to"), max_length=16)
    reason = models.TextField(_("reason"), blank=True)

    class Meta:
        verbose_name = _("award decision")
        verbose_name_plural = _("award decisions")
        ordering = ["award", "at", "id"]

    def __str__(self) -> str:
        return f"{self.award_id}: {self.from_status} -> {self.to_status}"


class AwardQuestion(models.Model):
    """A rep's question on an award and the thread that answers it; open until a manager resolves it."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        RESOLVED = "resolved", _("Resolved")

    award = models.ForeignKey(
        BonusAward, verbose_name=_("award"), on_delete=models.CASCADE, related_name="questions"
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(_("asked"), auto_now_add=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("resolved by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)

    class Meta:
        verbose_name = _("award question")
        verbose_name_plural = _("award questions")
        ordering = ["award", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["award"], condition=Q(status="open"), name="awardquestion_one_open_per_award"
            )
        ]

    def __str__(self) -> str:
        return f"{self.award_id}: {self.status}"


class AwardMessage(models.Model):
    question = models.ForeignKey(
        AwardQuestion, verbose_name=_("question"), on_delete=models.CASCADE, related_name="messages"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("author"), on_delete=models.PROTECT, related_name="+"
    )
    body = models.TextField(_("message"), max_length=2000)
    created_at = models.DateTimeField(_("written"), auto_now_add=True)

    class Meta:
        verbose_name = _("award message")
        verbose_name_plural = _("award messages")
        ordering = ["question", "created_at", "id"]

    def __str__(self) -> str:
        return f"{self.author}: {self.body[:40]}"
