"""What follows customer messages: business hours, the read receipt and the agent's turn, once per burst.

It orchestrates messaging (hours, handoff, the outbox) and the agent's turn, so it lives on the floor above
both; the task that runs it keeps its name, messaging.conversation_inbound_handle."""

import logging

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from agents_app.turns import (
    TurnClaim,
    agent_turn_run,
    turn_claim,
    turn_interrupted_close,
    turn_interrupted_take,
    turn_release,
)
from channels_app.services import graph_client_for_channel
from channels_app.whatsapp import errors as graph_errors
from messaging_app.models import Conversation, Message
from messaging_app.services.business_hours import business_hours_inbound_apply
from messaging_app.services.handoff import handoff_waiting_acknowledge
from messaging_app.services.inbound import inbound_claim, inbound_handling_finish
from messaging_app.services.outbound import agent_replies_deliver
from whatsapp_platform.task_queue import task_enqueue

logger = logging.getLogger(__name__)


def conversation_inbound_handle(*, conversation_id: int) -> list[Message]:
    """Take the conversation's new customer messages (oldest first) and react to them once.

    An agent answers one turn at a time: when a turn is running, this returns at once and the
    running turn picks the new messages up as a follow-up when it finishes. Handling that raises (or whose
    worker dies) is left unfinished; the inbound sweeper hands it again, and once the dead turn's lease has
    lapsed its messages are answered here, by the same run.
    """
    conversation = Conversation.objects.select_related("channel", "contact", "assigned_agent", "workspace").get(
        pk=conversation_id
    )
    agent_id = conversation.assigned_agent_id
    cap = conversation.assigned_agent.max_concurrent_turns if agent_id else 0
    turn_claimed = conversation.state == Conversation.State.AGENT and bool(agent_id)
    # A customer message is due for handling from the moment it is stored (unhandled, next_attempt_at set) until its
    # handling finished (next_attempt_at cleared), a dead turn's included. A burst schedules one handling per
    # message: the first takes them all, and the others end here, on one indexed read.
    due = (
        Message.objects.filter(conversation_id=conversation_id, direction=Message.Direction.INBOUND)
        .filter(Q(next_attempt_at__isnull=False) | Q(handled_at__isnull=True))
        .exists()
    )
    if conversation.turn_waiting_since is not None and (not turn_claimed or not due):
        # It waited for the agent, which no longer answers here (a teammate took over), or for nothing: no more.
        Conversation.objects.filter(pk=conversation_id).update(turn_waiting_since=None)
    if not due:
        return []
    # Busy: the running turn takes these messages as a follow-up. At capacity: the turn that frees a place wakes
    # this conversation (and the inbound sweeper hands it again should that wake-up be lost).
    if turn_claimed:
        waiting = conversation.turn_waiting_since is not None
        turn = turn_claim(conversation_id=conversation_id, agent_id=agent_id, cap=cap, waiting=waiting)
        if turn != TurnClaim.CLAIMED:
            return []
    try:
        with transaction.atomic():
            claim = inbound_claim(conversation_id=conversation_id)
        messages = claim.new
        interrupted = None
        if turn_claimed and claim.unfinished:
            # Holding the lease, no live turn runs here: messages claimed but never finished, and a run still marked
            # running (created after its messages were claimed, finished before they are), belong to a handling that
            # died. They are answered now, by the same run.
            interrupted = turn_interrupted_take(conversation_id=conversation_id)
            unfinished = claim.unfinished
            if interrupted is None:
                # The dead turn may have queued its reply: then its messages were finished just now and are not
                # answered again (read back, as the claim's copies predate that).
                unfinished = list(
                    Message.objects.filter(pk__in=[m.pk for m in unfinished], next_attempt_at__isnull=False)
                )
            messages = sorted([*unfinished, *messages], key=lambda m: (m.timestamp, m.pk))
        if not messages:
            inbound_handling_finish(conversation_id=conversation_id)
            return []
        agent_replies = False
        if conversation.contact.blocked_at is None:
            # Outside business hours the channel's rule comes first: an away message, maybe no agent this turn.
            agent_may_answer = business_hours_inbound_apply(conversation=conversation, now=timezone.now())
            agent_replies = (
                agent_may_answer
                and conversation.state == Conversation.State.AGENT
                and bool(conversation.assigned_agent_id)
            )
            _mark_read(conversation, messages[-1], typing=agent_replies)
        # else: staff blocked this contact: their messages are kept for the record, and nothing answers them
        # (no agent turn, no away message, not even a read receipt).
        if agent_replies:
            agent_turn_run(conversation=conversation, messages=messages, run=interrupted)
        elif interrupted is not None:
            turn_interrupted_close(interrupted, reason="The agent no longer answers this conversation.")
        if conversation.state == Conversation.State.WAITING_HUMAN and conversation.contact.blocked_at is None:
            # Waiting for the team: not silence, but not a reply to every message either (once per few minutes).
            handoff_waiting_acknowledge(conversation=conversation, now=timezone.now())
        inbound_handling_finish(conversation_id=conversation_id)
    finally:
        if turn_claimed:
            turn_release(conversation_id=conversation_id, agent_id=agent_id, cap=cap)
            _follow_up_if_needed(conversation_id)
    if agent_replies:
        # The turn is over (its lease given back, so a slow Graph never stretches it): its thread sends the replies
        # itself instead of handing them to the outbox queue, one hop less between the model and the customer.
        agent_replies_deliver(conversation_id=conversation_id)
    return messages


def _follow_up_if_needed(conversation_id: int) -> None:
    """Messages that arrived during the turn get a turn of their own, after it."""
    if Message.objects.filter(
        conversation_id=conversation_id, direction=Message.Direction.INBOUND, handled_at__isnull=True
    ).exists():
        task_enqueue("messaging.conversation_inbound_handle", conversation_id)


def _mark_read(conversation: Conversation, latest: Message, *, typing: bool) -> None:
    """Blue ticks for the customer: marking the latest message read marks the earlier ones too.

    With `typing`, WhatsApp also shows "typing…" until the reply arrives (or 25 s pass), so
    it is only asked for when an agent is about to answer.
    """
    if not latest.wamid:
        return
    try:
        graph_client_for_channel(conversation.channel).message_mark_read(
            conversation.channel.phone_number_id, latest.wamid, typing=typing
        )
    except graph_errors.GraphError as exc:  # a missing read receipt is cosmetic; the turn goes on
        logger.warning("mark as read failed", extra={"message_id": latest.pk, "error": str(exc)})
