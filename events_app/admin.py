from django.contrib import admin

from events_app.models import Delivery, DeliveryAttempt, Event, WebhookSubscription
from workspaces_app.admin_scoping import AuditedAdmin

# Superusers only (Django's model permissions, which no workspace member is given); audited all the same.


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(AuditedAdmin):
    list_display = ["url", "workspace", "enabled", "failing_since", "created_at"]
    list_filter = ["enabled"]
    search_fields = ["url", "workspace__slug"]
    # Secrets never show in the admin.
    exclude = ["secret", "previous_secret"]
    readonly_fields = ["public_id", "disabled_at", "failing_since", "previous_secret_expires_at"]


@admin.register(Event)
class EventAdmin(AuditedAdmin):
    list_display = ["public_id", "type", "workspace", "created_at"]
    list_filter = ["type"]
    search_fields = ["public_id"]


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["attempted_at", "status_code", "response_ms", "error", "response_excerpt", "succeeded"]


@admin.register(Delivery)
class DeliveryAdmin(AuditedAdmin):
    list_display = ["public_id", "subscription", "state", "attempt_count", "last_status_code", "next_attempt_at"]
    list_filter = ["state"]
    search_fields = ["public_id", "event__public_id"]
    raw_id_fields = ["event", "subscription"]
    inlines = [DeliveryAttemptInline]
