from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from incentives import bonus_rules, services
from incentives.models import (
    AwardDecision,
    Badge,
    BadgeRule,
    BonusAward,
    IncentivePlan,
    Kudos,
    LeaderboardSnapshot,
    NotificationPreference,
    PayrollExport,
    PlanVersion,
    RecognitionSettings,
    TeamHoliday,
    WallboardLink,
)
from salesteam.models import Role


@admin.register(RecognitionSettings)
class RecognitionSettingsAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "reps_see_money",
        "min_closed_deals",
        "min_won_deals",
        "wallboard_refresh_seconds",
    ]

    def has_add_permission(self, request):
        return not RecognitionSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        obj.pk = 1
        super().save_model(request, obj, form, change)


@admin.register(BadgeRule)
class BadgeRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "icon", "kind", "threshold", "period_type", "metric", "is_active"]
    list_filter = ["kind", "is_active"]


@admin.register(Badge)
class BadgeAdmin(admin.ModelAdmin):
    list_display = ["rule", "user", "achievement", "awarded_on"]
    list_filter = ["rule"]
    list_select_related = ["rule", "user"]
    search_fields = ["user__username", "achievement"]
    readonly_fields = ["rule", "user", "achievement_key", "achievement", "awarded_on", "run"]


@admin.register(Kudos)
class KudosAdmin(admin.ModelAdmin):
    list_display = ["sender", "recipient", "team", "message", "created_at"]
    list_select_related = ["sender", "recipient", "team"]
    readonly_fields = ["sender", "recipient", "team", "message", "deal", "goal"]


@admin.register(TeamHoliday)
class TeamHolidayAdmin(admin.ModelAdmin):
    list_display = ["team", "day", "name"]
    list_filter = ["team"]
    date_hierarchy = "day"


@admin.register(WallboardLink)
class WallboardLinkAdmin(admin.ModelAdmin):
    list_display = ["team", "label", "created_at", "revoked_at", "link"]
    list_select_related = ["team"]
    fields = ["team", "label", "link", "created_by", "created_at", "revoked_at"]
    readonly_fields = ["link", "created_by", "created_at", "revoked_at"]
    actions = ["revoke"]

    @admin.display(description=_("secret link"))
    def link(self, obj):
        if not obj.pk or obj.revoked_at:
            return "—"
        return format_html('<a href="{0}">{0}</a>', reverse("leaderboards:wallboard", args=[obj.token]))

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "team"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        created = services.wallboard_link_create(actor=request.user, team=obj.team, label=obj.label)
        obj.pk, obj.token = created.pk, created.token

    @admin.action(description=_("Revoke the selected links"))
    def revoke(self, request, queryset):
        for link in queryset:
            services.wallboard_link_revoke(actor=request.user, link=link)
        self.message_user(request, _("Revoked."), messages.SUCCESS)


@admin.register(LeaderboardSnapshot)
class LeaderboardSnapshotAdmin(admin.ModelAdmin):
    list_display = ["board", "run", "created_at"]
    search_fields = ["board"]


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "email"]


# --- Bonus plans and awards --------------------------------------------------------------------------


class PlanVersionForm(forms.ModelForm):
    class Meta:
        model = PlanVersion
        fields = ["plan", "valid_from", "rules", "note"]

    def clean_rules(self):
        return bonus_rules.validate_rules(self.cleaned_data["rules"])


def _preview(version: PlanVersion) -> str:
    if not version or not version.pk:
        return "—"
    currency = version.plan.currency if version.plan_id else "EUR"
    lines = bonus_rules.describe_plan(version.rules, currency=currency)
    return format_html_join("", "<p>{}</p>", ((line,) for line in lines)) or "—"


class PlanVersionInline(admin.StackedInline):
    model = PlanVersion
    form = PlanVersionForm
    extra = 0
    fields = ["valid_from", "rules", "note", "preview"]
    readonly_fields = ["preview"]

    @admin.display(description=_("in plain language"))
    def preview(self, version):
        return _preview(version)


class IncentivePlanForm(forms.ModelForm):
    roles = forms.MultipleChoiceField(
        label=_("participating roles"),
        choices=Role.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("Every active user with one of these roles takes part for the whole period."),
    )

    class Meta:
        model = IncentivePlan
        fields = [
            "name", "effective_from", "effective_to", "period", "currency", "needs_approval",
            "teams", "roles", "reps", "status",
        ]  # fmt: skip


@admin.register(IncentivePlan)
class IncentivePlanAdmin(SimpleHistoryAdmin):
    form = IncentivePlanForm
    list_display = ["name", "period", "effective_from", "status", "needs_approval", "simulate"]
    list_filter = ["status", "period"]
    filter_horizontal = ["teams", "reps"]
    fieldsets = [
        (
            None,
            {"fields": ["name", "effective_from", "effective_to", "period", "currency", "needs_approval"]},
        ),
        (_("Participants"), {"fields": ["teams", "roles", "reps"]}),
        (None, {"fields": ["status"]}),
    ]
    inlines = [PlanVersionInline]

    @admin.display(description=_("simulate"))
    def simulate(self, plan):
        url = reverse("bonuses:plan_simulate", args=[plan.pk])
        return format_html('<a href="{}">{}</a>', url, _("Simulate last period"))


@admin.register(PlanVersion)
class PlanVersionAdmin(SimpleHistoryAdmin):
    form = PlanVersionForm
    list_display = ["plan", "valid_from", "note"]
    readonly_fields = ["preview"]

    @admin.display(description=_("in plain language"))
    def preview(self, version):
        return _preview(version)


class AwardDecisionInline(admin.TabularInline):
    model = AwardDecision
    extra = 0
    can_delete = False
    readonly_fields = ["at", "actor", "from_status", "to_status", "reason"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(BonusAward)
class BonusAwardAdmin(admin.ModelAdmin):
    """Read-only: awards change through the evaluation, the approval pages and the payroll export."""

    list_display = ["rep", "plan", "period_start", "kind", "status", "total", "currency"]
    list_filter = ["status", "kind", "plan", "period_start"]
    list_select_related = ["rep", "plan"]
    search_fields = ["rep__username", "rep__full_name", "plan__name"]
    inlines = [AwardDecisionInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PayrollExport)
class PayrollExportAdmin(admin.ModelAdmin):
    list_display = ["period_start", "sequence", "award_count", "created_by", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
