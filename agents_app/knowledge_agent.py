"""The Knowledge base (offline) agent: deterministic answers from FAQ entries and document passages.

A turn goes, in order:
1. a request for a person (or a tap on "Talk to a human") hands the conversation over;
2. a tapped choice sends that passage (one passage, never a whole document);
3. photos, videos, voice notes and documents are acknowledged, captioned or not; a document's text is
   read (agents_app/media_understanding.py) and used, and what cannot be read is asked for in words;
4. small talk (hello, thanks, ok, bye) gets a polite reply in the customer's language;
5. a question in a language the knowledge is not written in is handed to a person, said in that language;
6. otherwise the question, on its own or read with the previous customer turn and the agent's last answer
   (follow-ups: "how much is it?", "what about Sunday?"), is looked up (agents_app/knowledge), and the
   confidence decides: answer from the best passage, offer the closest few, or say honestly that it does
   not know and offer a person.
"""

import time
from dataclasses import dataclass, field

from agents_app.handoff_intent import handoff_requested
from agents_app.knowledge import (
    Passage,
    embeddings_enabled,
    knowledge_languages,
    knowledge_passage,
    knowledge_search,
    language_guess,
)
from agents_app.knowledge.language import terms, unaccent, words
from agents_app.knowledge.small_talk import media_kind, phrase, small_talk_kind
from agents_app.media_understanding import media_understanding
from agents_app.models import Agent, AgentRun
from channels_app.whatsapp.payloads import MEDIA_KINDS as MEDIA_TYPES
from channels_app.whatsapp.payloads import buttons_content, list_content, text_content

HANDOFF_ID = "handoff_request"
ENTRY_PREFIX = "kb:"


@dataclass(frozen=True)
class Thresholds:
    """Confidence (see agents_app/knowledge/search.py) needed to answer outright, or to offer a choice at
    all; an answer must also lead the next entry by `margin`. Calibrated on bench/agent_eval.py."""

    answer: float
    offer: float
    margin: float
    # Above `offer`, a lead this large over the next entry is an answer too.
    clear_lead: float


HYBRID = Thresholds(answer=0.40, offer=0.35, margin=0.10, clear_lead=0.15)
BM25_ONLY = Thresholds(answer=0.50, offer=0.30, margin=0.08, clear_lead=0.20)
# A follow-up read with the previous turn must beat the question read alone by this much to be preferred.
FOLLOW_UP_GAIN = 0.05
# Words that make a question lean on the previous turn: it points back, or it opens with "and"/"what about".
FOLLOW_UP_POINTERS = frozenset(
    # Not the words that are also articles ("la", "das"): a new question is full of them.
    "it its that this those these them they isso isto esse essa eso esto ese esa ello ca cela dies dieser diese".split()
)
FOLLOW_UP_OPENERS = frozenset(
    ["and", "also", "what about", "how about", "and if", "y", "e", "et", "und", "tambien", "tambem", "aussi", "auch"]
)
# A question of three words or fewer not answered on its own is read as a follow-up too, and is answered from
# the previous turn's topic only when it scores at least this with that passage alone.
IMPLICIT_FOLLOW_UP_LEAN = 0.20
# How much of a customer's document goes into the query (the start says what it is).
DOCUMENT_QUERY_CHARS = 400


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
    if tapped == HANDOFF_ID:
        return True
    return handoff_requested(text, keywords=agent.handoff_words)


@dataclass
class _Turn:
    """What the agent knows when it answers: the words of this turn and of the one before."""

    agent: Agent
    conversation: object
    text: str
    language: str
    name: str
    first_contact: bool
    previous_text: str = ""
    # The passage the agent answered from last ("entry.index"): a follow-up still about it gets it again.
    last_answer_key: str = ""
    quoted: str = ""
    # The languages the agent's knowledge is written in.
    languages: frozenset[str] = frozenset()
    steps: list[dict] = field(default_factory=list)

    def say(self, key: str, **values: str) -> str:
        return phrase(self.language, key, **values)

    def named(self) -> str:
        return f" {self.name}" if self.name else ""

    def offer_human(self, body: str) -> tuple[str, dict]:
        return "interactive", buttons_content(body, [(HANDOFF_ID, self.say("talk_to_human"))])


