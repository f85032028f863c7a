"""Turning a stored webhook POST into contacts, messages, statuses and channel updates."""

import json
import logging
import time
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from channels_app.models import Channel, WebhookEvent
from channels_app.selectors import channel_for_phone_number_id_cached, channels_for_waba
from channels_app.services import (
    channel_account_update_apply,
    channel_phone_quality_apply,
    channel_webhook_seen,
    template_event_apply,
    webhook_event_finish,
)
from channels_app.whatsapp import webhooks as wire
from messaging_app.services.inbound import inbound_message_record
from messaging_app.services.statuses import status_update_apply

logger = logging.getLogger(__name__)

_TEMPLATE_FIELDS = {"message_template_status_update", "template_category_update", "message_template_quality_update"}


DRAIN_SCHEDULED_KEY = "webhook-events:drain-scheduled"
# Seconds the "a drain is on its way" flag lives if the drain task itself is lost (the sweeper
# catches anything older anyway).
DRAIN_FLAG_SECONDS = 30
DRAIN_BATCH = 200


def webhook_events_drain_schedule() -> None:
    """Make sure a drain runs after the event just stored. Called on every webhook, so it is cheap:
    one SET NX in Redis. While a drain is scheduled but not started, it will see this event too."""
    from messaging_app import tasks  # tasks import services

    if settings.CELERY_TASK_ALWAYS_EAGER:
        tasks.webhook_events_drain.delay()
        return
    if cache.add(DRAIN_SCHEDULED_KEY, "1", timeout=DRAIN_FLAG_SECONDS):
        tasks.webhook_events_drain.delay()


def webhook_events_drain(*, time_budget_seconds: float = 30.0) -> int:
    """Process pending webhook events in batches until none is left (or the budget is spent): those carrying
    customer messages first, oldest first, then the rest (statuses, account events) oldest first. Under
    load customers are answered while their statuses wait; before each batch of the rest, the customer
    messages that arrived meanwhile go first."""
    cache.delete(DRAIN_SCHEDULED_KEY)  # from now on a new event schedules a new drain, or is seen below
    deadline = time.monotonic() + time_budget_seconds
    pending = WebhookEvent.objects.filter(state=WebhookEvent.State.PENDING).order_by("pk")
    # Cursors step past events another drain holds locked (skipped) or that stay pending.
    processed, messages_cursor, cursor = 0, 0, 0
    while time.monotonic() < deadline:
        batch = list(
            pending.filter(customer_messages=True, pk__gt=messages_cursor).values_list("pk", flat=True)[:DRAIN_BATCH]
        )
        if batch:
            messages_cursor = batch[-1]
        else:
            batch = list(pending.filter(pk__gt=cursor).values_list("pk", flat=True)[:DRAIN_BATCH])
            if not batch:
                return processed
            cursor = batch[-1]
        for event_id in batch:
            if webhook_event_process(event_id=event_id) is not None:
                processed += 1
    webhook_events_drain_schedule()  # budget spent with work left: hand over to a fresh task
    return processed


def webhook_event_process(*, event_id: int) -> WebhookEvent | None:
    """Process one stored webhook. Idempotent: storing is keyed on wamid and (wamid, status).

    Each item is applied in its own savepoint, so one bad item is reported without losing
    the rest of a batch; the event is then marked failed and can be reprocessed.
    """
    with transaction.atomic():
        event = (
            WebhookEvent.objects.select_for_update(skip_locked=True, no_key=True, of=("self",))
            .select_related("channel")
            .filter(pk=event_id, state=WebhookEvent.State.PENDING)
            .first()
        )
        if event is None:
            return None
        event.attempts += 1
        try:
            body = json.loads(bytes(event.body))
        except (ValueError, UnicodeDecodeError) as exc:
            webhook_event_finish(event=event, error=f"The body is not JSON: {exc}")
            return event
        errors: list[str] = []
        kinds: list[str] = []
        seen_channels: set[int] = {event.channel_id} if event.channel_id else set()
        seen_workspaces: set[int] = set()
        for item in wire.webhook_items(body):
            kinds.append(type(item).__name__)
            try:
                with transaction.atomic():
                    channel = _item_apply(event, item)
                    if channel is not None:
                        seen_channels.add(channel.pk)
                        seen_workspaces.add(channel.workspace_id)
            except Exception as exc:  # reported on the event; the other items still count
                logger.exception("webhook item failed", extra={"webhook_event_id": event.pk})
                errors.append(f"{type(item).__name__}: {type(exc).__name__}: {exc}")
        for channel_id in seen_channels:
            channel_webhook_seen(channel_id=channel_id)
        if event.workspace_id is None and len(seen_workspaces) == 1:
            # Received on the platform's shared URL: the workspace whose number it concerned sees it in its log
            # (saved by webhook_event_finish).
            event.workspace_id = seen_workspaces.pop()
        summary = ", ".join(f"{kinds.count(k)} {k}" for k in dict.fromkeys(kinds))
        webhook_event_finish(event=event, error="\n".join(errors), summary=summary)
        return event


