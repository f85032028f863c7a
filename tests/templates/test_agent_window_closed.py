"""An agent that must reach a customer whose 24-hour window has closed sends its template, never free text."""

from datetime import timedelta

import pytest
from django.utils import timezone

from agents_app.models import AgentRun
from agents_app.turns import agent_turn_run
from channels_app.models import MessageTemplate
from messaging_app.models import Conversation, Message
from tests.factories import AgentFactory, ChannelFactory, api_key_for, conversation_with

pytestmark = pytest.mark.django_db

WE_WILL_REPLY = [
    {
        "type": "BODY",
        "text": "Thanks for writing to {{1}}! A teammate will reply here soon.",
        "example": {"body_text": [["Lucky Shrub"]]},
    }
]


@pytest.fixture
def late(db):
    """A customer message the agent gets to only after the window closed (e.g. Meta redelivered it days late)."""
    channel = ChannelFactory(waba_id="102290129340398")
    agent = AgentFactory(workspace=channel.workspace, name="Shrubby")
    conversation = conversation_with(channel, agent=agent, last_inbound_at=timezone.now() - timedelta(hours=30))
    message = Message.objects.create(
        workspace=channel.workspace,
        channel=channel,
        conversation=conversation,
        contact=conversation.contact,
        direction=Message.Direction.INBOUND,
        message_type="text",
        content={"body": "Is the fern still in stock?"},
        wamid="wamid.late",
        timestamp=conversation.last_inbound_at,
        sender=Message.Sender.CUSTOMER,
        status=Message.Status.RECEIVED,
    )
    MessageTemplate.objects.create(
        workspace=channel.workspace,
        waba_id=channel.waba_id,
        name="we_will_reply",
        language="en_US",
        status="APPROVED",
        components=WE_WILL_REPLY,
    )
    return agent, conversation, message


def test_with_a_window_closed_template_the_agent_sends_it_and_hands_over(late):
    agent, conversation, message = late
    agent.window_closed_template = "we_will_reply"
    agent.window_closed_template_parameters = {"1": "Lucky Shrub"}
    agent.save()

    run = agent_turn_run(conversation=conversation, messages=[message])

    (sent,) = Message.objects.filter(direction=Message.Direction.OUTBOUND)
    assert sent.message_type == "template" and sent.sender == "agent" and sent.sender_agent == agent
    assert sent.content["components"] == [{"type": "body", "parameters": [{"type": "text", "text": "Lucky Shrub"}]}]
    assert run.status == AgentRun.Status.HANDED_OFF
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.WAITING_HUMAN


def test_without_one_the_agent_stays_silent(late):
    agent, conversation, message = late
    run = agent_turn_run(conversation=conversation, messages=[message])
    assert run.status == AgentRun.Status.SKIPPED
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()


def test_a_template_that_is_not_approved_is_not_sent_and_the_run_says_why(late):
    agent, conversation, message = late
    MessageTemplate.objects.filter(name="we_will_reply").update(status="PAUSED")
    agent.window_closed_template = "we_will_reply"
    agent.window_closed_template_parameters = {"1": "Lucky Shrub"}
    agent.save()
    run = agent_turn_run(conversation=conversation, messages=[message])
    assert run.status == AgentRun.Status.SKIPPED and "is paused" in run.error
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()


def test_the_agent_api_sets_the_template_and_checks_its_name(late, client):
    agent, _conversation, _message = late
    headers = {"Authorization": f"Bearer {api_key_for(agent.workspace)}"}
    ok = client.patch(
        f"/api/v1/agents/{agent.public_id}/",
        {"window_closed_template": "we_will_reply", "window_closed_template_parameters": {"1": "Lucky Shrub"}},
        content_type="application/json",
        headers=headers,
    )
    assert ok.status_code == 200, ok.json()
    assert ok.json()["window_closed_template"] == "we_will_reply"
    bad = client.patch(
        f"/api/v1/agents/{agent.public_id}/",
        {"window_closed_template": "We Will Reply"},
        content_type="application/json",
        headers=headers,
    )
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "window_closed_template"
