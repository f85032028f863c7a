"""Customers of an emulated number and the messages they send to the business (reference §2)."""

import base64
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from cloudapi_emulator import clock, ids
from cloudapi_emulator.models import Customer, Message, PhoneNumber
from cloudapi_emulator.services.media import media_store
from cloudapi_emulator.services.webhooks import contact_of, messages_webhook_enqueue


class CustomerMessageError(ValueError):
    """A customer message the emulator cannot build (bad type or content)."""


INBOUND_TYPES = {
    "text",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "location",
    "contacts",
    "interactive",
    "button",
    "reaction",
    "order",
    "system",
    "unsupported",
}
MEDIA_TYPES = {"image", "video", "audio", "document", "sticker"}
# Tiny but well-formed files for customers who "send" media without giving bytes.
PLACEHOLDER_FILES: dict[str, tuple[str, bytes]] = {
    "image": ("image/jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"),
    "video": ("video/mp4", b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"),
    "audio": ("audio/ogg", b"OggS\x00\x02" + b"\x00" * 20 + b"OpusHead"),
    "document": ("application/pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"),
    "sticker": ("image/webp", b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00/\x00\x00\x00\x10\x07\x10\x11\x11\x88"),
}


def customer_get_or_create(
    *,
    number: PhoneNumber,
    name: str,
    phone: str | None = None,
    bsuid: str | None = None,
    username: str | None = None,
) -> Customer:
    """The customer of this number with this phone (or BSUID); a username-only customer has no phone."""
    phone_digits = ids.digits(phone or "")
    existing = None
    if phone_digits:
        existing = Customer.objects.filter(number=number, phone=phone_digits).first()
    if existing is None and bsuid:
        existing = Customer.objects.filter(number=number, bsuid=bsuid).first()
    if existing is not None:
        return existing
    return Customer.objects.create(
        number=number, name=name, phone=phone_digits, bsuid=bsuid or ids.bsuid(), username=username or ""
    )


def _media_object(*, number: PhoneNumber, message_type: str, content: dict[str, Any]) -> dict[str, Any]:
    """Store the customer's file in the emulator and describe it as the webhook does."""
    default_mime, default_bytes = PLACEHOLDER_FILES[message_type]
    data = content.get("data", default_bytes)
    if isinstance(data, str):
        data = base64.b64decode(data)  # the control API carries bytes as base64
    mime_type = content.get("mime_type") or default_mime
    media = media_store(number=number, data=data, mime_type=mime_type, filename=content.get("filename", ""))
    obj: dict[str, Any] = {"mime_type": mime_type, "sha256": media.sha256, "id": media.media_id}
    if message_type in {"image", "video", "document"} and content.get("caption"):
        obj["caption"] = content["caption"]
    if message_type == "document":
        obj["filename"] = content.get("filename") or "document.pdf"
    if message_type == "audio":
        obj["voice"] = bool(content.get("voice", False))
    if message_type == "sticker":
        obj["animated"] = bool(content.get("animated", False))
    return obj


def _type_object(*, number: PhoneNumber, message_type: str, content: Any) -> Any:
    if message_type in MEDIA_TYPES:
        return _media_object(number=number, message_type=message_type, content=content or {})
    if message_type == "contacts":
        contacts = content.get("contacts") if isinstance(content, dict) else content
        if not isinstance(contacts, list) or not contacts:
            raise CustomerMessageError("A contacts message needs a non-empty list of contacts.")
        return contacts
    if message_type == "text" and isinstance(content, str):
        return {"body": content}
    if message_type == "reaction" and not content.get("emoji"):
        # An unreaction: Meta sends an empty emoji (or none at all).
        return {"message_id": content.get("message_id", ""), "emoji": ""}
    if not isinstance(content, dict):
        raise CustomerMessageError(f"The content of a {message_type} message is an object.")
    return content


@transaction.atomic
def customer_message_send(
    *,
    number: PhoneNumber,
    customer: Customer,
    message_type: str,
    content: Any,
    context_wamid: str | None = None,
    forwarded: bool = False,
    referral: dict[str, Any] | None = None,
) -> str:
    """The customer sends a message: record it, open/refresh their 24 h window, enqueue the webhook.

    `content` is the type object as it appears in the webhook (`{"body": …}` for text,
    `{"type": "button_reply", "button_reply": {…}}` for interactive, `{"payload", "text"}` for a
    template button, `{"message_id", "emoji"}` for a reaction). Media types take
    `{"data": bytes|base64, "mime_type", "caption", "filename", "voice", "animated"}`, all optional:
    the file is stored so the platform can fetch it through `GET /<media_id>`.
    """
    if message_type not in INBOUND_TYPES:
        raise CustomerMessageError(f"Unknown inbound message type {message_type!r}.")
    now = clock.now()
    type_object = _type_object(number=number, message_type=message_type, content=content)
    wamid = ids.wamid()
    message: dict[str, Any] = {}
    if context_wamid:
        message["context"] = {"from": number.display_digits, "id": context_wamid}
    elif forwarded:
        message["context"] = {"forwarded": True}
    if customer.phone:
        message["from"] = customer.phone
    message["from_user_id"] = customer.bsuid
    message["id"] = wamid
    message["timestamp"] = str(int(now.timestamp()))
    message["type"] = message_type
    message[message_type] = type_object
    if referral:
        message["referral"] = referral
    Message.objects.create(
        number=number,
        customer=customer,
        direction=Message.Direction.INBOUND,
        wamid=wamid,
        message_type=message_type,
        content=type_object if isinstance(type_object, dict) else {"contacts": type_object},
        context_wamid=context_wamid or "",
        payload=message,
        created_at=now,
    )
    customer.last_message_at = now
    customer.save(update_fields=["last_message_at"])
    messages_webhook_enqueue(number=number, value_parts={"contacts": [contact_of(customer)], "messages": [message]})
    return wamid


def business_messages_for(*, number: PhoneNumber, customer: Customer) -> QuerySet[Message]:
    """What the business sent this customer, oldest first, with `status_events` prefetched.

    `message.statuses_emitted` lists the statuses whose webhooks the platform acknowledged.
    """
    return (
        Message.objects.filter(number=number, customer=customer, direction=Message.Direction.OUTBOUND)
        .prefetch_related("status_events")
        .order_by("created_at", "id")
    )


def chat_for(*, number: PhoneNumber, customer: Customer) -> QuerySet[Message]:
    """Both directions of one chat, oldest first (for the sandbox phone page)."""
    return (
        Message.objects.filter(number=number, customer=customer)
        .prefetch_related("status_events")
        .order_by("created_at", "id")
    )
