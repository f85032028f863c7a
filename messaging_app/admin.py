from django.contrib import admin

from messaging_app.models import Contact, Conversation, Message
from workspaces_app.admin_scoping import WorkspaceScopedAdmin


@admin.register(Contact)
class ContactAdmin(WorkspaceScopedAdmin):
    list_display = ["__str__", "wa_id", "user_id", "username", "channel", "marketing_opt_out", "created_at"]
    search_fields = ["profile_name", "wa_id", "user_id", "username"]
    list_filter = ["marketing_opt_out"]
    readonly_fields = ["workspace", "channel", "created_at", "updated_at"]


@admin.register(Conversation)
class ConversationAdmin(WorkspaceScopedAdmin):
    list_display = ["contact", "channel", "state", "assigned_agent", "assigned_user", "last_inbound_at"]
    list_filter = ["state"]
    search_fields = ["contact__profile_name", "contact__wa_id"]
    readonly_fields = ["workspace", "channel", "contact", "last_inbound_at", "last_message_at", "created_at"]
    raw_id_fields = ["assigned_user"]


@admin.register(Message)
class MessageAdmin(WorkspaceScopedAdmin):
    list_display = ["timestamp", "direction", "message_type", "sender", "status", "error_code", "contact", "channel"]
    list_filter = ["direction", "status", "message_type", "sender"]
    search_fields = ["wamid", "contact__profile_name", "contact__wa_id"]
    date_hierarchy = "timestamp"
    # The ledger of what was said: read-only here; staff reply from the inbox.
    readonly_fields = [f.name for f in Message._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
