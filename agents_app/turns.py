"""An agent's turn: context in, WhatsApp messages out, logged as an AgentRun.

One turn per conversation at a time; a burst of customer messages is one turn (the caller
waits the agent's debounce and hands over every unhandled message, oldest first). A provider
failure is retried once, then the customer gets the fallback message and a human takes over:
never silence, never a stack trace.
"""

import json
import logging
import time
from datetime import timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from agents_app.costs import run_price
from agents_app.handoff_intent import handoff_intent, language_guess
from agents_app.knowledge import knowledge_search
from agents_app.knowledge_agent import HANDOFF_ID, Reply, customer_text, knowledge_reply, tapped_id, wants_human
from agents_app.limits import model_calls_held_back
from agents_app.media_understanding import media_understanding
from agents_app.models import Agent, AgentRun
from agents_app.prompt_budget import document_recalled, prompt_fit
from agents_app.prompts import ESCALATION_RULES, NO_KNOWLEDGE, PLATFORM_RULES, prompt_language, prompt_now
from agents_app.providers.base import ChatMessage, ImageInput, ProviderError, ToolSpec
from agents_app.providers.registry import provider_for
from agents_app.reply_shaping import BUBBLES_PER_ANSWER, MORE_PREFIX, answer_shape, bubbles_pack
from agents_app.tools import agent_tool_specs, http_tool_run
from channels_app.whatsapp.payloads import MEDIA_KINDS as MEDIA_TYPES
from channels_app.whatsapp.payloads import text_content
from messaging_app.errors import WindowClosed
from messaging_app.models import Conversation, Message
from messaging_app.selectors import business_hours_of_conversation, contact_agent_context
from messaging_app.services.business_hours import business_hours_agent_context
from messaging_app.services.handoff import conversation_handoff, handoff_notice
from messaging_app.services.outbound import message_send
from messaging_app.services.template_sends import template_send_by_name
from messaging_app.window import window_open
from whatsapp_platform.db import connection_lend
from whatsapp_platform.errors import PlatformError
from whatsapp_platform.task_queue import task_enqueue

logger = logging.getLogger(__name__)

MAX_TOOL_ROUNDS = 4
SLOW_TURN_MS = 30_000
WHATSAPP_TEXT_LIMIT = 4096
# The step that keeps what a "More" button holds back, in the run's tool_calls.
MORE_HELD_STEP = "more_held"
# Steps of earlier runs that the model does not need to see again ([earlier lookup] notes carry the others).
_NOT_RECALLED = {"send_buttons", "send_list", "knowledge_search", MORE_HELD_STEP}
# A turn is rarely more than this many messages: how far back the history reads to find its turns.
MESSAGES_PER_TURN_READ = 12

SEND_BUTTONS = {
    "name": "send_buttons",
    "description": "Send a short question with up to 3 reply buttons the customer can tap.",
    "parameters": {
        "type": "object",
        "properties": {
            "text": {"type": "string", "description": "The question (at most 1024 characters)."},
            "buttons": {"type": "array", "items": {"type": "string"}, "description": "1-3 labels, 20 chars each."},
        },
        "required": ["text", "buttons"],
    },
}
SEND_LIST = {
    "name": "send_list",
    "description": "Send a list of 4 to 10 options the customer can choose from (titles are cut to 24 characters).",
    "parameters": {
        "type": "object",
        "properties": {
            "text": {"type": "string"},
            "button": {"type": "string", "description": "The label that opens the list (20 chars)."},
            "options": {"type": "array", "items": {"type": "string"}, "description": "Up to 10 options, 24 chars."},
        },
        "required": ["text", "options"],
    },
}
HANDOFF = {
    "name": "handoff_to_human",
    "description": "Hand the conversation to a human teammate when you cannot help or the customer asks for one.",
    "parameters": {
        "type": "object",
        "properties": {"reason": {"type": "string"}, "summary": {"type": "string"}},
        "required": ["reason"],
    },
}


