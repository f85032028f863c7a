from django.db.models import QuerySet

from agents_app.models import Agent, AgentRun


def agents_list(*, workspace) -> QuerySet[Agent]:
    return Agent.objects.filter(workspace=workspace).order_by("name")


def agent_runs_recent(*, agent: Agent, limit: int = 25) -> list[AgentRun]:
    return list(AgentRun.objects.filter(agent=agent).select_related("conversation__contact")[:limit])
