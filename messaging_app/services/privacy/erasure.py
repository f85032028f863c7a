"""Erasing a contact: one transaction for the database, files after commit, a tombstone left behind."""

import logging
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from agents_app.models import AgentRun
from channels_app.models import WebhookEvent
from events_app.models import Delivery, DeliveryAttempt, Event
from messaging_app.models import Contact, Conversation, ConversationRating, IdempotencyKey, Message, StatusReceipt
from messaging_app.services.privacy.common import (
    ERASED,
    ERASED_PREFIX,
    MESSAGE_ERASED,
    REDACTED_HEADER,
    WEBHOOK_BATCH,
    agent_runs_redact,
    audit_if_installed,
    contact_audit_target,
    contact_events,
    contact_is_erased,
    messages_strip,
    webhook_event_redact,
)
from outreach_app.models import Campaign, CampaignRecipient, ScheduledMessage
from whatsapp_platform.errors import Conflict
from whatsapp_platform.task_queue import task_enqueue

logger = logging.getLogger(__name__)

# The ledger bodies that name a contact arrive around their activity: a message's webhook within moments
# of its timestamp (clocks differ), its statuses (and Meta's retries) within days.
LEDGER_BEFORE = timedelta(hours=1)
LEDGER_AFTER = timedelta(days=7)
_WAMID = re.compile(rb'"(wamid\.[^"\\]+)"')


def _file_deletions_enqueue(workspace_id: int) -> None:
    task_enqueue("messaging.file_deletions_run", workspace_id)


def contact_erase_confirmation_matches(contact: Contact, typed: str) -> bool:
    """The person erasing typed the contact's phone number (with or without +), BSUID or id."""
    typed = (typed or "").strip()
    if not typed:
        return False
    accepted = {str(contact.pk)}
    if contact.wa_id:
        accepted |= {contact.wa_id, f"+{contact.wa_id}"}
    if contact.user_id:
        accepted.add(contact.user_id)
    return typed in accepted or (typed.startswith("+") and "".join(c for c in typed if c.isdigit()) == contact.wa_id)


def contact_erase(*, contact: Contact, actor=None, request=None) -> dict[str, int]:
    """Erase everything stored about the contact; returns counts of what was erased (never the data).

    The database part is one transaction: either all of it is erased or none. Files go after
    commit. Refused (Conflict) for a contact already erased, or while an agent turn is answering them.
    """
    now = timezone.now()
    with transaction.atomic():
        row = Contact.objects.select_for_update().select_related("channel").filter(pk=contact.pk).first()
        if row is None or contact_is_erased(row):
            raise Conflict("This contact has already been erased.")
        conversations = list(Conversation.objects.select_for_update(no_key=True).filter(contact=row).order_by("pk"))
        if any(c.agent_turn_until and c.agent_turn_until > now for c in conversations):
            raise Conflict("The AI agent is answering this contact right now; erase them in a minute.")
        conversation_ids = [c.pk for c in conversations]
        messages = Message.objects.filter(contact=row)
        wamids = {w for pair in messages.values_list("wamid", "context_wamid") for w in pair if w}
        tokens = [t for t in (row.wa_id, row.user_id, row.parent_user_id) if t]
        windows = _activity_windows(
            [row.created_at, row.marketing_opt_out_at, *messages.values_list("timestamp", flat=True)]
        )
        counts: dict[str, int] = {}

        # A message still waiting in the outbox would go out blank: it is not sent, as for a block.
        counts["queued_messages_cancelled"] = messages.filter(
            direction=Message.Direction.OUTBOUND, status=Message.Status.QUEUED
        ).update(status=Message.Status.FAILED, failed_at=now, error_code=None, error_title="Contact erased")
        counts["messages"], counts["media_files"] = messages_strip(
            messages, fields=MESSAGE_ERASED, reason="erasure", workspace_id=row.workspace_id
        )
        counts["status_receipts"] = StatusReceipt.objects.filter(
            Q(message__contact=row) | Q(channel_id=row.channel_id, wamid__in=wamids)
        ).delete()[0]
        counts["ratings"] = ConversationRating.objects.filter(conversation_id__in=conversation_ids).update(comment="")
        # The key's fingerprint hashes the API request that sent the message (its number and text).
        counts["idempotency_keys"] = IdempotencyKey.objects.filter(message__contact=row).delete()[0]
        counts["agent_runs"] = agent_runs_redact(
            list(AgentRun.objects.filter(conversation_id__in=conversation_ids).only("pk", "tool_calls"))
        )
        counts["webhook_bodies"] = _webhook_bodies_erase(row, tokens=tokens, wamids=wamids, windows=windows, at=now)
        counts["events"] = _events_erase(row, conversation_ids, at=now)
        counts["scheduled_messages"] = ScheduledMessage.objects.filter(contact=row).delete()[0]
        counts["campaign_recipients"] = CampaignRecipient.objects.filter(contact=row).update(
            parameters={}, source_line=None
        )
        counts["campaign_reports"] = _campaign_reports_erase(row)

        row.wa_id, row.user_id, row.parent_user_id = None, f"{ERASED_PREFIX}{uuid.uuid4().hex}", ""
        row.username, row.profile_name, row.tags, row.attributes = "", "", [], {}
        row.blocked_at = row.blocked_at or now  # nothing is ever sent to a tombstone
        row.save()
        audit_if_installed(
            action="contact.erased",
            workspace=row.workspace_id,
            actor=actor,
            target=contact_audit_target(row),
            changes=counts,
            request=request,
        )
        workspace_id = row.workspace_id
        transaction.on_commit(lambda: _file_deletions_enqueue(workspace_id))
    logger.info("contact erased", extra={"contact_id": row.pk, **counts})
    contact.refresh_from_db()
    return counts


