"""The core domain: people and teams, customers, campaigns, touch points, exchange rates and deals.

Invariants live here as database constraints; the services validate the same rules first so that a
user gets a clear message instead of an IntegrityError.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

MONEY = {"max_digits": 14, "decimal_places": 2}
ZERO = Decimal("0.00")


class Role(models.TextChoices):
    REP = "rep", _("Sales rep")
    MANAGER = "manager", _("Manager")
    ADMIN = "admin", _("Admin")


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.REP)
    full_name = models.CharField(_("full name"), max_length=150, blank=True)
    employee_id = models.CharField(_("employee id"), max_length=64, blank=True)
    manager = models.ForeignKey(
        "self",
        verbose_name=_("manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reports",
    )
    language = models.CharField(
        _("language"),
        max_length=8,
        blank=True,
        choices=settings.LANGUAGES,
        help_text=_("The language of the messages sent to this person; set when they log in or switch."),
    )
    history = HistoricalRecords(excluded_fields=["password", "last_login", "language"])

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["username"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.name_from(self.full_name, self.first_name, self.last_name, self.username)

    # The fields `name_from` reads, in its order: lists of thousands of people read only these.
    NAME_FIELDS = ("full_name", "first_name", "last_name", "username")

    @staticmethod
    def name_from(full_name: str, first_name: str, last_name: str, username: str) -> str:
        """The name people see: the full name, else first and last name, else the username."""
        return full_name or f"{first_name} {last_name}".strip() or username

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN or self.is_superuser

    @property
    def is_manager(self) -> bool:
        return self.role == Role.MANAGER


class Team(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    managers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("managers"), related_name="managed_teams", blank=True
    )
    history = HistoricalRecords(m2m_fields=[managers])

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MembershipQuerySet(models.QuerySet):
    def on(self, day) -> MembershipQuerySet:
        """Memberships that cover `day`."""
        return self.filter(Q(valid_to__isnull=True) | Q(valid_to__gt=day), valid_from__lte=day)

    def during(self, start, end) -> MembershipQuerySet:
        """Memberships that overlap [start, end) for at least a day (dates or expressions)."""
        return self.filter(Q(valid_to__isnull=True) | Q(valid_to__gt=start), valid_from__lt=end)


class Membership(models.Model):
    """A rep's place in a team from one date (inclusive) until another (exclusive, open when null)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="memberships"
    )
    team = models.ForeignKey(
        Team, verbose_name=_("team"), on_delete=models.PROTECT, related_name="memberships"
    )
    valid_from = models.DateField(_("from"))
    valid_to = models.DateField(_("until"), null=True, blank=True)
    history = HistoricalRecords()

    objects = MembershipQuerySet.as_manager()

    class Meta:
        verbose_name = _("team membership")
        verbose_name_plural = _("team memberships")
        ordering = ["user", "valid_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=F("valid_from")),
                name="membership_valid_range",
            ),
            models.UniqueConstraint(fields=["user", "valid_from"], name="membership_unique_start"),
            models.UniqueConstraint(
                fields=["user"], condition=Q(valid_to__isnull=True), name="membership_one_open_per_user"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.team} from {self.valid_from}"

    def covers(self, day: datetime.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)


class Segment(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Category(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)

    class Meta:
        verbose_name = _("product category")
        verbose_name_plural = _("product categories")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


# The names of the touch points that migration 0002 creates, marked so that the catalogues translate
# them; names that admins add are shown as entered.
DEFAULT_TOUCH_POINT_NAMES = frozenset(
    {
        gettext_noop("Web"),
        gettext_noop("Phone"),
        gettext_noop("E-mail"),
        gettext_noop("Event"),
        gettext_noop("Referral"),
        gettext_noop("Partner"),
        gettext_noop("Other"),
    }
)


class TouchPoint(models.Model):
    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)

    class Meta:
        verbose_name = _("touch point")
        verbose_name_plural = _("touch points")
        ordering = ["name"]

    def __str__(self) -> str:
        return gettext(self.name) if self.name in DEFAULT_TOUCH_POINT_NAMES else self.name


