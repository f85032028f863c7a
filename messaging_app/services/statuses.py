"""Delivery statuses: every receipt kept once, the message's status folded from all of them.

The fold is order-independent, so any arrival order ends in the same state:
- each of sent / delivered / read / played keeps its own timestamp (the earliest reported);
- the status is the highest reached of sent < delivered < read < played;
- failed is terminal and wins over everything else (Meta may report a failure after sent);
- a later stage implies the earlier ones (read without delivered means delivered too).

Meta sends three status webhooks per message, so they are applied in batches with a constant number of
statements per batch (`status_updates_apply`), not per status.
"""

import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from channels_app.models import Channel
from channels_app.whatsapp.webhooks import StatusUpdate
from events_app.selectors import workspaces_subscribed
from events_app.services import message_status_emit
from messaging_app.models import Message, StatusReceipt
from whatsapp_platform.bulk import rows_update

logger = logging.getLogger(__name__)

_RANK = {"sent": 1, "delivered": 2, "read": 3, "played": 4}
_TIMESTAMP_FIELD = {
    "sent": "sent_at",
    "delivered": "delivered_at",
    "read": "read_at",
    "played": "played_at",
    "failed": "failed_at",
}
# What a fold reads of a receipt: status, timestamp, errors, id.
_RECEIPT_FIELDS = ("status", "timestamp", "errors", "pk")
# What a batch loads of a message: what the fold reads and writes (an event payload loads the rest, when
# a subscription wants one).
_FOLD_FIELDS = (
    "channel_id",
    "workspace_id",
    "wamid",
    "public_id",
    "status",
    *_TIMESTAMP_FIELD.values(),
    "error_code",
    "error_title",
    "error_details",
    "updated_at",
)


@dataclass
class _Receipt:
    """One status webhook about to be stored, with the message it turned out to concern."""

    channel: Channel
    item: StatusUpdate
    status: str
    public_id: uuid.UUID | None
    message: Message | None = None


def status_updates_apply(*, updates: Sequence[tuple[Channel, StatusUpdate]]) -> None:
    """Record status webhooks (each (channel, wamid, status) once) and fold the messages they concern.

    A constant number of statements however many updates: lock the messages (one statement, ordered by
    id), store the receipts (one), read every receipt of those messages (one), write the messages whose
    state changed (one). Call inside a transaction: the message locks are held until it commits.

    A status may arrive before the send call's answer stored the wamid: its receipt is kept unlinked and
    `message_wamid_record` applies it. Our sends carry their message's public id as callback data, so the
    messages are also looked up (and locked) by it: a `message_wamid_record` still running holds that row,
    so this waits for it and then sees the wamid, and a send whose answer was lost (no wamid) is settled.
    """
    receipts: list[_Receipt] = []
    for channel, item in updates:
        status = (item.status or "").lower()
        if status not in _TIMESTAMP_FIELD:
            logger.info("unknown status kept unapplied", extra={"status": status, "wamid": item.wamid})
        public_id = _uuid_or_none(item.biz_opaque_callback_data)
        receipts.append(_Receipt(channel=channel, item=item, status=status, public_id=public_id))
    if not receipts:
        return

    by_wamid, by_public_id = _messages_lock(receipts)
    settled: list[Message] = []
    for receipt in receipts:
        key = (receipt.channel.pk, receipt.item.wamid)
        if key not in by_wamid and receipt.public_id is not None:
            message = by_public_id.get((receipt.channel.pk, receipt.public_id))
            if message is not None and message.wamid is None:
                # A send whose answer was lost is matched by the callback data we gave it: its public id.
                message.wamid = receipt.item.wamid
                by_wamid[key] = message
                settled.append(message)
                logger.info("unknown send outcome settled by a status webhook", extra={"message_id": message.pk})
    for receipt in receipts:
        receipt.message = by_wamid.get((receipt.channel.pk, receipt.item.wamid))

    _receipts_store(receipts, settled)
    messages = {receipt.message.pk: receipt.message for receipt in receipts if receipt.message is not None}
    if messages:
        _messages_fold(list(messages.values()), settled={message.pk for message in settled})


def _messages_lock(
    receipts: list[_Receipt],
) -> tuple[dict[tuple[int, str], Message], dict[tuple[int, uuid.UUID], Message]]:
    """Lock every message the receipts name, by wamid or by callback data, in one statement ordered by id
    (two batches locking overlapping messages then wait for each other instead of deadlocking)."""
    wamids: dict[int, set[str]] = {}
    public_ids: dict[int, set[uuid.UUID]] = {}
    for receipt in receipts:
        wamids.setdefault(receipt.channel.pk, set()).add(receipt.item.wamid)
        if receipt.public_id is not None:
            public_ids.setdefault(receipt.channel.pk, set()).add(receipt.public_id)
    condition = Q()
    for channel_id, values in wamids.items():
        condition |= Q(channel_id=channel_id, wamid__in=values)
    for channel_id, values in public_ids.items():
        condition |= Q(channel_id=channel_id, public_id__in=values)
    messages = list(Message.objects.select_for_update(no_key=True).filter(condition).only(*_FOLD_FIELDS).order_by("pk"))
    by_wamid = {(m.channel_id, m.wamid): m for m in messages if m.wamid is not None}
    by_public_id = {(m.channel_id, m.public_id): m for m in messages}
    return by_wamid, by_public_id


def _receipts_store(receipts: list[_Receipt], settled: list[Message]) -> None:
    """Insert the receipts, one row per (channel, wamid, status): a status Meta delivers again is skipped,
    and within the batch the first of equal ones is kept. Rows are inserted in key order, so two batches
    inserting the same receipts wait for each other instead of deadlocking."""
    now = timezone.now()
    rows: dict[tuple[int, str, str], StatusReceipt] = {}
    for receipt in receipts:
        item = receipt.item
        key = (receipt.channel.pk, item.wamid, receipt.status)
        if key in rows:
            continue
        rows[key] = StatusReceipt(
            channel_id=receipt.channel.pk,
            wamid=item.wamid,
            status=receipt.status,
            timestamp=item.timestamp or now,
            message=receipt.message,
            errors=list(item.errors or []),
            pricing=item.pricing,
            biz_opaque_callback_data=(item.biz_opaque_callback_data or "")[:512],
            received_at=now,
        )
    StatusReceipt.objects.bulk_create([rows[key] for key in sorted(rows)], ignore_conflicts=True)
    for message in settled:  # rare: a send whose answer was lost
        # Its receipts stored before it was known (earlier batches) now belong to it.
        StatusReceipt.objects.filter(channel_id=message.channel_id, wamid=message.wamid, message__isnull=True).update(
            message=message
        )


def _messages_fold(messages: list[Message], *, settled: set[int]) -> None:
    """Fold each message from all its receipts (one read), write the changed ones (one statement), and
    record message.status_updated for those whose status changed, where a subscription wants it."""
    wamids: dict[int, list[str]] = {}
    for message in messages:
        wamids.setdefault(message.channel_id, []).append(message.wamid)
    condition = Q()
    for channel_id, values in wamids.items():
        condition |= Q(channel_id=channel_id, wamid__in=values)
    receipts: dict[tuple[int, str], list[tuple]] = {}
    for channel_id, wamid, *fields in StatusReceipt.objects.filter(condition).values_list(
        "channel_id", "wamid", *_RECEIPT_FIELDS
    ):
        receipts.setdefault((channel_id, wamid), []).append(tuple(fields))

    now = timezone.now()
    changed_fields: set[str] = set()
    changed: list[Message] = []
    status_changed: list[Message] = []
    for message in messages:
        fields = _fold_apply(message, receipts.get((message.channel_id, message.wamid), []))
        if message.pk in settled:
            fields.append("wamid")
        if fields:
            changed_fields.update(fields)
            message.updated_at = now
            changed.append(message)
            if "status" in fields:
                status_changed.append(message)
    if changed:
        _messages_write(changed, [*sorted(changed_fields), "updated_at"])
    if status_changed:
        wanted = workspaces_subscribed(
            type="message.status_updated", workspace_ids={message.workspace_id for message in status_changed}
        )
        for message in status_changed:
            if message.workspace_id in wanted:
                message_status_emit(message=message)


def _messages_write(messages: list[Message], fields: list[str]) -> None:
    if len(messages) == 1:
        messages[0].save(update_fields=fields)
    else:
        rows_update(Message, messages, fields)


def message_status_fold(message: Message) -> Message:
    """Recompute the message's status from all its receipts. Call holding the message's row lock.

    Computed from scratch every time, never from the previous state, so the result does not
    depend on the order receipts arrived in.
    """
    receipts = StatusReceipt.objects.filter(channel_id=message.channel_id, wamid=message.wamid).values_list(
        *_RECEIPT_FIELDS
    )
    fields = _fold_apply(message, list(receipts))
    if fields:
        message.save(update_fields=[*fields, "updated_at"])
        if "status" in fields:
            message_status_emit(message=message)
    return message


def _fold_apply(message: Message, receipts: Iterable[tuple]) -> list[str]:
    """Set on `message` the state its receipts ((status, timestamp, errors, id) each) fold to; the fields
    that changed. Pure: no query."""
    receipts = list(receipts)
    if not receipts:
        return []
    explicit: dict[str, object] = {}
    for status, timestamp, _errors, _pk in receipts:
        if status in _TIMESTAMP_FIELD and (status not in explicit or timestamp < explicit[status]):
            explicit[status] = timestamp
    values = {field: None for field in _TIMESTAMP_FIELD.values()}
    for status, rank in _RANK.items():
        if status in explicit:
            values[_TIMESTAMP_FIELD[status]] = explicit[status]
        elif status != "played":
            # A later stage implies this one (read without delivered: delivery and read were one moment).
            later = [explicit[s] for s, r in _RANK.items() if r > rank and s in explicit]
            values[_TIMESTAMP_FIELD[status]] = min(later) if later else None
    values["failed_at"] = explicit.get("failed")

    failed = sorted((r for r in receipts if r[0] == "failed"), key=lambda r: (r[1], r[3]))
    if failed:
        error = (failed[0][2] or [{}])[0]
        values["status"] = Message.Status.FAILED
        values["error_code"] = error.get("code")
        values["error_title"] = (error.get("title") or error.get("message") or "")[:300]
        values["error_details"] = ((error.get("error_data") or {}).get("details") or "")[:5000]
    else:
        best = max((s for s in explicit if s in _RANK), key=_RANK.__getitem__, default=None)
        if best is None:
            return []
        values["status"] = best
    changed = [field for field, value in values.items() if getattr(message, field) != value]
    for field in changed:
        setattr(message, field, values[field])
    return changed


def _uuid_or_none(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return None
