"""A customer's STOP / START (and synonyms) in a message: applied to their marketing consent and confirmed once."""

import logging

from django.db import transaction
from django.utils import timezone

from messaging_app.models import Message
from messaging_app.services.consent import Source, contact_marketing_opt_in, contact_marketing_opt_out
from messaging_app.services.outbound import message_send
from whatsapp_platform.errors import PlatformError

logger = logging.getLogger(__name__)

OPT_OUT_KEYWORDS = frozenset({"stop", "unsubscribe", "stop promotions"})
OPT_IN_KEYWORDS = frozenset({"start", "subscribe"})
OPT_OUT_CONFIRMATION = (
    "You will no longer receive marketing messages from us. Reply START at any time to receive them again."
)
OPT_IN_CONFIRMATION = "You will receive our marketing messages again. Reply STOP at any time to unsubscribe."


def _keyword(message: Message) -> str:
    content = message.content or {}
    if message.message_type == "text":
        text = content.get("body") or ""
    elif message.message_type == "button":
        text = content.get("text") or content.get("payload") or ""
    else:
        return ""
    return " ".join(str(text).split()).casefold().strip(".!")


def consent_keyword_observe(*, message: Message) -> bool:
    """A customer's STOP / START (and their synonyms): applied, confirmed once, and the message handled here so
    the agent does not answer it as a question. True when the message was such a keyword. Call in the
    transaction that stored the message."""
    keyword = _keyword(message)
    if keyword not in OPT_OUT_KEYWORDS and keyword not in OPT_IN_KEYWORDS:
        return False
    _consent_keyword_apply(message, opt_out=keyword in OPT_OUT_KEYWORDS)
    return True


def _consent_keyword_apply(message: Message, *, opt_out: bool) -> None:
    if opt_out:
        changed = contact_marketing_opt_out(contact_id=message.contact_id, source=Source.KEYWORD, at=message.timestamp)
    else:
        changed = contact_marketing_opt_in(contact_id=message.contact_id, source=Source.KEYWORD)
    # The keyword is handled here, with nothing left due: the agent does not answer it as a question.
    Message.objects.filter(pk=message.pk).update(handled_at=timezone.now(), next_attempt_at=None)
    if changed:
        _reply_text(message, OPT_OUT_CONFIRMATION if opt_out else OPT_IN_CONFIRMATION)


def _reply_text(message: Message, body: str) -> None:
    try:
        with transaction.atomic():
            message_send(
                conversation=message.conversation,
                message_type="text",
                content={"body": body},
                sender=Message.Sender.SYSTEM,
            )
    except PlatformError as exc:  # e.g. the channel was disconnected; the consent change itself stands
        logger.warning("consent confirmation not sent", extra={"message_id": message.pk, "reason": exc.message})