def _channel_for(event: WebhookEvent, phone_number_id: str) -> Channel | None:
    if event.channel_id:
        # A channel's own webhook URL: only its own number's events belong here.
        return event.channel if event.channel.phone_number_id in ("", phone_number_id) else None
    return channel_for_phone_number_id_cached(phone_number_id=phone_number_id)


def _item_apply(event: WebhookEvent, item) -> Channel | None:
    """Apply one item; returns the channel it concerned, when it names one."""
    if isinstance(item, wire.InboundMessage | wire.StatusUpdate):
        channel = _channel_for(event, item.phone_number_id)
        if channel is None:
            raise LookupError(f"no channel has phone_number_id {item.phone_number_id}")
        if isinstance(item, wire.InboundMessage):
            inbound_message_record(channel=channel, item=item)
        else:
            status_update_apply(channel=channel, item=item)
            from outreach_app.services import status_failure_observe  # 131050 in a failed status: opt-out

            status_failure_observe(channel=channel, item=item)
        return channel
    if isinstance(item, wire.UserPreference):
        channel = _channel_for(event, item.phone_number_id)
        if channel is not None:
            from outreach_app.services import user_preference_apply  # marketing stop / resume, with when and how

            user_preference_apply(channel=channel, item=item)
        return channel
    if isinstance(item, wire.ValueErrors):
        logger.warning(
            "WhatsApp reported errors", extra={"errors": item.errors, "phone_number_id": item.phone_number_id}
        )
    elif isinstance(item, wire.FieldEvent):
        _field_event_apply(event, item)
    else:
        logger.info("unknown webhook content kept", extra={"webhook_event_id": event.pk})
    return None


def _field_event_apply(event: WebhookEvent, item) -> None:
    channels = [event.channel] if event.channel_id else list(channels_for_waba(waba_id=item.waba_id))
    if item.field in _TEMPLATE_FIELDS:
        for workspace_id in {c.workspace_id for c in channels}:
            template_event_apply(workspace_id=workspace_id, waba_id=item.waba_id, field=item.field, value=item.value)
    elif item.field == "phone_number_quality_update":
        display = "".join(ch for ch in str(item.value.get("display_phone_number", "")) if ch.isdigit())
        for channel in channels:
            if not display or "".join(ch for ch in channel.display_phone_number if ch.isdigit()) == display:
                channel_phone_quality_apply(channel=channel, value=item.value)
    elif item.field == "account_update":
        for channel in channels:
            channel_account_update_apply(channel=channel, value=item.value)
    else:
        logger.info("webhook field kept without a handler", extra={"field": item.field, "webhook_event_id": event.pk})


def webhook_event_reprocess(*, event_id: int) -> WebhookEvent | None:
    """Put a failed event back in line (the console's "reprocess" action)."""
    updated = WebhookEvent.objects.filter(pk=event_id, state=WebhookEvent.State.FAILED).update(
        state=WebhookEvent.State.PENDING, error=""
    )
    if updated:
        transaction.on_commit(webhook_events_drain_schedule)
    return WebhookEvent.objects.filter(pk=event_id).first()


def webhook_events_pending_stale(*, older_than_seconds: int | None = None) -> bool:
    """True when some event has waited longer than it should (its drain hint was lost)."""
    if older_than_seconds is None:
        older_than_seconds = settings.WHATSAPP_WEBHOOK_EVENTS_STALE_SECONDS
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    return WebhookEvent.objects.filter(state=WebhookEvent.State.PENDING, received_at__lte=cutoff).exists()
