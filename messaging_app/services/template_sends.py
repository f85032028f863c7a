"""Sending a WhatsApp message template to a customer: its placeholders filled, checked, and queued as a message.

The templates themselves (synced from Meta, created, reviewed) are channels_app's; sending one is a message.
"""

from django.db import transaction

from channels_app.models import Channel, MessageTemplate
from channels_app.selectors import template_for_send
from channels_app.services.templates import TemplateUnavailable, template_sendable
from channels_app.whatsapp.template_rules import TemplateParametersInvalid, phone_e164, template_components_build
from messaging_app.models import Message
from messaging_app.services.contacts import contact_resolve, conversation_for_contact
from messaging_app.services.outbound import message_send
from whatsapp_platform.errors import InvalidInput


def template_send(
    *,
    template: MessageTemplate,
    conversation,
    values: dict[str, str],
    header_media: dict | None = None,
    sender: str,
    sender_user=None,
    sender_agent=None,
):
    """Queue the template to the conversation's contact with these placeholder values (see template_rules)."""
    if conversation.channel.waba_id != template.waba_id:
        raise InvalidInput(
            f"{template.name} belongs to another WhatsApp Business Account than '{conversation.channel.name}'.",
            field="channel",
        )
    try:
        components = template_components_build(template.components, template.parameter_format, values, header_media)
    except TemplateParametersInvalid as exc:
        raise InvalidInput(exc.message, field=exc.field) from None
    content: dict = {"name": template.name, "language": {"code": template.language}}
    if components:
        content["components"] = components
    return message_send(
        conversation=conversation,
        message_type="template",
        content=content,
        sender=sender,
        sender_user=sender_user,
        sender_agent=sender_agent,
    )


def template_send_to(
    *,
    template: MessageTemplate,
    channel: Channel,
    values: dict[str, str],
    to_phone: str = "",
    contact=None,
    header_media: dict | None = None,
    user=None,
):
    """Staff (or the API) send a template to a contact of the channel, or to a phone number in E.164.

    Everything is checked before the contact is created, so a refused send leaves nothing behind.
    """
    if channel.workspace_id != template.workspace_id or channel.waba_id != template.waba_id:
        raise InvalidInput(f"'{channel.name}' cannot send {template.name}: it is on another account.", field="channel")
    try:
        components = template_components_build(template.components, template.parameter_format, values, header_media)
    except TemplateParametersInvalid as exc:
        raise InvalidInput(exc.message, field=exc.field) from None
    content = {"name": template.name, "language": {"code": template.language}}
    if components:
        content["components"] = components
    if contact is not None:
        if contact.channel_id != channel.pk:
            raise InvalidInput("That contact wrote to another channel.", field="contact")
        template_sendable(channel=channel, content=content, contact=contact)
    else:
        e164 = phone_e164((to_phone or "").strip())
        if e164 is None:
            raise InvalidInput(
                "Give the customer's WhatsApp number in international format, e.g. +44 7700 900123.", field="to"
            )
        template_sendable(channel=channel, content=content)
    with transaction.atomic():
        if contact is None:
            contact = contact_resolve(channel=channel, wa_id=e164.lstrip("+"), user_id=None)
        conversation = conversation_for_contact(contact=contact)
        return template_send(
            template=template,
            conversation=conversation,
            values=values,
            header_media=header_media,
            sender=Message.Sender.TEMPLATE,
            sender_user=user,
        )


def template_send_by_name(
    *, conversation, name: str, language: str, values: dict[str, str], sender: str, sender_agent=None
):
    """Send the conversation's channel's template `name` (`language`); TemplateUnavailable if it has none."""
    template = template_for_send(channel=conversation.channel, name=name, language=language)
    if template is None:
        raise TemplateUnavailable(
            f"The template {name} ({language}) is not synced for '{conversation.channel.name}'.", field="template"
        )
    return template_send(
        template=template, conversation=conversation, values=values, sender=sender, sender_agent=sender_agent
    )
