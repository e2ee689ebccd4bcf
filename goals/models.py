"""SMART goals, their approval history, progress snapshots and in-app notifications.

A goal's period is `start_on` to `end_on`, both inclusive, as people say it ("1 January to 31
December"). The KPI engine works on half-open ranges, so the goal's range is [start_on, range_end) with
`range_end = end_on + 1 day`; every computation goes through `range_end`.
"""

import datetime

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from kpis.definitions import KPI_BY_SLUG, KPIS, Kpi
from salesteam.models import Campaign, Category, Segment, Team, TouchPoint

VALUE = {"max_digits": 20, "decimal_places": 6}
METRIC_CHOICES = [(kpi.slug, kpi.name) for kpi in KPIS]


class Goal(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PROPOSED = "proposed", _("Proposed to the owner")
        SUBMITTED = "submitted", _("Waiting for approval")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        ACTIVE = "active", _("Active")
        ACHIEVED = "achieved", _("Achieved")
        MISSED = "missed", _("Missed")
        CANCELLED = "cancelled", _("Cancelled")

    class TargetKind(models.TextChoices):
        ABSOLUTE = "absolute", _("A value to reach")
        RELATIVE = "relative", _("A change against a baseline")

    class Baseline(models.TextChoices):
        PREVIOUS = "previous", _("The equally long period just before")
        LAST_YEAR = "last_year", _("The same period a year earlier")

    class Pace(models.TextChoices):
        ON_TRACK = "on_track", _("On track")
        AT_RISK = "at_risk", _("At risk")
        OFF_TRACK = "off_track", _("Off track")

    OPEN = (Status.DRAFT, Status.PROPOSED, Status.SUBMITTED)
    RUNNING = (Status.APPROVED, Status.ACTIVE)
    FINAL = (Status.REJECTED, Status.ACHIEVED, Status.MISSED, Status.CANCELLED)

    title = models.CharField(_("title"), max_length=200, blank=True)
    why = models.TextField(_("why it matters"), blank=True)
    owner_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="goals",
    )
    owner_team = models.ForeignKey(
        Team, verbose_name=_("team"), null=True, blank=True, on_delete=models.PROTECT, related_name="goals"
    )
    metric = models.CharField(_("metric"), max_length=40, choices=METRIC_CHOICES, blank=True)
    segment = models.ForeignKey(
        Segment, verbose_name=_("segment"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    category = models.ForeignKey(
        Category,
        verbose_name=_("product category"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    touch_point = models.ForeignKey(
        TouchPoint,
        verbose_name=_("touch point"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    start_on = models.DateField(_("start"), null=True, blank=True)
    end_on = models.DateField(
        _("end"), null=True, blank=True, help_text=_("Last day of the goal (inclusive).")
    )
    target_kind = models.CharField(
        _("target"), max_length=16, choices=TargetKind.choices, default=TargetKind.ABSOLUTE
    )
    target_value = models.DecimalField(
        _("target value"),
        **VALUE,
        null=True,
        blank=True,
        help_text=_("In the metric's unit; percentages as fractions (0.25 is 25 %)."),
    )
    relative_change = models.DecimalField(
        _("change"), **VALUE, null=True, blank=True, help_text=_("As a fraction: 0.10 is +10 %.")
    )
    baseline_kind = models.CharField(
        _("baseline"), max_length=16, choices=Baseline.choices, default=Baseline.PREVIOUS
    )
    baseline_value = models.DecimalField(_("baseline value"), **VALUE, null=True, blank=True)
    baseline_frozen_at = models.DateTimeField(_("baseline frozen"), null=True, blank=True)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("contributes to"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="children",
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), on_delete=models.PROTECT, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approved by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    smart = models.JSONField(_("SMART check"), default=dict, blank=True)
    warnings_acknowledged = models.BooleanField(_("warnings acknowledged"), default=False)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    # Progress, replaced by every refresh (see goals/progress.py and docs/goals.md).
    current_value = models.DecimalField(_("current value"), **VALUE, null=True, blank=True)
    expected_value = models.DecimalField(_("expected by now"), **VALUE, null=True, blank=True)
    forecast_value = models.DecimalField(_("forecast"), **VALUE, null=True, blank=True)
    # xgettext:no-python-format
    percent_of_target = models.DecimalField(_("% of target"), **VALUE, null=True, blank=True)
    elapsed = models.DecimalField(_("time elapsed"), **VALUE, null=True, blank=True)
    pace_basis = models.CharField(_("pace"), max_length=16, blank=True)
    pace = models.CharField(_("pace status"), max_length=16, choices=Pace.choices, blank=True)
    progress_refreshed_at = models.DateTimeField(_("progress refreshed"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("goal")
        verbose_name_plural = _("goals")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(owner_user__isnull=False) & Q(owner_team__isnull=True))
                | (Q(owner_user__isnull=True) & Q(owner_team__isnull=False)),
                name="goal_one_owner",
            ),
            models.CheckConstraint(
                condition=Q(start_on__isnull=True) | Q(end_on__isnull=True) | Q(end_on__gte=F("start_on")),
                name="goal_end_not_before_start",
            ),
            models.CheckConstraint(
                condition=(
                    Q(segment__isnull=True, category__isnull=True, campaign__isnull=True)
                    | Q(segment__isnull=True, category__isnull=True, touch_point__isnull=True)
                    | Q(segment__isnull=True, campaign__isnull=True, touch_point__isnull=True)
                    | Q(category__isnull=True, campaign__isnull=True, touch_point__isnull=True)
                ),
                name="goal_at_most_one_narrowing",
            ),
        ]
        indexes = [models.Index(fields=["status", "end_on"], name="goal_status_end_idx")]

    def __str__(self) -> str:
        return self.title or str(_("Goal %(id)s") % {"id": self.pk})

    @property
    def kpi(self) -> Kpi | None:
        return KPI_BY_SLUG.get(self.metric)

    @property
    def range_end(self) -> datetime.date | None:
        """Exclusive end of the goal's range, as the KPI engine takes it."""
        return self.end_on + datetime.timedelta(days=1) if self.end_on else None

    @property
    def days(self) -> int | None:
        if self.start_on is None or self.end_on is None:
            return None
        return (self.end_on - self.start_on).days + 1

    @property
    def scope(self) -> tuple[str, int]:
        """The KPI scope of the owner: ("rep", user id) or ("team", team id)."""
        return ("rep", self.owner_user_id) if self.owner_user_id else ("team", self.owner_team_id)

    @property
    def narrow(self) -> tuple[str, int] | None:
        """The segment, category, campaign or touch point the goal is narrowed to, if any."""
        for scope_type, value in (
            ("segment", self.segment_id),
            ("category", self.category_id),
            ("campaign", self.campaign_id),
            ("touch_point", self.touch_point_id),
        ):
            if value:
                return scope_type, value
        return None

    @property
    def is_editable(self) -> bool:
        return self.status == self.Status.DRAFT

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL


class Milestone(models.Model):
    goal = models.ForeignKey(Goal, on_delete=models.CASCADE, related_name="milestones")
    due_on = models.DateField(_("date"))
    value = models.DecimalField(_("value"), **VALUE)

    class Meta:
        verbose_name = _("milestone")
        verbose_name_plural = _("milestones")
        ordering = ["goal", "due_on"]
        constraints = [models.UniqueConstraint(fields=["goal", "due_on"], name="milestone_unique_day")]

    def __str__(self) -> str:
        return f"{self.due_on}: {self.value}"


class GoalTransition(models.Model):
    """One step of a goal's workflow: who moved it from which status to which, when, and why."""

    goal = models.ForeignKey(Goal, on_delete=models.CASCADE, related_name="transitions")
    action = models.CharField(_("action"), max_length=32)
    from_status = models.CharField(_("from"), max_length=16, choices=Goal.Status.choices, blank=True)
    to_status = models.CharField(_("to"), max_length=16, choices=Goal.Status.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Empty when the nightly run made the change."),
    )
    comment = models.TextField(_("comment"), blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("goal transition")
        verbose_name_plural = _("goal transitions")
        ordering = ["goal", "created_at", "id"]

    def __str__(self) -> str:
        return f"{self.goal_id}: {self.from_status or '-'} -> {self.to_status}"


class GoalSnapshot(models.Model):
    """The goal's value and expected pace on one day, for its progress chart. One row per (goal, day)."""

    goal = models.ForeignKey(Goal, on_delete=models.CASCADE, related_name="snapshots")
    day = models.DateField()
    value = models.DecimalField(**VALUE, null=True, blank=True)
    expected = models.DecimalField(**VALUE, null=True, blank=True)

    class Meta:
        ordering = ["goal", "day"]
        constraints = [models.UniqueConstraint(fields=["goal", "day"], name="goalsnapshot_unique_day")]

    def __str__(self) -> str:
        return f"{self.goal_id} {self.day}: {self.value}"


class Notification(models.Model):
    """An in-app message (the bell), also sent by e-mail. `key` makes repeated sends no-ops."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    goal = models.ForeignKey(Goal, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("kind"), max_length=32)
    message = models.CharField(_("message"), max_length=500)
    key = models.CharField(max_length=120)
    created_at = models.DateTimeField(_("when"), auto_now_add=True)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)
    emailed_at = models.DateTimeField(_("e-mailed"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["recipient", "key"], name="notification_unique_key"),
        ]
        indexes = [
            models.Index(
                fields=["recipient"], condition=Q(read_at__isnull=True), name="notification_unread_idx"
            )
        ]

    def __str__(self) -> str:
        return self.message
