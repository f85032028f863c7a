"""The outbox: a queued row first, a task on commit, a sweeper for whatever got stuck.

Delivery claims a row with a conditional UPDATE, so two workers never send it twice. A
send whose answer was lost (read timeout, worker killed mid-call) is never blindly resent:
it waits, marked unknown, for a status webhook carrying its callback data (our public id),
and only after a grace period is it resent once, flagged as a possible duplicate.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from analytics_app.counters import sends_paced_record
from channels_app.models import Channel
from channels_app.selectors import templates_approved
from channels_app.services import channel_flag_needs_reconnection, graph_client_for_channel
from channels_app.services.templates import TemplateUnavailable, template_sendable
from channels_app.whatsapp import errors as graph_errors
from channels_app.whatsapp.client import wamid_from_response
from channels_app.whatsapp.payloads import MEDIA_KINDS, PayloadInvalid, message_payload, normalise_phone
from events_app.services import message_event_emit
from messaging_app.errors import ChannelUnavailable, MessageRejected, WindowClosed
from messaging_app.models import Contact, Conversation, Message, StatusReceipt
from messaging_app.services.consent import send_failure_observe
from messaging_app.services.contacts import contact_resolve, conversation_for_contact
from messaging_app.services.media_outbound import media_upload_once, outbound_media_prepare, outbound_media_store
from messaging_app.services.statuses import message_status_fold
from messaging_app.window import window_open
from whatsapp_platform.errors import Conflict
from whatsapp_platform.ratelimit import token_bucket_take
from whatsapp_platform.task_queue import task_enqueue

logger = logging.getLogger(__name__)

# Messages that need the customer-service window; templates open conversations themselves.
_WINDOW_EXEMPT = frozenset({"template"})
_OPEN_STATES = (Message.Status.QUEUED, Message.Status.SENDING)
MAX_PAIR_RATE_RETRIES = 6


def _needs_upload(message: Message) -> bool:
    content = message.content or {}
    return message.message_type in MEDIA_KINDS and not content.get("id") and not content.get("link")


def _payload_for(message: Message) -> dict:
    contact = message.contact
    content = message.content
    if _needs_upload(message):
        content = {**content, "id": "pending-upload"}  # validated now; the real id comes from the upload
    return message_payload(
        message_type=message.message_type,
        content=content,
        reply_to_wamid=message.context_wamid or None,
        biz_opaque_callback_data=str(message.public_id),
        **contact.send_address,
    )


def _queued_message(conversation: Conversation, **fields) -> Message:
    """An outbound message to the conversation's contact, queued, not saved yet."""
    return Message(
        workspace_id=conversation.workspace_id,
        channel=conversation.channel,
        conversation=conversation,
        contact=conversation.contact,
        direction=Message.Direction.OUTBOUND,
        status=Message.Status.QUEUED,
        **fields,
    )


def _channel_check_active(channel: Channel) -> None:
    if channel.status != Channel.Status.ACTIVE:
        raise ChannelUnavailable(
            f"The channel '{channel.name}' is {channel.get_status_display().lower()}"
            + (f": {channel.status_reason}" if channel.status_reason else "")
            + ". Reconnect it in Channels before sending."
        )