def knowledge_reply(*, agent: Agent, conversation, messages: list) -> Reply:
    last = messages[-1]
    tapped = tapped_id(last)
    text = " ".join(filter(None, (customer_text(m) for m in messages))).strip()
    turn = _turn_context(agent, conversation, messages, text)

    if wants_human(agent, text, tapped):
        return Reply(
            [("text", text_content(turn.say("handoff")))],
            handoff=True,
            handoff_reason="The customer asked for a human.",
        )
    if tapped.startswith(ENTRY_PREFIX):
        passage = _tapped_passage(agent, tapped[len(ENTRY_PREFIX) :])
        if passage is not None:
            return Reply([("text", text_content(passage.text))], steps=[_answer_step(passage)])

    parts, document_text, unreadable = _media_parts(turn, [m for m in messages if m.message_type in MEDIA_TYPES])
    question = " ".join(filter(None, [text, document_text[:DOCUMENT_QUERY_CHARS] if text else ""])).strip()
    if parts and not text:
        # A file with no words: acknowledged; a question about it comes next (the document is read with it).
        if unreadable or document_text:
            return Reply(parts)
        return Reply(parts + [turn.offer_human(turn.say("take_a_look"))])

    small_talk = small_talk_kind(text)
    if small_talk or (turn.first_contact and not question):
        return Reply(parts + _small_talk_parts(turn, small_talk or "greeting"))
    if not question:
        return Reply(parts + [turn.offer_human(turn.say("offer_human"))])

    if turn.languages and turn.language and turn.language not in turn.languages:
        found = knowledge_search(agent=agent, query=question, limit=1, language=turn.language)
        about = f' The closest knowledge: "{found[0].title}".' if found else ""
        return Reply(
            parts + [("text", text_content(turn.say("other_language")))],
            handoff=True,
            handoff_reason=f'The customer wrote in a language the knowledge does not cover ({turn.language}): "{text}".'
            + about,
        )
    reply = _answer(turn, question)
    reply.parts[:0] = parts
    reply.steps[:0] = turn.steps
    return reply


def _turn_context(agent: Agent, conversation, messages: list, text: str) -> _Turn:
    """The previous customer turn, the agent's last answer, the quoted message and the customer's language."""
    trigger_ids = {m.pk for m in messages}
    earlier = list(
        conversation.messages.exclude(pk__in=trigger_ids)
        .exclude(message_type="reaction")
        .order_by("-timestamp", "-pk")[:12]
    )
    # The previous question: the last thing the customer said that was not small talk ("thanks!").
    previous_text = next(
        (_said(m) for m in earlier if m.direction == "in" and _said(m) and not small_talk_kind(_said(m))),
        "",
    )
    quoted = ""
    for message in messages:
        if message.reply_to_id and message.reply_to is not None:
            quoted = _said(message.reply_to) or _interactive_body(message.reply_to)
    spoken = knowledge_languages(agent=agent)
    language = language_guess(text)
    previous_language = next((language_guess(_said(m)) for m in earlier if m.direction == "in" and _said(m)), "")
    if previous_language and (not language or (language == "en" and len(words(text)) <= 2)):
        language = previous_language  # "ok" or "😊" says nothing; the conversation's language holds
    if not language:
        language = "en" if "en" in spoken or not spoken else sorted(spoken)[0]
    return _Turn(
        agent=agent,
        conversation=conversation,
        text=text,
        language=language,
        name=(conversation.contact.profile_name or "").split(" ")[0],
        first_contact=not any(m.direction == "out" for m in earlier)
        and not conversation.messages.filter(direction="out").exists(),
        previous_text=previous_text,
        last_answer_key=_last_answer_key(conversation),
        quoted=quoted,
        languages=spoken,
    )


def _said(message) -> str:
    """A customer message in words: its text, caption, or the transcript or text of its file."""
    said = customer_text(message)
    if message.message_type == "audio" and message.transcript:
        said = f"{said} {message.transcript}".strip()
    if message.message_type == "document" and message.extracted_text:
        said = f"{said} {message.extracted_text[:DOCUMENT_QUERY_CHARS]}".strip()
    return said


def _interactive_body(message) -> str:
    content = message.content if isinstance(message.content, dict) else {}
    body = content.get("body")
    return (body or {}).get("text", "") if isinstance(body, dict) else str(body or "")


