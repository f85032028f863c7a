"""Scheduled messages: one message to one contact at a set time, sent by a periodic job.

A due row is claimed by one conditional UPDATE in the same transaction that queues its message:
two schedulers never both send it, and a crash before commit leaves it scheduled, so a schedule
missed during downtime goes once on recovery.
"""

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from channels_app.models import Channel
from channels_app.selectors import templates_approved
from channels_app.services.templates import template_sendable
from channels_app.whatsapp.payloads import PayloadInvalid, message_payload, normalise_phone
from messaging_app.errors import MessageRejected, WindowClosed
from messaging_app.models import Contact, Conversation, Message
from messaging_app.services.contacts import contact_resolve, conversation_for_contact
from messaging_app.services.outbound import message_send
from outreach_app.models import ScheduledMessage
from outreach_app.services.template_values import template_message_content, values_for_contact
from whatsapp_platform.errors import Conflict, InvalidInput, NotPermitted, PlatformError

logger = logging.getLogger(__name__)

# How far ahead a message may be scheduled (Meta keeps undelivered messages 30 days anyway).
SCHEDULE_HORIZON = timedelta(days=365)
DUE_BATCH = 500


def scheduled_contact_resolve(*, channel: Channel, to: str = "", user_id: str = "") -> Contact:
    """The channel's contact for a phone number (created if new) or an existing BSUID."""
    if to:
        try:
            digits = normalise_phone(to).lstrip("+")
        except PayloadInvalid as exc:
            raise InvalidInput(str(exc), field="to") from None
        with transaction.atomic():
            return contact_resolve(channel=channel, wa_id=digits, user_id=None)
    if user_id:
        contact = Contact.objects.filter(channel=channel, user_id=user_id).first()
        if contact is None:
            raise InvalidInput("No contact with this WhatsApp user id on the channel.", field="user_id")
        return contact
    raise InvalidInput("Say who gets the message: a phone number with its country code.", field="to")


def _template_content(channel: Channel, template: dict) -> dict:
    """{"name", "language", "values"} → Meta's template object, built from the approved template."""
    name, language = template.get("name") or "", template.get("language") or ""
    if isinstance(language, dict):
        language = language.get("code") or ""
    row = templates_approved(channel=channel).filter(name=name, language=language).first()
    if row is None:
        raise InvalidInput(f"No approved template {name!r} in {language!r} on this channel.", field="template")
    values = template.get("values") or {}
    if not isinstance(values, dict):
        raise InvalidInput("Template values map parameter names to text.", field="template.values")
    return template_message_content(
        template=row, values=values_for_contact(defaults=values, overrides=None, contact=None)
    )


def _check(*, channel: Channel, contact: Contact, message_type: str, content: dict, send_at: datetime) -> None:
    now = timezone.now()
    if send_at > now + SCHEDULE_HORIZON:
        raise InvalidInput("Schedule it within a year.", field="send_at")
    if contact.blocked_at is not None:
        raise NotPermitted("This contact is blocked; unblock them before scheduling a message.", field="to")
    try:
        message_payload(message_type=message_type, content=content, **contact.send_address)
    except PayloadInvalid as exc:
        raise MessageRejected(str(exc), field=exc.field) from None
    if message_type == "template":
        # Synced, approved, parameters that fit: refused now rather than at send time.
        template_sendable(channel=channel, content=content, contact=contact)
        return
    conversation = Conversation.objects.filter(channel=channel, contact=contact).first()
    last = conversation.last_inbound_at if conversation else None
    closes_at = last + timedelta(hours=24) if last else None
    if closes_at is not None and send_at < closes_at:
        return
    if closes_at is None:
        why = "the customer has never written to this channel, so no window is open"
    elif closes_at <= now:
        why = f"the customer's 24-hour window closed at {closes_at:%Y-%m-%d %H:%M} UTC"
    else:
        why = f"the customer's 24-hour window closes at {closes_at:%Y-%m-%d %H:%M} UTC, before that"
    raise WindowClosed(
        f"WhatsApp would refuse a free-form message at {send_at:%Y-%m-%d %H:%M} UTC: {why}. "
        "Schedule an approved template instead"
        + (", or choose an earlier time." if closes_at and closes_at > now else "."),
        field="send_at",
    )


