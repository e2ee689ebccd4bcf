"""Stored KPI parts and the record of each KPI run.

One KpiValue row per (scope, period) holds the additive parts from which every KPI ratio is derived
(see kpis/definitions.py), so a quarter never averages its months' ratios. Customer-based parts are
distinct counts for the row's own scope and period.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from salesteam.models import MONEY, ZERO


class ScopeType(models.TextChoices):
    COMPANY = "company", _("Company")
    TEAM = "team", _("Team")
    REP = "rep", _("Rep")
    SEGMENT = "segment", _("Segment")
    CATEGORY = "category", _("Category")
    CAMPAIGN = "campaign", _("Campaign")
    TOUCH_POINT = "touch_point", _("Touch point")


class PeriodType(models.TextChoices):
    MONTH = "month", _("Month")
    QUARTER = "quarter", _("Quarter")
    YEAR = "year", _("Year")


class KpiValue(models.Model):
    scope_type = models.CharField(max_length=16, choices=ScopeType.choices)
    scope_id = models.BigIntegerField(help_text=_("0 for the company scope."))
    period_type = models.CharField(max_length=8, choices=PeriodType.choices)
    period_start = models.DateField()
    revenue = models.DecimalField(**MONEY, default=ZERO)
    cost = models.DecimalField(**MONEY, default=ZERO)
    campaign_revenue = models.DecimalField(**MONEY, default=ZERO)
    campaign_cost = models.DecimalField(**MONEY, null=True, blank=True)
    bonus_cost = models.DecimalField(**MONEY, default=ZERO)
    won_count = models.IntegerField(default=0)
    lost_count = models.IntegerField(default=0)
    cycle_days_sum = models.BigIntegerField(default=0)
    cycle_days_median = models.DecimalField(max_digits=10, decimal_places=1, null=True, blank=True)
    created_count = models.IntegerField(default=0)
    created_won_count = models.IntegerField(default=0)
    active_customers = models.IntegerField(default=0)
    prev_active_customers = models.IntegerField(default=0)
    retained_customers = models.IntegerField(default=0)
    new_customers = models.IntegerField(default=0)
    new_customer_revenue = models.DecimalField(**MONEY, default=ZERO)
    acquired_customers = models.IntegerField(default=0)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("KPI value")
        verbose_name_plural = _("KPI values")
        constraints = [
            models.UniqueConstraint(
                fields=["scope_type", "scope_id", "period_type", "period_start"],
                name="kpivalue_unique_scope_period",
            )
        ]
        indexes = [
            models.Index(fields=["period_type", "period_start", "scope_type"], name="kpivalue_period_idx")
        ]

    def __str__(self) -> str:
        return f"{self.scope_type}:{self.scope_id} {self.period_type} {self.period_start}"


class CustomerFirstWin(models.Model):
    """Each customer's first won deal, company-wide: what makes a customer *new* in a period.

    Derived from the deals and brought up to date by every KPI run (a full run set-based, from the deals
    it counted: `engine.rewrite_first_wins`). Like `CountedDeal`, it keeps no database constraints on its
    relations: their row-by-row checks took longer than the rewrite itself. Django still applies
    on_delete.
    """

    customer = models.OneToOneField(
        "salesteam.Customer",
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
    )
    first_won_on = models.DateField()
    first_deal = models.ForeignKey(
        "salesteam.Deal", null=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )

    class Meta:
        verbose_name = _("customer first win")

    def __str__(self) -> str:
        return f"{self.customer_id} first won on {self.first_won_on}"


class CountedDeal(models.Model):
    """A deal as the stored KPI rows count it.

    KPI runs compute from these rows, not from the deals themselves, and bring them up to date as they
    go: a full run copies every deal, an incremental run the deals of the customers whose deals changed,
    after it has taken those customers' old rows out of the stored figures and before it adds their new
    ones (`kpis.changes`). So the stored rows always equal a computation over this table, and what a
    customer changed is known without a full recompute. The customer's segment and first win are copied
    onto each deal; ids are plain numbers, since a deleted deal stays here until a run takes it out.
    """

    id = models.BigIntegerField(primary_key=True, help_text=_("The deal's id."))
    customer_id = models.BigIntegerField(db_index=True)
    segment_id = models.BigIntegerField(null=True)
    rep_id = models.BigIntegerField()
    team_id = models.BigIntegerField(null=True)
    campaign_id = models.BigIntegerField(null=True)
    touch_point_id = models.BigIntegerField(null=True)
    category_id = models.BigIntegerField(null=True)
    stage = models.CharField(max_length=16)
    amount = models.DecimalField(**MONEY)
    cost = models.DecimalField(**MONEY)
    created_on = models.DateField()
    closed_on = models.DateField(null=True)
    first_won_on = models.DateField(null=True, help_text=_("The customer's first win, on every deal."))
    first_win = models.BooleanField(default=False, help_text=_("This deal is the customer's first win."))

    class Meta:
        verbose_name = _("counted deal")
        indexes = [
            # A shard reads one year's deals (a full run copies them in date order, so a year is a
            # run of pages), and its new customers by their first win.
            models.Index(fields=["closed_on"], name="counteddeal_closed_idx"),
            models.Index(fields=["created_on"], name="counteddeal_created_idx"),
            models.Index(
                fields=["first_won_on"], condition=Q(first_win=True), name="counteddeal_first_win_idx"
            ),
            # The won campaign deals of a few periods, read by an incremental run for the campaign costs.
            models.Index(
                fields=["closed_on"],
                condition=Q(stage="won", campaign_id__isnull=False),
                name="counteddeal_campaign_won_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"deal {self.id} as counted"


class KpiRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    class Trigger(models.TextChoices):
        NIGHTLY = "nightly", _("Nightly schedule")
        MANUAL = "manual", _("Started by a user")
        COMMAND = "command", _("Command line")
        API = "api", _("API")

    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.RUNNING)
    # True while the run is open; a partial unique constraint lets only one run be open at a time.
    is_open = models.BooleanField(null=True, default=True, editable=False)
    trigger = models.CharField(_("started by"), max_length=16, choices=Trigger.choices)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), null=True, blank=True, on_delete=models.SET_NULL
    )
    full = models.BooleanField(_("full recompute"), default=False)
    # Whether the run keeps CountedDeal in step with the rows it writes (runs before it existed did not):
    # only after such a run can the next one apply changes as differences.
    counted = models.BooleanField(default=True, editable=False)
    date_from = models.DateField(null=True, blank=True)
    date_to = models.DateField(null=True, blank=True)
    periods = models.JSONField(_("periods"), default=dict, blank=True)
    shards_total = models.PositiveIntegerField(default=0)
    shards_done = models.PositiveIntegerField(default=0)
    rows_written = models.PositiveIntegerField(_("rows written"), default=0)
    error = models.TextField(_("error"), blank=True)
    started_at = models.DateTimeField(_("started"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    # The follow-up tasks (goals, recognition, bonuses) of a published run: when they were last sent,
    # and when the last of them finished. The sweeper sends them again if they got lost.
    follow_ups_sent_at = models.DateTimeField(_("follow-ups sent"), null=True, blank=True)
    follow_ups_done_at = models.DateTimeField(_("follow-ups done"), null=True, blank=True)

    class Meta:
        verbose_name = _("KPI run")
        verbose_name_plural = _("KPI runs")
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(fields=["is_open"], condition=Q(is_open=True), name="kpirun_one_open_run")
        ]
        get_latest_by = "started_at"

    def __str__(self) -> str:
        return f"KPI run {self.pk} ({self.get_status_display()})"

    @property
    def progress_percent(self) -> int:
        return round(100 * self.shards_done / self.shards_total) if self.shards_total else 0


def every_scope_type() -> list[str]:
    return list(ScopeType.values)


class KpiShard(models.Model):
    """Some scope types (`scope_types`), every period type, for the periods that start in
    [window_from, window_to)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    run = models.ForeignKey(KpiRun, on_delete=models.CASCADE, related_name="shards")
    # A shard either recomputes the periods of its window or, in an incremental run, applies what the
    # changed customers changed, wherever it falls (the window then spans the periods it touched).
    changes = models.BooleanField(default=False)
    window_from = models.DateField()
    window_to = models.DateField()
    scope_types = models.JSONField(default=every_scope_type)
    # One shard of a full run also completes the run's copy of the deals, beside the other shards
    # instead of before them all: the customers' first wins, and the index that only incremental runs
    # read (`changes.complete_copy`).
    completes_copy = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    rows_written = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run", "window_from", "scope_types"], name="kpishard_unique_per_run"
            )
        ]

    def __str__(self) -> str:
        return f"{self.run_id}: {', '.join(self.scope_types)}, {self.window_from}–{self.window_to}"
