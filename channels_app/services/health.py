"""Channel health: a periodic look at each connected number, flagging what staff must fix."""

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from channels_app.models import Channel
from channels_app.services.channels import channel_flag_needs_reconnection, graph_client_for_channel
from channels_app.whatsapp import errors as graph_errors
from events_app.services import channel_attention_emit

logger = logging.getLogger(__name__)

TOKEN_WARNING_DAYS = 7
QUIET_WEBHOOKS_HOURS = 24


def channel_health_check(*, channel_id: int) -> Channel | None:
    """Check one active channel; store what needs attention (or clear it) and when it was checked."""
    channel = Channel.objects.whatsapp().filter(pk=channel_id, status=Channel.Status.ACTIVE).first()
    if channel is None:
        return None
    now = timezone.now()
    problems: list[str] = []
    if channel.token_expires_at is not None:
        if channel.token_expires_at <= now:
            channel_flag_needs_reconnection(
                channel_id=channel.pk, reason="The access token expired. Reconnect with Login with Facebook."
            )
            return Channel.objects.get(pk=channel.pk)
        if channel.token_expires_at <= now + timedelta(days=TOKEN_WARNING_DAYS):
            problems.append(
                f"The access token expires on {channel.token_expires_at:%Y-%m-%d}; reconnect before then to renew it."
            )

    graph = graph_client_for_channel(channel)
    try:
        phone = graph.phone_number_get(channel.phone_number_id, fields=["status", "quality_rating", "name_status"])
    except graph_errors.GraphError as exc:
        if exc.kind == graph_errors.AUTH:
            channel_flag_needs_reconnection(
                channel_id=channel.pk,
                reason=f"WhatsApp refused the access token ({exc.plain_reason or exc}). Reconnect.",
            )
            return Channel.objects.get(pk=channel.pk)
        logger.warning(
            "channel health check could not reach Graph", extra={"channel_id": channel.pk, "error": str(exc)}
        )
        problems.append(f"The last health check could not reach WhatsApp ({exc.plain_reason or exc}).")
        phone = {}
    quality = str(phone.get("quality_rating") or channel.quality_rating)
    phone_status = str(phone.get("status") or channel.phone_status)
    if quality.upper() == "RED":
        problems.append("Quality rating is RED: customers are blocking or reporting messages. Review what is sent.")
    if phone_status and phone_status.upper() not in ("CONNECTED", ""):
        problems.append(f"Meta reports the number as {phone_status}.")

    if channel.connection == Channel.Connection.EMBEDDED_SIGNUP and channel.waba_id:
        try:
            apps = graph.subscribed_apps_list(channel.waba_id)
        except graph_errors.GraphError as exc:
            apps = None
            logger.warning("subscription check failed", extra={"channel_id": channel.pk, "error": str(exc)})
        if apps is not None and not any(_app_id(a) == settings.META_APP_ID for a in apps):
            problems.append("The app is no longer subscribed to this account's webhooks. Reconnect the channel.")

    recent_sends = channel.messages.filter(direction="out", created_at__gte=now - timedelta(hours=QUIET_WEBHOOKS_HOURS))
    quiet_since = now - timedelta(hours=QUIET_WEBHOOKS_HOURS)
    if recent_sends.exists() and (channel.last_webhook_at is None or channel.last_webhook_at < quiet_since):
        problems.append(
            "Messages were sent but no webhook arrived in the last 24 hours: "
            "check the callback URL in Meta's dashboard."
        )
    Channel.objects.filter(pk=channel.pk).update(
        attention_reason=" ".join(problems),
        health_checked_at=now,
        quality_rating=quality[:16],
        phone_status=phone_status[:32],
    )

    channel_attention_emit(channel_id=channel.pk, reason=" ".join(problems), previous_reason=channel.attention_reason)
    return Channel.objects.get(pk=channel.pk)


def _app_id(entry: dict) -> str:
    data = entry.get("whatsapp_business_api_data") or entry
    return str(data.get("id") or data.get("app_id") or "")


def channels_due_for_health_check() -> list[int]:
    return list(Channel.objects.whatsapp().filter(status=Channel.Status.ACTIVE).values_list("pk", flat=True))
