"""Writes for channels, by topic. Import from here."""

from channels_app.services.channels import (
    channel_account_update_apply,
    channel_flag_needs_reconnection,
    channel_phone_quality_apply,
    graph_client_for_channel,
)
from channels_app.services.onboarding import (
    ChannelSetupFailed,
    SignupResult,
    channel_connect_manual,
    channel_create,
    channel_deactivate,
    channel_embedded_signup_complete,
    channel_signup_cancelled,
    channel_update,
    channel_webhook_seen,
    embedded_signup_uses_emulator,
)
from channels_app.services.templates import template_event_apply
from channels_app.services.webhook_ledger import (
    WebhookRejectionsThrottled,
    webhook_event_finish,
    webhook_event_receive,
    webhook_rejection_record,
)

__all__ = [
    "ChannelSetupFailed",
    "SignupResult",
    "channel_connect_manual",
    "channel_create",
    "channel_deactivate",
    "channel_embedded_signup_complete",
    "channel_signup_cancelled",
    "channel_update",
    "channel_webhook_seen",
    "embedded_signup_uses_emulator",
    "channel_account_update_apply",
    "channel_flag_needs_reconnection",
    "channel_phone_quality_apply",
    "graph_client_for_channel",
    "template_event_apply",
    "webhook_event_finish",
    "webhook_event_receive",
    "webhook_rejection_record",
    "WebhookRejectionsThrottled",
]
