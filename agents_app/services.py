from agents_app.models import Agent
from agents_app.prompts import WHATSAPP_STYLE_GUIDE

DEFAULT_AGENT_NAME = "Assistant"


def agent_default_ensure(*, workspace) -> Agent:
    """The workspace's starting agent: offline knowledge-base answers, no API key needed."""
    agent, _ = Agent.objects.get_or_create(
        workspace=workspace,
        name=DEFAULT_AGENT_NAME,
        defaults={
            "instructions": WHATSAPP_STYLE_GUIDE.format(business_name=workspace.name),
            "provider": Agent.Provider.KNOWLEDGE_BASE,
        },
    )
    return agent


def agent_turn_run(*, conversation, messages: list):
    """The assigned agent answers a burst of customer messages (see agents_app.turns)."""
    from agents_app.turns import agent_turn_run as run

    return run(conversation=conversation, messages=messages)
