"""The Knowledge base (offline) agent: deterministic answers from FAQ entries and documents.

It greets, answers from the closest entry when one clearly fits, offers the closest few as
buttons (or a list) when unsure, acknowledges media it cannot read, and hands off on request
or when nothing in its knowledge matches.
"""

import time
from dataclasses import dataclass, field

from agents_app.knowledge import Passage, knowledge_search
from agents_app.models import Agent, KnowledgeEntry
from channels_app.whatsapp.payloads import buttons_content, list_content, text_content

HANDOFF_ID = "handoff_request"
ENTRY_PREFIX = "kb:"
GREETINGS = {"hi", "hello", "hey", "hola", "hallo", "bonjour", "good morning", "good afternoon", "good evening", "hiya"}
# The best match must beat the next by this factor to be answered outright.
CONFIDENT_MARGIN = 1.3
MEDIA_WORDS = {"image": "photo", "video": "video", "audio": "voice note", "document": "document", "sticker": "sticker"}


@dataclass
class Reply:
    """What a turn sends, in order, and whether the conversation goes to a human."""

    parts: list[tuple[str, dict]] = field(default_factory=list)
    handoff: bool = False
    handoff_reason: str = ""
    # What the agent looked up on the way, logged with the run like a model's tool calls.
    steps: list[dict] = field(default_factory=list)


def customer_text(message) -> str:
    """What the customer said or tapped, as plain text."""
    content = message.content or {}
    if message.message_type == "text":
        return (content.get("body") or "").strip()
    if message.message_type == "interactive":
        reply = content.get("button_reply") or content.get("list_reply") or {}
        return (reply.get("title") or "").strip()
    if message.message_type == "button":
        return (content.get("text") or "").strip()
    return (content.get("caption") or "").strip() if isinstance(content, dict) else ""


def tapped_id(message) -> str:
    content = message.content or {}
    if message.message_type == "interactive":
        reply = content.get("button_reply") or content.get("list_reply") or {}
        return reply.get("id") or ""
    if message.message_type == "button":
        return content.get("payload") or ""
    return ""


def wants_human(agent: Agent, text: str, tapped: str) -> bool:
    """A tap on "Talk to a human", or a request for a person in any language the intent check knows (the agent's
    handoff keywords count when they are nearly the whole message; "I'm an agent for …" is no request)."""
    from agents_app.handoff_intent import handoff_requested  # kept inside: this file's imports belong to its owner

    if tapped == HANDOFF_ID:
        return True
    return handoff_requested(text, keywords=agent.handoff_words)


def _is_greeting(text: str) -> bool:
    """A short hello ("Hi there 👋", "good morning!"), not a question that starts with one."""
    words = [w.strip(",!.?👋🙂😊") for w in text.lower().split()]
    words = [w for w in words if w]
    if not words or len(words) > 4 or "?" in text:
        return False
    return words[0] in GREETINGS or " ".join(words[:2]) in GREETINGS


def _offer_human(body: str) -> tuple[str, dict]:
    return "interactive", buttons_content(body, [(HANDOFF_ID, "Talk to a human")])


def _choices(passages: list[Passage]) -> tuple[str, dict]:
    """The closest entries as reply buttons (titles that fit) or a list."""
    seen, options = set(), []
    for p in passages:
        if p.entry_id not in seen:
            seen.add(p.entry_id)
            options.append(p)
    body = "I found a few things that might help. Which one do you mean?"
    if len(options) <= 2 and all(len(p.title) <= 20 for p in options):
        buttons = [(f"{ENTRY_PREFIX}{p.entry_id}", p.title) for p in options] + [(HANDOFF_ID, "Talk to a human")]
        return "interactive", buttons_content(body, buttons)
    rows = [
        (f"{ENTRY_PREFIX}{p.entry_id}", _fit(p.title, 24), _fit(p.title, 72) if len(p.title) > 24 else None)
        for p in options[:9]
    ]
    rows.append((HANDOFF_ID, "Talk to a human", None))
    return "interactive", list_content(body, "Choose", [("Closest answers", rows)])


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def knowledge_reply(*, agent: Agent, conversation, messages: list) -> Reply:
    last = messages[-1]
    text, tapped = customer_text(last), tapped_id(last)
    name = (conversation.contact.profile_name or "").split(" ")[0]

    if wants_human(agent, text, tapped):
        return Reply(
            [("text", text_content("Sure! I'm bringing in a teammate 🙋 They will reply here shortly."))],
            handoff=True,
            handoff_reason="The customer asked for a human.",
        )
    if tapped.startswith(ENTRY_PREFIX):
        entry = KnowledgeEntry.objects.filter(agent=agent, pk=tapped[len(ENTRY_PREFIX) :]).first()
        if entry is not None:
            return Reply([("text", text_content(entry.body))])
    if last.message_type in MEDIA_WORDS and not text:
        kind = MEDIA_WORDS[last.message_type]
        return Reply(
            [
                (
                    "text",
                    text_content(f"Thanks for the {kind}{', ' + name if name else ''}! 📎 I can't open it myself."),
                ),
                _offer_human("Would you like a teammate to take a look?"),
            ]
        )
    first_contact = not conversation.messages.filter(direction="out").exists()
    greeting = _is_greeting(text)
    if greeting or (first_contact and not text):
        hello = f"Hi{' ' + name if name else ''}! 👋 I'm {agent.name} from {conversation.workspace.name}."
        return Reply([("text", text_content(hello)), _offer_human("How can I help you today?")])

    started = time.monotonic()
    passages = knowledge_search(agent=agent, query=text, limit=3)
    search = {
        "name": "knowledge_search",
        "arguments": {"query": text},
        "result": [{"title": p.title, "score": round(p.score, 3)} for p in passages],
        "duration_ms": round((time.monotonic() - started) * 1000, 1),
    }
    reply = _answer_from(passages, name=name, first_contact=first_contact)
    reply.steps.append(search)
    return reply


def _answer_from(passages: list[Passage], *, name: str, first_contact: bool) -> Reply:
    if not passages:
        prefix = [("text", text_content(f"Hi{' ' + name if name else ''}! 👋"))] if first_contact else []
        return Reply(
            prefix
            + [
                ("text", text_content("I don't have an answer for that yet 🤔")),
                _offer_human("Would you like me to bring in a teammate?"),
            ]
        )
    best = passages[0]
    runner_up = next((p for p in passages[1:] if p.entry_id != best.entry_id), None)
    if runner_up is None or best.score >= CONFIDENT_MARGIN * runner_up.score:
        return Reply([("text", text_content(best.text))])
    return Reply([_choices(passages)])
