"""Who answers a conversation: the agent, or the humans, and what staff are told when it changes hands."""

import logging
import re

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from messaging_app.models import Conversation, Message

logger = logging.getLogger(__name__)

# The staff summary: this many of the customer's latest messages, each cut to this length; details are looked
# for in a longer stretch of the conversation.
SUMMARY_MESSAGES = 5
SUMMARY_MESSAGE_CHARS = 160
DETAILS_MESSAGES = 30

_ORDER_NUMBER = re.compile(
    r"\b(?:order|pedido|encomenda|bestell|commande|ordine|invoice|factura|rechnung|facture|booking|reserva|ticket|"
    r"reference|ref)\w*(?:\s|number|no|nr|num|n[ºo°]|numero|número|nummer|id|code|is|es|é|ist|est|è|#|:|\.)*"
    r"([A-Z0-9][A-Z0-9-]{2,}[0-9][A-Z0-9-]*)"
    r"|#\s?([A-Z0-9-]*[0-9][A-Z0-9-]{3,})",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w#])\+?\d[\d ()./-]{6,}\d(?!\w)")
_BOOKING = re.compile(
    r"\b(?:book|booking|appointment|reserv\w*|schedule|cita|agendar|marcar|consulta|termin|rendez|r[ée]server|"
    r"prenot\w*|appuntamento|afspraak)\b",
    re.IGNORECASE,
)


def _said(message: Message) -> str:
    """What a customer message says, as one line staff can read."""
    content = message.content if isinstance(message.content, dict) else {}
    if message.message_type == "text":
        text = content.get("body") or ""
    elif message.message_type == "interactive":
        reply = content.get("button_reply") or content.get("list_reply") or {}
        text = f"[tapped] {reply.get('title') or ''}"
    elif message.message_type == "button":
        text = f"[tapped] {content.get('text') or ''}"
    else:
        caption = content.get("caption") or ""
        text = f"[{message.message_type}] {caption}".strip()
    text = " ".join(str(text).split())
    return text if len(text) <= SUMMARY_MESSAGE_CHARS else text[: SUMMARY_MESSAGE_CHARS - 1].rstrip() + "…"


def _details(texts: list[str]) -> list[str]:
    """Order numbers, emails, phone numbers and booking requests found in the customer's words, oldest first."""
    found: dict[str, list[str]] = {"order number": [], "email": [], "phone": [], "booking request": []}

    def add(kind: str, value: str) -> None:
        if value and value not in found[kind]:
            found[kind].append(value)

    for text in texts:
        emails = _EMAIL.findall(text)
        for email in emails:
            add("email", email)
        orders = [a or b for a, b in _ORDER_NUMBER.findall(text)]
        for order in orders:
            add("order number", order.strip("-"))
        for phone in _PHONE.findall(text):
            digits = re.sub(r"\D", "", phone)
            if 8 <= len(digits) <= 15 and not any(digits in re.sub(r"\D", "", o) for o in orders):
                add("phone", phone.strip())
        if _BOOKING.search(text):
            add("booking request", f"“{text}”")
    return [f"{kind}: {', '.join(values)}" for kind, values in found.items() if values]


def handoff_summary_build(*, conversation: Conversation) -> str:
    """For staff: the customer's last messages, condensed, and the details found in the conversation."""
    recent = list(
        Message.objects.filter(conversation=conversation, direction=Message.Direction.INBOUND)
        .exclude(message_type__in=["reaction", "system", "unsupported"])
        .order_by("-timestamp", "-pk")[:DETAILS_MESSAGES]
    )[::-1]
    said = [text for text in (_said(m) for m in recent) if text]
    if not said:
        return ""
    lines = ["The customer's last messages:"] + [f"• {text}" for text in said[-SUMMARY_MESSAGES:]]
    details = _details(said)
    if details:
        lines += ["Details:"] + [f"• {detail}" for detail in details]
    return "\n".join(lines)


def conversation_handoff(*, conversation: Conversation, reason: str, language: str = "") -> Conversation:
    """The agent stops; the conversation waits for a human, at the top of the inbox (and in the team's email).

    Staff get `reason` and a summary of the conversation (handoff_summary_build); `language` is the customer's
    (ISO 639-1, "" unknown), for the notices sent while they wait. The handoff notice the customer just got
    counts as the first of those.
    """
    now = timezone.now()
    Conversation.objects.filter(pk=conversation.pk).update(
        state=Conversation.State.WAITING_HUMAN,
        waiting_since=now,
        handoff_reason=reason[:1000],
        handoff_summary=handoff_summary_build(conversation=conversation),
        handoff_language=language[:8],
        handoff_acknowledged_at=now,
        updated_at=now,
    )
    logger.info("conversation handed to humans", extra={"conversation_id": conversation.pk, "reason": reason})
    conversation.refresh_from_db()
    from events_app.services import conversation_event_emit  # events build on messaging

    conversation_event_emit(type="conversation.handoff", conversation=conversation, reason=reason)
    # A handoff in an agent's test console is the tester's own chat: nobody else needs telling.
    if conversation.workspace.notify_handoff_by_email and conversation.channel.provider != "test_console":
        from messaging_app import tasks  # tasks import services

        transaction.on_commit(lambda: tasks.handoff_notify.delay(conversation.pk, reason[:1000]))
    return conversation


def handoff_notify(*, conversation_id: int, reason: str) -> int:
    """Email the people who answer chats that a customer waits. Returns how many were told.

    SMTP errors propagate so the task retries them.
    """
    from workspaces_app.models import ROLE_PERMISSIONS, Membership

    conversation = (
        Conversation.objects.select_related("workspace", "contact", "channel").filter(pk=conversation_id).first()
    )
    if conversation is None or conversation.state != Conversation.State.WAITING_HUMAN:
        return 0  # someone took it already
    roles = [role for role, perms in ROLE_PERMISSIONS.items() if "reply" in perms]
    recipients = list(
        Membership.objects.filter(workspace=conversation.workspace, role__in=roles, user__is_active=True)
        .values_list("user__email", flat=True)
        .distinct()
    )
    if not recipients:
        return 0
    link = f"{settings.SITE_URL}{reverse('inbox', args=[conversation.workspace.slug])}"
    send_mail(
        subject=f"{conversation.contact} is waiting for a human on {conversation.channel.name}",
        message=(
            f"The AI agent handed a WhatsApp conversation over.\n\nCustomer: {conversation.contact} "
            f"({conversation.contact.phone_display})\nChannel: {conversation.channel.name}\nWhy: {reason}\n\n"
            + (f"{conversation.handoff_summary}\n\n" if conversation.handoff_summary else "")
            + f"Answer it here: {link}\n"
        ),
        from_email=None,
        recipient_list=recipients,
        fail_silently=False,
    )
    return len(recipients)


def conversation_hand_back(*, conversation: Conversation) -> Conversation:
    """Staff give the conversation back to its agent."""
    if conversation.assigned_agent_id is None:
        conversation.assigned_agent_id = conversation.channel.agent_id
    Conversation.objects.filter(pk=conversation.pk).update(
        state=Conversation.State.AGENT,
        waiting_since=None,
        assigned_agent_id=conversation.assigned_agent_id,
        updated_at=timezone.now(),
    )
    conversation.refresh_from_db()
    return conversation
