"""What export, erasure and retention share: what counts as content and how it is blanked, webhook body
redaction, file deletions, finding a contact, and the audit call."""

import json
import logging
import time
from datetime import datetime, timedelta
from typing import Any

from django.core.files.storage import default_storage
from django.db.models import F, Q
from django.utils import timezone

from agents_app.models import AgentRun
from channels_app.models import WebhookEvent
from events_app.models import Event
from messaging_app.models import Contact
from whatsapp_platform.errors import InvalidInput
from workspaces_app.models import FileDeletion, Workspace

logger = logging.getLogger(__name__)

# A tombstone's BSUID: never a real one (those read "CC.<digits>"), unique per erased contact.
ERASED_PREFIX = "erased-"
ERASED = "[erased]"
WEBHOOK_BATCH = 100
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
# Set on a redacted WebhookEvent's stored headers: "<reason> <when>".
REDACTED_HEADER = "X-Platform-Redacted"


def audit_if_installed(**fields) -> None:
    """Record in the audit log (audit_app), when it is installed; never the erased data itself."""
    try:
        from audit_app.services import audit_record
    except ImportError:  # a tree without the audit log still exports and erases
        logger.info("audit log unavailable; not recorded", extra={"audit_action": fields.get("action")})
        return
    audit_record(**fields)


def contact_audit_target(contact: Contact) -> tuple[str, int, str]:
    # The audit log is append-only: its label must not be the person's name or number.
    return ("contact", contact.pk, f"Contact #{contact.pk}")


def iso(value: datetime | None) -> str | None:
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


def contact_events(contact: Contact, conversation_ids: list[int]):
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


def webhook_event_redact(pk: int, raw: bytes, headers: dict, error: str, *, reason: str, at: datetime, tokens=()):
    """Store the redacted body; `tokens` (the erased contact's ids) are also cut from the processing error."""
    # The signature and length described the original bytes; they would only mislead now. The marker
    # header is what queries (and the troubleshooting page) tell redacted bodies by.
    headers = {k: v for k, v in (headers or {}).items() if k not in ("X-Hub-Signature-256", "Content-Length")}
    headers[REDACTED_HEADER] = f"{reason} {at.isoformat()}"
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


def agent_runs_redact(runs: list[AgentRun]) -> int:
    """Keep each run's status, timings and tokens (analytics count them); drop what it was told and answered."""
    for run in runs:
        run.prompt, run.output, run.error = [], "", ""
        run.tool_calls = agent_run_tool_calls_redacted(run.tool_calls)
    AgentRun.objects.bulk_update(runs, ["prompt", "output", "error", "tool_calls"], batch_size=500)
    return len(runs)


def messages_strip(messages, *, fields: dict, reason: str, workspace_id: int) -> tuple[int, int]:
    """Blank the messages' content in the caller's transaction; their files become FileDeletion rows.

    Returns (messages, files). Call inside transaction.atomic().
    """
    # Rows holding a file are locked while their names are read, so the name written down is the one blanked.
    paths = sorted(
        set(messages.exclude(media_file="").select_for_update(no_key=True).values_list("media_file", flat=True))
    )
    FileDeletion.objects.bulk_create(
        [FileDeletion(workspace_id=workspace_id, path=path, reason=reason) for path in paths], ignore_conflicts=True
    )
    updated = messages.update(**fields, updated_at=timezone.now())
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


def out_of_time(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline
