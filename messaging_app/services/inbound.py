"""Customer messages: stored once per wamid, then handed downstream once, in timestamp order."""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from channels_app.models import Channel
from channels_app.whatsapp.payloads import MEDIA_KINDS
from channels_app.whatsapp.webhooks import InboundMessage
from events_app.services import message_event_emit
from messaging_app.models import Contact, Conversation, Message
from messaging_app.services.consent_keywords import consent_keyword_observe
from messaging_app.services.contacts import contact_identity_change, contact_resolve, conversation_for_contact
from messaging_app.services.conversations import rating_answer_apply
from whatsapp_platform.task_queue import task_enqueue

logger = logging.getLogger(__name__)

MEDIA_TYPES = frozenset(MEDIA_KINDS)
# Types that change another message instead of adding a bubble of their own.
_ANNOTATIONS = frozenset({"reaction", "revoke", "edit"})
# How long the downstream waits for a burst of customer messages to settle, so that
# messages whose webhooks race are still handled in the customer's order.
INBOUND_SETTLE_SECONDS = 1.5


def inbound_message_record(*, channel: Channel, item: InboundMessage) -> Message | None:
    """Store one inbound message. None when this wamid was stored before (a redelivery).

    Runs in the caller's transaction; downstream work is enqueued on commit.
    """
    if item.message_type == "system":
        return _system_message_apply(channel, item)
    try:
        contact = contact_resolve(
            channel=channel,
            wa_id=item.from_phone,
            user_id=item.from_user_id,
            profile_name=item.profile_name or "",
            username=item.username or "",
            parent_user_id=item.parent_user_id or "",
        )
    except ValueError:
        logger.warning("inbound message without a sender identity", extra={"wamid": item.wamid})
        raise
    conversation = conversation_for_contact(contact=contact)
    message = _message_insert(channel, conversation, contact, item)
    if message is None:
        return None

    message_event_emit(type="message.received", message=message)

    if item.message_type in _ANNOTATIONS:
        _annotation_apply(channel, message, item)
    elif _rating_answer(message):
        # A satisfaction rating (or the comment after it) neither reopens the conversation nor wakes the agent.
        Message.objects.filter(pk=message.pk).update(handled_at=timezone.now(), next_attempt_at=None)
        _conversation_inbound_touch(conversation, item.timestamp, counts_as_new_turn=False)
        return message
    first_inbound = conversation.last_inbound_at is None
    _conversation_inbound_touch(conversation, item.timestamp, counts_as_new_turn=item.message_type not in _ANNOTATIONS)
    if not consent_keyword_observe(message=message) and first_inbound:
        from outreach_app.services import first_inbound_observe  # outreach builds on messaging: the welcome

        first_inbound_observe(message=message)

    if item.message_type in MEDIA_TYPES and message.media_id:
        transaction.on_commit(lambda: task_enqueue("messaging.inbound_media_fetch", message.pk))
    if item.message_type not in _ANNOTATIONS:
        # The agent's debounce: a burst of messages becomes one turn (and racing webhooks settle).
        agent = _assigned_agent(channel, conversation)
        settle = agent.debounce_seconds if agent is not None else INBOUND_SETTLE_SECONDS
        transaction.on_commit(
            lambda: task_enqueue("messaging.conversation_inbound_handle", conversation.pk, countdown=settle)
        )
    return message


def _assigned_agent(channel: Channel, conversation: Conversation):
    """The conversation's agent, without a query when it is the channel's own and the channel came with it."""
    if conversation.assigned_agent_id == channel.agent_id and Channel.agent.is_cached(channel):
        return channel.agent
    return conversation.assigned_agent


def _rating_answer(message: Message) -> bool:
    return rating_answer_apply(message=message)


def _message_insert(
    channel, conversation, contact, item: InboundMessage, *, sender: str = Message.Sender.CUSTOMER
) -> Message | None:
    reply_to = None
    context = item.context or None
    context_wamid = (context or {}).get("id") or ""
    if context_wamid:
        reply_to = Message.objects.filter(channel=channel, wamid=context_wamid).first()
    media = item.content if item.message_type in MEDIA_TYPES else {}
    # Annotations change another bubble; they need no turn of their own.
    handled = item.message_type in _ANNOTATIONS or sender == Message.Sender.SYSTEM
    try:
        with transaction.atomic():
            return Message.objects.create(
                workspace_id=channel.workspace_id,
                channel=channel,
                conversation=conversation,
                contact=contact,
                direction=Message.Direction.INBOUND,
                message_type=item.message_type,
                content=item.content or {},
                wamid=item.wamid,
                timestamp=item.timestamp or timezone.now(),
                context=context,
                context_wamid=context_wamid,
                reply_to=reply_to,
                referral=item.referral,
                errors=list(item.errors or []),
                sender=sender,
                status=Message.Status.RECEIVED,
                media_id=str(media.get("id") or ""),
                media_mime_type=str(media.get("mime_type") or ""),
                media_sha256=str(media.get("sha256") or ""),
                media_state=Message.MediaState.PENDING if media.get("id") else Message.MediaState.NONE,
                handled_at=timezone.now() if handled else None,
                # Its handling is due from now on (unless a keyword or a rating handles it below, which clears
                # this): until that handling has finished, the inbound sweeper hands it again if its task is lost
                # or its worker dies.
                next_attempt_at=None if handled else timezone.now(),
            )
    except IntegrityError:
        # Stored before: Meta redelivers, and concurrent deliveries race; the constraint decides.
        return None


def _conversation_inbound_touch(conversation: Conversation, at, *, counts_as_new_turn: bool) -> None:
    fields = ["updated_at"]
    if conversation.last_inbound_at is None or at > conversation.last_inbound_at:
        conversation.last_inbound_at = at
        fields.append("last_inbound_at")
    if conversation.last_message_at is None or at > conversation.last_message_at:
        conversation.last_message_at = at
        fields.append("last_message_at")
    if counts_as_new_turn:
        # The conversation row is locked by the caller, so this count cannot lose an increment.
        conversation.unread_count += 1
        fields.append("unread_count")
    if counts_as_new_turn and conversation.state == Conversation.State.CLOSED:
        # A closed conversation reopens on the customer's next message.
        conversation.state = (
            Conversation.State.AGENT if conversation.assigned_agent_id else Conversation.State.WAITING_HUMAN
        )
        conversation.waiting_since = None if conversation.assigned_agent_id else timezone.now()
        fields += ["state", "waiting_since"]
    conversation.save(update_fields=fields)


def _annotation_apply(channel: Channel, message: Message, item: InboundMessage) -> None:
    content = item.content or {}
    if item.message_type == "reaction":
        target_wamid = content.get("message_id") or ""
        emoji = content.get("emoji") or ""  # "" or absent: the customer removed the reaction
        target = Message.objects.select_for_update(no_key=True).filter(channel=channel, wamid=target_wamid).first()
        if target is not None:
            reactions = dict(target.reactions or {})
            if emoji:
                reactions["customer"] = emoji
            else:
                reactions.pop("customer", None)
            target.reactions = reactions
            target.save(update_fields=["reactions", "updated_at"])
    elif item.message_type == "revoke":
        target_wamid = content.get("original_message_id") or ""
        Message.objects.filter(channel=channel, wamid=target_wamid, direction=Message.Direction.INBOUND).update(
            revoked_at=item.timestamp, updated_at=timezone.now()
        )
    elif item.message_type == "edit":
        target = (
            Message.objects.select_for_update(no_key=True)
            .filter(
                channel=channel, wamid=content.get("original_message_id") or "", direction=Message.Direction.INBOUND
            )
            .first()
        )
        edited = content.get("message") or {}
        if target is not None and edited:
            new_type = edited.get("type") or target.message_type
            target.edits = [*target.edits, {"at": item.timestamp.isoformat(), "previous": target.content}]
            target.content = edited.get(new_type) or target.content
            target.save(update_fields=["edits", "content", "updated_at"])


def _system_message_apply(channel: Channel, item: InboundMessage) -> Message | None:
    """`user_changed_number` / `user_changed_user_id`: the same contact gets its new identity."""
    system = item.content or {}
    kind = system.get("type", "")
    if kind == "user_changed_number":
        contact = contact_identity_change(
            channel=channel,
            old_wa_id=item.from_phone,
            old_user_id=item.from_user_id,
            new_wa_id=system.get("wa_id"),
            new_user_id=system.get("user_id"),
        )
    elif kind == "user_changed_user_id":
        contact = contact_identity_change(
            channel=channel,
            old_wa_id=item.from_phone,
            old_user_id=item.from_user_id,
            new_wa_id=None,
            new_user_id=system.get("user_id"),
        )
    else:
        contact = Contact.objects.filter(
            Q(pk__in=[]) | Q(wa_id=item.from_phone or "-") | Q(user_id=item.from_user_id or "-"), channel=channel
        ).first()
    if contact is None:
        logger.info("system message for an unknown contact", extra={"wamid": item.wamid, "type": kind})
        return None
    conversation = conversation_for_contact(contact=contact)
    return _message_insert(channel, conversation, contact, item, sender=Message.Sender.SYSTEM)


def inbound_handling_finish(*, conversation_id: int) -> None:
    """The conversation's handled customer messages are done with: the agent's turn (if any) finished."""
    Message.objects.filter(
        conversation_id=conversation_id,
        direction=Message.Direction.INBOUND,
        handled_at__isnull=False,
        next_attempt_at__isnull=False,
    ).update(next_attempt_at=None)


def inbound_overdue_sweep() -> int:
    """Hand again the conversations whose customer messages wait longer than they should: their task was lost
    (the broker flushed or down), or their worker died during the agent's turn. Returns how many.

    An inbound message's next_attempt_at is set when it is stored for handling and cleared when its handling
    finished (inbound_handling_finish), so this is a range scan of the outbox index. Handling twice is harmless:
    messages are claimed once, and an agent's turn holds its conversation's lease.
    """
    overdue = timezone.now() - timedelta(seconds=settings.WHATSAPP_INBOUND_STALE_SECONDS)
    conversation_ids = list(
        Message.objects.filter(status=Message.Status.RECEIVED, next_attempt_at__lte=overdue)
        .order_by()
        .values_list("conversation_id", flat=True)
        .distinct()[:1000]
    )
    for conversation_id in conversation_ids:
        task_enqueue("messaging.conversation_inbound_handle", conversation_id)
    if conversation_ids:
        logger.warning("overdue customer messages handed again", extra={"conversations": len(conversation_ids)})
    return len(conversation_ids)


@dataclass(frozen=True)
class InboundClaim:
    """What a handling of a conversation takes, oldest first: the customer messages no handling had taken yet
    (now marked handled), and those an earlier handling took but never finished (its worker died, or its
    database went away mid-turn)."""

    new: list[Message]
    unfinished: list[Message]


def inbound_claim(*, conversation_id: int) -> InboundClaim:
    """Claim the conversation's unhandled customer messages exactly once, and read those left unfinished.

    Call inside a transaction: the conversation row is locked so two workers never take the same messages, and
    a burst is taken whole, in the customer's order. Holding the conversation's turn lease, no other handling
    of the unfinished ones is running.
    """
    Conversation.objects.select_for_update(no_key=True).filter(pk=conversation_id).first()
    due = list(
        Message.objects.filter(conversation_id=conversation_id, direction=Message.Direction.INBOUND)
        .filter(Q(handled_at__isnull=True) | Q(next_attempt_at__isnull=False))
        .order_by("timestamp", "id")
    )
    new = [m for m in due if m.handled_at is None]
    if new:
        Message.objects.filter(pk__in=[m.pk for m in new]).update(handled_at=timezone.now())
    return InboundClaim(new=new, unfinished=[m for m in due if m.handled_at is not None])
