"""Who answers a conversation: the agent, or the humans; what staff are told when it changes hands, and what the
customer is told.

The customer gets one coherent message, aware of business hours: while the team is at work, a teammate replies
shortly; outside hours, when they will reply (the next opening, in the channel's time zone) and the other ways
to reach the business it configured with its hours. Never both "we're closed until Saturday" and "a teammate
will reply shortly". Written in the customer's language where we have the words (en, es, pt, de, fr, it),
English otherwise. While they wait, their messages get a short acknowledgement, at most one per ACK_INTERVAL,
claimed with a conditional UPDATE on `Conversation.handoff_acknowledged_at` (two handlings racing send one).
"""

import logging
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from events_app.services import conversation_event_emit
from messaging_app.hours import (
    business_hours_closed_since,
    business_hours_next_open,
    business_hours_open_at,
    schedule_of,
)
from messaging_app.models import BusinessHours, Conversation, Message
from messaging_app.selectors import business_hours_of_conversation
from messaging_app.services.outbound import message_send
from whatsapp_platform.errors import PlatformError
from whatsapp_platform.task_queue import task_enqueue
from workspaces_app.models import ROLE_PERMISSIONS, Membership

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

    conversation_event_emit(type="conversation.handoff", conversation=conversation, reason=reason)
    # A handoff in an agent's test console is the tester's own chat: nobody else needs telling.
    if conversation.workspace.notify_handoff_by_email and conversation.channel.provider != "test_console":
        transaction.on_commit(lambda: task_enqueue("messaging.handoff_notify", conversation.pk, reason[:1000]))
    return conversation


def handoff_notify(*, conversation_id: int, reason: str) -> int:
    """Email the people who answer chats that a customer waits. Returns how many were told.

    SMTP errors propagate so the task retries them.
    """
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


# --- what the customer is told -----------------------------------------------------------------

# A customer writing several messages while they wait hears back once per this long, not after each.
ACK_INTERVAL = timedelta(minutes=10)

