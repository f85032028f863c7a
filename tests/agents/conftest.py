import pytest

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
