"""A customer's data on request, and gone on request or with age: export, erasure and retention.

Where a contact's data lives (each is exported, and erased or redacted, here):
- messaging_app: Contact; Conversation (no personal fields); Message (content, transcript,
  extracted_text, context, referral, reactions, edits, errors, error_details, media in default
  storage, wamid: Meta's wamids wrap the phone number); StatusReceipt; ConversationRating.comment;
  IdempotencyKey (a hash of the API body that sent a message).
- agents_app.AgentRun: prompt (quotes the messages and the contact's name and attributes), output,
  tool_calls (arguments and results), error.
- channels_app.WebhookEvent: the raw body (and the error text) of every webhook that carried the
  contact's messages or statuses.
- outreach_app: CampaignRecipient.parameters (CSV values), Campaign.import_report (rejected lines quote
  the number), ScheduledMessage.content.
- events_app: Event.payload (contact, message text), Delivery.last_error and DeliveryAttempt excerpts
  (a receiver may echo the payload).
- analytics_app.DailyChannelStats holds counts only and is left alone; cloudapi_emulator is the fake
  Meta's own data and is never touched.

Erasure keeps every row that analytics count (messages, agent runs, conversations, ratings' scores,
campaign recipients) and removes what they said and who said it: the daily rollup recomputes days
from those rows, so deleting them would change past figures. The Contact row becomes a tombstone
(no phone, name or id of the person, blocked) that the inbound pipeline never matches again, so a
new message from the same number starts a new contact.

Files are deleted after commit from `FileDeletion` rows written in the same transaction that stops
referencing them; the retention job retries any that storage refused.
"""

import json
import logging
import mimetypes
import re
import shutil
import tempfile
import time
import uuid
import zipfile
from datetime import datetime, timedelta
from pathlib import PurePosixPath
from typing import IO, Any

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from agents_app.models import AgentRun
from channels_app.models import WebhookEvent
from events_app.models import Delivery, DeliveryAttempt, Event
from messaging_app import selectors
from messaging_app.models import Contact, Conversation, ConversationRating, IdempotencyKey, Message, StatusReceipt
from outreach_app.models import Campaign, CampaignRecipient, ScheduledMessage
from whatsapp_platform.errors import Conflict, InvalidInput
from workspaces_app.models import FileDeletion, Workspace

logger = logging.getLogger(__name__)

# A tombstone's BSUID: never a real one (those read "CC.<digits>"), unique per erased contact.
ERASED_PREFIX = "erased-"
ERASED = "[erased]"
COPY_CHUNK = 1024 * 1024
# Webhooks reach the ledger before the contact exists (and failed ones may be reprocessed days later).
LEDGER_LOOKBACK = timedelta(days=7)
# Meta retries webhooks for up to 7 days: a message can be stored well after its timestamp.
LATE_ARRIVALS = timedelta(days=7)
MESSAGE_BATCH = 500
RUN_BATCH = 200
WEBHOOK_BATCH = 100
# Webhooks received without a workspace (bad signature, unknown number) are redacted this old.
ORPHAN_WEBHOOK_BODY_DAYS = 30

# What a message loses with age or erasure; the row, its type, timestamps and statuses stay.
MESSAGE_CONTENT_REMOVED = {
    "content": {},
    "transcript": "",
    "extracted_text": "",
    "media_file": "",
    "media_id": "",
    "media_sha256": "",
    "media_state": "",
    "media_error": "",
    "referral": None,
    "reactions": {},
    "edits": [],
}
# Erasure also drops what identifies the person or quotes them.
MESSAGE_ERASED = {
    **MESSAGE_CONTENT_REMOVED,
    "wamid": None,
    "context_wamid": "",
    "context": None,
    "error_details": "",
    "errors": [],
}
MESSAGE_HAS_CONTENT = (
    ~Q(content={})
    | ~Q(transcript="")
    | ~Q(extracted_text="")
    | ~Q(media_file="")
    | ~Q(media_id="")
    | Q(referral__isnull=False)
    | ~Q(edits=[])
)
RUN_HAS_CONTENT = ~Q(prompt=[]) | ~Q(output="") | ~Q(error="")