_TEXTS = {
    "en": {
        "open": "Sure! I'm bringing in a teammate 🙋 They will reply here shortly.",
        "closed": "I've passed this on to the team 🙋 They're away right now and will reply here {when}.",
        "ack_open": "Thanks, I've added this to your conversation 🙏 A teammate will reply here as soon as they can.",
        "ack_closed": "Thanks, I've added this to your conversation 🙏 The team is away; they will reply here {when}.",
        "later": "as soon as they are back",
        "urgent": "Urgent?",
        "today": "today at {clock}",
        "tomorrow": "tomorrow at {clock}",
        "day": "on {weekday} at {clock}",
        "date": "on {weekday} {day} {month} at {clock}",
        "zone": " ({city} time)",
        "weekdays": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
        "months": "January February March April May June July August September October November December",
    },
    "es": {
        "open": "¡Claro! Te paso con un compañero del equipo 🙋 Te responderá aquí en breve.",
        "closed": "He pasado tu mensaje al equipo 🙋 Ahora no están disponibles y te responderán aquí {when}.",
        "ack_open": "Gracias, lo he añadido a tu conversación 🙏 Un compañero te responderá aquí lo antes posible.",
        "ack_closed": "Gracias, lo he añadido a tu conversación 🙏 El equipo no está ahora; te responderá aquí {when}.",
        "later": "en cuanto vuelvan",
        "urgent": "¿Es urgente?",
        "today": "hoy a las {clock}",
        "tomorrow": "mañana a las {clock}",
        "day": "el {weekday} a las {clock}",
        "date": "el {weekday} {day} de {month} a las {clock}",
        "zone": " (hora de {city})",
        "weekdays": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
        "months": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
    },
    "pt": {
        "open": "Claro! Vou chamar alguém da equipe 🙋 Você terá uma resposta aqui em breve.",
        "closed": "Passei sua mensagem para a equipe 🙋 Eles não estão disponíveis agora e vão responder aqui {when}.",
        "ack_open": "Obrigado, adicionei isso à sua conversa 🙏 Alguém da equipe vai responder aqui assim que puder.",
        "ack_closed": "Obrigado, adicionei isso à sua conversa 🙏 A equipe não está agora; vai responder aqui {when}.",
        "later": "assim que voltarem",
        "urgent": "É urgente?",
        "today": "hoje às {clock}",
        "tomorrow": "amanhã às {clock}",
        "day": "{weekday} às {clock}",
        "date": "{weekday}, {day} de {month}, às {clock}",
        "zone": " (horário de {city})",
        "weekdays": (
            "na segunda-feira",
            "na terça-feira",
            "na quarta-feira",
            "na quinta-feira",
            "na sexta-feira",
            "no sábado",
            "no domingo",
        ),
        "months": "janeiro fevereiro março abril maio junho julho agosto setembro outubro novembro dezembro",
    },
    "de": {
        "open": "Gern! Ich hole jemanden aus dem Team dazu 🙋 Du bekommst hier gleich eine Antwort.",
        "closed": "Ich habe deine Nachricht ans Team weitergegeben 🙋 Gerade ist niemand da; du bekommst hier {when} "
        "eine Antwort.",
        "ack_open": "Danke, ich habe das zu deinem Gespräch hinzugefügt 🙏 Jemand aus dem Team antwortet so bald wie "
        "möglich.",
        "ack_closed": "Danke, ich habe das zu deinem Gespräch hinzugefügt 🙏 Das Team ist nicht da; du bekommst hier "
        "{when} eine Antwort.",
        "later": "sobald jemand da ist",
        "urgent": "Dringend?",
        "today": "heute um {clock}",
        "tomorrow": "morgen um {clock}",
        "day": "am {weekday} um {clock}",
        "date": "am {weekday}, {day}. {month}, um {clock}",
        "zone": " (Zeit in {city})",
        "weekdays": ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
        "months": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    },
    "fr": {
        "open": "Bien sûr ! Je fais appel à un membre de l'équipe 🙋 Il vous répondra ici très vite.",
        "closed": "J'ai transmis votre message à l'équipe 🙋 Elle est absente pour le moment et vous répondra ici "
        "{when}.",
        "ack_open": "Merci, je l'ai ajouté à votre conversation 🙏 Un membre de l'équipe vous répondra ici dès que "
        "possible.",
        "ack_closed": "Merci, je l'ai ajouté à votre conversation 🙏 L'équipe est absente ; elle vous répondra ici "
        "{when}.",
        "later": "dès son retour",
        "urgent": "C'est urgent ?",
        "today": "aujourd'hui à {clock}",
        "tomorrow": "demain à {clock}",
        "day": "{weekday} à {clock}",
        "date": "{weekday} {day} {month} à {clock}",
        "zone": " (heure de {city})",
        "weekdays": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
        "months": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    },
    "it": {
        "open": "Certo! Chiamo una persona del team 🙋 Ti risponderà qui a breve.",
        "closed": "Ho passato il tuo messaggio al team 🙋 Ora non è disponibile e ti risponderà qui {when}.",
        "ack_open": "Grazie, l'ho aggiunto alla tua conversazione 🙏 Una persona del team ti risponderà qui appena "
        "possibile.",
        "ack_closed": "Grazie, l'ho aggiunto alla tua conversazione 🙏 Il team non c'è; ti risponderà qui {when}.",
        "later": "appena possibile",
        "urgent": "È urgente?",
        "today": "oggi alle {clock}",
        "tomorrow": "domani alle {clock}",
        "day": "{weekday} alle {clock}",
        "date": "{weekday} {day} {month} alle {clock}",
        "zone": " (ora di {city})",
        "weekdays": ("lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato", "domenica"),
        "months": "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre dicembre",
    },
}


def _texts(language: str) -> dict:
    return _TEXTS.get((language or "en")[:2].lower(), _TEXTS["en"])