def message_send(
    *,
    conversation: Conversation,
    message_type: str,
    content: dict,
    sender: str,
    sender_user=None,
    sender_agent=None,
    reply_to: Message | None = None,
    media_file: tuple[bytes, str, str] | None = None,
    enqueue_delivery: bool = True,
) -> Message:
    """Queue a message to the conversation's contact. Every WhatsApp rule is checked here,
    before any row is written or any network call is made.

    `enqueue_delivery=False`: the caller sends it itself right after (an agent's turn, see agent_replies_deliver);
    should it never get there, the outbox sweeper sends the queued row.

    `media_file` is (bytes, filename, mime type) for an upload; the message type then comes
    from the file (converted when WhatsApp would refuse its format) and `content` holds the
    caption / filename / voice flag.
    """
    # Read from the row, not the caller's copy: a block made while an agent's turn runs still stops its replies.
    if Contact.objects.filter(pk=conversation.contact_id, blocked_at__isnull=False).exists():
        raise Conflict(
            f"{conversation.contact} is blocked: nothing is sent to a blocked contact. "
            "Unblock them on their contact page to write to them again.",
            code="contact_blocked",
        )
    channel = conversation.channel
    _channel_check_active(channel)
    if message_type == "reaction" and reply_to is not None:
        raise MessageRejected("A reaction cannot be sent as a reply.", field="reply_to")
    if message_type == "template":
        # Synced, approved, and the parameters fit: caught here rather than as Meta's opaque 132000/132001.
        try:
            template_sendable(channel=channel, content=content, contact=conversation.contact)
        except TemplateUnavailable as exc:
            raise MessageRejected(exc.message, field="template") from None
    if message_type not in _WINDOW_EXEMPT and not window_open(conversation):
        names = [f"{t.name} ({t.language})" for t in templates_approved(channel=channel)[:20]]
        listed = f" Approved templates: {', '.join(names)}." if names else " No approved template is synced yet."
        raise WindowClosed(
            "The 24-hour customer-service window is closed: the customer last wrote "
            + (f"at {conversation.last_inbound_at:%Y-%m-%d %H:%M} UTC" if conversation.last_inbound_at else "never")
            + ". WhatsApp only accepts an approved template now."
            + listed,
            field="type",
        )
    prepared = None
    if media_file is not None:
        data, filename, mime_type = media_file
        prepared = outbound_media_prepare(
            content=data, filename=filename, mime_type=mime_type, as_sticker=message_type == "sticker"
        )
        message_type = prepared.kind
        content = dict(content or {})
        if message_type == "document":
            content.setdefault("filename", prepared.filename)
        if message_type in ("audio", "sticker"):
            content.pop("caption", None)
    message = _queued_message(
        conversation,
        message_type=message_type,
        content=content,
        timestamp=timezone.now(),
        context_wamid=(reply_to.wamid or "") if reply_to else "",
        reply_to=reply_to,
        sender=sender,
        sender_user=sender_user,
        sender_agent=sender_agent,
    )
    try:
        _payload_for(message)
    except PayloadInvalid as exc:
        raise MessageRejected(str(exc), field=exc.field) from None
    with transaction.atomic():
        if prepared is not None:
            outbound_media_store(message=message, prepared=prepared)
        message.save()
        Conversation.objects.filter(pk=conversation.pk).update(
            last_message_at=message.timestamp, updated_at=timezone.now()
        )
        if enqueue_delivery:
            _deliver_on_commit(message.pk)
    return message


def template_messages_queue(
    *, channel: Channel, sends: list[tuple[Conversation, dict]], sender_user=None
) -> list[Message | MessageRejected]:
    """Queue template messages to many conversations of one channel in two statements: a campaign's chunk.

    What message_send checks for a template, split between the caller and here. The caller holds the
    contacts' rows locked and left out blocked ones, and builds each content from one approved template
    (so its parameters fit it); here the channel must be active and each payload valid: one refused
    payload is that item's MessageRejected, in the order of `sends`. No delivery task is enqueued: the
    caller calls message_deliver for each message after commit, and the outbox sweeper sends any it did
    not reach. Call inside a transaction.
    """
    _channel_check_active(channel)
    now = timezone.now()
    results: list[Message | MessageRejected] = []
    for conversation, content in sends:
        message = _queued_message(
            conversation,
            message_type="template",
            content=content,
            timestamp=now,
            sender=Message.Sender.TEMPLATE,
            sender_user=sender_user,
        )
        try:
            _payload_for(message)
        except PayloadInvalid as exc:
            results.append(MessageRejected(str(exc), field=exc.field))
        else:
            results.append(message)
    queued = [item for item in results if isinstance(item, Message)]
    if queued:
        Message.objects.bulk_create(queued)
        Conversation.objects.filter(pk__in=[message.conversation_id for message in queued]).update(
            last_message_at=now, updated_at=now
        )
    return results