# Webhook fields that describe the business, never a customer: kept as received.
BUSINESS_WEBHOOK_FIELDS = frozenset(
    {
        "message_template_status_update",
        "message_template_quality_update",
        "message_template_components_update",
        "template_category_update",
        "phone_number_quality_update",
        "phone_number_name_update",
        "account_update",
        "account_review_update",
        "account_alerts",
        "business_capability_update",
    }
)
# Inside a redacted change value, these keys keep their values (the shape of what happened, not who or what).
_WEBHOOK_KEPT_KEYS = frozenset(
    {"messaging_product", "type", "timestamp", "status", "category", "pricing_model", "billable", "origin", "code"}
)
_WAMID = re.compile(rb'"(wamid\.[^"\\]+)"')


def _audit(**fields) -> None:
    """Record in the audit log (audit_app), when it is installed; never the erased data itself."""
    try:
        from audit_app.services import audit_record
    except ImportError:  # a tree without the audit log still exports and erases
        logger.info("audit log unavailable; not recorded", extra={"audit_action": fields.get("action")})
        return
    audit_record(**fields)


def _contact_target(contact: Contact) -> tuple[str, int, str]:
    # The audit log is append-only: its label must not be the person's name or number.
    return ("contact", contact.pk, f"Contact #{contact.pk}")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def contact_is_erased(contact: Contact) -> bool:
    return (contact.user_id or "").startswith(ERASED_PREFIX)


def contact_find(*, workspace: Workspace, reference: str) -> Contact:
    """The workspace's contact named by its id or its phone number (+<digits>), for commands and support."""
    reference = (reference or "").strip()
    if reference.isdigit() and not reference.startswith("0"):
        contact = Contact.objects.filter(workspace=workspace, pk=int(reference)).first()
        if contact is None:
            raise InvalidInput(f"No contact #{reference} in {workspace.slug}.", field="contact")
        return contact
    digits = "".join(ch for ch in reference if ch.isdigit())
    if not reference.startswith("+") or not digits:
        raise InvalidInput("Name the contact by its id (e.g. 42) or phone number (e.g. +16505551234).", field="contact")
    matches = list(Contact.objects.filter(workspace=workspace, wa_id=digits).order_by("pk"))
    if not matches:
        raise InvalidInput(f"No contact has the number +{digits} in {workspace.slug}.", field="contact")
    if len(matches) > 1:
        ids = ", ".join(str(c.pk) for c in matches)
        raise InvalidInput(
            f"+{digits} is a contact on {len(matches)} channels (ids {ids}); give the id.", field="contact"
        )
    return matches[0]


# --- export ----------------------------------------------------------------------------------


def media_archive_path(message: Message) -> str:
    """Where a message's file sits in the export: media/<message id>.<extension>."""
    suffix = PurePosixPath(message.media_file.name or "").suffix
    if not suffix:
        suffix = mimetypes.guess_extension((message.media_mime_type or "").split(";")[0].strip()) or ".bin"
    return f"media/{message.public_id}{suffix.lower()}"


def _contact_events(contact: Contact, conversation_ids: list[int]):
    """Event rows about the contact: its conversations, or its identity on its channel."""
    about = Q(payload__conversation__id__in=conversation_ids) if conversation_ids else Q(pk__in=[])
    identity = Q(pk__in=[])
    if contact.wa_id:
        identity |= Q(payload__contact__wa_id=contact.wa_id)
    if contact.user_id:
        identity |= Q(payload__contact__user_id=contact.user_id)
    about |= identity & Q(payload__channel__id=str(contact.channel.public_id))
    since = contact.created_at - timedelta(hours=1)
    return Event.objects.filter(workspace_id=contact.workspace_id, created_at__gte=since).filter(about)


