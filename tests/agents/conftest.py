import pytest

from agents_app.models import KnowledgeEntry
from messaging_app.models import Conversation
from tests.agents.llm_servers import openai_server  # noqa: F401
from tests.factories import AgentFactory


@pytest.fixture
def model_fern(sandbox, openai_server):  # noqa: F811
    """The sandbox conversation answered by "Fern", a model agent on the loopback OpenAI-compatible server."""
    agent = AgentFactory(
        workspace=sandbox.channel.workspace,
        name="Fern",
        provider="openai",
        model="test-model",
        api_key="sk-test",
        base_url=openai_server.base_url,
        debounce_seconds=0,
        history_messages=50,
    )
    Conversation.objects.filter(pk=sandbox.conversation.pk).update(assigned_agent=agent, state="agent")
    return agent


@pytest.fixture
def shrubby(sandbox):
    """The sandbox channel and conversation answered by "Shrubby", the offline agent, who knows about shipping."""
    agent = AgentFactory(workspace=sandbox.channel.workspace, name="Shrubby", debounce_seconds=0)
    KnowledgeEntry.objects.create(
        agent=agent, title="Do you ship to Canada?", body="Yes! We ship to Canada in 3–5 business days."
    )
    Conversation.objects.filter(pk=sandbox.conversation.pk).update(assigned_agent=agent, state="agent")
    sandbox.channel.agent = agent
    sandbox.channel.save()
    return agent
