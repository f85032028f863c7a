import logging

from django.utils import timezone

from agents_app.models import Agent
from agents_app.prompts import WHATSAPP_STYLE_GUIDE

logger = logging.getLogger(__name__)

DEFAULT_AGENT_NAME = "Assistant"


def agent_default_ensure(*, workspace) -> Agent:
    """The workspace's starting agent: offline knowledge-base answers, no API key needed."""
    agent, _ = Agent.objects.get_or_create(
        workspace=workspace,
        name=DEFAULT_AGENT_NAME,
        defaults={
            "instructions": WHATSAPP_STYLE_GUIDE.format(business_name=workspace.name),
            "provider": Agent.Provider.KNOWLEDGE_BASE,
        },
    )
    return agent


# --- Turns -------------------------------------------------------------------------------

_HANDOFF_WORDS = ("human", "person", "agent", "someone", "teammate", "operator")
HANDOFF_BUTTON_ID = "handoff_request"
_GREETINGS = ("hi", "hello", "hey", "hola", "good morning", "good afternoon", "good evening", "hallo", "bonjour")


def _offline_reply(agent: Agent, conversation, messages) -> tuple[list[tuple[str, dict]], bool]:
    """The offline agent's answer to a burst of customer messages: (messages to send, hand off?).

    Without a language model it never invents an answer: it greets, acknowledges what it
    cannot read, and offers a human teammate.
    """
    from channels_app.whatsapp.payloads import buttons_content, text_content

    last = messages[-1]
    name = (conversation.contact.profile_name or "").split(" ")[0]
    business = conversation.workspace.name if hasattr(conversation, "workspace") else ""
    text = ""
    if last.message_type == "text":
        text = (last.content.get("body") or "").strip()
    elif last.message_type == "interactive":
        reply = last.content.get("button_reply") or last.content.get("list_reply") or {}
        if reply.get("id") == HANDOFF_BUTTON_ID:
            return [("text", text_content("Connecting you with a teammate 🙋 Someone will reply here shortly."))], True
        text = reply.get("title") or ""
    elif last.message_type == "button":
        text = last.content.get("text") or ""
    lowered = text.lower()
    if any(word in lowered.split() for word in _HANDOFF_WORDS):
        return [("text", text_content("Sure! I'm bringing in a teammate 🙋 They will reply here shortly."))], True
    offer = buttons_content("Would you like me to bring in a teammate?", [(HANDOFF_BUTTON_ID, "Talk to a human")])
    if last.message_type in ("image", "video", "audio", "document", "sticker"):
        kind = {"image": "photo", "video": "video", "audio": "voice note", "document": "document", "sticker": "sticker"}
        return [
            (
                "text",
                text_content(
                    f"Thanks for the {kind[last.message_type]}{', ' + name if name else ''}! 📎 I can't open it myself."
                ),
            ),
            ("interactive", offer),
        ], False
    if lowered.strip(" !.?👋") in _GREETINGS or not conversation.messages.filter(direction="out").exists():
        hello = f"Hi{' ' + name if name else ''}! 👋 I'm {agent.name}{' from ' + business if business else ''}."
        return [
            ("text", text_content(hello)),
            ("interactive", buttons_content("How can I help you today?", [(HANDOFF_BUTTON_ID, "Talk to a human")])),
        ], False
    return [
        ("text", text_content("I don't have an answer for that yet 🤔")),
        ("interactive", offer),
    ], False


def agent_turn_run(*, conversation, messages) -> list:
    """The assigned agent answers a burst of customer messages, or hands the conversation to a human."""
    from messaging_app.models import Conversation, Message
    from messaging_app.services.outbound import message_send
    from whatsapp_platform.errors import PlatformError

    agent = conversation.assigned_agent
    parts, handoff = _offline_reply(agent, conversation, messages)
    sent = []
    for message_type, content in parts:
        try:
            sent.append(
                message_send(
                    conversation=conversation,
                    message_type=message_type,
                    content=content,
                    sender=Message.Sender.AGENT,
                    sender_agent=agent,
                )
            )
        except PlatformError as exc:
            logger.warning("agent reply not sent", extra={"conversation_id": conversation.pk, "error": exc.message})
            break
    if handoff:
        Conversation.objects.filter(pk=conversation.pk).update(
            state=Conversation.State.WAITING_HUMAN, waiting_since=timezone.now()
        )
    return sent
