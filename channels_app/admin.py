from django.contrib import admin, messages
from django.db.models.functions import Length

from channels_app.models import Channel, ChannelSetupEvent, MessageTemplate, TemplateSync, WebhookEvent
from channels_app.services.templates import template_sync_request
from messaging_app.selectors import headers_masked, webhook_payload_pretty
from messaging_app.services.webhooks import webhook_event_reprocess
from whatsapp_platform.admin_display import encrypted_fields, json_block
from whatsapp_platform.errors import PlatformError
from workspaces_app.admin_scoping import WorkspaceScopedAdmin


def _template_syncs_request(admin_view, request, channels) -> None:
    """One sync per WhatsApp Business Account among the channels (a channel of each account reads it)."""
    seen: set[str] = set()
    requested, refused = 0, []
    for channel in channels:
        if channel.waba_id in seen:
            continue
        seen.add(channel.waba_id)
        try:
            template_sync_request(channel=channel, trigger=TemplateSync.Trigger.MANUAL)
        except PlatformError as exc:
            refused.append(exc.message)
        else:
            requested += 1
    if requested:
        admin_view.message_user(request, f"Template sync requested for {requested} account(s).")
    for message in refused:
        admin_view.message_user(request, message, level=messages.WARNING)


class ChannelSetupEventInline(admin.TabularInline):
    model = ChannelSetupEvent
    extra = 0
    can_delete = False
    fields = ["created_at", "step", "ok", "message"]
    readonly_fields = fields
    ordering = ["-created_at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Channel)
class ChannelAdmin(WorkspaceScopedAdmin):
    list_display = ["name", "workspace", "provider", "status", "display_phone_number", "agent", "last_webhook_at"]
    list_filter = ["provider", "status", "connection"]
    list_select_related = ["workspace", "agent"]
    search_fields = ["name", "display_phone_number", "phone_number_id", "waba_id"]
    # Secrets are never rendered; they are set through the channel setup flow.
    exclude = encrypted_fields(Channel)
    readonly_fields = ["public_id", "last_webhook_at", "health_checked_at", "created_at", "updated_at"]
    inlines = [ChannelSetupEventInline]
    actions = ["resync_templates"]

    def has_resync_permission(self, request) -> bool:
        return self._allowed(request, None, "configure")

    @admin.action(description="Resync the templates of the selected channels' accounts", permissions=["resync"])
    def resync_templates(self, request, queryset):
        if not request.user.is_superuser:
            queryset = queryset.filter(workspace_id__in=self._workspace_ids(request, "configure"))
        _template_syncs_request(self, request, queryset.exclude(waba_id="").order_by("pk"))


@admin.register(ChannelSetupEvent)
class ChannelSetupEventAdmin(WorkspaceScopedAdmin):
    """The steps of connecting channels, as staff saw them: a log, read-only."""

    workspace_lookup = "channel__workspace_id"
    list_display = ["created_at", "channel", "step", "ok", "message"]
    list_filter = ["ok", "step"]
    list_select_related = ["channel"]
    search_fields = ["channel__name", "message"]
    readonly_fields = ["channel", "step", "ok", "message", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(WebhookEvent)
class WebhookEventAdmin(WorkspaceScopedAdmin):
    list_display = ["received_at", "channel", "signature_valid", "state", "summary", "attempts", "body_size"]
    list_filter = ["state", "signature_valid", "received_at"]
    list_select_related = ["channel", "workspace"]
    fields = [
        "workspace",
        "channel",
        "received_at",
        "signature_valid",
        "state",
        "attempts",
        "processed_at",
        "summary",
        "error",
        "headers_masked",
        "body_pretty",
    ]
    readonly_fields = fields
    actions = ["reprocess"]

    def get_queryset(self, request):
        # The changelist never loads bodies (up to megabytes each); the change page reads its one body lazily.
        return super().get_queryset(request).defer("body").annotate(body_bytes=Length("body"))

    @admin.display(description="Size", ordering="body_bytes")
    def body_size(self, obj) -> str:
        from django.template.defaultfilters import filesizeformat

        return filesizeformat(obj.body_bytes or 0)

    @admin.display(description="Headers")
    def headers_masked(self, obj) -> str:
        return json_block(dict(headers_masked(obj.headers)))

    @admin.display(description="Body")
    def body_pretty(self, obj) -> str:
        text, _is_json = webhook_payload_pretty(obj.body)
        return json_block(text)

    def has_add_permission(self, request):
        return False

    @admin.action(description="Reprocess the selected failed events", permissions=["change"])
    def reprocess(self, request, queryset):
        if not request.user.is_superuser:
            queryset = queryset.filter(workspace_id__in=self._workspace_ids(request, "configure"))
        failed = list(queryset.filter(state=WebhookEvent.State.FAILED).values_list("pk", flat=True))
        for event_id in failed:
            webhook_event_reprocess(event_id=event_id)
        self.message_user(request, f"{len(failed)} event(s) queued for reprocessing.")


@admin.register(MessageTemplate)
class MessageTemplateAdmin(WorkspaceScopedAdmin):
    list_display = ["name", "language", "category", "status", "quality", "waba_id", "synced_at", "updated_at"]
    list_filter = ["status", "category"]
    search_fields = ["name", "meta_id", "waba_id"]
    # Meta owns templates: edit them in the console (which goes through Graph), not here.
    readonly_fields = ["public_id", "meta_id", "waba_id", "synced_at", "updated_at"]
    actions = ["resync_templates"]

    def has_resync_permission(self, request) -> bool:
        return self._allowed(request, None, "configure")

    @admin.action(description="Resync the selected templates' accounts with Meta", permissions=["resync"])
    def resync_templates(self, request, queryset):
        accounts = set(queryset.values_list("workspace_id", "waba_id"))
        if not request.user.is_superuser:
            allowed = self._workspace_ids(request, "configure")
            accounts = {(workspace_id, waba_id) for workspace_id, waba_id in accounts if workspace_id in allowed}
        channels = []
        for workspace_id, waba_id in sorted(accounts):
            channel = (
                Channel.objects.whatsapp()
                .filter(workspace_id=workspace_id, waba_id=waba_id, status=Channel.Status.ACTIVE)
                .order_by("pk")
                .first()
            )
            if channel is None:
                self.message_user(
                    request, f"No active channel reads account {waba_id}: connect one first.", level=messages.WARNING
                )
            else:
                channels.append(channel)
        _template_syncs_request(self, request, channels)


@admin.register(TemplateSync)
class TemplateSyncAdmin(WorkspaceScopedAdmin):
    list_display = ["requested_at", "waba_id", "channel", "trigger", "state", "attempts", "error"]
    list_filter = ["state", "trigger"]
    readonly_fields = [
        "workspace",
        "channel",
        "waba_id",
        "trigger",
        "state",
        "attempts",
        "requested_at",
        "started_at",
        "finished_at",
        "created_count",
        "updated_count",
        "removed_count",
        "error",
    ]

    def has_add_permission(self, request):
        return False