class Customer(models.Model):
    external_id = models.CharField(_("customer id"), max_length=100, unique=True)
    name = models.CharField(_("name"), max_length=200)
    segment = models.ForeignKey(
        Segment, verbose_name=_("segment"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Campaign(models.Model):
    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=200)
    channel = models.CharField(_("channel"), max_length=100, blank=True)
    cost = models.DecimalField(_("cost"), **MONEY, default=ZERO, validators=[MinValueValidator(ZERO)])
    start_on = models.DateField(_("start"))
    end_on = models.DateField(_("end"), help_text=_("Last day of the campaign (inclusive)."))
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-start_on", "code"]
        constraints = [
            models.CheckConstraint(condition=Q(end_on__gte=F("start_on")), name="campaign_end_after_start"),
            models.CheckConstraint(condition=Q(cost__gte=0), name="campaign_cost_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.code} · {self.name}"

    @property
    def days(self) -> int:
        return (self.end_on - self.start_on).days + 1


class ExchangeRate(models.Model):
    """How many units of the reporting currency one unit of `currency` is worth, from `valid_from` on."""

    currency = models.CharField(_("currency"), max_length=3)
    rate = models.DecimalField(_("rate"), max_digits=18, decimal_places=8, validators=[MinValueValidator(0)])
    valid_from = models.DateField(_("valid from"))
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("exchange rate")
        verbose_name_plural = _("exchange rates")
        ordering = ["currency", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["currency", "valid_from"], name="exchange_rate_unique_day"),
            models.CheckConstraint(condition=Q(rate__gt=0), name="exchange_rate_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.currency} {self.rate} from {self.valid_from}"


class Stage(models.TextChoices):
    LEAD = "lead", _("Lead")
    QUALIFIED = "qualified", _("Qualified")
    PROPOSAL = "proposal", _("Proposal")
    NEGOTIATION = "negotiation", _("Negotiation")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


CLOSED_STAGES = (Stage.WON, Stage.LOST)
OPEN_STAGES = (Stage.LEAD, Stage.QUALIFIED, Stage.PROPOSAL, Stage.NEGOTIATION)


class Deal(models.Model):
    source = models.CharField(_("source"), max_length=50, default="manual")
    external_id = models.CharField(_("external id"), max_length=100)
    title = models.CharField(_("title"), max_length=200, blank=True)
    # rep, team and customer are indexed by the (…, closed_on) indexes below, which lead with them;
    # fewer indexes keep large imports fast.
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("rep"),
        on_delete=models.PROTECT,
        related_name="deals",
        db_index=False,
    )
    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="deals",
        help_text=_("The rep's team on the closing date, kept when the rep moves."),
        db_index=False,
    )
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="deals", db_index=False
    )
    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="deals",
    )
    touch_point = models.ForeignKey(
        TouchPoint,
        verbose_name=_("touch point"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    stage = models.CharField(_("stage"), max_length=16, choices=Stage.choices, default=Stage.LEAD)
    currency = models.CharField(_("currency"), max_length=3)
    amount_original = models.DecimalField(_("amount (deal currency)"), **MONEY)
    cost_original = models.DecimalField(_("cost (deal currency)"), **MONEY, default=ZERO)
    exchange_rate = models.DecimalField(
        _("exchange rate"), max_digits=18, decimal_places=8, default=Decimal(1)
    )
    amount = models.DecimalField(_("amount"), **MONEY, help_text=_("In the reporting currency."))
    cost = models.DecimalField(_("cost"), **MONEY, default=ZERO, help_text=_("In the reporting currency."))
    created_on = models.DateField(_("created on"))
    closed_on = models.DateField(_("closed on"), null=True, blank=True)
    lost_reason = models.CharField(_("lost reason"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    # History is read per deal (by id); indexes on its foreign keys would only slow imports down.
    history = HistoricalRecords(
        excluded_fields=["updated_at", "created_at"],
        no_db_index=["rep", "team", "customer", "campaign", "touch_point", "category"],
    )

    class Meta:
        verbose_name = _("deal")
        verbose_name_plural = _("deals")
        ordering = ["-created_on", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="deal_unique_source_external_id"),
            models.CheckConstraint(
                condition=(Q(stage__in=CLOSED_STAGES) & Q(closed_on__isnull=False))
                | (~Q(stage__in=CLOSED_STAGES) & Q(closed_on__isnull=True)),
                name="deal_closed_on_iff_closed",
            ),
            models.CheckConstraint(
                condition=Q(closed_on__isnull=True) | Q(closed_on__gte=F("created_on")),
                name="deal_closed_after_created",
            ),
            models.CheckConstraint(
                condition=Q(amount__gte=0) & Q(amount_original__gte=0), name="deal_amount_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(cost__gte=0) & Q(cost_original__gte=0), name="deal_cost_not_negative"
            ),
        ]
        indexes = [
            models.Index(fields=["stage", "closed_on"], name="deal_stage_closed_idx"),
            models.Index(fields=["rep", "closed_on"], name="deal_rep_closed_idx"),
            models.Index(fields=["team", "closed_on"], name="deal_team_closed_idx"),
            models.Index(fields=["customer", "closed_on"], name="deal_customer_closed_idx"),
            models.Index(fields=["created_on"], name="deal_created_idx"),
            # A manager's deal list: a team's deals newest first, read in index order page by page.
            models.Index(fields=["team", "-created_on", "-id"], name="deal_team_created_idx"),
        ]

    def __str__(self) -> str:
        return self.title or f"{self.source}:{self.external_id}"

    @property
    def is_won(self) -> bool:
        return self.stage == Stage.WON

    @property
    def is_closed(self) -> bool:
        return self.stage in CLOSED_STAGES

    @property
    def margin(self) -> Decimal:
        return self.amount - self.cost

    @property
    def cycle_days(self) -> int | None:
        return (self.closed_on - self.created_on).days if self.closed_on else None


class DealCredit(models.Model):
    """A rep's share of a deal's credit, as a percentage. A deal without credits credits its rep with
    100 %; a deal with credits credits exactly these reps, and their shares add up to 100 %.

    The sum is a rule over several rows, so `services.deal_credits_validate` keeps it (form, API and
    import all go through it); each row's own rules are constraints too.
    """

    # The (deal, rep) unique index serves lookups by deal; the rep index the credited reps' scopes.
    deal = models.ForeignKey(
        Deal, verbose_name=_("deal"), on_delete=models.CASCADE, related_name="credits", db_index=False
    )
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("rep"), on_delete=models.PROTECT, related_name="deal_credits"
    )
    share = models.DecimalField(
        _("share (%)"),
        max_digits=5,
        decimal_places=2,
        help_text=_("Percentage of the deal credited to the rep."),
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("deal credit")
        verbose_name_plural = _("deal credits")
        ordering = ["deal_id", "-share", "id"]
        constraints = [
            models.UniqueConstraint(fields=["deal", "rep"], name="deal_credit_unique_rep"),
            models.CheckConstraint(
                condition=Q(share__gt=0) & Q(share__lte=100), name="deal_credit_share_in_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rep} {self.share} %"


class MappingPreset(models.Model):
    """A saved column mapping (file header -> canonical column) and stage mapping for imports."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    columns = models.JSONField(_("column mapping"), default=dict)
    stages = models.JSONField(_("stage mapping"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("mapping preset")
        verbose_name_plural = _("mapping presets")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ImportJob(models.Model):
    """One import of a deals or people file, kept as the import history with its counts and errors."""

    class Kind(models.TextChoices):
        DEALS = "deals", _("Deals")
        PEOPLE = "people", _("People")

    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("Uploaded")
        CHECKING = "checking", _("Checking")
        PREVIEWED = "previewed", _("Previewed")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.DEALS)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.UPLOADED)
    file = models.FileField(_("file"), upload_to="imports/%Y/%m/", blank=True)
    original_name = models.CharField(_("file name"), max_length=255)
    source = models.CharField(_("source"), max_length=50, default="import")
    columns = models.JSONField(_("column mapping"), default=dict, blank=True)
    stages = models.JSONField(_("stage mapping"), default=dict, blank=True)
    options = models.JSONField(_("options"), default=dict, blank=True)
    file_info = models.JSONField(
        _("file details"), default=dict, blank=True, help_text=_("Format, encoding, delimiter, headers.")
    )
    dry_run = models.BooleanField(_("dry run"), default=False)
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    processed_rows = models.PositiveIntegerField(_("rows done"), default=0)
    created_count = models.PositiveIntegerField(_("new"), default=0)
    updated_count = models.PositiveIntegerField(_("changed"), default=0)
    unchanged_count = models.PositiveIntegerField(_("unchanged"), default=0)
    error_count = models.PositiveIntegerField(_("errors"), default=0)
    rounded_count = models.PositiveIntegerField(_("amounts rounded"), default=0)
    message = models.TextField(_("message"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("run by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="imports",
    )
    created_at = models.DateTimeField(_("uploaded"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    # Whether the queued run imports (or only checks), and the last sign of life of the worker running
    # it: a queued or running job whose heartbeat went stale is taken over (see imports_sweep).
    queued_commit = models.BooleanField(default=False, editable=False)
    heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.get_status_display()})"

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.CHECKING, self.Status.RUNNING)

    @property
    def headers(self) -> list[str]:
        return list(self.file_info.get("headers", []))

    @property
    def progress_percent(self) -> int:
        if not self.total_rows:
            return 100 if self.status == self.Status.DONE else 0
        return min(100, round(100 * self.processed_rows / self.total_rows))


class ImportRowError(models.Model):
    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="row_errors")
    line = models.PositiveIntegerField(_("line"))
    column = models.CharField(_("column"), max_length=100, blank=True)
    value = models.CharField(_("value"), max_length=255, blank=True)
    message = models.CharField(_("reason"), max_length=500)

    class Meta:
        verbose_name = _("import error")
        verbose_name_plural = _("import errors")
        ordering = ["job", "line", "id"]

    def __str__(self) -> str:
        return f"line {self.line} {self.column}: {self.message}"
