"""What staff do with a conversation: take it over, reply, assign it, close it, and hear how it went."""

import logging

from django.db import transaction
from django.utils import timezone

from channels_app.whatsapp.payloads import buttons_content, text_content
from events_app.services import conversation_event_emit, csat_event_emit
from messaging_app.models import Conversation, ConversationRating, Message
from messaging_app.services.outbound import message_send
from messaging_app.window import window_open
from whatsapp_platform.errors import Conflict, InvalidInput

logger = logging.getLogger(__name__)

CSAT_PREFIX = "csat:"
CSAT_CHOICES = (("5", "😀 Great"), ("3", "😐 OK"), ("1", "🙁 Poor"))
CSAT_THANKS = "Thank you for your feedback! 🙏 If you'd like to add anything, just write it here."
# A text the customer sends this soon after rating is kept as the rating's comment.
CSAT_COMMENT_MINUTES = 30


def _locked(conversation: Conversation) -> Conversation:
    return Conversation.objects.select_for_update(no_key=True).select_related("channel").get(pk=conversation.pk)


@transaction.atomic
def conversation_take_over(*, conversation: Conversation, user=None) -> Conversation:
    """People take the conversation (a teammate, when given, owns it): the agent pauses."""
    conversation = _locked(conversation)
    conversation.state = Conversation.State.HUMAN
    conversation.assigned_user = user or conversation.assigned_user
    conversation.waiting_since = None
    conversation.save(update_fields=["state", "assigned_user", "waiting_since", "updated_at"])
    logger.info(
        "conversation taken over", extra={"conversation_id": conversation.pk, "user_id": getattr(user, "pk", None)}
    )
    return conversation


@transaction.atomic
def conversation_assign(*, conversation: Conversation, user) -> Conversation:
    """Give the conversation to a teammate (None: nobody). An agent-handled one stays with the agent."""
    if user is not None and not conversation.workspace.memberships.filter(user=user).exists():
        raise InvalidInput("That person is not a member of this workspace.", field="assignee")
    conversation = _locked(conversation)
    conversation.assigned_user = user
    conversation.save(update_fields=["assigned_user", "updated_at"])
    return conversation


@transaction.atomic
def conversation_close(*, conversation: Conversation, user=None, ask_rating: bool | None = None) -> Conversation:
    """Close the conversation; the customer's next message reopens it.

    With the workspace's satisfaction survey on (or `ask_rating`), the customer is asked to rate
    the conversation with reply buttons; outside the 24-hour window WhatsApp would only take a
    template, so no question is sent then.
    """
    conversation = _locked(conversation)
    if conversation.state == Conversation.State.CLOSED:
        raise Conflict("This conversation is already closed.")
    conversation.state = Conversation.State.CLOSED
    conversation.closed_at = timezone.now()
    conversation.waiting_since = None
    conversation.save(update_fields=["state", "closed_at", "waiting_since", "updated_at"])

    conversation_event_emit(type="conversation.closed", conversation=conversation)
    if ask_rating is None:
        ask_rating = conversation.workspace.csat_enabled
    if ask_rating and window_open(conversation) and not conversation.contact.blocked_at:
        _rating_ask(conversation)
    logger.info("conversation closed", extra={"conversation_id": conversation.pk})
    return conversation


def _rating_ask(conversation: Conversation) -> ConversationRating:
    question = conversation.workspace.csat_question
    content = buttons_content(question, [(f"{CSAT_PREFIX}{score}", title) for score, title in CSAT_CHOICES])
    message = message_send(
        conversation=conversation, message_type="interactive", content=content, sender=Message.Sender.SYSTEM
    )
    return ConversationRating.objects.create(
        workspace_id=conversation.workspace_id, conversation=conversation, question=message
    )


def rating_answer_apply(*, message: Message) -> bool:
    """A customer's tap on a rating button, or the comment after it. True when the message was one.

    Called for each new customer message before anything else reacts to it: a rating never
    reopens the conversation or wakes the agent.
    """
    content = message.content if isinstance(message.content, dict) else {}
    reply = content.get("button_reply") or {}
    reply_id = str(reply.get("id", ""))
    if message.message_type == "interactive" and reply_id.startswith(CSAT_PREFIX):
        score = reply_id[len(CSAT_PREFIX) :]
        rating = (
            ConversationRating.objects.select_for_update(no_key=True)
            .filter(conversation_id=message.conversation_id, score__isnull=True)
            .order_by("-asked_at")
            .first()
        )
        if rating is None or not score.isdigit():
            return False
        rating.score = int(score)
        rating.answered_at = message.timestamp
        rating.save(update_fields=["score", "answered_at"])

        csat_event_emit(rating=rating)
        _thank(message.conversation)
        return True
    if message.message_type == "text" and message.conversation.state == Conversation.State.CLOSED:
        # A comment follows a rating, which is asked when the conversation closes (the caller holds its row).
        since = message.timestamp - timezone.timedelta(minutes=CSAT_COMMENT_MINUTES)
        rating = (
            ConversationRating.objects.select_for_update(no_key=True)
            .filter(
                conversation_id=message.conversation_id,
                score__isnull=False,
                comment="",
                answered_at__gte=since,
                conversation__state=Conversation.State.CLOSED,
            )
            .first()
        )
        if rating is not None:
            rating.comment = (content.get("body") or "")[:2000]
            rating.save(update_fields=["comment"])
            return True
    return False


def _thank(conversation: Conversation) -> None:
    message_send(
        conversation=conversation,
        message_type="text",
        content=text_content(CSAT_THANKS),
        sender=Message.Sender.SYSTEM,
    )


def conversation_reply(
    *,
    conversation: Conversation,
    user,
    message_type: str,
    content: dict,
    reply_to: Message | None = None,
    media_file: tuple[bytes, str, str] | None = None,
) -> Message:
    """A teammate writes to the customer. Replying takes the conversation over, so the agent pauses."""
    if conversation.contact.blocked_at:
        raise Conflict("This contact is blocked: unblock them before writing to them.")
    message = message_send(
        conversation=conversation,
        message_type=message_type,
        content=content,
        sender=Message.Sender.TEAMMATE,
        sender_user=user,
        reply_to=reply_to,
        media_file=media_file,
    )
    if conversation.state != Conversation.State.HUMAN or conversation.assigned_user_id is None:
        conversation_take_over(conversation=conversation, user=conversation.assigned_user or user)
    return message


def conversation_seen(*, conversation: Conversation) -> None:
    """Someone on the team opened the conversation: nothing in it is unread any more."""
    if conversation.unread_count:
        Conversation.objects.filter(pk=conversation.pk).update(unread_count=0)
        conversation.unread_count = 0
