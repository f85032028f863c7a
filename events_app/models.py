"""Outbound event webhooks: a workspace's subscriptions, the events that happened, and their deliveries.

An `Event` and its `Delivery` rows are written in the transaction of the change that caused
them; a delivery is then attempted by a task and, when that task is lost or an attempt is due
again, by the sweeper. Every attempt is kept as a `DeliveryAttempt`.
"""

import uuid

from django.conf import settings
from django.db import models

from whatsapp_platform.encryption import EncryptedTextField

EVENT_TYPES = (
    ("message.received", "A customer's message arrived"),
    ("message.sent", "WhatsApp accepted a message we sent"),
    ("message.status_updated", "A sent message was delivered, read or failed"),
    ("conversation.created", "A new conversation started"),
    ("conversation.handoff", "A conversation was handed to humans"),
    ("conversation.closed", "A conversation was closed"),
    ("template.status_updated", "Meta approved, rejected, paused or disabled a template"),
    ("channel.needs_attention", "A channel needs reconnection or attention"),
    ("csat.received", "A customer rated a conversation"),
)
EVENT_TYPE_NAMES = frozenset(name for name, _label in EVENT_TYPES)


def _event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


def _message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


class WebhookSubscription(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    workspace = models.ForeignKey(
        "workspaces_app.Workspace", on_delete=models.CASCADE, related_name="webhook_subscriptions"
    )
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    event_types = models.JSONField(default=list)  # names from EVENT_TYPES
    secret = EncryptedTextField()  # "whsec_<base64>"
    # While a rotation overlaps, deliveries are signed with both secrets.
    previous_secret = EncryptedTextField(blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.TextField(blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    # The first failed attempt since the last success; cleared by any success.
    failing_since = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["workspace", "enabled"], name="events_sub_workspace_enabled")]

    def __str__(self) -> str:
        return self.url


class Event(models.Model):
    public_id = models.CharField(max_length=40, unique=True, default=_event_id, editable=False)
    workspace = models.ForeignKey("workspaces_app.Workspace", on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=40, choices=EVENT_TYPES)
    payload = models.JSONField(default=dict)  # the envelope's "data"
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "created_at"], name="events_event_workspace_created")]

    def __str__(self) -> str:
        return f"{self.type} {self.public_id}"


class Delivery(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    # The `webhook-id` header: the same on every attempt, so a receiver can drop duplicates.
    public_id = models.CharField(max_length=40, unique=True, default=_message_id, editable=False)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempt_count = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["event", "subscription"], name="events_delivery_once")]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="events_delivery_due"),
            models.Index(fields=["subscription", "-created_at"], name="events_delivery_log"),
        ]

    def __str__(self) -> str:
        return self.public_id


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    attempted_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_ms = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)
    succeeded = models.BooleanField(default=False)

    class Meta:
        ordering = ["attempted_at", "pk"]

    def __str__(self) -> str:
        return f"{self.delivery_id} @ {self.attempted_at:%Y-%m-%d %H:%M:%S}"
