"""Recording events, and the documented shape of their data.

`event_emit` runs in the transaction of the change it reports, so an event exists exactly when
the change does; its deliveries are attempted after commit. The other functions here are what
the hook points call: each builds one event type's `data` from our models.
"""

from collections.abc import Callable

from django.db import transaction
from django.utils import timezone

from events_app.models import Delivery, Event, WebhookSubscription
from whatsapp_platform.task_queue import task_enqueue

STATUS_EVENTS = frozenset({"delivered", "read", "failed"})


def event_emit(*, workspace_id: int, type: str, data: dict | Callable[[], dict]) -> Event | None:
    """Record the event and one delivery per enabled subscription that wants it; None when none does.

    Cheap when the workspace has no subscription: one query on an index of (workspace, enabled), and
    `data`, when given as a function, is never built (it reads related rows; this runs for every status).
    Call inside the transaction that made the change.
    """
    wanted = [
        pk
        for pk, event_types in WebhookSubscription.objects.filter(workspace_id=workspace_id, enabled=True).values_list(
            "pk", "event_types"
        )
        if type in event_types
    ]
    if not wanted:
        return None
    payload = data() if callable(data) else data
    event = Event.objects.create(workspace_id=workspace_id, type=type, payload=payload)
    now = timezone.now()
    deliveries = Delivery.objects.bulk_create(
        [Delivery(event=event, subscription_id=pk, next_attempt_at=now) for pk in wanted]
    )
    delivery_ids = [delivery.pk for delivery in deliveries]
    transaction.on_commit(
        lambda: [task_enqueue("events.delivery_attempt", delivery_id) for delivery_id in delivery_ids]
    )
    return event


def event_envelope(event: Event) -> dict:
    return {
        "id": event.public_id,
        "type": event.type,
        "created_at": _iso(event.created_at),
        "workspace": event.workspace.slug,
        "data": event.payload,
    }


# --- the hook points' emitters ---------------------------------------------------------------


def message_event_emit(*, type: str, message) -> Event | None:
    """message.received or message.sent."""
    return event_emit(workspace_id=message.workspace_id, type=type, data=lambda: _message_data(message))


def message_status_emit(*, message) -> Event | None:
    """message.status_updated, for the statuses a customer's system acts on (delivered, read, failed)."""
    if message.status not in STATUS_EVENTS:
        return None
    return event_emit(
        workspace_id=message.workspace_id, type="message.status_updated", data=lambda: _message_data(message)
    )


def conversation_event_emit(*, type: str, conversation, reason: str = "") -> Event | None:
    """conversation.created, conversation.handoff (with the reason) or conversation.closed."""

    def data() -> dict:
        payload = _conversation_data(conversation)
        if type == "conversation.handoff":
            payload["reason"] = reason
        return payload

    return event_emit(workspace_id=conversation.workspace_id, type=type, data=data)


def csat_event_emit(*, rating) -> Event | None:

    def data() -> dict:
        payload = _conversation_data(rating.conversation)
        payload["rating"] = {"score": rating.score, "comment": rating.comment, "answered_at": _iso(rating.answered_at)}
        return payload

    return event_emit(workspace_id=rating.workspace_id, type="csat.received", data=data)


def template_status_emit(*, template, previous_status: str) -> Event | None:
    data = {
        "template": {
            "id": str(template.public_id),
            "meta_id": template.meta_id,
            "name": template.name,
            "language": template.language,
            "category": template.category,
            "status": template.status,
            "previous_status": previous_status,
            "rejection_reason": template.rejection_reason,
            "recommendation": template.recommendation,
            "quality": template.quality,
        }
    }
    return event_emit(workspace_id=template.workspace_id, type="template.status_updated", data=data)


def channel_attention_emit(*, channel_id: int, reason: str, previous_reason: str = "") -> Event | None:
    """channel.needs_attention when a channel needs reconnection, or its health check found new problems."""
    if not reason or reason == previous_reason:
        return None
    from channels_app.models import Channel  # events build on channels

    channel = Channel.objects.filter(pk=channel_id).first()
    if channel is None:
        return None
    data = {"channel": _channel_data(channel), "reason": reason}
    return event_emit(workspace_id=channel.workspace_id, type="channel.needs_attention", data=data)


def _message_data(message) -> dict:
    error = None
    if message.status == "failed" or message.error_code:
        error = {"code": message.error_code, "title": message.error_title, "details": message.error_details}
    return {
        "message": {
            "id": str(message.public_id),
            "wamid": message.wamid or "",
            "direction": "inbound" if message.direction == "in" else "outbound",
            "type": message.message_type,
            "text": _message_text(message),
            "sender": message.sender,
            "status": message.status,
            "timestamp": _iso(message.timestamp),
            "error": error,
        },
        "conversation": {"id": message.conversation_id},
        "contact": _contact_data(message.contact),
        "channel": _channel_data(message.channel),
    }


def _message_text(message) -> str:
    content = message.content if isinstance(message.content, dict) else {}
    if message.message_type == "text":
        return str(content.get("body") or "")
    if message.message_type == "interactive":
        reply = content.get("button_reply") or content.get("list_reply") or {}
        if reply:
            return str(reply.get("title") or "")
        return str((content.get("body") or {}).get("text") or "") if isinstance(content.get("body"), dict) else ""
    if message.message_type == "button":
        return str(content.get("text") or "")
    return str(content.get("caption") or "")


def _conversation_data(conversation) -> dict:
    return {
        "conversation": {
            "id": conversation.pk,
            "state": conversation.state,
            "created_at": _iso(conversation.created_at),
            "closed_at": _iso(conversation.closed_at),
        },
        "contact": _contact_data(conversation.contact),
        "channel": _channel_data(conversation.channel),
    }


def _contact_data(contact) -> dict:
    return {"wa_id": contact.wa_id or "", "user_id": contact.user_id or "", "name": contact.profile_name}


def _channel_data(channel) -> dict:
    return {
        "id": str(channel.public_id),
        "name": channel.name,
        "phone_number": channel.display_phone_number,
        "status": channel.status,
    }


def _iso(moment) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None