def _last_answer_key(conversation) -> str:
    """The passage the agent last answered from in this conversation ("entry.index"), if any."""
    for steps in (
        AgentRun.objects.filter(conversation=conversation).order_by("-pk").values_list("tool_calls", flat=True)[:3]
    ):
        for step in reversed(steps or []):
            if step.get("name") == "knowledge_answer":
                return str((step.get("arguments") or {}).get("passage") or "")
    return ""


def _tapped_passage(agent: Agent, key: str) -> Passage | None:
    entry, _, index = key.partition(".")
    if not entry.isdigit() or (index and not index.isdigit()):
        return None
    return knowledge_passage(agent=agent, entry_id=int(entry), index=int(index or 0))


def _media_parts(turn: _Turn, media: list) -> tuple[list[tuple[str, dict]], str, bool]:
    """The acknowledgement of the turn's files, the text read from its documents and voice notes, and whether
    something could not be read (the customer was asked to type it)."""
    if not media:
        return [], "", False
    read, unreadable = [], False
    for message in media:
        if message.message_type in ("audio", "document"):
            media_understanding(message)  # stores the document's text or the transcript on the message when it can
            understood = message.transcript if message.message_type == "audio" else message.extracted_text
            if understood:
                read.append(understood)
            else:
                unreadable = True
    kinds = {m.message_type for m in media}
    kind = media_kind(turn.language, media[-1].message_type)
    if read and kinds == {"document"}:
        # With a question, the answer follows; without one, the agent asks what the customer wants to know.
        key = "document_noted" if turn.text else "document_read"
        parts = [("text", text_content(turn.say(key, name=_comma(turn.name))))]
    else:
        parts = [("text", text_content(turn.say("media_thanks", kind=kind, name=_comma(turn.name))))]
    if unreadable:
        key = (
            "please_type"
            if "audio" in kinds and not any(m.transcript for m in media if m.message_type == "audio")
            else "cannot_read"
        )
        parts.append(("text", text_content(turn.say(key))))
    elif not read:
        parts[-1] = ("text", text_content(f"{parts[-1][1]['body']} {turn.say('cannot_open')}"))
    return parts, "\n".join(read), unreadable


def _comma(name: str) -> str:
    return f", {name}" if name else ""


def _small_talk_parts(turn: _Turn, kind: str) -> list[tuple[str, dict]]:
    if kind in ("greeting", "help"):
        return [("text", text_content(_hello(turn))), turn.offer_human(turn.say("how_can_i_help"))]
    if kind == "thanks":
        return [("text", text_content(turn.say("thanks", name=_comma(turn.name))))]
    if kind == "bye":
        return [("text", text_content(turn.say("bye", name=_comma(turn.name))))]
    return [("text", text_content(turn.say("ack")))]


def _search(turn: _Turn, query: str, label: str) -> list[Passage]:
    started = time.monotonic()
    found = knowledge_search(agent=turn.agent, query=query, limit=6, language=turn.language)
    if turn.language in turn.languages:
        # The customer's language is in the knowledge: answers come from passages written in it.
        found = [p for p in found if p.language in (turn.language, "")]
    turn.steps.append(
        {
            "name": "knowledge_search",
            "arguments": {"query": query, "read_as": label, "language": turn.language},
            "result": [
                {"title": p.title, "passage": p.key, "score": round(p.score, 3), "cosine": round(p.cosine, 3)}
                for p in found[:4]
            ],
            "duration_ms": round((time.monotonic() - started) * 1000, 1),
        }
    )
    return found


def _thresholds() -> Thresholds:
    return HYBRID if embeddings_enabled() else BM25_ONLY


def _confident(found: list[Passage], thresholds: Thresholds) -> bool:
    """Sure enough to answer: a high confidence ahead of the next entry, or a fair one far ahead of it."""
    if not found or found[0].score < thresholds.offer:
        return False
    runner_up = next((p.score for p in found[1:] if p.key != found[0].key), 0.0)
    lead = found[0].score - runner_up
    return (found[0].score >= thresholds.answer and lead >= thresholds.margin) or lead >= thresholds.clear_lead


