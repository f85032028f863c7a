import json

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponse
from django.utils import timezone

from messaging_app.models import (
    BusinessHours,
    BusinessHoursRange,
    ClosedDate,
    Contact,
    Conversation,
    ConversationRating,
    IdempotencyKey,
    MediaUpload,
    Message,
    StatusReceipt,
)
from messaging_app.selectors import contact_export_document
from messaging_app.services.contact_admin import (
    MAX_ATTRIBUTES,
    MAX_TAGS,
    contact_attributes_clean,
    contact_block,
    contact_tags_clean,
    contact_unblock,
)
from messaging_app.services.resend import message_resend
from whatsapp_platform.admin_display import json_block
from whatsapp_platform.errors import InvalidInput, PlatformError
from workspaces_app.admin_scoping import WorkspaceScopedAdmin


class BlockedFilter(admin.SimpleListFilter):
    title = "blocked"
    parameter_name = "blocked"

    def lookups(self, request, model_admin):
        return [("yes", "Blocked"), ("no", "Not blocked")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(blocked_at__isnull=self.value() == "no")
        return queryset


class ContactAdminForm(forms.ModelForm):
    """Tags and attributes checked as everywhere else (the console, the API, tools' answers)."""

    class Meta:
        model = Contact
        fields = ["wa_id", "user_id", "parent_user_id", "username", "profile_name", "tags", "attributes"]

    def clean_tags(self):
        try:
            tags = contact_tags_clean(self.cleaned_data.get("tags") or [])
        except InvalidInput as exc:
            raise forms.ValidationError(exc.message)
        if len(tags) > MAX_TAGS:
            raise forms.ValidationError(f"A contact has at most {MAX_TAGS} tags.")
        return tags

    def clean_attributes(self):
        try:
            attributes = contact_attributes_clean(self.cleaned_data.get("attributes") or {})
        except InvalidInput as exc:
            raise forms.ValidationError(exc.message)
        attributes = {key: value for key, value in attributes.items() if value not in (None, "")}
        if len(attributes) > MAX_ATTRIBUTES:
            raise forms.ValidationError(f"A contact has at most {MAX_ATTRIBUTES} attributes.")
        return attributes


@admin.register(Contact)
class ContactAdmin(WorkspaceScopedAdmin):
    form = ContactAdminForm
    list_display = [
        "__str__",
        "wa_id",
        "username",
        "channel",
        "tag_list",
        "marketing_opt_out",
        "blocked_at",
        "created_at",
    ]
    search_fields = ["profile_name", "wa_id", "user_id", "username"]
    list_filter = ["marketing_opt_out", BlockedFilter, "channel__provider", "created_at"]
    list_select_related = ["channel"]
    # Consent and blocking change through actions (and the console), which record when and why.
    readonly_fields = [
        "workspace",
        "channel",
        "marketing_opt_out",
        "marketing_opt_out_at",
        "marketing_opt_out_source",
        "blocked_at",
        "created_at",
        "updated_at",
    ]
    actions = ["export_data", "block", "unblock"]

    def has_add_permission(self, request):
        return False  # contacts come from WhatsApp (a message, a send), not from a form

    @admin.display(description="Tags")
    def tag_list(self, obj) -> str:
        return ", ".join(obj.tags or [])

    def has_export_permission(self, request) -> bool:
        return self._allowed(request, None, "configure")

    def has_block_permission(self, request) -> bool:
        return self._allowed(request, None, "reply")

    def _selected(self, request, queryset, permission: str):
        if request.user.is_superuser:
            return queryset
        return queryset.filter(workspace_id__in=self._workspace_ids(request, permission))

    @admin.action(description="Export the selected contacts' data (JSON)", permissions=["export"])
    def export_data(self, request, queryset):
        contacts = self._selected(request, queryset, "configure").select_related("channel").order_by("pk")
        document = {
            "exported_at": timezone.now().isoformat(),
            "contacts": [contact_export_document(contact=contact) for contact in contacts],
        }
        response = HttpResponse(
            json.dumps(document, indent=2, ensure_ascii=False), content_type="application/json; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="contacts-{timezone.now():%Y%m%d-%H%M%S}.json"'
        return response

    @admin.action(description="Block the selected contacts (no agent replies, no sends)", permissions=["block"])
    def block(self, request, queryset):
        contacts = list(self._selected(request, queryset, "reply"))
        for contact in contacts:
            contact_block(contact=contact, by=f"admin:{request.user.pk}")
        self.message_user(request, f"{len(contacts)} contact(s) blocked.")

    @admin.action(description="Unblock the selected contacts", permissions=["block"])
    def unblock(self, request, queryset):
        contacts = list(self._selected(request, queryset, "reply"))
        for contact in contacts:
            contact_unblock(contact=contact, by=f"admin:{request.user.pk}")
        self.message_user(request, f"{len(contacts)} contact(s) unblocked.")


@admin.register(Conversation)
class ConversationAdmin(WorkspaceScopedAdmin):
    list_display = ["contact", "channel", "state", "assigned_agent", "assigned_user", "last_inbound_at"]
    list_filter = ["state", "channel__provider"]
    list_select_related = ["contact", "channel", "assigned_agent", "assigned_user"]
    search_fields = ["contact__profile_name", "contact__wa_id", "contact__username"]
    readonly_fields = ["workspace", "channel", "contact", "last_inbound_at", "last_message_at", "created_at"]
    raw_id_fields = ["assigned_user"]


@admin.register(Message)
class MessageAdmin(WorkspaceScopedAdmin):
    list_display = ["timestamp", "direction", "message_type", "sender", "status", "error_code", "contact", "channel"]
    list_filter = ["direction", "status", "message_type", "sender", "error_code"]
    list_select_related = ["contact", "channel"]
    search_fields = ["wamid", "contact__profile_name", "contact__wa_id"]
    date_hierarchy = "timestamp"
    # The ledger of what was said: read-only here; staff reply from the inbox.
    readonly_fields = [f.name for f in Message._meta.fields]
    actions = ["resend"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_resend_permission(self, request) -> bool:
        return self._allowed(request, None, "reply")

    @admin.action(description="Resend the selected failed messages (a new queued copy each)", permissions=["resend"])
    def resend(self, request, queryset):
        if not request.user.is_superuser:
            queryset = queryset.filter(workspace_id__in=self._workspace_ids(request, "reply"))
        resent, refused = 0, []
        for message in queryset.select_related("contact", "conversation").order_by("pk"):
            try:
                message_resend(message=message, user=request.user)
            except PlatformError as exc:
                refused.append(f"the message to {message.contact}: {exc.message}")
            else:
                resent += 1
        if resent:
            self.message_user(request, f"{resent} message(s) queued again.")
        for reason in refused[:10]:
            self.message_user(request, f"Not resent: {reason}", level=messages.WARNING)


@admin.register(StatusReceipt)
class StatusReceiptAdmin(WorkspaceScopedAdmin):
    """Every status webhook per message, as received: read-only."""

    workspace_lookup = "channel__workspace_id"
    list_display = ["timestamp", "wamid", "status", "channel", "message", "received_at"]
    list_filter = ["status"]
    list_select_related = ["channel", "message"]
    search_fields = ["wamid"]
    fields = ["channel", "wamid", "status", "timestamp", "message", "errors_pretty", "pricing_pretty", "received_at"]
    readonly_fields = fields

    @admin.display(description="Errors")
    def errors_pretty(self, obj) -> str:
        return json_block(obj.errors)

    @admin.display(description="Pricing")
    def pricing_pretty(self, obj) -> str:
        return json_block(obj.pricing)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(MediaUpload)
class MediaUploadAdmin(WorkspaceScopedAdmin):
    workspace_lookup = "channel__workspace_id"
    list_display = ["uploaded_at", "channel", "media_id", "mime_type", "size"]
    list_select_related = ["channel"]
    search_fields = ["media_id", "sha256"]
    readonly_fields = ["channel", "sha256", "media_id", "mime_type", "size", "uploaded_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(WorkspaceScopedAdmin):
    """API sends' Idempotency-Keys (kept 24 hours): which key gave which message. Read-only."""

    list_display = ["created_at", "key", "workspace", "message"]
    list_select_related = ["workspace", "message"]
    search_fields = ["key"]
    readonly_fields = ["workspace", "key", "fingerprint", "message", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ConversationRating)
class ConversationRatingAdmin(WorkspaceScopedAdmin):
    list_display = ["asked_at", "conversation", "score", "answered_at"]
    list_filter = ["score"]
    list_select_related = ["conversation__contact"]
    readonly_fields = ["workspace", "conversation", "question", "score", "comment", "asked_at", "answered_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class BusinessHoursRangeInline(admin.TabularInline):
    model = BusinessHoursRange
    extra = 0


class ClosedDateInline(admin.TabularInline):
    model = ClosedDate
    extra = 0


@admin.register(BusinessHours)
class BusinessHoursAdmin(WorkspaceScopedAdmin):
    """To look at: hours are edited on the channel's Business hours page (or the API), which validates the whole
    week; a bad time zone written here would stop the inbound pipeline."""

    workspace_lookup = "channel__workspace_id"
    list_display = ["channel", "enabled", "timezone", "mode", "updated_at"]
    list_filter = ["enabled", "mode"]
    search_fields = ["channel__name"]
    readonly_fields = ["channel", "created_at", "updated_at"]
    inlines = [BusinessHoursRangeInline, ClosedDateInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
