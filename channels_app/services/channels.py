"""Writes for channels: Graph access per channel and the health flags Meta's events raise."""

import logging

from django.conf import settings
from django.utils import timezone

from channels_app.models import Channel
from channels_app.whatsapp.client import GraphClient, graph_client_for
from channels_app.whatsapp.console_transport import ConsoleTransport
from events_app.services import channel_attention_emit

logger = logging.getLogger(__name__)


def graph_client(*, base_url: str, access_token: str) -> GraphClient:
    """A Graph client with the platform's version and timeouts."""
    return graph_client_for(
        base_url=base_url,
        version=settings.GRAPH_API_VERSION,
        access_token=access_token,
        connect_timeout=settings.GRAPH_CONNECT_TIMEOUT,
        read_timeout=settings.GRAPH_READ_TIMEOUT,
        total_timeout=settings.GRAPH_TOTAL_TIMEOUT,
        media_total_timeout=settings.GRAPH_MEDIA_TOTAL_TIMEOUT,
    )


def graph_client_for_channel(channel: Channel) -> GraphClient | ConsoleTransport:
    """The Graph client for a channel: Meta for real numbers, the local emulator for sandbox ones,
    and the browser for an agent's test console."""
    if channel.provider == Channel.Provider.TEST_CONSOLE:
        return ConsoleTransport()
    sandbox = channel.provider == Channel.Provider.SANDBOX
    base_url = settings.WHATSAPP_EMULATOR_GRAPH_URL if sandbox else settings.GRAPH_API_BASE_URL
    return graph_client(base_url=base_url, access_token=channel.access_token)


def channel_flag_needs_reconnection(*, channel_id: int, reason: str) -> None:
    updated = (
        Channel.objects.filter(pk=channel_id)
        .exclude(status=Channel.Status.DISABLED)
        .update(status=Channel.Status.NEEDS_RECONNECTION, status_reason=reason[:2000], updated_at=timezone.now())
    )
    if updated:
        logger.warning("channel needs reconnection", extra={"channel_id": channel_id, "reason": reason})

        channel_attention_emit(channel_id=channel_id, reason=reason[:2000])


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
