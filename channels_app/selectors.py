from django.db.models import QuerySet

from channels_app.models import Channel


def channels_list(*, workspace) -> QuerySet[Channel]:
    return Channel.objects.filter(workspace=workspace).select_related("agent").order_by("name")