def _activity_windows(moments: list[datetime | None]) -> list[tuple[datetime, datetime]]:
    """When webhooks naming the contact can have been received: around each of their moments, merged."""
    windows: list[tuple[datetime, datetime]] = []
    for moment in sorted(m for m in moments if m is not None):
        start, end = moment - LEDGER_BEFORE, moment + LEDGER_AFTER
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(windows[-1][1], end))
        else:
            windows.append((start, end))
    return windows


def _webhook_bodies_erase(contact: Contact, *, tokens: list[str], wamids: set[str], windows, at) -> int:
    """Redact every ledger body on the contact's channel (or not tied to one) that names the contact.

    Only the webhooks received around the contact's activity are read, not the channel's whole ledger;
    bodies already redacted (older than the retention limit) are not read at all.
    """
    needles = [f'"{token}"'.encode() for token in tokens]
    wamid_bytes = {w.encode() for w in wamids}
    ledger = WebhookEvent.objects.filter(
        Q(channel_id=contact.channel_id) | Q(channel__isnull=True),
        Q(workspace_id=contact.workspace_id) | Q(workspace__isnull=True),
    ).exclude(headers__has_key=REDACTED_HEADER)
    redacted = 0
    for start, end in windows:
        events, cursor = ledger.filter(received_at__gte=start, received_at__lte=end), 0
        while batch := list(
            events.filter(pk__gt=cursor).order_by("pk").values_list("pk", "body", "headers", "error")[:WEBHOOK_BATCH]
        ):
            for pk, body, headers, error in batch:
                cursor = pk
                raw = bytes(body or b"")
                if any(needle in raw for needle in needles) or set(_WAMID.findall(raw)) & wamid_bytes:
                    webhook_event_redact(pk, raw, headers, error, reason="contact_erased", at=at, tokens=tokens)
                    redacted += 1
    return redacted


def event_payload_redact(payload: Any, *, at: datetime) -> dict:
    """An event's data without the contact's identity or words; ids, types, states and times stay."""
    data = dict(payload) if isinstance(payload, dict) else {}
    if isinstance(data.get("contact"), dict):
        data["contact"] = {key: "" for key in data["contact"]}
    if isinstance(data.get("message"), dict):
        message = dict(data["message"])
        message.update(text="", wamid="")
        if isinstance(message.get("error"), dict):
            message["error"] = {**message["error"], "details": ""}
        data["message"] = message
    if isinstance(data.get("rating"), dict):
        data["rating"] = {**data["rating"], "comment": ""}
    data["redacted"] = {"reason": "contact_erased", "at": at.isoformat()}
    return data


def _events_erase(contact: Contact, conversation_ids: list[int], *, at) -> int:
    events = list(contact_events(contact, conversation_ids).only("pk", "payload"))
    for event in events:
        event.payload = event_payload_redact(event.payload, at=at)
    Event.objects.bulk_update(events, ["payload"], batch_size=500)
    event_ids = [event.pk for event in events]
    Delivery.objects.filter(event_id__in=event_ids).update(last_error="")
    # Not sent any more: the customer's system would receive only blanks.
    Delivery.objects.filter(event_id__in=event_ids, state=Delivery.State.PENDING).update(
        state=Delivery.State.FAILED, next_attempt_at=None, last_error="Not sent: the contact was erased."
    )
    DeliveryAttempt.objects.filter(delivery__event_id__in=event_ids).update(response_excerpt="", error="")
    return len(events)


def _campaign_reports_erase(contact: Contact) -> int:
    """A CSV import's report quotes rejected lines' numbers (e.g. a duplicate of this contact's)."""
    if not contact.wa_id:
        return 0
    changed = 0
    for campaign in Campaign.objects.filter(workspace_id=contact.workspace_id).exclude(import_report={}):
        report = dict(campaign.import_report or {})
        errors = report.get("errors") or []
        cleaned = [
            {**e, "reason": e.get("reason", "").replace(contact.wa_id, ERASED)} if isinstance(e, dict) else e
            for e in errors
        ]
        if cleaned != errors:
            report["errors"] = cleaned
            Campaign.objects.filter(pk=campaign.pk).update(import_report=report)
            changed += 1
    return changed
