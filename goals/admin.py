from django.contrib import admin

from goals.models import Goal, GoalTransition, Milestone, Notification


class MilestoneInline(admin.TabularInline):
    model = Milestone
    extra = 0


class TransitionInline(admin.TabularInline):
    model = GoalTransition
    extra = 0
    can_delete = False
    readonly_fields = ["action", "from_status", "to_status", "actor", "comment", "created_at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Goal)
class GoalAdmin(admin.ModelAdmin):
    """Read-mostly: the workflow's changes go through the goal pages and the API, which keep history."""

    list_display = ["title", "owner_user", "owner_team", "metric", "start_on", "end_on", "status", "pace"]
    list_filter = ["status", "pace", "metric"]
    search_fields = ["title", "owner_user__username", "owner_team__name"]
    list_select_related = ["owner_user", "owner_team"]
    readonly_fields = [f.name for f in Goal._meta.fields]
    inlines = [MilestoneInline, TransitionInline]

    def has_add_permission(self, request):
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["recipient", "kind", "message", "created_at", "read_at", "emailed_at"]
    list_filter = ["kind"]
    list_select_related = ["recipient"]
    readonly_fields = [f.name for f in Notification._meta.fields]
