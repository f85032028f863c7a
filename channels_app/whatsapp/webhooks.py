"""Webhook intake helpers: signature check and flattening Meta's envelope into typed items.

Parsing never raises on a shape it does not know: anything malformed or unrecognised comes back as an
UnknownItem that keeps the raw part, so it can be stored and looked at later (Meta has no API to fetch
past webhooks).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "STATUS_RANK",
    "FieldEvent",
    "InboundMessage",
    "StatusUpdate",
    "UnknownItem",
    "UserPreference",
    "ValueErrors",
    "WebhookItem",
    "signature_valid",
    "status_rank",
    "webhook_items",
]

_SIGNATURE_RE = re.compile(r"sha256=([0-9a-fA-F]{64})")


def signature_valid(raw_body: bytes, header_value: str | None, app_secret: str) -> bool:
    """Check `X-Hub-Signature-256: sha256=<hex>` against HMAC-SHA256 of the exact raw request bytes.

    Pass the body exactly as received (Django's `request.body`), never re-serialised JSON: Meta signs its
    own escaped-unicode form (`\\u00e4`), and re-encoding changes the bytes.
    """
    if not app_secret or not isinstance(header_value, str) or not isinstance(raw_body, bytes | bytearray):
        return False
    match = _SIGNATURE_RE.fullmatch(header_value.strip())
    if match is None:
        return False
    expected = hmac.new(app_secret.encode("utf-8"), bytes(raw_body), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode("ascii"), match.group(1).lower().encode("ascii"))


# --- items ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboundMessage:
    """One `value.messages[i]`. A sender has a phone (`from_phone`), a BSUID (`from_user_id`) or both."""

    waba_id: str
    phone_number_id: str
    display_phone_number: str
    wamid: str
    timestamp: datetime | None  # aware UTC; None only if Meta sent none or garbage
    message_type: str
    from_phone: str | None
    from_user_id: str | None
    parent_user_id: str | None
    profile_name: str | None
    username: str | None
    content: dict
    context: dict | None
    referral: dict | None
    errors: list[dict]
    raw: dict


@dataclass(frozen=True)
class StatusUpdate:
    """One `value.statuses[i]`: sent, delivered, read, played or failed (with errors)."""

    waba_id: str
    phone_number_id: str
    wamid: str
    status: str
    timestamp: datetime | None
    recipient_phone: str | None
    recipient_user_id: str | None
    errors: list[dict]
    pricing: dict | None
    conversation: dict | None
    biz_opaque_callback_data: str | None
    raw: dict


@dataclass(frozen=True)
class ValueErrors:
    """`value.errors[]`: a system, app or account level error not tied to one message."""

    waba_id: str
    phone_number_id: str
    errors: list[dict]
    raw: dict


@dataclass(frozen=True)
class UserPreference:
    """One `value.user_preferences[i]`, e.g. a customer stopping or resuming marketing messages."""

    waba_id: str
    phone_number_id: str
    wa_id: str | None
    user_id: str | None
    category: str | None
    value: str | None
    detail: str | None
    timestamp: datetime | None
    raw: dict


@dataclass(frozen=True)
class FieldEvent:
    """Any other field: template status/category/quality, phone number quality, account_update, echoes…"""

    field: str
    waba_id: str
    time: datetime | None
    value: dict


@dataclass(frozen=True)
class UnknownItem:
    reason: str
    raw: Any = field(default=None)


WebhookItem = InboundMessage | StatusUpdate | ValueErrors | UserPreference | FieldEvent | UnknownItem


# --- parsing -------------------------------------------------------------------------------


def _ts(value: Any) -> datetime | None:
    """Unix seconds as a string (the `messages` field) or an integer (everywhere else)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and re.fullmatch(r"\d{1,12}", value.strip()):
        value = int(value.strip())
    if isinstance(value, int | float) and 0 <= value < 10**11:
        return datetime.fromtimestamp(value, tz=UTC)
    return None


def _s(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _dict_or_none(value: Any) -> dict | None:
    return value if isinstance(value, dict) else None


def _dicts(value: Any) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _sender_contact(contacts: list[dict], from_phone: str | None, from_user_id: str | None) -> dict:
    for contact in contacts:
        if from_phone and _s(contact.get("wa_id")) == from_phone:
            return contact
        if from_user_id and _s(contact.get("user_id")) == from_user_id:
            return contact
    return {}


def _message_content(message: dict, message_type: str) -> dict:
    if message_type == "unsupported":
        return {"unsupported": message.get("unsupported") if isinstance(message.get("unsupported"), dict) else {}}
    body = message.get(message_type)
    if message_type == "contacts" and isinstance(body, list):
        return {"contacts": body}  # the one type whose object is a list
    return body if isinstance(body, dict) else {}


def _inbound(message: Any, waba_id: str, metadata: dict, contacts: list[dict]) -> WebhookItem:
    if not isinstance(message, dict):
        return UnknownItem("message is not an object", message)
    wamid = _s(message.get("id"))
    if wamid is None:
        return UnknownItem("message has no id", message)
    message_type = _s(message.get("type")) or "unknown"
    from_phone = _s(message.get("from"))
    from_user_id = _s(message.get("from_user_id"))
    contact = _sender_contact(contacts, from_phone, from_user_id)
    profile = contact.get("profile") if isinstance(contact.get("profile"), dict) else {}
    return InboundMessage(
        waba_id=waba_id,
        phone_number_id=_s(metadata.get("phone_number_id")) or "",
        display_phone_number=_s(metadata.get("display_phone_number")) or "",
        wamid=wamid,
        timestamp=_ts(message.get("timestamp")),
        message_type=message_type,
        from_phone=from_phone,
        from_user_id=from_user_id or _s(contact.get("user_id")),
        parent_user_id=_s(contact.get("parent_user_id")),
        profile_name=_s(profile.get("name")),
        username=_s(profile.get("username")),
        content=_message_content(message, message_type),
        context=_dict_or_none(message.get("context")),
        referral=_dict_or_none(message.get("referral")),
        errors=_dicts(message.get("errors")),
        raw=message,
    )


def _status(status: Any, waba_id: str, metadata: dict) -> WebhookItem:
    if not isinstance(status, dict):
        return UnknownItem("status is not an object", status)
    wamid, state = _s(status.get("id")), _s(status.get("status"))
    if wamid is None or state is None:
        return UnknownItem("status has no id or no status", status)
    callback_data = status.get("biz_opaque_callback_data")
    return StatusUpdate(
        waba_id=waba_id,
        phone_number_id=_s(metadata.get("phone_number_id")) or "",
        wamid=wamid,
        status=state,
        timestamp=_ts(status.get("timestamp")),
        recipient_phone=_s(status.get("recipient_id")),
        recipient_user_id=_s(status.get("recipient_user_id")),
        errors=_dicts(status.get("errors")),
        pricing=_dict_or_none(status.get("pricing")),
        conversation=_dict_or_none(status.get("conversation")),
        biz_opaque_callback_data=callback_data if isinstance(callback_data, str) else None,
        raw=status,
    )


def _preference(item: Any, waba_id: str, metadata: dict) -> WebhookItem:
    if not isinstance(item, dict):
        return UnknownItem("user preference is not an object", item)
    return UserPreference(
        waba_id=waba_id,
        phone_number_id=_s(metadata.get("phone_number_id")) or "",
        wa_id=_s(item.get("wa_id")),
        user_id=_s(item.get("user_id")),
        category=_s(item.get("category")),
        value=_s(item.get("value")),
        detail=_s(item.get("detail")),
        timestamp=_ts(item.get("timestamp")),
        raw=item,
    )


def _messages_value(value: dict, waba_id: str) -> list[WebhookItem]:
    metadata = value.get("metadata") if isinstance(value.get("metadata"), dict) else {}
    contacts = _dicts(value.get("contacts"))
    items: list[WebhookItem] = []
    found = False
    if "messages" in value:
        found = True
        if isinstance(value["messages"], list):
            items.extend(_inbound(message, waba_id, metadata, contacts) for message in value["messages"])
        else:
            items.append(UnknownItem("value.messages is not a list", value))
    if "statuses" in value:
        found = True
        if isinstance(value["statuses"], list):
            items.extend(_status(status, waba_id, metadata) for status in value["statuses"])
        else:
            items.append(UnknownItem("value.statuses is not a list", value))
    if "errors" in value:
        found = True
        items.append(
            ValueErrors(
                waba_id=waba_id,
                phone_number_id=_s(metadata.get("phone_number_id")) or "",
                errors=_dicts(value.get("errors")),
                raw=value,
            )
        )
    if not found:
        items.append(UnknownItem("messages change with no messages, statuses or errors", value))
    return items


def _change_items(change: Any, waba_id: str, time: datetime | None) -> list[WebhookItem]:
    if not isinstance(change, dict):
        return [UnknownItem("change is not an object", change)]
    field_name, value = change.get("field"), change.get("value")
    if not isinstance(field_name, str) or not field_name:
        return [UnknownItem("change has no field", change)]
    if not isinstance(value, dict):
        return [UnknownItem(f"{field_name} change has no value object", change)]
    if field_name == "messages":
        return _messages_value(value, waba_id)
    if field_name == "user_preferences":
        metadata = value.get("metadata") if isinstance(value.get("metadata"), dict) else {}
        preferences = value.get("user_preferences")
        if not isinstance(preferences, list):
            return [UnknownItem("user_preferences change has no user_preferences list", change)]
        return [_preference(item, waba_id, metadata) for item in preferences]
    return [FieldEvent(field=field_name, waba_id=waba_id, time=time, value=value)]


def webhook_items(body: dict) -> list[WebhookItem]:
    """Flatten every `entry[] → changes[] → value` of one webhook POST into items, in order.

    One POST may batch up to 1000 updates across entries, changes, messages and statuses.
    """
    if not isinstance(body, dict):
        return [UnknownItem("body is not a JSON object", body)]
    obj = body.get("object")
    if obj is not None and obj != "whatsapp_business_account":
        return [UnknownItem(f"object is {obj!r}, not whatsapp_business_account", body)]
    entries = body.get("entry")
    if not isinstance(entries, list):
        return [UnknownItem("body has no entry list", body)]
    items: list[WebhookItem] = []
    for entry in entries:
        if not isinstance(entry, dict):
            items.append(UnknownItem("entry is not an object", entry))
            continue
        waba_id = _s(entry.get("id")) or ""
        changes = entry.get("changes")
        if not isinstance(changes, list):
            items.append(UnknownItem("entry has no changes list", entry))
            continue
        time = _ts(entry.get("time"))
        for change in changes:
            items.extend(_change_items(change, waba_id, time))
    return items


# --- status ordering -----------------------------------------------------------------------

STATUS_RANK = {"sent": 1, "delivered": 2, "read": 3, "played": 4}
FAILED_RANK = 100


def status_rank(status: str | None) -> int:
    """Statuses only move forward: sent < delivered < read < played; failed (100) is terminal.

    Unknown statuses rank 0, so they never overwrite a known one.
    """
    if status == "failed":
        return FAILED_RANK
    return STATUS_RANK.get(status or "", 0)
