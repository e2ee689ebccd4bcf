from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from salesteam import services
from salesteam.models import (
    Campaign,
    Category,
    Customer,
    Deal,
    DealCredit,
    ExchangeRate,
    ImportJob,
    MappingPreset,
    Membership,
    Segment,
    Team,
    TouchPoint,
    User,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["team", "valid_from", "valid_to"]


class UserChangeForm(DjangoUserAdmin.form):
    def clean(self):
        cleaned = super().clean()
        leaving = self.instance.pk and "is_active" in self.changed_data and not cleaned.get("is_active")
        if leaving and (error := services.user_deactivation_error(user=self.instance)):
            self.add_error("is_active", error)
        return cleaned


@admin.register(User)
class UserAdmin(DjangoUserAdmin, SimpleHistoryAdmin):
    form = UserChangeForm
    list_display = ["username", "full_name", "email", "role", "manager", "is_active"]
    list_filter = ["role", "is_active"]
    search_fields = ["username", "full_name", "email"]
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        (_("Salesteam"), {"fields": ["role", "full_name", "employee_id", "manager"]}),
    )
    inlines = [MembershipInline]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            # Leaving ends the open team membership too; see services.user_deactivate.
            services.user_deactivate(actor=request.user, user=obj)


@admin.register(Team)
class TeamAdmin(SimpleHistoryAdmin):
    list_display = ["name"]
    search_fields = ["name"]
    filter_horizontal = ["managers"]


@admin.register(Customer)
class CustomerAdmin(SimpleHistoryAdmin):
    list_display = ["external_id", "name", "segment"]
    list_filter = ["segment"]
    search_fields = ["external_id", "name"]


@admin.register(Campaign)
class CampaignAdmin(SimpleHistoryAdmin):
    list_display = ["code", "name", "channel", "cost", "start_on", "end_on"]
    search_fields = ["code", "name"]


@admin.register(ExchangeRate)
class ExchangeRateAdmin(SimpleHistoryAdmin):
    """Saving or deleting a rate converts the deals it applies to again (services.exchange_rate_save)."""

    list_display = ["currency", "rate", "valid_from"]
    list_filter = ["currency"]

    def save_model(self, request, obj, form, change):
        rate, changed = services.exchange_rate_save(
            actor=request.user, currency=obj.currency, valid_from=obj.valid_from, rate=obj.rate,
            rate_id=obj.pk,
        )  # fmt: skip
        obj.pk = rate.pk
        if changed:
            self.message_user(request, _("%(count)d deals were converted again.") % {"count": changed})

    def delete_model(self, request, obj):
        services.exchange_rate_delete(actor=request.user, exchange_rate=obj)


class DealCreditInline(admin.TabularInline):
    """The deal's credit split, read only: its rule (shares adding up to 100 %) spans several rows, so
    splits are changed on the deal form, the API or an import, which all validate it."""

    model = DealCredit
    fields = ["rep", "share"]
    readonly_fields = ["rep", "share"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Deal)
class DealAdmin(SimpleHistoryAdmin):
    inlines = [DealCreditInline]
    list_display = ["external_id", "title", "rep", "team", "customer", "stage", "amount", "closed_on"]
    list_filter = ["stage", "team", "source"]
    search_fields = ["external_id", "title", "customer__name"]
    list_select_related = ["rep", "team", "customer"]
    raw_id_fields = ["rep", "customer", "campaign"]
    readonly_fields = ["team", "exchange_rate", "amount", "cost"]


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = [
        "original_name",
        "kind",
        "status",
        "total_rows",
        "created_count",
        "error_count",
        "created_by",
    ]
    list_filter = ["kind", "status"]
    readonly_fields = [f.name for f in ImportJob._meta.fields]


admin.site.register([Segment, Category, TouchPoint, MappingPreset])
admin.site.site_header = _("Salesteam administration")