def _follow_up_kind(question: str, language: str, sure_alone: bool) -> str:
    """'explicit' when the question points back ("how much is it?", "e ao domingo?", "what about Sunday?"),
    'implicit' when it is a few words that are not answered on their own ("the email never came"), else ''."""
    said = [unaccent(w) for w in words(question)]
    if not said:
        return ""
    if said[0] in FOLLOW_UP_OPENERS or " ".join(said[:2]) in FOLLOW_UP_OPENERS or FOLLOW_UP_POINTERS & set(said):
        return "explicit"
    return "implicit" if len(terms(question, language)) <= 3 and not sure_alone else ""


def _answer(turn: _Turn, question: str) -> Reply:
    thresholds = _thresholds()
    found = _search(turn, question, "alone")
    context = " ".join(filter(None, [turn.quoted, turn.previous_text]))
    alone = found[0].score if found else 0.0
    kind = _follow_up_kind(question, turn.language, _confident(found, thresholds)) if context else ""
    if kind:
        # Read with the quoted message and the previous question, it may say what it is about. A question that
        # does not point back must itself lean towards that answer: a short new question that matches nothing
        # ("do you integrate with quickbooks?") is not about the previous topic.
        reading = _search(turn, f"{context} {question}", "with the previous turn")
        own = {p.key: p.score for p in found}
        leaning = bool(reading) and (kind == "explicit" or own.get(reading[0].key, 0.0) >= IMPLICIT_FOLLOW_UP_LEAN)
        if leaning and _confident(reading, thresholds) and reading[0].score >= alone + FOLLOW_UP_GAIN:
            return _answer_with(reading[0])
        if leaning and reading[0].key == turn.last_answer_key and reading[0].score >= thresholds.offer:
            return _answer_with(reading[0])  # still about what the agent just answered: that passage again
    if _confident(found, thresholds):
        return _answer_with(found[0])
    offered = [p for p in found if p.score >= thresholds.offer]
    if offered:
        return Reply([_choices(turn, offered)])
    prefix = [("text", text_content(_hello(turn)))] if turn.first_contact else []
    return Reply(prefix + [("text", text_content(turn.say("dont_know"))), turn.offer_human(turn.say("offer_human"))])


def _hello(turn: _Turn) -> str:
    return turn.say("greeting", name=turn.named(), agent=turn.agent.name, business=turn.conversation.workspace.name)


def _answer_with(passage: Passage) -> Reply:
    return Reply([("text", text_content(passage.text))], steps=[_answer_step(passage)])


def _answer_step(passage: Passage) -> dict:
    return {
        "name": "knowledge_answer",
        "arguments": {"passage": passage.key},
        "result": {"title": passage.title, "score": round(passage.score, 3)},
        "duration_ms": 0.0,
    }


def _choices(turn: _Turn, passages: list[Passage]) -> tuple[str, dict]:
    """The closest passages as reply buttons (titles that fit) or a list; a document's passages each on
    their own row, labelled by their first words."""
    options, seen = [], set()
    for p in passages:
        if p.key not in seen and len(options) < 9:
            seen.add(p.key)
            options.append(p)
    labelled = [(p, _label(p)) for p in options]
    body = turn.say("choices")
    human = (HANDOFF_ID, turn.say("talk_to_human"))
    if len(labelled) <= 2 and all(len(label) <= 20 for _, label in labelled):
        return "interactive", buttons_content(
            body, [(f"{ENTRY_PREFIX}{p.key}", label) for p, label in labelled] + [human]
        )
    rows, titles = [], set()
    for p, label in labelled:
        title = _fit(label, 24)
        if title in titles:
            continue
        titles.add(title)
        description = (
            _fit(p.title if p.kind == "document" else label, 72) if p.kind == "document" or len(label) > 24 else None
        )
        rows.append((f"{ENTRY_PREFIX}{p.key}", title, description))
    rows.append((human[0], human[1], None))
    return "interactive", list_content(body, turn.say("choose"), [(turn.say("closest"), rows)])


def _label(passage: Passage) -> str:
    if passage.kind != "document":
        return passage.title
    first = passage.text.split(". ")[0].split(": ")[0]
    return first.strip(" .")


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


__all__ = ["HANDOFF_ID", "Reply", "customer_text", "knowledge_reply", "tapped_id", "wants_human"]