class TurnClaim(StrEnum):
    CLAIMED = "claimed"
    # A turn runs in this conversation: it takes the new messages as a follow-up when it finishes.
    BUSY = "busy"
    # The agent answers as many conversations as it may at once: this one waits for the next free place.
    AT_CAPACITY = "at_capacity"


# Conversations woken at most per freed place check (the rest are woken by later turns or the inbound sweeper).
_WAKE_MAX = 50


def turn_claim(*, conversation_id: int, agent_id: int, cap: int, waiting: bool = False) -> TurnClaim:
    """Take the conversation's turn lease, within the agent's cap (`max_concurrent_turns`) of conversations
    answered at once. `waiting`: the conversation is marked as waiting for a place.

    Optimistic, with no lock shared by the agent's turns (one hot row lock serialised hundreds of claims in a
    burst): take the lease, then count the agent's running turns, this one included; over the cap, give the
    lease back and wait. Each claimer counts after its own lease is written, so of claimers racing for the last
    place the last to count sees all the others: the cap is never exceeded (at worst all of them step back, and
    the place is handed on below). A conversation turned away is woken by the turn that frees a place.
    """
    now = timezone.now()
    conversation = Conversation.objects.filter(pk=conversation_id)
    claimed = conversation.filter(Q(agent_turn_until__isnull=True) | Q(agent_turn_until__lt=now)).update(
        agent_turn_until=now + timedelta(seconds=settings.AGENT_TURN_LEASE_SECONDS)
    )
    if not claimed:
        return TurnClaim.BUSY
    if _turns_running(agent_id, now) <= cap:
        if waiting:
            conversation.update(turn_waiting_since=None)
        return TurnClaim.CLAIMED
    conversation.update(agent_turn_until=None, turn_waiting_since=Coalesce(F("turn_waiting_since"), Value(now)))
    # A place freed between the lease and the count found nobody waiting yet: hand it on now.
    _places_hand_on(agent_id=agent_id, cap=cap)
    return TurnClaim.AT_CAPACITY


def _turns_running(agent_id: int, now) -> int:
    return Conversation.objects.filter(assigned_agent_id=agent_id, agent_turn_until__gte=now).count()


def _places_hand_on(*, agent_id: int, cap: int) -> None:
    """Wake the agent's longest-waiting conversations, as many as it has free places."""
    waiting = list(
        Conversation.objects.filter(
            assigned_agent_id=agent_id,
            turn_waiting_since__isnull=False,
            agent_turn_until__isnull=True,
            state=Conversation.State.AGENT,
        )
        .order_by("turn_waiting_since", "pk")
        .values_list("pk", flat=True)[:_WAKE_MAX]
    )
    if not waiting:
        return
    for waiting_id in waiting[: max(0, cap - _turns_running(agent_id, timezone.now()))]:
        transaction.on_commit(
            lambda waiting_id=waiting_id: task_enqueue("messaging.conversation_inbound_handle", waiting_id)
        )


def turn_extend(*, conversation_id: int) -> None:
    """Renew the lease of the running turn before a step that may take long (a model call): the lease
    lapses only when the worker running the turn is gone, never under a slow but live turn."""
    Conversation.objects.filter(pk=conversation_id, agent_turn_until__isnull=False).update(
        agent_turn_until=timezone.now() + timedelta(seconds=settings.AGENT_TURN_LEASE_SECONDS)
    )


def turn_interrupted_take(*, conversation_id: int) -> AgentRun | None:
    """The turn still marked running in this conversation, whose worker died; None when there is none.

    Call holding the turn lease, so no live turn can be running. If the dead turn had already queued its
    reply, the outbox delivers it: the run is closed as answered, its messages finished, and None is returned.
    Otherwise the run is returned, for the caller to answer its messages with it (one turn per message, even
    across a crash).
    """
    run = (
        AgentRun.objects.filter(conversation_id=conversation_id, status=AgentRun.Status.RUNNING).order_by("pk").first()
    )
    if run is None:
        return None
    replied = Message.objects.filter(
        conversation_id=conversation_id,
        direction=Message.Direction.OUTBOUND,
        sender=Message.Sender.AGENT,
        created_at__gte=run.started_at,
    ).exists()
    if replied:
        _finish(run, AgentRun.Status.ANSWERED, error="The worker stopped after the reply was queued.")
        Message.objects.filter(pk__in=run.trigger_message_ids).update(next_attempt_at=None)  # their handling is done
        return None
    logger.warning("resuming an agent turn whose worker stopped", extra={"agent_run_id": run.pk})
    return run


