"""Writes for channels: Graph access per channel, health flags, and the webhook ledger."""

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from channels_app.models import Channel, MessageTemplate, WebhookEvent
from channels_app.whatsapp.client import GraphClient, graph_client_for

logger = logging.getLogger(__name__)

# Headers worth keeping with a stored webhook; the rest is noise (or secret).
_KEPT_HEADERS = ("Content-Type", "Content-Length", "User-Agent", "X-Hub-Signature-256", "X-Request-ID")


def graph_client_for_channel(channel: Channel) -> GraphClient:
    """The Graph client for a channel: Meta for real numbers, the local emulator for sandbox ones."""
    base_url = (
        settings.WHATSAPP_EMULATOR_GRAPH_URL
        if channel.provider == Channel.Provider.SANDBOX
        else settings.GRAPH_API_BASE_URL
    )
    return graph_client_for(
        base_url=base_url,
        version=settings.GRAPH_API_VERSION,
        access_token=channel.access_token,
        connect_timeout=settings.GRAPH_CONNECT_TIMEOUT,
        read_timeout=settings.GRAPH_READ_TIMEOUT,
    )


def channel_flag_needs_reconnection(*, channel_id: int, reason: str) -> None:
    updated = (
        Channel.objects.filter(pk=channel_id)
        .exclude(status=Channel.Status.DISABLED)
        .update(status=Channel.Status.NEEDS_RECONNECTION, status_reason=reason[:2000], updated_at=timezone.now())
    )
    if updated:
        logger.warning("channel needs reconnection", extra={"channel_id": channel_id, "reason": reason})


def webhook_event_receive(
    *, raw_body: bytes, headers: dict, signature_valid: bool, channel: Channel | None
) -> WebhookEvent:
    """Store a webhook POST as received. Processing happens later, in a task."""
    kept = {name: headers[name] for name in _KEPT_HEADERS if name in headers}
    return WebhookEvent.objects.create(
        workspace_id=channel.workspace_id if channel else None,
        channel=channel,
        body=raw_body,
        headers=kept,
        signature_valid=signature_valid,
        state=WebhookEvent.State.PENDING if signature_valid else WebhookEvent.State.REJECTED,
        error="" if signature_valid else "X-Hub-Signature-256 missing or wrong; nothing was processed.",
    )


def webhook_event_finish(*, event: WebhookEvent, error: str = "", summary: str = "") -> None:
    event.state = WebhookEvent.State.FAILED if error else WebhookEvent.State.PROCESSED
    event.error = error[:10000]
    event.summary = summary[:200]
    event.processed_at = timezone.now()
    event.save(update_fields=["state", "error", "summary", "processed_at"])


def channel_phone_quality_apply(*, channel: Channel, value: dict) -> None:
    limit = value.get("max_daily_conversations_per_business") or value.get("current_limit") or ""
    fields = {"messaging_limit": str(limit)[:32]} if limit else {}
    if fields:
        Channel.objects.filter(pk=channel.pk).update(**fields)


_ACCOUNT_EVENTS_NEEDING_RECONNECTION = {
    "PARTNER_APP_UNINSTALLED",
    "PARTNER_REMOVED",
    "ACCOUNT_DELETED",
    "ACCOUNT_OFFBOARDED",
}
_ACCOUNT_EVENTS_NEEDING_ATTENTION = {"ACCOUNT_RESTRICTION", "ACCOUNT_VIOLATION", "DISABLED_UPDATE"}


def channel_account_update_apply(*, channel: Channel, value: dict) -> None:
    event = str(value.get("event", ""))
    if event in _ACCOUNT_EVENTS_NEEDING_RECONNECTION:
        channel_flag_needs_reconnection(
            channel_id=channel.pk, reason=f"Meta reported {event} for this WhatsApp Business Account; reconnect it."
        )
    elif event in _ACCOUNT_EVENTS_NEEDING_ATTENTION:
        detail = value.get("restriction_info") or value.get("violation_info") or value.get("ban_info") or ""
        Channel.objects.filter(pk=channel.pk).update(status_reason=f"Meta reported {event}: {detail}"[:2000])
        logger.warning("channel account event", extra={"channel_id": channel.pk, "event": event})
    elif event == "ACCOUNT_RECONNECTED":
        Channel.objects.filter(pk=channel.pk, status=Channel.Status.NEEDS_RECONNECTION).update(
            status=Channel.Status.ACTIVE, status_reason=""
        )


@transaction.atomic
def template_event_apply(*, workspace_id: int, waba_id: str, field: str, value: dict) -> MessageTemplate | None:
    """Apply a template status, category or quality webhook to the stored template."""
    meta_id = str(value.get("message_template_id") or "")
    name = value.get("message_template_name") or ""
    language = value.get("message_template_language") or ""
    template = (
        MessageTemplate.objects.select_for_update().filter(waba_id=waba_id, meta_id=meta_id).first()
        if meta_id
        else None
    )
    if template is None and name and language:
        template, _ = MessageTemplate.objects.select_for_update().get_or_create(
            waba_id=waba_id, name=name, language=language, defaults={"workspace_id": workspace_id, "meta_id": meta_id}
        )
    if template is None:
        return None
    if field == "message_template_status_update":
        template.status = str(value.get("event") or template.status)
        rejection = value.get("rejection_info") or {}
        template.rejection_reason = rejection.get("reason") or (value.get("reason") or "")
        template.recommendation = rejection.get("recommendation") or ""
        if value.get("message_template_category"):
            template.category = value["message_template_category"]
    elif field == "template_category_update":
        if "previous_category" in value:  # completed change; the impending notice only warns
            template.category = value.get("new_category") or template.category
    elif field == "message_template_quality_update":
        template.quality = value.get("new_quality_score") or template.quality
    template.meta_id = template.meta_id or meta_id
    template.save()
    return template
