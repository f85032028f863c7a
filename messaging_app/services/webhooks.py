"""Turning a stored webhook POST into contacts, messages, statuses and channel updates."""

import json
import logging
import time
from datetime import datetime, timedelta

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
from channels_app.services.webhook_ledger import webhook_events_claim, webhook_events_claimable, webhook_events_finish
from channels_app.whatsapp import webhooks as wire
from messaging_app.services.consent import status_failure_observe, user_preference_apply
from messaging_app.services.inbound import inbound_message_record
from messaging_app.services.statuses import status_updates_apply
from whatsapp_platform.task_queue import task_enqueue

logger = logging.getLogger(__name__)

_TEMPLATE_FIELDS = {"message_template_status_update", "template_category_update", "message_template_quality_update"}


DRAIN_SCHEDULED_KEY = "webhook-events:drain-scheduled"
# One key per running drain, WHATSAPP_WEBHOOK_DRAINS of them at most; each lives as long as a claim, so a
# drain whose worker died frees its slot by itself.
DRAIN_SLOT_KEY = "webhook-events:drain-slot:{}"
# Seconds the "a drain is on its way" flag lives if the drain task itself is lost (the sweeper
# catches anything older anyway).
DRAIN_FLAG_SECONDS = 30
# Events claimed at a time. Customer messages are processed one by one (each may start an agent turn), so
# they are claimed a few at a time and spread over the drains; statuses are folded a whole batch at once. Not
# fewer: a burst from one customer claimed by one drain is stored in the order it arrived (3 at a time let a
# sibling store a burst's middle first, and the reliability suite caught it), and 3 measured no faster.
MESSAGES_BATCH = 10
DRAIN_BATCH = 200


def webhook_events_drain_schedule() -> None:
    """Make sure a drain runs after the event just stored. Called on every webhook, so it is cheap:
    one SET NX in Redis. While a drain is scheduled but not started, it will see this event too."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        task_enqueue("messaging.webhook_events_drain")
        return
    if cache.add(DRAIN_SCHEDULED_KEY, "1", timeout=DRAIN_FLAG_SECONDS):
        task_enqueue("messaging.webhook_events_drain")


def webhook_events_drain(*, time_budget_seconds: float = 30.0) -> int:
    """Process pending webhook events in claimed batches until none is left (or the budget is spent).

    Several drains run at once, in any worker process (up to WHATSAPP_WEBHOOK_DRAINS), each claiming its
    own batches: events carrying customer messages first, oldest first, then the rest (statuses, account
    events) oldest first, so under load customers are answered while their statuses wait. A drain that
    claims a full batch asks for a sibling; a drain that finds every slot taken stops at once, as the
    running ones see its events. Returns how many events this drain processed.
    """
    slot = _drain_slot_take()
    if slot is None:
        # The flag stays set, so intake does not keep sending drains that would stop here too; it is cleared
        # by a drain that starts or stops.
        return 0
    cache.delete(DRAIN_SCHEDULED_KEY)  # from now on a new event schedules a new drain, or is seen below
    deadline = time.monotonic() + time_budget_seconds
    processed = 0
    try:
        while True:
            if time.monotonic() >= deadline:
                webhook_events_drain_schedule()  # budget spent with work left: hand over to a fresh task
                return processed
            cache.touch(slot, settings.WHATSAPP_WEBHOOK_CLAIM_SECONDS)
            batch = webhook_events_claim(
                limit=MESSAGES_BATCH, lease_seconds=settings.WHATSAPP_WEBHOOK_CLAIM_SECONDS, customer_messages=True
            )
            if batch:
                if len(batch) == MESSAGES_BATCH:
                    _sibling_hint()
                processed += sum(webhook_event_process(event_id=pk) is not None for pk in batch)
                continue
            done = _batch_process()
            if done is None:
                break
            processed += done
    finally:
        # If this slot lapsed and another drain took it, that drain loses it here: one drain too many for
        # a while, which costs nothing (claims keep drains apart).
        cache.delete(slot)
    # Stopping. A drain that found every slot taken a moment ago, by drains about to stop like this one,
    # left its event to them: clear the flag, then look once more. An event stored before the flag was
    # cleared is seen here; one stored after it schedules a drain of its own.
    cache.delete(DRAIN_SCHEDULED_KEY)
    if webhook_events_claimable():
        webhook_events_drain_schedule()
    return processed


def _drain_slot_take() -> str | None:
    for n in range(settings.WHATSAPP_WEBHOOK_DRAINS):
        key = DRAIN_SLOT_KEY.format(n)
        if cache.add(key, "1", timeout=settings.WHATSAPP_WEBHOOK_CLAIM_SECONDS):
            return key
    return None


def _sibling_hint() -> None:
    """A full batch means a backlog: a sibling drain takes the next batch meanwhile."""
    if not settings.CELERY_TASK_ALWAYS_EAGER:  # in-process, this one drain runs until nothing is left anyway
        webhook_events_drain_schedule()


def _batch_process() -> int | None:
    """Take the next batch of pending events other than customer messages and process it: status-only events
    folded together in the transaction that locked them (the row locks are the claim), the others one at a
    time after it. How many were processed here; None when nothing was left to take."""
    taken: list[int] = []
    try:
        with transaction.atomic():
            events = list(
                WebhookEvent.objects.select_for_update(skip_locked=True, no_key=True, of=("self",))
                .select_related("channel")
                .filter(state=WebhookEvent.State.PENDING, customer_messages=False)
                .exclude(claimed_until__gte=timezone.now())
                .order_by("pk")[:DRAIN_BATCH]
            )
            if not events:
                return None
            taken = [event.pk for event in events]
            if len(events) == DRAIN_BATCH:
                _sibling_hint()
            processed, rest = _status_events_fold(events)
            if rest:  # ours to process one at a time, right after this commits
                lease = timedelta(seconds=settings.WHATSAPP_WEBHOOK_CLAIM_SECONDS)
                WebhookEvent.objects.filter(pk__in=rest).update(claimed_until=timezone.now() + lease)
    except Exception:
        if not taken:
            raise  # nothing was taken (the database is down, say): the drain stops, the sweeper comes back
        # One bad status spoils the batch: each event on its own reports what failed.
        logger.exception("status batch failed; processing its events one at a time", extra={"events": len(taken)})
        processed, rest = 0, taken
    for event_id in rest:
        if webhook_event_process(event_id=event_id) is not None:
            processed += 1
    return processed


def _status_events_fold(events: list[WebhookEvent]) -> tuple[int, list[int]]:
    """Fold the events that carry only statuses, all in one go (a constant number of statements); how many,
    and the ids of the others, to process one at a time. Call in a transaction holding the events' locks."""
    folded: list[tuple[WebhookEvent, list[tuple[Channel, wire.StatusUpdate]], datetime]] = []
    for event in events:
        updates = _status_updates_of(event)
        if updates is not None:
            # The event's own moment, when its turn in the batch came: the log sorts events by it.
            folded.append((event, updates, timezone.now()))
    taken = {event.pk for event, _, _ in folded}
    rest = [event.pk for event in events if event.pk not in taken]
    if not folded:
        return 0, rest

    updates = [update for _, event_updates, _ in folded for update in event_updates]
    status_updates_apply(updates=updates)
    _status_failures_observe(updates)
    seen_channels = {event.channel_id for event, _, _ in folded if event.channel_id}
    seen_channels.update(channel.pk for channel, _ in updates)
    for channel_id in sorted(seen_channels):
        channel_webhook_seen(channel_id=channel_id)
    outcomes = []
    for event, event_updates, processed_at in folded:
        event.attempts += 1
        workspaces = {channel.workspace_id for channel, _ in event_updates}
        if event.workspace_id is None and len(workspaces) == 1:
            event.workspace_id = workspaces.pop()  # received on the shared URL: as webhook_event_process does
        outcomes.append((event, "", f"{len(event_updates)} StatusUpdate", processed_at))
    webhook_events_finish(outcomes=outcomes)
    return len(folded), rest


