from django.db.models import QuerySet

from agents_app.models import Agent


def agents_list(*, workspace) -> QuerySet[Agent]:
    return Agent.objects.filter(workspace=workspace).order_by("name")
