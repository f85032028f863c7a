"""Rows as the platform leaves them (messages, agent runs, ratings), placed at chosen local times.

`auto_now_add` fields (AgentRun.started_at, WebhookEvent.received_at) are set with an update
after the insert, as the rollup reads them.
"""

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from django.db.models import Q

from agents_app.models import AgentRun
from messaging_app.models import Conversation, ConversationRating, Message
from tests.factories import conversation_with


def at(day: date, hour: int, minute: int = 0, *, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=tz)


def conversation(channel, wa_id: str, name: str = "") -> Conversation:
    return conversation_with(channel, wa_id=wa_id, name=name or f"Customer {wa_id[-4:]}")


def _latest(conversation: Conversation, when: datetime, *, inbound: bool) -> None:
    """As the inbound and outbound services do: the conversation knows its latest message."""
    latest = Conversation.objects.filter(pk=conversation.pk).filter(
        Q(last_message_at__isnull=True) | Q(last_message_at__lt=when)
    )
    latest.update(last_message_at=when)
    if inbound:
        Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=when)


def inbound(conversation: Conversation, when: datetime, body: str = "Hi!") -> Message:
    _latest(conversation, when, inbound=True)
    return Message.objects.create(
        workspace=conversation.workspace,
        channel=conversation.channel,
        conversation=conversation,
        contact=conversation.contact,
        direction=Message.Direction.INBOUND,
        message_type="text",
        content={"body": body},
        timestamp=when,
        sender=Message.Sender.CUSTOMER,
        status=Message.Status.RECEIVED,
    )


def outbound(
    conversation: Conversation,
    when: datetime,
    *,
    status: str,
    sender: str = Message.Sender.AGENT,
    error_code: int | None = None,
    error_title: str = "",
) -> Message:
    """A business message that reached `status`, with the timestamps the status fold would have set."""
    reached = {"sent": 1, "delivered": 2, "read": 3}.get(status, 0)
    _latest(conversation, when, inbound=False)
    return Message.objects.create(
        workspace=conversation.workspace,
        channel=conversation.channel,
        conversation=conversation,
        contact=conversation.contact,
        direction=Message.Direction.OUTBOUND,
        message_type="text",
        content={"body": "Hello!"},
        timestamp=when,
        sender=sender,
        status=status,
        sent_at=when if reached >= 1 else None,
        delivered_at=when if reached >= 2 else None,
        read_at=when if reached >= 3 else None,
        failed_at=when if status == Message.Status.FAILED else None,
        error_code=error_code,
        error_title=error_title,
    )


def agent_run(conversation: Conversation, when: datetime, *, status: str, response_ms: float | None) -> AgentRun:
    run = AgentRun.objects.create(
        workspace=conversation.workspace,
        conversation=conversation,
        status=status,
        provider="knowledge_base",
        response_ms=response_ms,
        slow=response_ms is not None and response_ms > 30_000,
        finished_at=when,
    )
    AgentRun.objects.filter(pk=run.pk).update(started_at=when)
    return run


def rating(
    conversation: Conversation, when: datetime | None, score: int | None, comment: str = ""
) -> ConversationRating:
    return ConversationRating.objects.create(
        workspace=conversation.workspace, conversation=conversation, score=score, comment=comment, answered_at=when
    )
