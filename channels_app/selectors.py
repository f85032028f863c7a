from django.db.models import QuerySet

from channels_app.models import Channel, MessageTemplate


def channels_list(*, workspace) -> QuerySet[Channel]:
    return Channel.objects.filter(workspace=workspace).select_related("agent").order_by("name")


def channel_for_phone_number_id(*, phone_number_id: str) -> Channel | None:
    if not phone_number_id:
        return None
    return Channel.objects.select_related("workspace").filter(phone_number_id=phone_number_id).first()


def channels_for_waba(*, waba_id: str) -> QuerySet[Channel]:
    return Channel.objects.select_related("workspace").filter(waba_id=waba_id) if waba_id else Channel.objects.none()


def templates_approved(*, channel: Channel) -> QuerySet[MessageTemplate]:
    return MessageTemplate.objects.filter(waba_id=channel.waba_id, workspace_id=channel.workspace_id, status="APPROVED")
