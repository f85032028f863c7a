"""Marketing consent: opt-outs from keywords, Meta's user_preferences and error 131050; the welcome template.

Every path lands in the same two functions, so the contact's opt-out carries when and how it
happened, and a confirmation goes only when the state really changed ("confirm once").
"""

import logging

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from channels_app.models import Channel
from messaging_app.models import Contact, Message
from whatsapp_platform.errors import PlatformError

logger = logging.getLogger(__name__)

OPT_OUT_KEYWORDS = frozenset({"stop", "unsubscribe", "stop promotions"})
OPT_IN_KEYWORDS = frozenset({"start", "subscribe"})
MARKETING_OPTED_OUT = 131050  # the user stopped marketing messages from this business
MARKETING_LIMITED = 131049  # per-user marketing limit: not delivered, do not retry for 24 h

OPT_OUT_CONFIRMATION = (
    "You will no longer receive marketing messages from us. Reply START at any time to receive them again."
)
OPT_IN_CONFIRMATION = "You will receive our marketing messages again. Reply STOP at any time to unsubscribe."


class Source:
    KEYWORD = "keyword"
    USER_PREFERENCES = "user_preferences"
    ERROR_131050 = "error_131050"
    STAFF = "staff"


def contact_marketing_opt_out(*, contact_id: int, source: str, at=None) -> bool:
    """Opt the contact out of marketing; True when they were opted in until now."""
    changed = Contact.objects.filter(pk=contact_id, marketing_opt_out=False).update(
        marketing_opt_out=True,
        marketing_opt_out_at=at or timezone.now(),
        marketing_opt_out_source=source[:32],
        updated_at=timezone.now(),
    )
    if changed:
        logger.info("contact opted out of marketing", extra={"contact_id": contact_id, "source": source})
    return changed == 1


def contact_marketing_opt_in(*, contact_id: int, source: str) -> bool:
    """Resubscribe the contact; True when they were opted out until now."""
    changed = Contact.objects.filter(pk=contact_id, marketing_opt_out=True).update(
        marketing_opt_out=False, marketing_opt_out_at=None, marketing_opt_out_source="", updated_at=timezone.now()
    )
    if changed:
        logger.info("contact resubscribed to marketing", extra={"contact_id": contact_id, "source": source})
    return changed == 1


def user_preference_apply(*, channel: Channel, item) -> int:
    """Meta's `user_preferences` webhook (a `channels_app.whatsapp.webhooks.UserPreference`): stop or resume."""
    if item.category != "marketing_messages":
        return 0
    identities = Q(pk__in=[])
    if item.wa_id:
        identities |= Q(wa_id="".join(ch for ch in item.wa_id if ch.isdigit()))
    if item.user_id:
        identities |= Q(user_id=item.user_id)
    value = str(item.value or "").lower()
    changed = 0
    for contact_id in Contact.objects.filter(identities, channel=channel).values_list("pk", flat=True):
        if value == "stop":
            changed += contact_marketing_opt_out(
                contact_id=contact_id, source=Source.USER_PREFERENCES, at=item.timestamp
            )
        elif value == "resume":
            changed += contact_marketing_opt_in(contact_id=contact_id, source=Source.USER_PREFERENCES)
    return changed


def send_failure_observe(*, contact_id: int, code: int | None) -> None:
    """A send failed with Meta's code (answered at once, or in a `failed` status webhook).

    131050: the user stopped marketing messages, so they are opted out here too. 131049 needs
    nothing written: the failed message is the record, and campaigns skip the contact for 24 h.
    """
    if code == MARKETING_OPTED_OUT:
        contact_marketing_opt_out(contact_id=contact_id, source=Source.ERROR_131050)


def status_failure_observe(*, channel: Channel, item) -> None:
    """A status webhook (`StatusUpdate`): a `failed` one may carry 131050."""
    if item.status != "failed" or not item.errors:
        return
    codes = {error.get("code") for error in item.errors if isinstance(error, dict)}
    if MARKETING_OPTED_OUT not in codes:
        return
    contact_id = Message.objects.filter(channel=channel, wamid=item.wamid).values_list("contact_id", flat=True).first()
    if contact_id is not None:
        send_failure_observe(contact_id=contact_id, code=MARKETING_OPTED_OUT)


def _keyword(message: Message) -> str:
    content = message.content or {}
    if message.message_type == "text":
        text = content.get("body") or ""
    elif message.message_type == "button":
        text = content.get("text") or content.get("payload") or ""
    else:
        return ""
    return " ".join(str(text).split()).casefold().strip(".!")


def inbound_message_observe(*, message: Message, first_inbound: bool) -> None:
    """Called once per stored customer message, in its transaction: consent keywords and the welcome.

    Cheap on the common path: no query unless the text is a keyword or this is the contact's
    first message ever on the channel.
    """
    keyword = _keyword(message)
    if keyword in OPT_OUT_KEYWORDS or keyword in OPT_IN_KEYWORDS:
        _consent_keyword_apply(message, opt_out=keyword in OPT_OUT_KEYWORDS)
        return
    if first_inbound and message.message_type not in ("reaction", "revoke", "edit", "system", "unsupported"):
        welcome_template_send(message=message)


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
    from messaging_app.services.outbound import message_send

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


def welcome_template_send(*, message: Message) -> Message | None:
    """Send the channel's welcome template in answer to a contact's first message, if one is set.

    Only when the customer wrote first: someone answering a campaign or a reminder is not greeted.
    """
    from messaging_app.services.outbound import message_send
    from outreach_app.models import WelcomeTemplate
    from outreach_app.services.template_values import template_message_content, values_for_contact

    welcome = (
        WelcomeTemplate.objects.select_related("template")
        .filter(channel_id=message.channel_id, enabled=True, template__status="APPROVED")
        .first()
    )
    if welcome is None:
        return None
    contact = message.contact
    if contact.blocked_at is not None:
        return None
    if Message.objects.filter(conversation_id=message.conversation_id, direction=Message.Direction.OUTBOUND).exists():
        return None  # we wrote first (a campaign, a reminder): their answer is not a first contact
    values = values_for_contact(defaults=welcome.parameter_values, overrides=None, contact=contact)
    try:
        with transaction.atomic():
            return message_send(
                conversation=message.conversation,
                message_type="template",
                content=template_message_content(template=welcome.template, values=values),
                sender=Message.Sender.SYSTEM,
            )
    except PlatformError as exc:
        logger.warning("welcome template not sent", extra={"channel_id": message.channel_id, "reason": exc.message})
        return None