def scheduled_message_create(
    *,
    workspace,
    channel: Channel,
    contact: Contact,
    send_at: datetime,
    message_type: str = "",
    content: dict | None = None,
    template: dict | None = None,
    user=None,
    via: str = "console",
) -> ScheduledMessage:
    """Schedule a message: any type message_send takes, or `template` = {name, language, values}."""
    if channel.workspace_id != workspace.pk or contact.channel_id != channel.pk:
        raise InvalidInput("No such contact on this channel.", field="to")
    if template:
        message_type, content = "template", _template_content(channel, template)
    if not message_type:
        raise InvalidInput("Give the message: a text, another message type, or a template.", field="type")
    content = content or {}
    _check(channel=channel, contact=contact, message_type=message_type, content=content, send_at=send_at)
    return ScheduledMessage.objects.create(
        workspace=workspace,
        channel=channel,
        contact=contact,
        message_type=message_type,
        content=content,
        send_at=send_at,
        created_by=user,
        created_via=via,
    )


def scheduled_message_reschedule(*, scheduled: ScheduledMessage, send_at: datetime) -> ScheduledMessage:
    _check(
        channel=scheduled.channel,
        contact=scheduled.contact,
        message_type=scheduled.message_type,
        content=scheduled.content,
        send_at=send_at,
    )
    if not ScheduledMessage.objects.filter(pk=scheduled.pk, state=ScheduledMessage.State.SCHEDULED).update(
        send_at=send_at, updated_at=timezone.now()
    ):
        raise Conflict(_too_late(scheduled))
    scheduled.refresh_from_db()
    return scheduled


def scheduled_message_cancel(*, scheduled: ScheduledMessage) -> ScheduledMessage:
    if not ScheduledMessage.objects.filter(pk=scheduled.pk, state=ScheduledMessage.State.SCHEDULED).update(
        state=ScheduledMessage.State.CANCELLED, updated_at=timezone.now()
    ):
        raise Conflict(_too_late(scheduled))
    scheduled.refresh_from_db()
    return scheduled


def _too_late(scheduled: ScheduledMessage) -> str:
    state = ScheduledMessage.objects.filter(pk=scheduled.pk).values_list("state", flat=True).first()
    return f"The message is already {state}; only a scheduled message can be changed or cancelled."


def scheduled_message_send(*, scheduled_message_id: int, now: datetime | None = None) -> ScheduledMessage | None:
    """Send one due message, exactly once. None when it was not due or another scheduler took it."""
    now = now or timezone.now()
    with transaction.atomic():
        claimed = ScheduledMessage.objects.filter(
            pk=scheduled_message_id, state=ScheduledMessage.State.SCHEDULED, send_at__lte=now
        ).update(state=ScheduledMessage.State.SENT, sent_at=now, updated_at=now)
        if claimed != 1:
            return None
        scheduled = ScheduledMessage.objects.select_related("channel", "contact").get(pk=scheduled_message_id)
        try:
            with transaction.atomic():
                if scheduled.contact.blocked_at is not None:
                    raise NotPermitted("The contact was blocked before the message was due.")
                message = message_send(
                    conversation=conversation_for_contact(contact=scheduled.contact),
                    message_type=scheduled.message_type,
                    content=scheduled.content,
                    sender=Message.Sender.TEAMMATE if scheduled.created_via == "console" else Message.Sender.API,
                    sender_user=scheduled.created_by,
                )
        except PlatformError as exc:
            scheduled.state, scheduled.failure_reason = ScheduledMessage.State.FAILED, exc.message
            ScheduledMessage.objects.filter(pk=scheduled.pk).update(
                state=scheduled.state, failure_reason=exc.message, updated_at=now
            )
            logger.warning("scheduled message not sent", extra={"scheduled_id": scheduled.pk, "reason": exc.message})
            return scheduled
        ScheduledMessage.objects.filter(pk=scheduled.pk).update(message=message)
        scheduled.message = message
    return scheduled


def scheduled_messages_send_due(*, now: datetime | None = None) -> int:
    """The periodic job: send everything due, oldest first (after downtime, each missed one once)."""
    now = now or timezone.now()
    due = ScheduledMessage.objects.filter(state=ScheduledMessage.State.SCHEDULED, send_at__lte=now).order_by(
        "send_at", "id"
    )
    sent = 0
    for pk in list(due.values_list("pk", flat=True)[:DUE_BATCH]):
        if scheduled_message_send(scheduled_message_id=pk, now=now) is not None:
            sent += 1
    return sent