def contact_export_document(*, contact: Contact) -> dict:
    """Everything stored about the contact: the console's JSON document, completed with what the archive adds
    (extracted text, replies' context, ratings, campaigns, scheduled messages, events, each file's place)."""
    document = selectors.contact_export_document(contact=contact)
    messages = {str(m.public_id): m for m in Message.objects.filter(contact=contact)}
    conversation_ids = []
    for conversation in document["conversations"]:
        conversation_ids.append(conversation["id"])
        for item in conversation["messages"]:
            message = messages[item["id"]]
            item.update(
                extracted_text=message.extracted_text,
                context_wamid=message.context_wamid,
                context=message.context,
                referral=message.referral,
                edits=message.edits,
                revoked_at=_iso(message.revoked_at),
            )
            if item["media"]:
                item["media"]["archive_path"] = media_archive_path(message)
        conversation["ratings"] = [
            {
                "score": rating.score,
                "comment": rating.comment,
                "asked_at": _iso(rating.asked_at),
                "answered_at": _iso(rating.answered_at),
            }
            for rating in ConversationRating.objects.filter(conversation_id=conversation["id"]).order_by("pk")
        ]
    document["campaigns"] = [
        {
            "campaign": row.campaign.name,
            "template": row.campaign.template_name,
            "state": row.state,
            "reason": row.reason,
            "parameters": row.parameters,
            "message_id": str(row.message.public_id) if row.message else None,
            "processed_at": _iso(row.processed_at),
            "created_at": _iso(row.created_at),
        }
        for row in CampaignRecipient.objects.filter(contact=contact).select_related("campaign", "message")
    ]
    document["scheduled_messages"] = [
        {
            "id": str(row.public_id),
            "type": row.message_type,
            "content": row.content,
            "send_at": _iso(row.send_at),
            "state": row.state,
            "failure_reason": row.failure_reason,
            "message_id": str(row.message.public_id) if row.message else None,
            "created_at": _iso(row.created_at),
        }
        for row in ScheduledMessage.objects.filter(contact=contact).select_related("message").order_by("send_at")
    ]
    document["events"] = [
        {"id": event.public_id, "type": event.type, "created_at": _iso(event.created_at), "data": event.payload}
        for event in _contact_events(contact, conversation_ids).order_by("created_at", "pk")
    ]
    document["exported_at"] = _iso(timezone.now())
    return document


def contact_export_write(*, contact: Contact, target: IO[bytes]) -> dict:
    """Write the contact's archive (contact.json and media/…) to a seekable binary file; returns the document.

    Files are copied one at a time in chunks, never all in memory; one missing from storage is
    listed in `media_missing` rather than failing the export.
    """
    document = contact_export_document(contact=contact)
    items = {item["id"]: item for c in document["conversations"] for item in c["messages"]}
    missing = []
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for message in Message.objects.filter(contact=contact).exclude(media_file="").order_by("timestamp", "pk"):
            path = media_archive_path(message)
            entry = zipfile.ZipInfo(path, date_time=timezone.localtime(message.timestamp).timetuple()[:6])
            entry.compress_type = zipfile.ZIP_STORED  # photos, voice notes and videos are compressed already
            try:
                with message.media_file.open("rb") as source, archive.open(entry, "w", force_zip64=True) as sink:
                    shutil.copyfileobj(source, sink, COPY_CHUNK)
            except OSError as exc:
                logger.warning("media missing from an export", extra={"message_id": message.pk, "error": str(exc)})
                missing.append(str(message.public_id))
                items[str(message.public_id)]["media"]["archive_path"] = None
        document["media_missing"] = missing
        archive.writestr("contact.json", json.dumps(document, indent=2, ensure_ascii=False))
    return document


def contact_export_archive(*, contact: Contact, actor=None, request=None) -> IO[bytes]:
    """The archive in a temporary file (deleted when closed), positioned at its start; audited."""
    handle = tempfile.TemporaryFile(suffix=".zip")
    try:
        document = contact_export_write(contact=contact, target=handle)
    except BaseException:
        handle.close()
        raise
    handle.seek(0)
    contact_export_audit(contact=contact, document=document, actor=actor, request=request)
    return handle


def contact_export_audit(*, contact: Contact, document: dict, actor=None, request=None, form: str = "zip") -> None:
    messages = sum(len(c["messages"]) for c in document["conversations"])
    _audit(
        action="contact.exported",
        workspace=contact.workspace_id,
        actor=actor,
        target=_contact_target(contact),
        changes={"format": form, "messages": messages, "conversations": len(document["conversations"])},
        request=request,
    )