def _deliver_on_commit(message_id: int, countdown: float = 0) -> None:
    transaction.on_commit(lambda: task_enqueue("messaging.message_deliver", message_id, countdown=countdown))


def _leave_sending(message: Message, **fields) -> bool:
    """Move a message out of `sending`, unless a status webhook settled it meanwhile.

    The webhook can win the race: Meta (or the emulator) may report `sent` before the send
    call's own answer arrives, or instead of an answer that timed out.
    """
    fields["updated_at"] = timezone.now()
    moved = Message.objects.filter(pk=message.pk, status=Message.Status.SENDING).update(**fields) == 1
    if moved:
        for name, value in fields.items():
            setattr(message, name, value)
    else:
        logger.info("send settled by a status webhook first", extra={"message_id": message.pk})
    return moved


def _requeue(message: Message, *, delay: float, **fields) -> None:
    if _leave_sending(
        message, status=Message.Status.QUEUED, next_attempt_at=timezone.now() + timedelta(seconds=delay), **fields
    ):
        _deliver_on_commit(message.pk, countdown=delay)


def _fail(message: Message, *, code: int | None, title: str, details: str, **fields) -> None:
    if _leave_sending(
        message,
        **fields,
        status=Message.Status.FAILED,
        failed_at=timezone.now(),
        error_code=code,
        error_title=title[:300],
        error_details=details[:5000],
    ):
        logger.warning("message failed", extra={"message_id": message.pk, "code": code, "title": title})
        send_failure_observe(contact_id=message.contact_id, code=code)


def message_deliver(*, message_id: int) -> None:
    """Send one queued message to Graph, once. Safe to call any number of times."""
    now = timezone.now()
    # The claim counts the attempt; the ways out before the Graph call below give it back.
    claimed = (
        Message.objects.filter(pk=message_id, direction=Message.Direction.OUTBOUND, status=Message.Status.QUEUED)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(status=Message.Status.SENDING, claimed_at=now, updated_at=now, attempts=F("attempts") + 1)
    )
    if claimed != 1:
        return
    # Keep a conversation's messages in order: an earlier one still on its way goes first.
    earlier_open = Message.objects.filter(
        conversation_id=OuterRef("conversation_id"),
        direction=Message.Direction.OUTBOUND,
        status__in=_OPEN_STATES,
        pk__lt=OuterRef("pk"),
    )
    message = (
        Message.objects.select_related("channel", "contact")
        .annotate(earlier_open=Exists(earlier_open))
        .get(pk=message_id)
    )
    channel = message.channel
    uncounted = message.attempts - 1

    if message.earlier_open:
        _requeue(message, delay=0.5, attempts=uncounted)
        return
    # Under the pair rate limit (about one message per 6 s to one user, with bursts) and
    # under the number's throughput; both buckets are shared by every worker through Redis.
    recipient = message.contact.wa_id or message.contact.user_id
    wait = token_bucket_take(
        f"pair:{channel.phone_number_id}:{recipient}", rate=1 / 6, capacity=settings.WHATSAPP_PAIR_BURST
    )
    if wait <= 0:
        rate = channel.throughput_mps or settings.WHATSAPP_DEFAULT_MPS
        wait = token_bucket_take(f"mps:{channel.phone_number_id}", rate=rate, capacity=rate)
    if wait > 0:
        _requeue(message, delay=wait, attempts=uncounted)
        sends_paced_record()
        return
    if channel.status != Channel.Status.ACTIVE:
        _fail(
            message,
            code=None,
            title="Channel unavailable",
            details=channel.status_reason or channel.get_status_display(),
            attempts=uncounted,
        )
        return

    try:
        if _needs_upload(message):
            message.content = {**message.content, "id": media_upload_once(message=message)}
            Message.objects.filter(pk=message.pk).update(content=message.content)
        payload = _payload_for(message)
        response = graph_client_for_channel(channel).message_send(channel.phone_number_id, payload)
    except PayloadInvalid as exc:
        _fail(message, code=exc.code, title="Rejected before sending", details=str(exc))
    except graph_errors.GraphOutcomeUnknown as exc:
        if _needs_upload(message):  # a lost upload answer costs only a second upload
            _requeue(message, delay=graph_errors.retry_delay(0) * settings.WHATSAPP_RETRY_DELAY_SCALE)
        else:
            _outcome_unknown(message, reason=str(exc))
    except graph_errors.GraphError as exc:
        _graph_error_handle(message, exc)
    else:
        message_wamid_record(message_id=message.pk, wamid=wamid_from_response(response))


