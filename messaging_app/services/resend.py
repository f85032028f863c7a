"""Resending a failed message: a new queued copy through the outbox, when the error leaves a chance.

The failed row stays as it is (the record of what happened); the copy goes through `message_send`,
so every WhatsApp rule (window, template approval, blocked contact, channel state) is checked again.
"""

import logging

from django.db import transaction

from channels_app.whatsapp.error_guide import Resend, error_advice
from messaging_app.models import Conversation, Message
from messaging_app.services.outbound import message_send
from whatsapp_platform.errors import Conflict

logger = logging.getLogger(__name__)

# What of a media message's content goes with a fresh upload of its stored file.
_MEDIA_CONTENT_KEYS = ("caption", "filename", "voice")


def message_resend_refusal(message: Message) -> str:
    """Why this message cannot be resent, or "" when it can (the console hides the button on a reason)."""
    if message.direction != Message.Direction.OUTBOUND or message.status != Message.Status.FAILED:
        return "Only a failed message can be resent."
    advice = error_advice(message.error_code, message.error_title)
    if advice.resend == Resend.NEVER:
        return f"Resending would fail the same way. {advice.fix}"
    if advice.resend == Resend.TEMPLATE_ONLY and message.message_type != "template":
        return f"WhatsApp only accepts an approved template now. {advice.fix}"
    return ""


def _resent_copy(message: Message) -> Message | None:
    """A copy queued, or sent, after this message failed (a second click must not send it twice)."""
    later = Message.objects.filter(
        conversation_id=message.conversation_id,
        direction=Message.Direction.OUTBOUND,
        message_type=message.message_type,
        pk__gt=message.pk,
    ).exclude(status=Message.Status.FAILED)
    if message.media_sha256:
        return later.filter(media_sha256=message.media_sha256).first()
    return later.filter(content=message.content).first()


def message_resend(*, message: Message, user=None) -> Message:
    """Queue a copy of a failed message; raises Conflict (why, and what to do) when resending cannot work."""
    refusal = message_resend_refusal(message)
    if refusal:
        raise Conflict(refusal)
    with transaction.atomic():
        # The conversation's row lock makes two resends of one message take turns; the second sees the first.
        conversation = (
            Conversation.objects.select_for_update(no_key=True)
            .select_related("channel", "contact")
            .get(pk=message.conversation_id)
        )
        copy = _resent_copy(message)
        if copy is not None:
            raise Conflict(f"This message was already resent ({copy.get_status_display().lower()}).")
        content = dict(message.content or {})
        media_file = None
        if message.media_file:
            with message.media_file.open("rb") as handle:
                data = handle.read()
            filename = content.get("filename") or message.media_file.name.rsplit("/", 1)[-1]
            media_file = (data, filename, message.media_mime_type or "application/octet-stream")
            content = {key: content[key] for key in _MEDIA_CONTENT_KEYS if key in content}
        resent = message_send(
            conversation=conversation,
            message_type=message.message_type,
            content=content,
            sender=message.sender,
            sender_user=message.sender_user or user,
            sender_agent=message.sender_agent,
            reply_to=message.reply_to,
            media_file=media_file,
        )
    logger.info(
        "failed message resent",
        extra={
            "message_id": message.pk,
            "copy_id": resent.pk,
            "code": message.error_code,
            "user_id": getattr(user, "pk", None),
        },
    )
    return resent