def when_display(instant: datetime, tz: ZoneInfo, *, now: datetime, language: str = "en") -> str:
    """When the team is back, as the customer reads it, in the channel's time zone: "on Monday at 9:00
    (London time)", "el lunes a las 9:00 (hora de Madrid)"; with the date when it is a week or more away."""
    texts = _texts(language)
    local, today = instant.astimezone(tz), now.astimezone(tz).date()
    days = (local.date() - today).days
    values = {
        "clock": f"{local.hour}:{local.minute:02d}",
        "weekday": texts["weekdays"][local.weekday()],
        "day": local.day,
        "month": texts["months"].split()[local.month - 1],
    }
    key = "today" if days <= 0 else "tomorrow" if days == 1 else "day" if days < 6 else "date"
    when = texts[key].format(**values)
    if tz.key not in ("UTC", "Etc/UTC"):
        when += texts["zone"].format(city=tz.key.rsplit("/", 1)[-1].replace("_", " "))
    return when


def _other_ways(hours: BusinessHours, texts: dict) -> str:
    """The other ways to reach the business, as its hours configure them."""
    if hours.alternative_contact.strip():
        return hours.alternative_contact.strip()
    ways = [f"{icon} {value}" for icon, value in (("📞", hours.contact_phone), ("✉️", hours.contact_email)) if value]
    return f"{texts['urgent']} {' · '.join(ways)}" if ways else ""


def _closed_until(conversation: Conversation, now: datetime) -> tuple[BusinessHours, datetime | None] | None:
    """The channel's hours and its next opening when it is closed now; None while open (or without hours)."""
    hours = business_hours_of_conversation(conversation=conversation)
    if hours is None or not hours.enabled:
        return None
    schedule = schedule_of(hours)
    if business_hours_open_at(schedule, now):
        return None
    return hours, business_hours_next_open(schedule, now)


def _compose(conversation: Conversation, *, now: datetime, language: str, open_key: str, closed_key: str) -> str:
    texts = _texts(language)
    closed = _closed_until(conversation, now)
    if closed is None:
        return texts[open_key]
    hours, opening = closed
    if opening is None:  # no opening within a year: no date to give
        when = texts["later"]
    else:
        when = when_display(opening, schedule_of(hours).tz, now=now, language=language)
    body = texts[closed_key].format(when=when)
    other = _other_ways(hours, texts)
    return f"{body}\n\n{other}" if other else body


def handoff_notice(*, conversation: Conversation, now: datetime, language: str = "") -> str:
    """The one message a customer gets when their conversation goes to the team (see the module)."""
    return _compose(conversation, now=now, language=language, open_key="open", closed_key="closed")


def handoff_waiting_acknowledge(*, conversation: Conversation, now: datetime) -> Message | None:
    """A customer wrote while waiting for the team: tell them it was passed on (and, when closed, when the team
    is back), at most once per ACK_INTERVAL. Only conversations an agent handed over; a teammate who already
    answered since the handoff is talking to them, and an away message sent in this closed period said it all: nothing
    is sent then."""
    if conversation.state != Conversation.State.WAITING_HUMAN or conversation.waiting_since is None:
        return None
    if not (conversation.assigned_agent_id or conversation.channel.agent_id) or conversation.contact.blocked_at:
        return None
    if Message.objects.filter(
        conversation=conversation, sender=Message.Sender.TEAMMATE, timestamp__gte=conversation.waiting_since
    ).exists():
        return None
    candidates = Conversation.objects.filter(pk=conversation.pk).filter(
        Q(handoff_acknowledged_at__isnull=True) | Q(handoff_acknowledged_at__lte=now - ACK_INTERVAL)
    )
    closed = _closed_until(conversation, now)
    if closed is not None:
        # This closed period's away message (sent just now, maybe) already told them when the team is back.
        candidates = candidates.exclude(away_period_start=business_hours_closed_since(schedule_of(closed[0]), now))
    body = _compose(
        conversation, now=now, language=conversation.handoff_language, open_key="ack_open", closed_key="ack_closed"
    )
    with transaction.atomic():
        claimed = candidates.update(handoff_acknowledged_at=now)
        if not claimed:
            return None
        try:
            return message_send(
                conversation=conversation,
                message_type="text",
                content={"body": body, "preview_url": False},
                sender=Message.Sender.SYSTEM,
            )
        except PlatformError as exc:
            logger.warning(
                "waiting acknowledgement not sent", extra={"conversation_id": conversation.pk, "error": exc.message}
            )
            return None