def contact_export_filename(contact: Contact) -> str:
    return f"contact-{contact.pk}.zip"


# --- redaction helpers -----------------------------------------------------------------------------


def _redact_value(value: Any, *, in_errors: bool = False) -> Any:
    """Same shape, contents and identities blanked: texts become "", numbers null; kept keys stay."""
    if isinstance(value, dict):
        kept = {}
        for key, item in value.items():
            if key == "metadata":  # the business's own number
                kept[key] = item
            elif key in _WEBHOOK_KEPT_KEYS or (in_errors and key == "title"):
                kept[key] = item if not isinstance(item, dict | list) else _redact_value(item)
            else:
                kept[key] = _redact_value(item, in_errors=in_errors or key == "errors")
        return kept
    if isinstance(value, list):
        return [_redact_value(item, in_errors=in_errors) for item in value]
    if isinstance(value, bool) or value is None:
        return value
    return "" if isinstance(value, str) else None


def webhook_body_redact(raw: bytes, *, reason: str, at: datetime) -> bytes:
    """A webhook body with every customer's identity and message contents blanked, marked as redacted.

    The envelope keeps its shape (object, entries, changes, fields, message types, timestamps,
    statuses, pricing, error codes); business-only fields (templates, quality) stay as received.
    """
    marker = {"reason": reason, "at": at.isoformat()}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        body = None
    redacted: dict[str, Any] = {"redacted": marker}
    if isinstance(body, dict):
        for key, value in body.items():
            if key == "redacted":
                continue
            if key != "entry" or not isinstance(value, list):
                redacted[key] = value if key == "object" else _redact_value(value)
                continue
            entries = []
            for entry in value:
                if not isinstance(entry, dict):
                    entries.append(_redact_value(entry))
                    continue
                changes = []
                for change in entry.get("changes") or []:
                    if isinstance(change, dict) and change.get("field") in BUSINESS_WEBHOOK_FIELDS:
                        changes.append(change)
                    elif isinstance(change, dict):
                        changes.append({"field": change.get("field"), "value": _redact_value(change.get("value"))})
                entries.append({"id": entry.get("id"), "time": entry.get("time"), "changes": changes})
            redacted["entry"] = entries
    return json.dumps(redacted, ensure_ascii=False, separators=(",", ":")).encode()


def webhook_body_is_redacted(raw: bytes | memoryview) -> bool:
    return bytes(raw[:16]).startswith(b'{"redacted":')


def _webhook_redact_row(pk: int, raw: bytes, headers: dict, error: str, *, reason: str, at: datetime, tokens=()):
    # The signature and length described the original bytes; they would only mislead now.
    headers = {k: v for k, v in (headers or {}).items() if k not in ("X-Hub-Signature-256", "Content-Length")}
    for token in tokens:
        error = error.replace(token, ERASED)
    WebhookEvent.objects.filter(pk=pk).update(
        body=webhook_body_redact(raw, reason=reason, at=at), headers=headers, error=error
    )


def agent_run_tool_calls_redacted(tool_calls: Any) -> list:
    """Which tools ran and how long they took; never their arguments or results."""
    return [
        {"name": call.get("name", ""), "duration_ms": call.get("duration_ms"), "redacted": True}
        for call in (tool_calls if isinstance(tool_calls, list) else [])
        if isinstance(call, dict)
    ]


def _agent_runs_redact(runs: list[AgentRun]) -> int:
    for run in runs:
        run.prompt, run.output, run.error = [], "", ""
        run.tool_calls = agent_run_tool_calls_redacted(run.tool_calls)
    AgentRun.objects.bulk_update(runs, ["prompt", "output", "error", "tool_calls"])
    return len(runs)


def _messages_strip(messages, *, fields: dict, reason: str, workspace_id: int) -> tuple[int, int]:
    """Blank the messages' content in the caller's transaction; their files become FileDeletion rows.

    Returns (messages, files). Call inside transaction.atomic().
    """
    rows = list(messages.select_for_update(no_key=True).values_list("pk", "media_file"))
    paths = sorted({path for _pk, path in rows if path})
    FileDeletion.objects.bulk_create(
        [FileDeletion(workspace_id=workspace_id, path=path, reason=reason) for path in paths], ignore_conflicts=True
    )
    updated = Message.objects.filter(pk__in=[pk for pk, _path in rows]).update(**fields, updated_at=timezone.now())
    return updated, len(paths)


