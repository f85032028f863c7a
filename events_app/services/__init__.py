"""Outbound event webhooks. Hook points elsewhere import the emitters from here, lazily."""

from events_app.services.delivery import (
    deliveries_sweep,
    delivery_attempt,
    subscription_disabled_notify,
    subscription_secrets,
)
from events_app.services.emit import (
    channel_attention_emit,
    conversation_event_emit,
    csat_event_emit,
    event_emit,
    event_envelope,
    message_event_emit,
    message_status_emit,
    template_status_emit,
)
from events_app.services.subscriptions import (
    delivery_resend,
    subscription_create,
    subscription_delete,
    subscription_secret_rotate,
    subscription_update,
    subscription_url_check,
)

__all__ = [
    "channel_attention_emit",
    "conversation_event_emit",
    "csat_event_emit",
    "deliveries_sweep",
    "delivery_attempt",
    "delivery_resend",
    "event_emit",
    "event_envelope",
    "message_event_emit",
    "message_status_emit",
    "subscription_create",
    "subscription_delete",
    "subscription_disabled_notify",
    "subscription_secret_rotate",
    "subscription_secrets",
    "subscription_update",
    "subscription_url_check",
    "template_status_emit",
]
