"""Staff, integrations and agents' tools changing a contact: tags, attributes, blocking, marketing consent.

Tags and attributes are checked the same way whoever writes them (console, API, admin, an HTTP
tool's answer), and every change takes the contact's row lock, so two writers merging attributes
at once both land.
"""

import logging
import re
from typing import Any

from django.db import transaction
from django.utils import timezone

from messaging_app.models import Contact, Message
from messaging_app.services.consent import Source, contact_marketing_opt_in, contact_marketing_opt_out
from whatsapp_platform.errors import InvalidInput

logger = logging.getLogger(__name__)

MAX_TAGS = 50
TAG_MAX_LENGTH = 64
MAX_ATTRIBUTES = 50
ATTRIBUTE_VALUE_MAX_LENGTH = 500
# Campaign audiences and template values name attributes as identifiers (outreach_app), so keys are too.
ATTRIBUTE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")

# The keys an HTTP tool's JSON answer may carry to update the customer it was called for.
TOOL_SET_ATTRIBUTES = "set_contact_attributes"
TOOL_ADD_TAGS = "add_contact_tags"
TOOL_REMOVE_TAGS = "remove_contact_tags"
TOOL_DIRECTIVES = (TOOL_SET_ATTRIBUTES, TOOL_ADD_TAGS, TOOL_REMOVE_TAGS)


def contact_tags_clean(tags: Any, *, field: str = "tags") -> list[str]:
    """A list of tags as stored: trimmed, inner spaces collapsed, duplicates dropped, order kept."""
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list | tuple):
        raise InvalidInput('Tags are a list of short labels, e.g. ["vip", "newsletter"].', field=field)
    cleaned: list[str] = []
    for tag in tags:
        if not isinstance(tag, str):
            raise InvalidInput(f"Each tag is text; {tag!r} is not.", field=field)
        tag = " ".join(tag.split())
        if not tag:
            continue
        if len(tag) > TAG_MAX_LENGTH or "," in tag:
            raise InvalidInput(
                f"A tag is at most {TAG_MAX_LENGTH} characters, without commas: {tag[:80]!r}.", field=field
            )
        if tag not in cleaned:
            cleaned.append(tag)
    return cleaned


def contact_attributes_clean(values: Any, *, field: str = "attributes") -> dict[str, Any]:
    """Attribute changes: key → text, number or true/false; null removes the key."""
    if not isinstance(values, dict):
        raise InvalidInput('Attributes are an object of name → value, e.g. {"plan": "gold", "orders": 3}.', field=field)
    cleaned: dict[str, Any] = {}
    for key, value in values.items():
        if not isinstance(key, str) or not ATTRIBUTE_KEY.fullmatch(key):
            raise InvalidInput(
                f"Attribute name {str(key)[:80]!r} must start with a letter or _ and hold only letters, digits and _ "
                "(at most 64 characters), e.g. plan or last_order.",
                field=field,
            )
        if isinstance(value, str):
            value = value.strip()
            if len(value) > ATTRIBUTE_VALUE_MAX_LENGTH:
                raise InvalidInput(
                    f"The value of {key} is over {ATTRIBUTE_VALUE_MAX_LENGTH} characters.", field=f"{field}.{key}"
                )
        elif value is not None and not isinstance(value, bool | int | float):
            raise InvalidInput(
                f"The value of {key} must be text, a number or true/false (null removes it), not a list or object.",
                field=f"{field}.{key}",
            )
        cleaned[key] = value
    return cleaned


