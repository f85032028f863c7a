from django.contrib import admin

from outreach_app.models import Campaign, CampaignRecipient, ScheduledMessage, WelcomeTemplate
from workspaces_app.admin_scoping import WorkspaceScopedAdmin


@admin.register(Campaign)
class CampaignAdmin(WorkspaceScopedAdmin):
    list_display = ["name", "channel", "template_name", "state", "scheduled_at", "started_at", "finished_at"]
    list_filter = ["state"]
    search_fields = ["name", "template_name"]
    # State changes go through the console or the API, which pace, skip and record; the admin only reads.
    readonly_fields = [f.name for f in Campaign._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(CampaignRecipient)
class CampaignRecipientAdmin(WorkspaceScopedAdmin):
    workspace_lookup = "campaign__workspace_id"
    list_display = ["contact", "campaign", "state", "reason", "processed_at"]
    list_filter = ["state"]
    search_fields = ["contact__wa_id", "contact__profile_name", "campaign__name"]
    raw_id_fields = ["contact", "message", "campaign"]
    readonly_fields = [f.name for f in CampaignRecipient._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(ScheduledMessage)
class ScheduledMessageAdmin(WorkspaceScopedAdmin):
    list_display = ["contact", "channel", "message_type", "send_at", "state", "sent_at"]
    list_filter = ["state", "message_type"]
    search_fields = ["contact__wa_id", "contact__profile_name"]
    readonly_fields = [f.name for f in ScheduledMessage._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(WelcomeTemplate)
class WelcomeTemplateAdmin(WorkspaceScopedAdmin):
    workspace_lookup = "channel__workspace_id"
    list_display = ["channel", "template", "enabled", "updated_at"]
    raw_id_fields = ["channel", "template"]
