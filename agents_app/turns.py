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

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from agents_app.knowledge import knowledge_search
from agents_app.knowledge_agent import HANDOFF_ID, Reply, customer_text, knowledge_reply, wants_human
from agents_app.limits import model_calls_held_back
from agents_app.media_understanding import media_understanding
from agents_app.models import Agent, AgentRun
from agents_app.prompt_budget import document_recalled, prompt_fit
from agents_app.tools import agent_tool_specs, http_tool_run
from channels_app.whatsapp.payloads import PayloadInvalid, buttons_content, list_content, text_content, text_split
from whatsapp_platform.db import connection_lend
from whatsapp_platform.errors import PlatformError
from whatsapp_platform.task_queue import task_enqueue

logger = logging.getLogger(__name__)

MAX_TOOL_ROUNDS = 4
SLOW_TURN_MS = 30_000
WHATSAPP_TEXT_LIMIT = 4096

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
    "description": "Send a list of up to 10 options the customer can choose from.",
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
    from messaging_app.models import Conversation

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
    from messaging_app.models import Conversation

    return Conversation.objects.filter(assigned_agent_id=agent_id, agent_turn_until__gte=now).count()


def _places_hand_on(*, agent_id: int, cap: int) -> None:
    """Wake the agent's longest-waiting conversations, as many as it has free places."""
    from messaging_app.models import Conversation

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
    from messaging_app.models import Conversation

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
    from messaging_app.models import Message

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
    from messaging_app.models import Conversation

    Conversation.objects.filter(pk=conversation_id).update(agent_turn_until=None)
    _places_hand_on(agent_id=agent_id, cap=cap)


def agent_turn_run(*, conversation, messages: list, run: AgentRun | None = None) -> AgentRun | None:
    """The assigned agent answers a burst of customer messages (or hands the conversation over).

    `run` is a turn whose worker died (see turn_interrupted_take): it is answered again, from scratch, as the
    same run, so each customer message is still answered by one turn.
    """
    from messaging_app.services.inbound import window_open

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
        run.input_tokens = run.output_tokens = 0
        run.model_latency_ms = None
        run.save()
    if not window_open(conversation):
        # Outside the 24-hour window only templates may be sent: the agent never writes free-form. With a
        # window-closed template it still tells the customer a teammate will follow up, and hands over.
        if _window_closed_notice(agent, conversation, run) is None:
            return _finish(run, AgentRun.Status.SKIPPED, error=run.error or "The customer-service window is closed.")
        from messaging_app.services.handoff import conversation_handoff

        conversation_handoff(
            conversation=conversation,
            reason="The customer's message was handled after the 24-hour window had closed; the agent sent its "
            f"'{agent.window_closed_template}' template. Follow up with a template.",
        )
        return _finish(run, AgentRun.Status.HANDED_OFF)
    try:
        if agent.provider == Agent.Provider.KNOWLEDGE_BASE:
            reply = knowledge_reply(agent=agent, conversation=conversation, messages=messages)
            run.tool_calls = reply.steps
        else:
            reply = _model_reply(agent, conversation, messages, run)
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
        from messaging_app.services.handoff import conversation_handoff

        conversation_handoff(conversation=conversation, reason=reply.handoff_reason)
    return _finish(run, status)


def _finish(run: AgentRun, status: str, *, error: str = "") -> AgentRun:
    run.status = status
    run.error = error or run.error
    run.finished_at = timezone.now()
    run.save()
    return run


class _TurnFailed(Exception):
    pass


def _send(agent: Agent, conversation, reply: Reply, run: AgentRun) -> list:
    from messaging_app.errors import WindowClosed
    from messaging_app.models import Message
    from messaging_app.services.outbound import message_send

    sent = []
    for message_type, content in _shape(agent, reply.parts):
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
    from messaging_app.models import Message
    from messaging_app.services.template_sends import template_send_by_name

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
    """Texts split to the agent's target length (never mid-word), at most max_messages_per_turn in all."""
    shaped: list[tuple[str, dict]] = []
    for message_type, content in parts:
        if message_type == "text":
            for chunk in text_split(content["body"], target=agent.target_chars, hard_limit=WHATSAPP_TEXT_LIMIT):
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
    from agents_app.providers.base import ChatMessage, ImageInput
    from messaging_app.models import Message

    trigger_ids = {m.pk for m in messages}
    earlier = list(
        Message.objects.filter(conversation=conversation)
        .exclude(pk__in=trigger_ids)
        .exclude(message_type__in=["reaction"])
        .order_by("-timestamp", "-pk")[: agent.history_messages]
    )[::-1]
    chat = []
    for message in earlier + list(messages):
        role = "user" if message.direction == Message.Direction.INBOUND else "assistant"
        text = customer_text(message)
        understood = media_understanding(message) if message.message_type in MEDIA_TYPES else ""
        if message.pk not in trigger_ids and message.message_type == "document":
            understood = document_recalled(understood)
        text = "\n".join(filter(None, [text, understood])) or _describe(message)
        images = []
        if message.pk in trigger_ids and message.message_type == "image" and message.media_file:
            with message.media_file.open("rb") as handle:
                images.append(ImageInput(data=handle.read(), mime_type=message.media_mime_type or "image/jpeg"))
        if text or images:
            chat.append(ChatMessage(role=role, content=text, images=images))
    return chat


MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")


def _describe(message) -> str:
    content = message.content if isinstance(message.content, dict) else {}
    if message.message_type in ("image", "video", "audio", "document", "sticker"):
        name = content.get("filename") or message.message_type
        return f"[{message.message_type}: {name}, {message.media_mime_type or 'unknown type'}]"
    if message.message_type == "location":
        return f"[location: {content.get('name') or ''} {content.get('latitude')}, {content.get('longitude')}]"
    if message.message_type == "interactive" and "body" in content:
        return (content.get("body") or {}).get("text", "")
    return f"[{message.message_type}]"


def _system_prompt(agent: Agent, conversation, query: str) -> str:
    from messaging_app.selectors import contact_agent_context
    from messaging_app.services.business_hours import business_hours_agent_context

    passages = knowledge_search(agent=agent, query=query, limit=4) if query else []
    knowledge = "\n\n".join(f"## {p.title}\n{p.text}" for p in passages)
    contact = conversation.contact
    return "\n\n".join(
        filter(
            None,
            [
                agent.instructions,
                contact_agent_context(contact=contact),
                business_hours_agent_context(conversation=conversation, now=timezone.now()),
                f"Keep each message under about {agent.target_chars} characters."
                + ("" if agent.use_emoji else " No emoji."),
                f"Relevant knowledge:\n{knowledge}" if knowledge else "",
            ],
        )
    )


def _model_reply(agent: Agent, conversation, messages: list, run: AgentRun) -> Reply:
    from agents_app.providers.base import ChatMessage, ProviderError, ToolSpec
    from agents_app.providers.registry import provider_for

    query = " ".join(customer_text(m) for m in messages).strip()
    if wants_human(agent, query, ""):
        return Reply(
            [("text", text_content("Sure! I'm bringing in a teammate 🙋"))],
            handoff=True,
            handoff_reason="The customer asked for a human.",
        )
    held_back = model_calls_held_back(agent=agent, conversation=conversation)
    if held_back is not None:
        run.error = held_back.handoff_reason
        return held_back
    provider = provider_for(kind=agent.provider, model=agent.model, api_key=agent.api_key, base_url=agent.base_url)
    tools = [ToolSpec(**spec) for spec in (SEND_BUTTONS, SEND_LIST, HANDOFF)] + agent_tool_specs(agent=agent)
    system = _system_prompt(agent, conversation, query)
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
        run.model_latency_ms = (run.model_latency_ms or 0) + completion.latency_ms
        if completion.text:
            run.output += completion.text
            reply.parts.append(("text", text_content(completion.text)))
        if not completion.tool_calls:
            return reply
        chat.append(ChatMessage(role="assistant", content=completion.text, tool_calls=completion.tool_calls))
        for call in completion.tool_calls:
            started = time.monotonic()
            result = _tool_run(call, reply, agent, conversation.contact)
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


def _tool_run(call, reply: Reply, agent: Agent, contact=None) -> dict:
    """Run a built-in tool; WhatsApp limits are checked, and a model's options that do not fit become text."""
    args = call.arguments or {}
    if call.name == "handoff_to_human":
        reply.handoff = True
        reply.handoff_reason = str(args.get("reason") or "The agent asked for a human.")
        if args.get("summary"):
            reply.handoff_reason += f" Summary: {args['summary']}"
        reply.parts.append(("text", text_content("I'm bringing in a teammate 🙋 They will reply here shortly.")))
        return {"ok": True}
    if call.name in ("send_buttons", "send_list"):
        text = str(args.get("text") or "").strip() or "Please choose:"
        options = [str(o).strip() for o in (args.get("buttons") or args.get("options") or []) if str(o).strip()]
        try:
            if call.name == "send_buttons":
                content = buttons_content(text, [(f"opt_{i}", label) for i, label in enumerate(options)])
            else:
                rows = [(f"opt_{i}", label, None) for i, label in enumerate(options)]
                content = list_content(text, str(args.get("button") or "Options")[:20], [("Options", rows)])
            reply.parts.append(("interactive", content))
        except PayloadInvalid:
            numbered = "\n".join(f"{i + 1}. {label}" for i, label in enumerate(options))
            reply.parts.append(("text", text_content(f"{text}\n{numbered}\nReply with a number.")))
        return {"ok": True, "shown": options}
    connection_lend()  # the business's endpoint may take seconds
    return http_tool_run(agent=agent, name=call.name, arguments=args, contact=contact)


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