def file_deletions_run(*, workspace_id: int | None = None, limit: int = 1000) -> dict[str, int]:
    """Delete pending files from storage; a failure is logged and left for the next run (the retention job)."""
    rows = FileDeletion.objects.order_by("pk")
    if workspace_id is not None:
        rows = rows.filter(workspace_id=workspace_id)
    counts = {"deleted": 0, "failed": 0}
    for row in list(rows[:limit]):
        try:
            default_storage.delete(row.path)  # a file already gone is not an error
        except Exception as exc:  # storage is outside our process: keep the row and retry later
            logger.warning("stored file not deleted; will retry", extra={"file_deletion_id": row.pk, "error": str(exc)})
            FileDeletion.objects.filter(pk=row.pk).update(attempts=F("attempts") + 1, last_error=str(exc)[:2000])
            counts["failed"] += 1
        else:
            FileDeletion.objects.filter(pk=row.pk).delete()
            counts["deleted"] += 1
    return counts


def _file_deletions_enqueue(workspace_id: int) -> None:
    from messaging_app import tasks  # tasks import services

    tasks.file_deletions_run.delay(workspace_id)


# --- erasure ---------------------------------------------------------------------------------------


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
        first_seen = min([row.created_at, *messages.order_by("timestamp").values_list("timestamp", flat=True)[:1]])
        counts: dict[str, int] = {}

        # A message still waiting in the outbox would go out blank: it is not sent, as for a block.
        counts["queued_messages_cancelled"] = messages.filter(
            direction=Message.Direction.OUTBOUND, status=Message.Status.QUEUED
        ).update(status=Message.Status.FAILED, failed_at=now, error_code=None, error_title="Contact erased")
        counts["messages"], counts["media_files"] = _messages_strip(
            messages, fields=MESSAGE_ERASED, reason="erasure", workspace_id=row.workspace_id
        )
        counts["status_receipts"] = StatusReceipt.objects.filter(
            Q(message__contact=row) | Q(channel_id=row.channel_id, wamid__in=wamids)
        ).delete()[0]
        counts["ratings"] = ConversationRating.objects.filter(conversation_id__in=conversation_ids).update(comment="")
        IdempotencyKey.objects.filter(message__contact=row).delete()
        counts["agent_runs"] = _agent_runs_redact(
            list(AgentRun.objects.filter(conversation_id__in=conversation_ids).only("pk", "tool_calls"))
        )
        counts["webhook_bodies"] = _webhook_bodies_erase(row, tokens=tokens, wamids=wamids, since=first_seen, at=now)
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
        _audit(
            action="contact.erased",
            workspace=row.workspace_id,
            actor=actor,
            target=_contact_target(row),
            changes=counts,
            request=request,
        )
        workspace_id = row.workspace_id
        transaction.on_commit(lambda: _file_deletions_enqueue(workspace_id))
    logger.info("contact erased", extra={"contact_id": row.pk, **counts})
    contact.refresh_from_db()
    return counts


def _webhook_bodies_erase(contact: Contact, *, tokens: list[str], wamids: set[str], since, at) -> int:
    """Redact every ledger body on the contact's channel (or not tied to one) that names the contact."""
    needles = [f'"{token}"'.encode() for token in tokens]
    wamid_bytes = {w.encode() for w in wamids}
    events = WebhookEvent.objects.filter(
        Q(channel_id=contact.channel_id) | Q(channel__isnull=True),
        Q(workspace_id=contact.workspace_id) | Q(workspace__isnull=True),
        received_at__gte=since - LEDGER_LOOKBACK,
    ).order_by("pk")
    redacted, cursor = 0, 0
    while True:
        batch = list(events.filter(pk__gt=cursor).values_list("pk", "body", "headers", "error")[:WEBHOOK_BATCH])
        if not batch:
            return redacted
        for pk, body, headers, error in batch:
            cursor = pk
            raw = bytes(body or b"")
            if webhook_body_is_redacted(raw):
                continue
            named = any(needle in raw for needle in needles) or bool(set(_WAMID.findall(raw)) & wamid_bytes)
            if named:
                _webhook_redact_row(pk, raw, headers, error, reason="contact_erased", at=at, tokens=tokens)
                redacted += 1


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
    events = list(_contact_events(contact, conversation_ids).only("pk", "payload"))
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


