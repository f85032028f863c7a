"""The webhook ledger: every POST stored as received, then marked processed or failed."""

import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from channels_app.models import Channel, WebhookEvent
from whatsapp_platform.bulk import rows_update
from whatsapp_platform.ratelimit import token_bucket_take

# Headers worth keeping with a stored webhook; the rest is noise (or secret).
_KEPT_HEADERS = ("Content-Type", "Content-Length", "User-Agent", "X-Hub-Signature-256", "X-Request-ID")
# How long the count of unrecorded rejections from one source waits for the next recorded one.
_REFUSED_COUNT_SECONDS = 24 * 3600


# A "messages" key with a value (`"field": "messages"` names the field, statuses included). A byte search,
# not a parse: intake stays one INSERT; a false match only moves an event up the queue.
_CUSTOMER_MESSAGES = re.compile(rb'"messages"\s*:\s*\[')


# What is kept of a rejected POST's body: enough to recognise it, too little to fill a disk with.
REJECTED_BODY_PREFIX_BYTES = 256


class WebhookRejectionsThrottled(Exception):
    """The source has used up its budget of recorded rejections; nothing was written."""

    def __init__(self, retry_after: float):
        super().__init__(f"Too many rejected webhooks from this source; retry in {retry_after:.0f} s.")
        self.retry_after = retry_after


def webhook_event_receive(
    *, raw_body: bytes, headers: dict, signature_valid: bool, channel: Channel | None
) -> WebhookEvent:
    """Store a correctly signed webhook POST as received. Processing happens later, in a task.
    (A POST whose signature failed goes to `webhook_rejection_record`.)"""
    kept = {name: headers[name] for name in _KEPT_HEADERS if name in headers}
    return WebhookEvent.objects.create(
        workspace_id=channel.workspace_id if channel else None,
        channel=channel,
        body=raw_body,
        headers=kept,
        signature_valid=signature_valid,
        customer_messages=signature_valid and _CUSTOMER_MESSAGES.search(raw_body) is not None,
        state=WebhookEvent.State.PENDING if signature_valid else WebhookEvent.State.REJECTED,
        error="" if signature_valid else "X-Hub-Signature-256 missing or wrong; nothing was processed.",
    )


def webhook_rejection_record(*, raw_body: bytes, headers: dict, channel: Channel | None, source: str) -> WebhookEvent:
    """Record a POST whose signature failed, boundedly: its size, kept headers, the first
    REJECTED_BODY_PREFIX_BYTES of the body, and how many rejections from `source` went unrecorded.

    Anyone can POST to the webhook URLs, so each source may have WEBHOOK_REJECTIONS_BURST rejections
    recorded, refilled at WEBHOOK_REJECTIONS_PER_MINUTE; beyond that WebhookRejectionsThrottled is raised
    and nothing is written except a count in the cache.
    """
    wait = token_bucket_take(
        f"webhook-rejections:{source}",
        rate=settings.WEBHOOK_REJECTIONS_PER_MINUTE / 60,
        capacity=settings.WEBHOOK_REJECTIONS_BURST,
    )
    refused_key = f"webhook-rejections-refused:{source}"
    if wait:
        if not cache.add(refused_key, 1, timeout=_REFUSED_COUNT_SECONDS):
            try:
                cache.incr(refused_key)
            except ValueError:
                cache.add(refused_key, 1, timeout=_REFUSED_COUNT_SECONDS)  # expired in between
        raise WebhookRejectionsThrottled(retry_after=wait)
    refused = cache.get(refused_key, 0)
    if refused:
        cache.delete(refused_key)
    error = (
        f"From {source}: X-Hub-Signature-256 missing or wrong; nothing was processed. "
        f"The body was {len(raw_body):,} bytes; only its first {REJECTED_BODY_PREFIX_BYTES} are kept."
    )
    if refused:
        error += f" Since the previous record, {refused:,} more rejected POSTs from {source} were refused unrecorded."
    kept = {name: headers[name][:500] for name in _KEPT_HEADERS if name in headers}
    return WebhookEvent.objects.create(
        workspace_id=channel.workspace_id if channel else None,
        channel=channel,
        body=raw_body[:REJECTED_BODY_PREFIX_BYTES],
        headers=kept,
        signature_valid=False,
        state=WebhookEvent.State.REJECTED,
        error=error,
    )


def webhook_event_finish(*, event: WebhookEvent, error: str = "", summary: str = "") -> None:
    event.state = WebhookEvent.State.FAILED if error else WebhookEvent.State.PROCESSED
    event.error = error[:10000]
    event.summary = summary[:200]
    event.processed_at = timezone.now()
    event.save(update_fields=["state", "error", "summary", "processed_at", "attempts", "workspace_id"])


def webhook_events_claim(*, limit: int, lease_seconds: float, customer_messages: bool = False) -> list[int]:
    """Claim up to `limit` pending events for one drain, oldest first, in one statement; their ids, in order.

    A claim is a lease (`claimed_until`): other drains skip the events until it lapses, so several drains
    share a backlog without taking the same events, and an event whose drain died is claimed again later.
    The lease only spreads the work: processing still locks each event and checks it is pending, so an
    event a lapsed lease lets two drains hold is processed once. `customer_messages` claims only the
    events carrying customer messages. Call outside a transaction, so the claim is seen at once.
    """
    now = timezone.now()
    table = connection.ops.quote_name(WebhookEvent._meta.db_table)
    only_messages = "AND customer_messages " if customer_messages else ""
    # SQLite has no row locks; its writes are serialised (IMMEDIATE transactions), which is as good here.
    skip_locked = "FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    # Only our table name and fixed clauses are interpolated; the values are parameters.
    sql = (
        f"UPDATE {table} SET claimed_until = %s WHERE id IN (SELECT id FROM {table} "  # noqa: S608
        f"WHERE state = %s {only_messages}AND (claimed_until IS NULL OR claimed_until < %s) "
        f"ORDER BY id LIMIT %s {skip_locked}) RETURNING id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [now + timedelta(seconds=lease_seconds), WebhookEvent.State.PENDING, now, limit])
        return sorted(row[0] for row in cursor.fetchall())


def webhook_events_claimable() -> bool:
    """Some pending event is waiting for a drain: not claimed (nor locked by a drain folding it right now),
    or its claim lapsed."""
    waiting = (
        WebhookEvent.objects.select_for_update(skip_locked=True)
        .filter(state=WebhookEvent.State.PENDING)
        .exclude(claimed_until__gte=timezone.now())
    )
    with transaction.atomic():
        return bool(list(waiting.values_list("pk", flat=True)[:1]))


def webhook_events_finish(*, outcomes: Sequence[tuple[WebhookEvent, str, str, datetime]]) -> None:
    """webhook_event_finish for many events in one statement: `outcomes` are (event, error, summary, the
    moment it was processed). The events' attempts and workspace are saved as the caller left them."""
    for event, error, summary, processed_at in outcomes:
        event.state = WebhookEvent.State.FAILED if error else WebhookEvent.State.PROCESSED
        event.error = error[:10000]
        event.summary = summary[:200]
        event.processed_at = processed_at
    rows_update(
        WebhookEvent,
        [outcome[0] for outcome in outcomes],
        ["state", "error", "summary", "processed_at", "attempts", "workspace_id"],
    )