def _outcome_unknown(message: Message, *, reason: str) -> None:
    if _leave_sending(
        message,
        status=Message.Status.UNKNOWN,
        next_attempt_at=timezone.now() + timedelta(seconds=settings.WHATSAPP_UNKNOWN_OUTCOME_GRACE_SECONDS),
        error_details=reason[:5000],
    ):
        logger.warning("send outcome unknown", extra={"message_id": message.pk, "reason": reason})


def _graph_error_handle(message: Message, exc: graph_errors.GraphError) -> None:
    kind = exc.kind
    if kind == graph_errors.PAIR_RATE_LIMIT and message.pair_rate_hits < MAX_PAIR_RATE_RETRIES:
        # Only this recipient waits (4^x seconds); other conversations keep flowing.
        delay = graph_errors.pair_rate_limit_delay(message.pair_rate_hits)
        _requeue(message, delay=delay * settings.WHATSAPP_RETRY_DELAY_SCALE, pair_rate_hits=message.pair_rate_hits + 1)
        return
    retryable = kind == graph_errors.RETRYABLE or (kind == graph_errors.RETRY_ONCE and message.attempts < 2)
    if retryable and message.attempts <= settings.GRAPH_MAX_RETRIES:
        delay = graph_errors.retry_delay(message.attempts - 1) * settings.WHATSAPP_RETRY_DELAY_SCALE
        logger.info("send retried", extra={"message_id": message.pk, "code": exc.code, "delay": delay})
        _requeue(message, delay=delay)
        return
    if kind == graph_errors.AUTH:
        channel_flag_needs_reconnection(
            channel_id=message.channel_id,
            reason=f"WhatsApp refused the access token ({exc.code}: {exc.details or exc.title}). "
            "Reconnect the channel.",
        )
    _fail(message, code=exc.code, title=exc.title or "Send failed", details=exc.details or str(exc))


def agent_replies_deliver(*, conversation_id: int) -> None:
    """Send the conversation's queued agent replies now, oldest first, from the calling thread.

    What cannot go now (pacing, an earlier message still on its way, a retry) is requeued to the outbox task as
    usual; the claim in message_deliver keeps any of them from going twice.
    """
    due = Message.objects.filter(
        conversation_id=conversation_id,
        direction=Message.Direction.OUTBOUND,
        sender=Message.Sender.AGENT,
        status=Message.Status.QUEUED,
        next_attempt_at__isnull=True,
    ).order_by("pk")
    for message_id in due.values_list("pk", flat=True):
        message_deliver(message_id=message_id)


