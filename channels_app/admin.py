from django.contrib import admin

from channels_app.models import Channel, MessageTemplate, WebhookEvent
from workspaces_app.admin_scoping import WorkspaceScopedAdmin


@admin.register(Channel)
class ChannelAdmin(WorkspaceScopedAdmin):
    list_display = ["name", "workspace", "provider", "status", "display_phone_number", "agent"]
    list_filter = ["provider", "status"]
    search_fields = ["name", "display_phone_number", "phone_number_id", "waba_id"]
    # Secrets are never rendered; they are set through the channel setup flow.
    exclude = ["access_token", "app_secret", "verify_token"]
    readonly_fields = ["public_id", "created_at", "updated_at"]


@admin.register(WebhookEvent)
class WebhookEventAdmin(WorkspaceScopedAdmin):
    list_display = ["received_at", "channel", "signature_valid", "state", "summary", "attempts"]
    list_filter = ["state", "signature_valid"]
    readonly_fields = [
        "workspace",
        "channel",
        "headers",
        "signature_valid",
        "received_at",
        "state",
        "attempts",
        "processed_at",
        "error",
        "summary",
        "body_text",
    ]
    exclude = ["body"]
    actions = ["reprocess"]

    @admin.display(description="Body")
    def body_text(self, obj) -> str:
        return bytes(obj.body).decode("utf-8", errors="replace")

    def has_add_permission(self, request):
        return False

    @admin.action(description="Reprocess the selected failed events")
    def reprocess(self, request, queryset):
        from messaging_app.services.webhooks import webhook_event_reprocess

        failed = list(queryset.filter(state=WebhookEvent.State.FAILED).values_list("pk", flat=True))
        for event_id in failed:
            webhook_event_reprocess(event_id=event_id)
        self.message_user(request, f"{len(failed)} event(s) queued for reprocessing.")


@admin.register(MessageTemplate)
class MessageTemplateAdmin(WorkspaceScopedAdmin):
    list_display = ["name", "language", "category", "status", "quality", "waba_id", "updated_at"]
    list_filter = ["status", "category"]
    search_fields = ["name"]