def turn_interrupted_close(run: AgentRun, *, reason: str) -> AgentRun:
    """An interrupted turn that is not to be answered any more (the conversation left the agent meanwhile)."""
    return _finish(run, AgentRun.Status.SKIPPED, error=f"The worker stopped during the turn. {reason}")


def turn_release(*, conversation_id: int, agent_id: int, cap: int) -> None:
    """End the conversation's turn and hand the freed place to the agent's longest-waiting conversation.

    A conversation that marks itself waiting after this looked counts the running turns afterwards, and so sees
    the place this freed (turn_claim): either way, nobody waits for a place that is free.
    """
    Conversation.objects.filter(pk=conversation_id).update(agent_turn_until=None)
    _places_hand_on(agent_id=agent_id, cap=cap)


def agent_turn_run(*, conversation, messages: list, run: AgentRun | None = None) -> AgentRun | None:
    """The assigned agent answers a burst of customer messages (or hands the conversation over).

    `run` is a turn whose worker died (see turn_interrupted_take): it is answered again, from scratch, as the
    same run, so each customer message is still answered by one turn.
    """
    agent: Agent = conversation.assigned_agent
    if run is None:
        run = AgentRun.objects.create(
            workspace_id=conversation.workspace_id,
            agent=agent,
            conversation=conversation,
            provider=agent.provider,
            model=agent.model,
            trigger_message_ids=[m.pk for m in messages],
        )
    else:
        run.agent, run.provider, run.model = agent, agent.provider, agent.model
        run.trigger_message_ids = [m.pk for m in messages]
        run.prompt, run.output, run.tool_calls, run.error = [], "", [], ""
        run.input_tokens = run.output_tokens = run.cache_read_tokens = run.cache_write_tokens = 0
        run.model_latency_ms = None
        run.save()
    if not window_open(conversation):
        # Outside the 24-hour window only templates may be sent: the agent never writes free-form. With a
        # window-closed template it still tells the customer a teammate will follow up, and hands over.
        if _window_closed_notice(agent, conversation, run) is None:
            return _finish(run, AgentRun.Status.SKIPPED, error=run.error or "The customer-service window is closed.")

        conversation_handoff(
            conversation=conversation,
            reason="The customer's message was handled after the 24-hour window had closed; the agent sent its "
            f"'{agent.window_closed_template}' template. Follow up with a template.",
        )
        return _finish(run, AgentRun.Status.HANDED_OFF)
    language = _customer_language(messages)
    try:
        more = _more_held(conversation, messages)
        if more is not None:
            reply = more
        elif wants_human(agent, " ".join(customer_text(m) for m in messages), tapped_id(messages[-1])):
            # Asked for a person: the platform's own notice (aware of business hours), whichever kind of agent.
            reply = _handoff_reply(conversation, messages, language=language)
        elif agent.provider == Agent.Provider.KNOWLEDGE_BASE:
            reply = knowledge_reply(agent=agent, conversation=conversation, messages=messages)
            run.tool_calls = reply.steps
        else:
            reply = _model_reply(agent, conversation, messages, run, language=language)
    except _TurnFailed as failure:
        logger.warning("agent turn failed", extra={"agent_run_id": run.pk, "error": str(failure)})
        reply = Reply(
            [("text", text_content(agent.fallback_message))],
            handoff=True,
            handoff_reason=f"The agent could not answer: {failure}",
        )
        run.error = str(failure)
        status = AgentRun.Status.FAILED
    else:
        status = AgentRun.Status.HANDED_OFF if reply.handoff else AgentRun.Status.ANSWERED
    sent = _send(agent, conversation, reply, run)
    if reply.handoff and status == AgentRun.Status.ANSWERED:
        status = AgentRun.Status.HANDED_OFF  # the window closed while the agent was answering
    if sent:
        first = min(m.timestamp for m in messages)
        run.response_ms = max(0.0, (sent[0].created_at - first).total_seconds() * 1000)
        run.slow = run.response_ms > SLOW_TURN_MS
    if reply.handoff:
        conversation_handoff(conversation=conversation, reason=reply.handoff_reason, language=language or "")
    return _finish(run, status)


