"""A turn whose worker died is picked up by the next handling of its conversation, and each customer message is
still answered by exactly one turn: again by the same run when it had not replied, never again when it had."""

import pytest
from django.utils import timezone

from agents_app.models import AgentRun, KnowledgeEntry
from agents_app.replies import conversation_inbound_handle
from messaging_app.models import Conversation, Message
from messaging_app.services.outbound import message_send
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def agent(sandbox):
    agent = AgentFactory(workspace=sandbox.channel.workspace, name="Shrubby", debounce_seconds=0)
    KnowledgeEntry.objects.create(agent=agent, title="Do you ship to Canada?", body="Yes, in 5 to 7 days.")
    Conversation.objects.filter(pk=sandbox.conversation.pk).update(assigned_agent=agent, state="agent")
    return agent


def _dead_turn(sandbox, agent, *, replied: bool) -> tuple[Message, AgentRun]:
    """The customer's message claimed by a handling whose worker then died, its run still marked running."""
    question = Message.objects.filter(conversation=sandbox.conversation, direction="in").latest("pk")
    Message.objects.filter(pk=question.pk).update(handled_at=timezone.now(), next_attempt_at=timezone.now())
    run = AgentRun.objects.create(
        workspace_id=agent.workspace_id,
        agent=agent,
        conversation=sandbox.conversation,
        provider=agent.provider,
        trigger_message_ids=[question.pk],
    )
    if replied:
        conversation = Conversation.objects.select_related("channel", "contact").get(pk=sandbox.conversation.pk)
        message_send(
            conversation=conversation,
            message_type="text",
            content={"body": "Yes, in 5 to 7 days."},
            sender=Message.Sender.AGENT,
            sender_agent=agent,
        )
    return question, run


def _runs_answering(message: Message) -> list[AgentRun]:
    return [run for run in AgentRun.objects.order_by("pk") if message.pk in run.trigger_message_ids]


def test_a_dead_turn_that_had_queued_its_reply_is_closed_and_its_message_not_answered_again(sandbox, agent):
    question, run = _dead_turn(sandbox, agent, replied=True)
    replies_before = Message.objects.filter(sender="agent").count()

    conversation_inbound_handle(conversation_id=sandbox.conversation.pk)

    assert _runs_answering(question) == [run]
    run.refresh_from_db()
    assert run.status == AgentRun.Status.ANSWERED
    assert Message.objects.filter(sender="agent").count() == replies_before
    assert Message.objects.get(pk=question.pk).next_attempt_at is None


def test_a_dead_turn_that_had_not_replied_is_answered_by_the_same_run(sandbox, agent):
    question, run = _dead_turn(sandbox, agent, replied=False)

    conversation_inbound_handle(conversation_id=sandbox.conversation.pk)

    assert _runs_answering(question) == [run]
    run.refresh_from_db()
    assert run.status in (AgentRun.Status.ANSWERED, AgentRun.Status.HANDED_OFF)
    assert Message.objects.filter(sender="agent", created_at__gte=run.started_at).exists()
    assert Message.objects.get(pk=question.pk).next_attempt_at is None
