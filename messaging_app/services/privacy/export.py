"""A contact's data as one zip: contact.json and media/<message id>.<ext> (console, API, command)."""

import json
import logging
import mimetypes
import shutil
import tempfile
import zipfile
from pathlib import PurePosixPath
from typing import IO

from django.utils import timezone

from messaging_app import selectors
from messaging_app.models import Contact, ConversationRating, Message
from messaging_app.services.privacy.common import audit_if_installed, contact_audit_target, contact_events, iso
from outreach_app.models import CampaignRecipient, ScheduledMessage

logger = logging.getLogger(__name__)

COPY_CHUNK = 1024 * 1024


def media_archive_path(message: Message) -> str:
    """Where a message's file sits in the export: media/<message id>.<extension>."""
    suffix = PurePosixPath(message.media_file.name or "").suffix
    if not suffix:
        suffix = mimetypes.guess_extension((message.media_mime_type or "").split(";")[0].strip()) or ".bin"
    return f"media/{message.public_id}{suffix.lower()}"


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
                revoked_at=iso(message.revoked_at),
            )
            if item["media"]:
                item["media"]["archive_path"] = media_archive_path(message)
        conversation["ratings"] = [
            {
                "score": rating.score,
                "comment": rating.comment,
                "asked_at": iso(rating.asked_at),
                "answered_at": iso(rating.answered_at),
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
            "processed_at": iso(row.processed_at),
            "created_at": iso(row.created_at),
        }
        for row in CampaignRecipient.objects.filter(contact=contact).select_related("campaign", "message")
    ]
    document["scheduled_messages"] = [
        {
            "id": str(row.public_id),
            "type": row.message_type,
            "content": row.content,
            "send_at": iso(row.send_at),
            "state": row.state,
            "failure_reason": row.failure_reason,
            "message_id": str(row.message.public_id) if row.message else None,
            "created_at": iso(row.created_at),
        }
        for row in ScheduledMessage.objects.filter(contact=contact).select_related("message").order_by("send_at")
    ]
    document["events"] = [
        {"id": event.public_id, "type": event.type, "created_at": iso(event.created_at), "data": event.payload}
        for event in contact_events(contact, conversation_ids).order_by("created_at", "pk")
    ]
    document["exported_at"] = iso(timezone.now())
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
    audit_if_installed(
        action="contact.exported",
        workspace=contact.workspace_id,
        actor=actor,
        target=contact_audit_target(contact),
        changes={"format": form, "messages": messages, "conversations": len(document["conversations"])},
        request=request,
    )


def contact_export_filename(contact: Contact) -> str:
    return f"contact-{contact.pk}.zip"
