"""Delivery statuses: every receipt kept once, the message's status folded from all of them.

The fold is order-independent, so any arrival order ends in the same state:
- each of sent / delivered / read / played keeps its own timestamp (the earliest reported);
- the status is the highest reached of sent < delivered < read < played;
- failed is terminal and wins over everything else (Meta may report a failure after sent);
- a later stage implies the earlier ones (read without delivered means delivered too).
"""

import logging
import uuid

from django.db import IntegrityError, transaction
from django.utils import timezone

from channels_app.models import Channel
from channels_app.whatsapp.webhooks import StatusUpdate
from messaging_app.models import Message, StatusReceipt

logger = logging.getLogger(__name__)

_RANK = {"sent": 1, "delivered": 2, "read": 3, "played": 4}
_TIMESTAMP_FIELD = {
    "sent": "sent_at",
    "delivered": "delivered_at",
    "read": "read_at",
    "played": "played_at",
    "failed": "failed_at",
}


def status_update_apply(*, channel: Channel, item: StatusUpdate) -> StatusReceipt | None:
    """Record one status webhook; None when this (wamid, status) was recorded before."""
    status = (item.status or "").lower()
    if status not in _TIMESTAMP_FIELD:
        logger.info("unknown status kept unapplied", extra={"status": status, "wamid": item.wamid})
    message = Message.objects.select_for_update(no_key=True).filter(channel=channel, wamid=item.wamid).first()
    try:
        with transaction.atomic():
            receipt = StatusReceipt.objects.create(
                channel=channel,
                wamid=item.wamid,
                status=status,
                timestamp=item.timestamp or timezone.now(),
                message=message,
                errors=list(item.errors or []),
                pricing=item.pricing,
                biz_opaque_callback_data=(item.biz_opaque_callback_data or "")[:512],
            )
    except IntegrityError:
        return None  # the same status for the same message, delivered again

    if message is None and receipt.biz_opaque_callback_data:
        message = _unknown_outcome_settle(channel, receipt)
        if message is not None:
            StatusReceipt.objects.filter(channel=channel, wamid=item.wamid, message__isnull=True).update(
                message=message
            )
    if message is None:
        # The send call's answer (with the wamid) is not stored yet; message_wamid_record applies it.
        return receipt
    message_status_fold(message)
    return receipt


def _unknown_outcome_settle(channel: Channel, receipt: StatusReceipt) -> Message | None:
    """A send whose answer was lost is matched by the callback data we gave it: its public id."""
    message = (
        Message.objects.select_for_update(no_key=True)
        .filter(channel=channel, public_id=_uuid_or_none(receipt.biz_opaque_callback_data), wamid__isnull=True)
        .first()
    )
    if message is None:
        return None
    message.wamid = receipt.wamid
    message.save(update_fields=["wamid", "updated_at"])
    logger.info("unknown send outcome settled by a status webhook", extra={"message_id": message.pk})
    return message


def _uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError):
        return None


def message_status_fold(message: Message) -> Message:
    """Recompute the message's status from all its receipts. Call holding the message's row lock.

    Computed from scratch every time, never from the previous state, so the result does not
    depend on the order receipts arrived in.
    """
    receipts = list(StatusReceipt.objects.filter(channel_id=message.channel_id, wamid=message.wamid))
    if not receipts:
        return message
    explicit: dict[str, object] = {}
    for receipt in receipts:
        if receipt.status in _TIMESTAMP_FIELD and (
            receipt.status not in explicit or receipt.timestamp < explicit[receipt.status]
        ):
            explicit[receipt.status] = receipt.timestamp
    values = {field: None for field in _TIMESTAMP_FIELD.values()}
    for status, rank in _RANK.items():
        if status in explicit:
            values[_TIMESTAMP_FIELD[status]] = explicit[status]
        elif status != "played":
            # A later stage implies this one (read without delivered: delivery and read were one moment).
            later = [explicit[s] for s, r in _RANK.items() if r > rank and s in explicit]
            values[_TIMESTAMP_FIELD[status]] = min(later) if later else None
    values["failed_at"] = explicit.get("failed")

    failed = sorted((r for r in receipts if r.status == "failed"), key=lambda r: (r.timestamp, r.pk))
    if failed:
        error = (failed[0].errors or [{}])[0]
        values["status"] = Message.Status.FAILED
        values["error_code"] = error.get("code")
        values["error_title"] = (error.get("title") or error.get("message") or "")[:300]
        values["error_details"] = ((error.get("error_data") or {}).get("details") or "")[:5000]
    else:
        best = max((s for s in explicit if s in _RANK), key=_RANK.__getitem__, default=None)
        if best is None:
            return message
        values["status"] = best
    changed = [field for field, value in values.items() if getattr(message, field) != value]
    if changed:
        for field in changed:
            setattr(message, field, values[field])
        message.save(update_fields=[*changed, "updated_at"])
        if "status" in changed:
            from events_app.services import message_status_emit  # events build on messaging

            message_status_emit(message=message)
    return message