def _status_updates_of(event: WebhookEvent) -> list[tuple[Channel, wire.StatusUpdate]] | None:
    """The event's status updates with their channels, when it carries statuses only and every one names a
    channel we have; None otherwise (one at a time then, which reports each item's problem)."""
    try:
        items = wire.webhook_items(json.loads(bytes(event.body)))
    except (ValueError, UnicodeDecodeError):
        return None
    if not items or not all(isinstance(item, wire.StatusUpdate) for item in items):
        return None
    updates = []
    for item in items:
        channel = _channel_for(event, item.phone_number_id)
        if channel is None:
            return None
        updates.append((channel, item))
    return updates


def webhook_event_process(*, event_id: int) -> WebhookEvent | None:
    """Process one stored webhook. Idempotent: storing is keyed on wamid and (wamid, status).

    Each item is applied in its own savepoint, so one bad item is reported without losing
    the rest of a batch; the event is then marked failed and can be reprocessed.

    Waits for the event's row lock rather than skipping a locked event: the caller has claimed it, and a
    lock held now is a drain glancing at it (webhook_events_claimable) or one whose lease lapsed processing it
    (then it is no longer pending here). Skipping left a claimed event unprocessed until its claim lapsed and
    the sweeper came by, a minute or two.
    """
    with transaction.atomic():
        event = (
            WebhookEvent.objects.select_for_update(no_key=True, of=("self",))
            .select_related("channel__agent")  # storing a customer's message reads the agent's debounce
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
            status_updates_apply(updates=[(channel, item)])
            _status_failures_observe([(channel, item)])
        return channel
    if isinstance(item, wire.UserPreference):
        channel = _channel_for(event, item.phone_number_id)
        if channel is not None:
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


def _status_failures_observe(updates: list[tuple[Channel, wire.StatusUpdate]]) -> None:
    for channel, item in updates:
        status_failure_observe(channel=channel, item=item)


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
        state=WebhookEvent.State.PENDING, error="", claimed_until=None
    )
    if updated:
        transaction.on_commit(webhook_events_drain_schedule)
    return WebhookEvent.objects.filter(pk=event_id).first()


def webhook_events_pending_stale(*, older_than_seconds: int | None = None) -> bool:
    """True when some event has waited longer than it should (its drain hint was lost)."""
    if older_than_seconds is None:
        older_than_seconds = settings.WHATSAPP_WEBHOOK_EVENTS_STALE_SECONDS
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stale = WebhookEvent.objects.filter(state=WebhookEvent.State.PENDING, received_at__lte=cutoff)
    # An event claimed by a drain that is alive is on its way; once the claim lapses (its worker died) it counts.
    return stale.exclude(claimed_until__gte=timezone.now()).exists()
