"""The welcome template a channel sends on a contact's first message: chosen by staff, sent by the first-message
hook that messaging's inbound calls.

Marketing consent itself (STOP/START, user_preferences, 131050) is the contact's, in messaging_app.services.consent.
"""

import logging

from django.db import transaction

from channels_app.models import Channel
from channels_app.selectors import templates_approved
from messaging_app.models import Message
from messaging_app.services.outbound import message_send
from outreach_app.models import WelcomeTemplate
from outreach_app.services.template_values import template_message_content, values_for_contact
from whatsapp_platform.errors import InvalidInput, PlatformError

logger = logging.getLogger(__name__)


def first_inbound_observe(*, message: Message) -> None:
    """Called once per stored customer message that was the contact's first on the channel, in its transaction."""
    if message.message_type not in ("reaction", "revoke", "edit", "system", "unsupported"):
        welcome_template_send(message=message)


def welcome_template_send(*, message: Message) -> Message | None:
    """Send the channel's welcome template in answer to a contact's first message, if one is set.

    Only when the customer wrote first: someone answering a campaign or a reminder is not greeted.
    """
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


def welcome_template_set(
    *, channel: Channel, template_name: str, language: str, parameter_values: dict | None = None, enabled: bool = True
) -> WelcomeTemplate | None:
    """Choose the channel's welcome template; an empty name removes it."""
    if not template_name:
        WelcomeTemplate.objects.filter(channel=channel).delete()
        return None
    template = templates_approved(channel=channel).filter(name=template_name, language=language).first()
    if template is None:
        raise InvalidInput(f"No approved template {template_name!r} in {language!r} on this channel.", field="template")
    welcome, _ = WelcomeTemplate.objects.update_or_create(
        channel=channel,
        defaults={
            "template": template,
            "parameter_values": {str(k): str(v) for k, v in (parameter_values or {}).items()},
            "enabled": enabled,
        },
    )
    return welcome
