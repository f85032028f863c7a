"""A workspace's webhook subscriptions: create, change, rotate the secret, delete, resend a delivery."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit_app.services import audit_diff, audit_record, audit_snapshot
from events_app import signing
from events_app.models import EVENT_TYPE_NAMES, Delivery, WebhookSubscription
from whatsapp_platform import outbound_http
from whatsapp_platform.errors import Conflict, InvalidInput
from whatsapp_platform.task_queue import task_enqueue

logger = logging.getLogger(__name__)

MAX_SUBSCRIPTIONS_PER_WORKSPACE = 20
MAX_OVERLAP_HOURS = 7 * 24
SUBSCRIPTION_FIELDS = ("url", "description", "event_types", "enabled")


def subscription_url_check(url: str) -> str:
    """The URL stripped, or InvalidInput when it is not http(s) or its host resolves to a non-public address."""
    url = (url or "").strip()
    if not url:
        raise InvalidInput("Enter the URL events should be sent to.", field="url")
    if len(url) > 2000:
        raise InvalidInput("The URL is longer than 2000 characters.", field="url")
    try:
        outbound_http.url_check(url, allowed_hosts=settings.EVENT_WEBHOOK_ALLOWED_HOSTS)
    except outbound_http.OutboundRefused as exc:
        message = str(exc)
        if message.startswith("refused:"):
            message = (
                f"{message[len('refused: ') :]}; webhooks go to public addresses only "
                "(an operator can allow a host with EVENT_WEBHOOK_ALLOWED_HOSTS)."
            )
        raise InvalidInput(message, field="url") from None
    except outbound_http.HostUnresolved as exc:
        raise InvalidInput(f"{exc} Check the URL's spelling.", field="url") from None
    return url


def _event_types_check(event_types) -> list[str]:
    if not isinstance(event_types, list | tuple) or not event_types:
        raise InvalidInput("Choose at least one event.", field="event_types")
    unknown = sorted({str(name) for name in event_types} - EVENT_TYPE_NAMES)
    if unknown:
        raise InvalidInput(f"Unknown event type(s): {', '.join(unknown)}.", field="event_types")
    return sorted(set(event_types))


def subscription_create(
    *, workspace, url: str, event_types: list[str], description: str = "", created_by=None
) -> tuple[WebhookSubscription, str]:
    """A new, enabled subscription and its signing secret (shown to the user this once)."""
    url = subscription_url_check(url)
    event_types = _event_types_check(event_types)
    if WebhookSubscription.objects.filter(workspace=workspace).count() >= MAX_SUBSCRIPTIONS_PER_WORKSPACE:
        raise Conflict(f"A workspace can have at most {MAX_SUBSCRIPTIONS_PER_WORKSPACE} webhook subscriptions.")
    secret = signing.secret_generate()
    subscription = WebhookSubscription.objects.create(
        workspace=workspace,
        url=url,
        event_types=event_types,
        description=(description or "").strip()[:200],
        secret=secret,
        created_by=created_by if getattr(created_by, "is_authenticated", False) else None,
    )
    logger.info("webhook subscription created", extra={"subscription_id": subscription.pk})
    audit_record(action="webhook.created", target=subscription, changes=audit_diff({}, subscription))
    return subscription, secret


def subscription_update(*, subscription: WebhookSubscription, values: dict) -> WebhookSubscription:
    """Change the URL, description, events or enabled flag. Enabling again forgets why it was disabled."""
    before = audit_snapshot(subscription)
    fields = []
    if "url" in values:
        subscription.url = subscription_url_check(values["url"])
        fields.append("url")
    if "description" in values:
        subscription.description = (values["description"] or "").strip()[:200]
        fields.append("description")
    if "event_types" in values:
        subscription.event_types = _event_types_check(values["event_types"])
        fields.append("event_types")
    if "enabled" in values and bool(values["enabled"]) != subscription.enabled:
        subscription.enabled = bool(values["enabled"])
        if subscription.enabled:
            subscription.disabled_reason, subscription.disabled_at, subscription.failing_since = "", None, None
        else:
            subscription.disabled_reason, subscription.disabled_at = "Disabled by a teammate.", timezone.now()
        fields += ["enabled", "disabled_reason", "disabled_at", "failing_since"]
    if fields:
        subscription.save(update_fields=[*fields, "updated_at"])
    if changes := audit_diff(before, subscription):
        audit_record(action="webhook.updated", target=subscription, changes=changes)
    return subscription


def subscription_secret_rotate(*, subscription: WebhookSubscription, overlap_hours: int | None = None) -> str:
    """A new secret; the current one keeps signing beside it for `overlap_hours` (the setting by default)."""
    hours = settings.EVENT_WEBHOOK_SECRET_OVERLAP_HOURS if overlap_hours is None else overlap_hours
    if not 0 <= hours <= MAX_OVERLAP_HOURS:
        raise InvalidInput(f"The overlap must be between 0 and {MAX_OVERLAP_HOURS} hours.", field="overlap_hours")
    secret = signing.secret_generate()
    with transaction.atomic():
        locked = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
        locked.previous_secret = locked.secret if hours else ""
        locked.previous_secret_expires_at = timezone.now() + timedelta(hours=hours) if hours else None
        locked.secret = secret
        locked.save(update_fields=["previous_secret", "previous_secret_expires_at", "secret", "updated_at"])
        audit_record(
            action="webhook.secret_rotated",
            target=locked,
            changes={"secret": ["rotated", "rotated"], "overlap_hours": [None, hours]},
        )
    subscription.refresh_from_db()
    logger.info("webhook secret rotated", extra={"subscription_id": subscription.pk, "overlap_hours": hours})
    return secret


def subscription_delete(*, subscription: WebhookSubscription) -> None:
    subscription.delete()  # its deliveries and their attempts go with it
    audit_record(action="webhook.deleted", target=subscription)


def delivery_resend(*, delivery: Delivery) -> Delivery:
    """Send the delivery again now, with the same webhook-id, starting a fresh retry schedule."""
    if not delivery.subscription.enabled:
        raise Conflict("Enable the subscription before resending its events.")
    now = timezone.now()
    updated = (
        Delivery.objects.filter(pk=delivery.pk)
        .exclude(state=Delivery.State.SENDING)
        .update(state=Delivery.State.PENDING, attempt_count=0, next_attempt_at=now, last_error="", updated_at=now)
    )
    if not updated:
        raise Conflict("This delivery is being sent right now.")
    delivery_id = delivery.pk
    transaction.on_commit(lambda: task_enqueue("events.delivery_attempt", delivery_id))
    delivery.refresh_from_db()
    return delivery
