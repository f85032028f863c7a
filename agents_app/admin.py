from django.contrib import admin

from agents_app.models import Agent
from workspaces_app.admin_scoping import WorkspaceScopedAdmin


@admin.register(Agent)
class AgentAdmin(WorkspaceScopedAdmin):
    list_display = ["name", "workspace", "provider", "model", "updated_at"]
    list_filter = ["provider"]
    search_fields = ["name"]
    readonly_fields = ["public_id", "created_at", "updated_at"]
