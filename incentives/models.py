"""Recognition: leaderboard snapshots and settings, badges, kudos, holidays and wallboard links.

Leaderboards themselves are read from the stored KPI rows (kpis/leaderboards.py); what is stored here
is what the nightly run needs to remember (each run's ranks, for the movement arrows) and what admins
configure (badge rules, privacy and minimum activity, wallboard links, team holidays).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

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