def contact_update(
    *,
    contact: Contact,
    tags: list | None = None,
    add_tags: list | None = None,
    remove_tags: list | None = None,
    attributes: dict | None = None,
    blocked: bool | None = None,
    by: str = "staff",
) -> Contact:
    """Change the contact's tags (replace, add, remove), merge attribute changes, block or unblock.

    Everything is checked before anything is written; `contact` is refreshed with the stored row.
    `by` says who asked (staff, api, a tool's name) for the log.
    """
    tags = contact_tags_clean(tags) if tags is not None else None
    add_tags = contact_tags_clean(add_tags, field="add_tags") if add_tags is not None else []
    remove_tags = contact_tags_clean(remove_tags, field="remove_tags") if remove_tags is not None else []
    attributes = contact_attributes_clean(attributes) if attributes is not None else {}
    with transaction.atomic():
        row = Contact.objects.select_for_update(no_key=True).get(pk=contact.pk)
        changed: list[str] = []
        new_tags = list(row.tags or []) if tags is None else tags
        new_tags = [tag for tag in new_tags + [t for t in add_tags if t not in new_tags] if tag not in remove_tags]
        if len(new_tags) > MAX_TAGS:
            raise InvalidInput(f"A contact has at most {MAX_TAGS} tags.", field="tags")
        if new_tags != (row.tags or []):
            row.tags = new_tags
            changed.append("tags")
        if attributes:
            merged = dict(row.attributes or {})
            for key, value in attributes.items():
                if value is None or value == "":
                    merged.pop(key, None)
                else:
                    merged[key] = value
            if len(merged) > MAX_ATTRIBUTES:
                raise InvalidInput(f"A contact has at most {MAX_ATTRIBUTES} attributes.", field="attributes")
            if merged != (row.attributes or {}):
                row.attributes = merged
                changed.append("attributes")
        if blocked is not None and blocked != (row.blocked_at is not None):
            row.blocked_at = timezone.now() if blocked else None
            changed.append("blocked_at")
        if changed:
            row.save(update_fields=[*changed, "updated_at"])
            logger.info("contact changed", extra={"contact_id": row.pk, "fields": changed, "by": by})
        if "blocked_at" in changed and row.blocked_at is not None:
            _queued_sends_cancel(row)
    for name in ("tags", "attributes", "blocked_at", "updated_at"):
        setattr(contact, name, getattr(row, name))
    return contact


def _queued_sends_cancel(contact: Contact) -> int:
    """Messages still waiting in the outbox for a contact just blocked are not sent; a send already under way
    (claimed by a worker) cannot be called back."""
    now = timezone.now()
    cancelled = Message.objects.filter(
        contact=contact, direction=Message.Direction.OUTBOUND, status=Message.Status.QUEUED
    ).update(
        status=Message.Status.FAILED,
        failed_at=now,
        error_code=None,
        error_title="Contact blocked",
        error_details="The contact was blocked before this message was sent.",
        updated_at=now,
    )
    if cancelled:
        logger.info("queued messages cancelled by a block", extra={"contact_id": contact.pk, "count": cancelled})
    return cancelled


def contact_block(*, contact: Contact, by: str = "staff") -> Contact:
    """No agent replies, no sends (message_send refuses), nothing queued goes out. Inbound messages are still kept."""
    return contact_update(contact=contact, blocked=True, by=by)


def contact_unblock(*, contact: Contact, by: str = "staff") -> Contact:
    return contact_update(contact=contact, blocked=False, by=by)


def contact_marketing_set(*, contact: Contact, opted_out: bool) -> bool:
    """A teammate records the customer's marketing choice (told by phone, by email...): the source is "staff".

    True when the status changed. The customer can still change it themselves (STOP / START, WhatsApp's menu).
    """
    if opted_out:
        changed = contact_marketing_opt_out(contact_id=contact.pk, source=Source.STAFF)
    else:
        changed = contact_marketing_opt_in(contact_id=contact.pk, source=Source.STAFF)
    contact.refresh_from_db(fields=["marketing_opt_out", "marketing_opt_out_at", "marketing_opt_out_source"])
    return changed


def contact_changes_from_tool(*, contact: Contact, body: Any, tool_name: str) -> dict | None:
    """Apply what an HTTP tool's JSON answer asks of the customer it was called for.

    The answer (a JSON object) may hold `set_contact_attributes` (an object; null removes a key),
    `add_contact_tags` and `remove_contact_tags` (lists). Returns what changed, None when the answer
    asks nothing; raises InvalidInput, and changes nothing, when any of it is malformed.
    """
    if not isinstance(body, dict) or not any(key in body for key in TOOL_DIRECTIVES):
        return None
    attributes = body.get(TOOL_SET_ATTRIBUTES)
    if attributes is not None and not isinstance(attributes, dict):
        raise InvalidInput(f"{TOOL_SET_ATTRIBUTES} must be an object.", field=TOOL_SET_ATTRIBUTES)
    before = dict(contact.attributes or {}), list(contact.tags or [])
    contact_update(
        contact=contact,
        attributes=attributes,
        add_tags=body.get(TOOL_ADD_TAGS),
        remove_tags=body.get(TOOL_REMOVE_TAGS),
        by=f"tool:{tool_name}",
    )
    after_attributes, after_tags = contact.attributes or {}, contact.tags or []
    return {
        "attributes_set": sorted(k for k, v in after_attributes.items() if before[0].get(k, object()) != v),
        "attributes_removed": sorted(k for k in before[0] if k not in after_attributes),
        "tags_added": [tag for tag in after_tags if tag not in before[1]],
        "tags_removed": [tag for tag in before[1] if tag not in after_tags],
    }
