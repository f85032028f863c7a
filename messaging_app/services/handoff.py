"""Who answers a conversation: the agent, or the humans."""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from messaging_app.models import Conversation

logger = logging.getLogger(__name__)


def conversation_handoff(*, conversation: Conversation, reason: str) -> Conversation:
    """The agent stops; the conversation waits for a human, at the top of the inbox (and in the team's email)."""
    Conversation.objects.filter(pk=conversation.pk).update(
        state=Conversation.State.WAITING_HUMAN,
        waiting_since=timezone.now(),
        handoff_reason=reason[:1000],
        updated_at=timezone.now(),
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
            f"Answer it here: {link}\n"
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
