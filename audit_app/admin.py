from django.contrib import admin

from audit_app.models import AuditEntry
from whatsapp_platform.admin_display import json_block
from workspaces_app.admin_scoping import WorkspaceScopedAdmin


@admin.register(AuditEntry)
class AuditEntryAdmin(WorkspaceScopedAdmin):
    """Read-only: the log is append-only, so nobody (superusers included) adds, changes or deletes here."""

    list_display = ["created_at", "action", "actor_label", "target_type", "target_label", "workspace", "ip_address"]
    list_filter = ["action", "actor_type"]
    search_fields = ["action", "actor_label", "target_label", "target_id", "request_id"]
    list_select_related = ["workspace"]
    date_hierarchy = "created_at"
    fields = [
        "created_at",
        "workspace",
        "action",
        "actor_type",
        "actor_label",
        "target_type",
        "target_id",
        "target_label",
        "changes_display",
        "ip_address",
        "user_agent",
        "request_id",
    ]
    readonly_fields = fields

    @admin.display(description="changes")
    def changes_display(self, entry: AuditEntry) -> str:
        return json_block(entry.changes)

    def get_queryset(self, request):
        # Owners and admins only, as in the console: "view" would let viewers read who did what.
        queryset = super(WorkspaceScopedAdmin, self).get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(workspace_id__in=self._workspace_ids(request, "configure"))

    def has_module_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_staff and self._allowed(request, None, "configure")

    def has_view_permission(self, request, obj=None) -> bool:
        return self._allowed(request, obj, "configure")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