def _customer_language(messages: list) -> str | None:
    """The language of the customer's latest messages, when they make it clear (en, es, pt, de, fr, it, nl)."""
    text = " ".join(customer_text(m) for m in messages)
    intent = handoff_intent(text)
    return intent.language if intent is not None else language_guess(text)


def _handoff_reply(conversation, messages: list, *, language: str | None) -> Reply:
    asked = " ".join(customer_text(m) for m in messages).strip() or "tapped “Talk to a human”"
    return Reply(
        [("text", text_content(handoff_notice(conversation=conversation, now=timezone.now(), language=language)))],
        handoff=True,
        handoff_reason=f"The customer asked for a human: “{asked[:300]}”",
    )


def _more_held(conversation, messages: list) -> Reply | None:
    """The customer tapped "More": the rest of that answer, as held by its run; None for anything else."""
    tapped = tapped_id(messages[-1])
    if len(messages) != 1 or not tapped.startswith(MORE_PREFIX) or not tapped[len(MORE_PREFIX) :].isdigit():
        return None
    earlier = AgentRun.objects.filter(pk=int(tapped[len(MORE_PREFIX) :]), conversation=conversation).first()
    held = next((step for step in (earlier.tool_calls if earlier else []) if step.get("name") == MORE_HELD_STEP), None)
    if held is None:
        return None
    return Reply([(message_type, content) for message_type, content in held["result"]["parts"]])


def _finish(run: AgentRun, status: str, *, error: str = "") -> AgentRun:
    run.status = status
    run.error = error or run.error
    run.finished_at = timezone.now()
    run_price(run)
    run.save()
    return run


class _TurnFailed(Exception):
    pass


def _send(agent: Agent, conversation, reply: Reply, run: AgentRun) -> list:
    sent = []
    if agent.provider == Agent.Provider.KNOWLEDGE_BASE:
        shaped = _shape(agent, reply.parts)
    else:
        limit = min(BUBBLES_PER_ANSWER, agent.max_messages_per_turn)
        shaped, held = answer_shape(
            reply.parts, target=agent.target_chars, max_bubbles=limit, more_id=f"{MORE_PREFIX}{run.pk}"
        )
        if held:
            run.tool_calls = [
                *run.tool_calls,
                {"name": MORE_HELD_STEP, "arguments": {}, "result": {"parts": [list(part) for part in held]}},
            ]
    for message_type, content in shaped:
        try:
            sent.append(
                message_send(
                    conversation=conversation,
                    message_type=message_type,
                    content=content,
                    sender=Message.Sender.AGENT,
                    sender_agent=agent,
                    enqueue_delivery=False,  # the handling sends the replies once the turn is over
                )
            )
        except WindowClosed as exc:
            # The window closed during the turn: the rest of the answer cannot go out as free text.
            logger.warning("agent reply not sent: window closed", extra={"agent_run_id": run.pk})
            run.error = exc.message
            notice = _window_closed_notice(agent, conversation, run)
            if notice is not None:
                sent.append(notice)
            reply.handoff = True
            reply.handoff_reason = reply.handoff_reason or (
                "The 24-hour window closed before the agent's answer could be sent. Follow up with a template."
            )
            break
        except PlatformError as exc:
            logger.warning("agent reply not sent", extra={"agent_run_id": run.pk, "error": exc.message})
            run.error = exc.message
            break
    return sent