# --- retention -------------------------------------------------------------------------------------


def workspace_retention_apply(
    *, workspace: Workspace, now: datetime | None = None, deadline: float | None = None
) -> dict:
    """Apply the workspace's retention policy in bounded batches, each its own transaction.

    Idempotent: what was already removed is not selected again, and a run cut short by the
    deadline (time.monotonic()) resumes where it stopped. Returns counts, with "done" False when cut short.
    """
    now = now or timezone.now()
    counts = {"messages": 0, "media_files": 0, "agent_runs": 0, "webhook_bodies": 0, "done": True}
    if workspace.retention_days is not None:
        cutoff = now - timedelta(days=workspace.retention_days)
        since = workspace.retention_content_through - LATE_ARRIVALS if workspace.retention_content_through else None
        done = _messages_retention(workspace, cutoff, since, counts, deadline)
        done = done and _runs_retention(workspace, cutoff, since, counts, deadline)
        if done:
            Workspace.objects.filter(pk=workspace.pk).update(retention_content_through=cutoff)
        counts["done"] = done
    if workspace.webhook_body_retention_days is not None:
        cutoff = now - timedelta(days=workspace.webhook_body_retention_days)
        events = WebhookEvent.objects.filter(workspace=workspace)
        progress = _webhooks_retention(events, cutoff, workspace.retention_webhooks_through, counts, deadline, now)
        Workspace.objects.filter(pk=workspace.pk).update(retention_webhooks_through=progress)
        counts["done"] = counts["done"] and progress == cutoff
    file_deletions_run(workspace_id=workspace.pk)
    changed = {k: v for k, v in counts.items() if k != "done" and v}
    if changed:
        _audit(action="retention.applied", workspace=workspace, actor="system", target=workspace, changes=changed)
        logger.info("retention applied", extra={"workspace_id": workspace.pk, **changed})
    return counts


