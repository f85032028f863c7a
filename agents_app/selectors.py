from django.db.models import Count, Q, QuerySet

from agents_app.models import Agent, AgentRun


def agents_list(*, workspace) -> QuerySet[Agent]:
    return Agent.objects.filter(workspace=workspace).order_by("name")


def agents_with_channel_counts(*, workspace) -> QuerySet[Agent]:
    """Agents with how many WhatsApp channels each answers (test consoles aside)."""
    whatsapp = ~Q(channels__provider="test_console") & Q(channels__isnull=False)
    return agents_list(workspace=workspace).annotate(channel_count=Count("channels", filter=whatsapp))


def agent_whatsapp_channels(*, agent: Agent) -> QuerySet:
    return agent.channels.whatsapp()


def agent_runs_recent(*, agent: Agent, limit: int = 25) -> list[AgentRun]:
    return list(AgentRun.objects.filter(agent=agent).select_related("conversation__contact")[:limit])


def agent_runs_for_conversation(*, conversation, limit: int = 20) -> list[AgentRun]:
    """A conversation's latest turns, newest first: what the model was given, did and cost."""
    return list(AgentRun.objects.filter(conversation=conversation).select_related("agent")[:limit])