def _window_closed_notice(agent: Agent, conversation, run: AgentRun):
    """Send the agent's window-closed template, if it has one; the message, or None (reason in run.error)."""
    if not agent.window_closed_template:
        return None
    try:
        return template_send_by_name(
            conversation=conversation,
            name=agent.window_closed_template,
            language=agent.window_closed_template_language or "en_US",
            values=agent.window_closed_template_parameters or {},
            sender=Message.Sender.AGENT,
            sender_agent=agent,
        )
    except PlatformError as exc:
        logger.warning("window-closed template not sent", extra={"agent_run_id": run.pk, "error": exc.message})
        run.error = f"The window-closed template could not be sent: {exc.message}"
        return None


def _shape(agent: Agent, parts: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """The offline agent's texts in bubbles of the agent's target length (whole sentences), at most
    max_messages_per_turn in all."""
    shaped: list[tuple[str, dict]] = []
    for message_type, content in parts:
        if message_type == "text":
            for chunk in bubbles_pack(content["body"], target=agent.target_chars, hard_limit=WHATSAPP_TEXT_LIMIT):
                shaped.append(("text", text_content(chunk)))
        else:
            shaped.append((message_type, content))
    limit = max(1, agent.max_messages_per_turn)
    if len(shaped) <= limit:
        return shaped
    # Too many pieces: keep the interactive ones, fold the overflow text into the last text message.
    head, tail = shaped[: limit - 1], shaped[limit - 1 :]
    texts = [c["body"] for t, c in tail if t == "text"]
    others = [(t, c) for t, c in tail if t != "text"]
    merged = [("text", text_content(" ".join(texts)[:WHATSAPP_TEXT_LIMIT]))] if texts else []
    return head + merged + others[:1]


# --- language-model agents -----------------------------------------------------------------


def _history(agent: Agent, conversation, messages: list):
    """The conversation as the model reads it: the last `agent.history_messages` *turns* (a customer's burst and
    everything answered to it), then this turn's messages. Quoted replies, taps on buttons and list rows, the
    options the business offered and what tools returned in earlier turns are spelled out."""
    trigger_ids = {m.pk for m in messages}
    turns = agent.history_messages
    newest_first = list(
        Message.objects.filter(conversation=conversation)
        .exclude(pk__in=trigger_ids)
        .exclude(message_type__in=["reaction"])
        .select_related("reply_to")
        .order_by("-timestamp", "-pk")[: turns * MESSAGES_PER_TURN_READ]
    )
    earlier: list = []
    started = 0
    for message in newest_first:
        inbound = message.direction == Message.Direction.INBOUND
        if inbound and (not earlier or earlier[-1].direction != Message.Direction.INBOUND):
            started += 1  # going back in time, a customer message after the business's starts an earlier turn
            if started > turns:
                break
        earlier.append(message)
    # Outbound messages older than the oldest turn kept belong to a turn left out.
    while earlier and earlier[-1].direction != Message.Direction.INBOUND and started > turns:
        earlier.pop()
    earlier.reverse()
    notes = _earlier_lookups(conversation, since=earlier[0].timestamp if earlier else None) if earlier else []
    chat = []
    for message in earlier + list(messages):
        # A lookup goes before the answer it served; any left go before this turn's messages.
        answered = message.direction == Message.Direction.OUTBOUND or message.pk in trigger_ids
        while notes and answered and (notes[0][0] <= message.timestamp or message.pk in trigger_ids):
            chat.append(ChatMessage(role="assistant", content=notes.pop(0)[1]))
        role = "user" if message.direction == Message.Direction.INBOUND else "assistant"
        text = _said(message)
        understood = media_understanding(message) if message.message_type in MEDIA_TYPES else ""
        if message.pk not in trigger_ids and message.message_type == "document":
            understood = document_recalled(understood)
        text = "\n".join(filter(None, [text, understood])) or _describe(message)
        # A tap's context is the message it was tapped in, already just above: only typed replies quote.
        if (
            message.reply_to_id
            and message.reply_to is not None
            and message.message_type not in ("interactive", "button")
        ):
            quoted = _said(message.reply_to) or _describe(message.reply_to)
            text = f"[quoting: “{quoted[:300]}”]\n{text}"
        images = []
        if message.pk in trigger_ids and message.message_type == "image" and message.media_file:
            with message.media_file.open("rb") as handle:
                images.append(ImageInput(data=handle.read(), mime_type=message.media_mime_type or "image/jpeg"))
        if text or images:
            chat.append(ChatMessage(role=role, content=text, images=images))
    return chat


def _said(message) -> str:
    """A message's words for the model: taps as [tapped: …] (a list row's full text when it has one), the
    options an interactive message offered listed after its text."""
    content = message.content if isinstance(message.content, dict) else {}
    if message.direction == "in" and message.message_type in ("interactive", "button"):
        reply = content.get("button_reply") or content.get("list_reply") or {}
        label = reply.get("description") or reply.get("title") or content.get("text") or ""
        return f"[tapped: {label}]" if label else ""
    if message.message_type == "interactive" and message.direction == "out":
        body = (content.get("body") or {}).get("text", "")
        action = content.get("action") or {}
        labels = [b.get("reply", {}).get("title", "") for b in action.get("buttons") or []]
        rows = [r for section in action.get("sections") or [] for r in section.get("rows") or []]
        labels += [r.get("description") or r.get("title", "") for r in rows]
        kind = "list" if rows else "buttons"
        return f"{body}\n[{kind}: {' | '.join(filter(None, labels))}]" if labels else body
    return customer_text(message)


def _earlier_lookups(conversation, *, since) -> list[tuple]:
    """(when, note) for what tools returned in earlier turns, oldest first: "[earlier lookup] name(args) → …"."""
    notes = []
    runs = AgentRun.objects.filter(conversation=conversation, started_at__gte=since).exclude(tool_calls=[])
    for run in runs.order_by("started_at", "pk"):
        for step in run.tool_calls or []:
            if step.get("name") in _NOT_RECALLED:
                continue
            result = json.dumps(step.get("result"), ensure_ascii=False, default=str)
            arguments = json.dumps(step.get("arguments") or {}, ensure_ascii=False, default=str)
            notes.append((run.started_at, f"[earlier lookup] {step.get('name')}({arguments}) → {result[:600]}"))
    return notes


def _describe(message) -> str:
    content = message.content if isinstance(message.content, dict) else {}
    if message.message_type in MEDIA_TYPES:
        name = content.get("filename") or message.message_type
        return f"[{message.message_type}: {name}, {message.media_mime_type or 'unknown type'}]"
    if message.message_type == "location":
        return f"[location: {content.get('name') or ''} {content.get('latitude')}, {content.get('longitude')}]"
    if message.message_type == "interactive" and "body" in content:
        return (content.get("body") or {}).get("text", "")
    return f"[{message.message_type}]"


def _business_zone(conversation) -> ZoneInfo:
    """The business's time zone: its channel's business hours', else its workspace's."""
    hours = business_hours_of_conversation(conversation=conversation)
    name = hours.timezone if hours is not None else conversation.workspace.timezone
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _system_prompt(agent: Agent, conversation, query: str, *, language: str | None) -> str:
    now = timezone.now()
    passages = knowledge_search(agent=agent, query=query, limit=4) if query else []
    knowledge = "\n\n".join(f"## {p.title}\n{p.text}" for p in passages)
    contact = conversation.contact
    return "\n\n".join(
        filter(
            None,
            [
                agent.instructions,
                prompt_now(now, _business_zone(conversation)),
                prompt_language(language),
                contact_agent_context(contact=contact),
                business_hours_agent_context(conversation=conversation, now=now),
                f"Keep each message under about {agent.target_chars} characters."
                + ("" if agent.use_emoji else " No emoji."),
                ESCALATION_RULES,
                PLATFORM_RULES,
                # Last, so the prompt budget cuts the knowledge first (agents_app.prompt_budget).
                f"Relevant knowledge:\n{knowledge}" if knowledge else NO_KNOWLEDGE,
            ],
        )
    )


def _model_reply(agent: Agent, conversation, messages: list, run: AgentRun, *, language: str | None) -> Reply:
    query = " ".join(customer_text(m) for m in messages).strip()
    held_back = model_calls_held_back(agent=agent, conversation=conversation)
    if held_back is not None:
        run.error = held_back.handoff_reason
        return held_back
    provider = provider_for(
        kind=agent.provider, model=agent.model, api_key=agent.api_key, base_url=agent.base_url, **agent.cloud_settings
    )
    tools = [ToolSpec(**spec) for spec in (SEND_BUTTONS, SEND_LIST, HANDOFF)] + agent_tool_specs(agent=agent)
    system = _system_prompt(agent, conversation, query, language=language)
    chat = _history(agent, conversation, messages)
    system, chat = prompt_fit(system=system, chat=chat, tools=tools, budget=agent.prompt_token_budget)
    run.prompt = [{"role": "system", "content": system}] + [{"role": m.role, "content": m.content} for m in chat]
    reply = Reply()
    for _round in range(MAX_TOOL_ROUNDS):
        completion = None
        for attempt in range(2):  # one retry on a passing failure
            turn_extend(conversation_id=conversation.pk)
            connection_lend()  # no connection held while the model thinks
            run.model_calls += 1
            try:
                completion = provider.complete(
                    system=system,
                    messages=chat,
                    tools=tools,
                    temperature=agent.temperature,
                    max_output_tokens=agent.max_output_tokens,
                    timeout_seconds=agent.request_timeout_seconds,
                )
                break
            except ProviderError as exc:
                if attempt == 1 or not exc.retryable:
                    raise _TurnFailed(str(exc)) from exc
        run.input_tokens += completion.input_tokens
        run.output_tokens += completion.output_tokens
        run.cache_read_tokens += completion.cache_read_tokens
        run.cache_write_tokens += completion.cache_write_tokens
        run.model_latency_ms = (run.model_latency_ms or 0) + completion.latency_ms
        if completion.text:
            run.output += completion.text
            reply.parts.append(("text", text_content(completion.text)))
        if not completion.tool_calls:
            return reply
        chat.append(ChatMessage(role="assistant", content=completion.text, tool_calls=completion.tool_calls))
        for call in completion.tool_calls:
            started = time.monotonic()
            result = _tool_run(call, reply, agent, conversation, language=language)
            run.tool_calls = [
                *run.tool_calls,
                {
                    "name": call.name,
                    "arguments": call.arguments,
                    "result": result,
                    "duration_ms": round((time.monotonic() - started) * 1000, 1),
                },
            ]
            chat.append(ChatMessage(role="tool", content=json.dumps(result), tool_call_id=call.id, name=call.name))
        if reply.handoff or any(t != "text" for t, _ in reply.parts):
            return reply  # an interactive message or a handoff ends the turn: the customer acts next
    return reply


def _tool_run(call, reply: Reply, agent: Agent, conversation, *, language: str | None) -> dict:
    """Run a built-in tool. Options are shaped when the answer is sent: 1-3 short ones as reply buttons, up to 10
    as a list, more as numbered text (agents_app.reply_shaping); a handoff sends the platform's own notice."""
    args = call.arguments or {}
    if call.name == "handoff_to_human":
        reply.handoff = True
        reply.handoff_reason = str(args.get("reason") or "The agent asked for a human.")
        if args.get("summary"):
            reply.handoff_reason += f" Summary: {args['summary']}"
        notice = handoff_notice(conversation=conversation, now=timezone.now(), language=language or "")
        reply.parts.append(("text", text_content(notice)))
        return {"ok": True, "sent_to_customer": notice}
    if call.name in ("send_buttons", "send_list"):
        text = str(args.get("text") or "").strip() or "Please choose:"
        options = [str(o).strip() for o in (args.get("buttons") or args.get("options") or []) if str(o).strip()]
        reply.parts.append(("options", {"text": text, "options": options, "button": str(args.get("button") or "")}))
        return {"ok": True, "shown": options}
    connection_lend()  # the business's endpoint may take seconds
    return http_tool_run(agent=agent, name=call.name, arguments=args, contact=conversation.contact)


__all__ = [
    "HANDOFF_ID",
    "agent_turn_run",
    "turn_claim",
    "turn_extend",
    "turn_interrupted_close",
    "turn_interrupted_take",
    "turn_release",
    "TurnClaim",
]
