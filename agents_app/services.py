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