@transaction.atomic
def message_wamid_record(*, message_id: int, wamid: str) -> Message:
    """Store the wamid Meta gave the message, then apply any status that arrived before it."""
    message = Message.objects.select_for_update(no_key=True).get(pk=message_id)
    message.wamid = wamid
    if message.status in (Message.Status.SENDING, Message.Status.QUEUED, Message.Status.UNKNOWN):
        message.status = Message.Status.ACCEPTED
    message.error_details = "" if message.status == Message.Status.ACCEPTED else message.error_details
    message.save(update_fields=["wamid", "status", "error_details", "updated_at"])

    message_event_emit(type="message.sent", message=message)
    linked = StatusReceipt.objects.filter(channel_id=message.channel_id, wamid=wamid, message__isnull=True).update(
        message=message
    )
    if not linked:
        # No status came before this answer, or those that did were folded into the message when they came
        # (matched by our callback data, under this row's lock): nothing to fold.
        return message
    return message_status_fold(message)


def outbox_sweep() -> dict[str, int]:
    """Re-enqueue what the broker lost, settle sends whose worker died, resend unknown outcomes once."""
    now = timezone.now()
    counts = {"requeued": 0, "unknown": 0, "resent": 0, "gave_up": 0}
    stale = now - timedelta(seconds=settings.WHATSAPP_OUTBOX_STALE_SECONDS)
    due = Message.objects.filter(
        direction=Message.Direction.OUTBOUND, status=Message.Status.QUEUED, updated_at__lte=stale
    ).filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    for message_id in due.values_list("pk", flat=True)[:5000]:
        _deliver_on_commit(message_id)
        counts["requeued"] += 1

    lease_expired = now - timedelta(seconds=settings.WHATSAPP_SENDING_LEASE_SECONDS)
    for message in Message.objects.filter(status=Message.Status.SENDING, claimed_at__lte=lease_expired)[:1000]:
        # The worker died during the call: the request may or may not have reached Meta.
        if Message.objects.filter(pk=message.pk, status=Message.Status.SENDING).update(
            status=Message.Status.UNKNOWN,
            next_attempt_at=now + timedelta(seconds=settings.WHATSAPP_UNKNOWN_OUTCOME_GRACE_SECONDS),
            error_details="The worker stopped while sending; waiting for a status webhook before resending.",
        ):
            counts["unknown"] += 1

    for message in Message.objects.filter(
        status=Message.Status.UNKNOWN, wamid__isnull=True, next_attempt_at__lte=now
    ).select_related("channel")[:1000]:
        if message.possible_duplicate:
            if Message.objects.filter(pk=message.pk, status=Message.Status.UNKNOWN).update(
                status=Message.Status.FAILED,
                failed_at=now,
                error_title="Delivery outcome unknown",
                error_details="Resent once after a lost answer and the answer was lost again; not resent a third time.",
            ):
                counts["gave_up"] += 1
            continue
        if Message.objects.filter(pk=message.pk, status=Message.Status.UNKNOWN).update(
            status=Message.Status.QUEUED, next_attempt_at=None, possible_duplicate=True, updated_at=now
        ):
            logger.warning("resending a message whose outcome stayed unknown", extra={"message_id": message.pk})
            _deliver_on_commit(message.pk)
            counts["resent"] += 1
    return counts


def channel_test_message_send(
    *, channel: Channel, to_phone: str, body: str = "", template: dict | None = None, user=None
):
    """Staff's test message to a number: free-form while that customer's window is open, else a template."""
    try:
        digits = normalise_phone(to_phone).lstrip("+")
    except PayloadInvalid as exc:
        raise MessageRejected(str(exc), field="to") from None
    with transaction.atomic():
        contact = contact_resolve(channel=channel, wa_id=digits, user_id=None)
        conversation = conversation_for_contact(contact=contact)
    if template:
        return message_send(
            conversation=conversation,
            message_type="template",
            content=template,
            sender=Message.Sender.TEMPLATE,
            sender_user=user,
        )
    if not body.strip():
        raise MessageRejected("Write the test message, or choose an approved template.", field="body")
    return message_send(
        conversation=conversation,
        message_type="text",
        content={"body": body},
        sender=Message.Sender.TEAMMATE,
        sender_user=user,
    )