def _out_of_time(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline


def _messages_retention(workspace, cutoff, since, counts, deadline) -> bool:
    aged = Message.objects.filter(workspace=workspace, timestamp__lt=cutoff).filter(MESSAGE_HAS_CONTENT)
    if since is not None:
        aged = aged.filter(timestamp__gte=since)
    while not _out_of_time(deadline):
        ids = list(aged.order_by().values_list("pk", flat=True)[:MESSAGE_BATCH])
        if not ids:
            return True
        with transaction.atomic():
            messages, files = _messages_strip(
                Message.objects.filter(pk__in=ids),
                fields=MESSAGE_CONTENT_REMOVED,
                reason="retention",
                workspace_id=workspace.pk,
            )
        counts["messages"] += messages
        counts["media_files"] += files
        file_deletions_run(workspace_id=workspace.pk)
    return False


def _runs_retention(workspace, cutoff, since, counts, deadline) -> bool:
    aged = AgentRun.objects.filter(workspace=workspace, started_at__lt=cutoff).filter(RUN_HAS_CONTENT)
    if since is not None:
        aged = aged.filter(started_at__gte=since)
    while not _out_of_time(deadline):
        with transaction.atomic():
            runs = list(aged.select_for_update(no_key=True).only("pk", "tool_calls").order_by()[:RUN_BATCH])
            if not runs:
                return True
            counts["agent_runs"] += _agent_runs_redact(runs)
    return False


def _webhooks_retention(events, cutoff, through, counts, deadline, now) -> datetime:
    """Redact ledger bodies received before `cutoff`, oldest first; returns how far it got."""
    events = events.filter(received_at__lt=cutoff)
    if through is not None:
        events = events.filter(received_at__gte=through - timedelta(hours=1))
    position = None
    while not _out_of_time(deadline):
        page = events.order_by("received_at", "pk")
        if position is not None:
            page = page.filter(Q(received_at__gt=position[0]) | Q(received_at=position[0], pk__gt=position[1]))
        batch = list(page.values_list("pk", "received_at", "body", "headers", "error")[:WEBHOOK_BATCH])
        if not batch:
            return cutoff
        with transaction.atomic():
            for pk, _received_at, body, headers, error in batch:
                raw = bytes(body or b"")
                if not webhook_body_is_redacted(raw):
                    _webhook_redact_row(pk, raw, headers, error, reason="retention", at=now)
                    counts["webhook_bodies"] += 1
        position = (batch[-1][1], batch[-1][0])
    # Out of time: the next run starts near the last body handled (or where this one started).
    return position[0] if position else through


def orphan_webhooks_retention(*, now: datetime, deadline: float | None = None) -> int:
    """Webhooks never tied to a workspace (bad signature, unknown number) get a platform-wide limit.

    Without a workspace to keep progress on, each run looks at the week before the limit, so a
    body is seen on several daily runs.
    """
    cutoff = now - timedelta(days=ORPHAN_WEBHOOK_BODY_DAYS)
    counts = {"webhook_bodies": 0}
    events = WebhookEvent.objects.filter(workspace__isnull=True)
    _webhooks_retention(events, cutoff, cutoff - LATE_ARRIVALS, counts, deadline, now)
    return counts["webhook_bodies"]


def erased_contacts_sweep(*, deadline: float | None = None) -> dict[str, int]:
    """What reached an erased contact's rows after the erasure (a media download or an agent turn that was
    already under way) is removed the same way."""
    erased = Contact.objects.filter(user_id__startswith=ERASED_PREFIX)
    counts = {"messages": 0, "agent_runs": 0}
    late = Message.objects.filter(contact__in=erased).filter(MESSAGE_HAS_CONTENT | Q(wamid__isnull=False))
    while not _out_of_time(deadline):
        batch = list(late.order_by().values_list("pk", "workspace_id")[:MESSAGE_BATCH])
        if not batch:
            break
        for workspace_id in {w for _pk, w in batch}:
            with transaction.atomic():
                ids = [pk for pk, w in batch if w == workspace_id]
                counts["messages"] += _messages_strip(
                    Message.objects.filter(pk__in=ids),
                    fields=MESSAGE_ERASED,
                    reason="erasure",
                    workspace_id=workspace_id,
                )[0]
    runs = AgentRun.objects.filter(conversation__contact__in=erased).filter(RUN_HAS_CONTENT)
    while not _out_of_time(deadline):
        with transaction.atomic():
            batch = list(
                runs.select_for_update(no_key=True, of=("self",)).only("pk", "tool_calls").order_by()[:RUN_BATCH]
            )
            if not batch:
                break
            counts["agent_runs"] += _agent_runs_redact(batch)
    return counts


def retention_apply_all(*, now: datetime | None = None, time_budget_seconds: float = 300.0) -> dict[str, Any]:
    """The daily job: every workspace's policy, orphan webhooks, late writes to erased contacts, and
    file deletions that failed before. Returns totals and whether everything was done in the budget."""
    now = now or timezone.now()
    deadline = time.monotonic() + time_budget_seconds
    totals: dict[str, Any] = {"workspaces": 0, "messages": 0, "media_files": 0, "agent_runs": 0, "webhook_bodies": 0}
    done = True
    workspaces = Workspace.objects.filter(
        Q(retention_days__isnull=False) | Q(webhook_body_retention_days__isnull=False)
    ).order_by("pk")
    for workspace in workspaces:
        if _out_of_time(deadline):
            done = False
            break
        counts = workspace_retention_apply(workspace=workspace, now=now, deadline=deadline)
        done = done and counts.pop("done")
        totals["workspaces"] += 1
        for key, value in counts.items():
            totals[key] += value
    totals["webhook_bodies"] += orphan_webhooks_retention(now=now, deadline=deadline)
    swept = erased_contacts_sweep(deadline=deadline)
    totals["erased_contacts_swept"] = swept["messages"] + swept["agent_runs"]
    totals["files"] = file_deletions_run()
    totals["done"] = done and not _out_of_time(deadline)
    return totals
