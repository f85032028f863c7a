"""Who answers a conversation: the agent, or the humans."""

import logging

from django.utils import timezone

from messaging_app.models import Conversation

logger = logging.getLogger(__name__)


def conversation_handoff(*, conversation: Conversation, reason: str) -> Conversation:
    """The agent stops; the conversation waits for a human, at the top of the inbox."""
    Conversation.objects.filter(pk=conversation.pk).update(
        state=Conversation.State.WAITING_HUMAN, waiting_since=timezone.now(), updated_at=timezone.now()
    )
    logger.info("conversation handed to humans", extra={"conversation_id": conversation.pk, "reason": reason})
    conversation.refresh_from_db()
    return conversation


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
