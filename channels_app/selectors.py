import time

from django.db.models import QuerySet

from channels_app.models import Channel, MessageTemplate


def channels_list(*, workspace) -> QuerySet[Channel]:
    return Channel.objects.whatsapp().filter(workspace=workspace).select_related("agent").order_by("name")


def channel_for_phone_number_id(*, phone_number_id: str) -> Channel | None:
    if not phone_number_id:
        return None
    return Channel.objects.select_related("workspace").filter(phone_number_id=phone_number_id).first()


_PHONE_CACHE: dict[str, tuple[float, Channel | None]] = {}
_PHONE_CACHE_SECONDS = 5.0


def channel_for_phone_number_id_cached(*, phone_number_id: str) -> Channel | None:
    """The same as channel_for_phone_number_id, remembered for a few seconds per process.

    Webhook processing asks this for every item; a channel connected or removed a moment
    ago is picked up within seconds.
    """
    now = time.monotonic()
    hit = _PHONE_CACHE.get(phone_number_id)
    if hit is not None and now - hit[0] < _PHONE_CACHE_SECONDS:
        return hit[1]
    channel = channel_for_phone_number_id(phone_number_id=phone_number_id)
    if channel is not None:  # a miss is not remembered: a channel connected now must route at once
        _PHONE_CACHE[phone_number_id] = (now, channel)
    return channel


def channel_lookup_cache_clear() -> None:
    _PHONE_CACHE.clear()


def channels_for_waba(*, waba_id: str) -> QuerySet[Channel]:
    return Channel.objects.select_related("workspace").filter(waba_id=waba_id) if waba_id else Channel.objects.none()


def templates_approved(*, channel: Channel) -> QuerySet[MessageTemplate]:
    return MessageTemplate.objects.filter(waba_id=channel.waba_id, workspace_id=channel.workspace_id, status="APPROVED")
