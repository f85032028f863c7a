from django.contrib import admin

from analytics_app.models import DailyChannelStats
from workspaces_app.admin_scoping import WorkspaceScopedAdmin


@admin.register(DailyChannelStats)
class DailyChannelStatsAdmin(WorkspaceScopedAdmin):
    list_display = ["day", "channel", "inbound", "outbound", "failed", "conversations", "handed_off", "computed_at"]
    list_filter = ["day"]
    date_hierarchy = "day"
    # Derived rows: the rollup rewrites them from the source rows, so edits here would not last.
    readonly_fields = [f.name for f in DailyChannelStats._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
