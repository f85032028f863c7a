from django.contrib import admin

from channels_app.models import Channel
from workspaces_app.admin_scoping import WorkspaceScopedAdmin


@admin.register(Channel)
class ChannelAdmin(WorkspaceScopedAdmin):
    list_display = ["name", "workspace", "provider", "status", "display_phone_number", "agent"]
    list_filter = ["provider", "status"]
    search_fields = ["name", "display_phone_number", "phone_number_id", "waba_id"]
    # Secrets are never rendered; they are set through the channel setup flow.
    exclude = ["access_token", "app_secret", "verify_token"]
    readonly_fields = ["public_id", "created_at", "updated_at"]
