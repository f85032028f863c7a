import json
import time

from django.db.models import Q, QuerySet

from channels_app.models import Channel, MessageTemplate, TemplateSync


def channels_list(*, workspace) -> QuerySet[Channel]:
    return Channel.objects.whatsapp().filter(workspace=workspace).select_related("agent").order_by("name")


def channel_for_phone_number_id(*, phone_number_id: str) -> Channel | None:
    if not phone_number_id:
        return None
    # With its agent: storing a customer's message reads the agent's debounce.
    return Channel.objects.select_related("workspace", "agent").filter(phone_number_id=phone_number_id).first()


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


# --- message templates --------------------------------------------------------------------------


def templates_approved(*, channel: Channel) -> QuerySet[MessageTemplate]:
    if not channel.waba_id:
        return MessageTemplate.objects.none()
    return MessageTemplate.objects.filter(waba_id=channel.waba_id, workspace_id=channel.workspace_id, status="APPROVED")


def templates_list(
    *, workspace, channel: Channel | None = None, status: str = "", name: str = "", include_deleted: bool = False
) -> QuerySet[MessageTemplate]:
    """The workspace's templates, filtered by channel (its account), status and name (contains).

    Templates Meta no longer lists (status DELETED) are left out unless asked for, or filtered on.
    """
    templates = MessageTemplate.objects.filter(workspace=workspace)
    if channel is not None:
        templates = templates.filter(waba_id=channel.waba_id) if channel.waba_id else templates.none()
    if status:
        templates = templates.filter(status__iexact=status)
    elif not include_deleted:
        templates = templates.exclude(status="DELETED")
    if name:
        templates = templates.filter(name__icontains=name.strip())
    return templates.order_by("name", "language")


def template_get(*, workspace, template_id) -> MessageTemplate | None:
    return MessageTemplate.objects.filter(workspace=workspace, public_id=template_id).first()


def template_for_send(*, channel: Channel, name: str, language: str) -> MessageTemplate | None:
    """The synced template a send to this channel names (whatever its status)."""
    if not channel.waba_id:
        return None
    return MessageTemplate.objects.filter(
        workspace_id=channel.workspace_id, waba_id=channel.waba_id, name=name, language=language
    ).first()


def template_channels(*, template: MessageTemplate) -> QuerySet[Channel]:
    """The workspace's active WhatsApp numbers on the template's account: the ones that can send it."""
    return Channel.objects.whatsapp().filter(
        workspace_id=template.workspace_id, waba_id=template.waba_id, status=Channel.Status.ACTIVE
    )


def channels_with_templates(*, workspace) -> QuerySet[Channel]:
    """WhatsApp channels connected to an account, whose templates can be synced."""
    return Channel.objects.whatsapp().filter(workspace=workspace).exclude(waba_id="").order_by("name")


def template_syncs_latest(*, workspace) -> list[TemplateSync]:
    """The latest sync of each of the workspace's accounts, newest first."""
    latest: dict[str, TemplateSync] = {}
    for sync in TemplateSync.objects.filter(workspace=workspace).select_related("channel")[:200]:
        latest.setdefault(sync.waba_id, sync)
    return list(latest.values())


def template_sync_get(*, workspace, sync_id: int) -> TemplateSync | None:
    return TemplateSync.objects.filter(workspace=workspace, pk=sync_id).select_related("channel").first()


def webhook_concerns_only_sandbox_channels(*, raw_body: bytes, channel: Channel | None) -> bool:
    """True when nothing in the webhook names a channel that is not a sandbox one: its own channel for a
    channel's URL, else every phone number id and WABA id in the envelope. For webhooks verified with the
    emulator's app secret, which is public and so proves nothing about real numbers."""
    if channel is not None:
        return channel.provider == Channel.Provider.SANDBOX
    try:
        entries = json.loads(raw_body).get("entry")
    except (ValueError, AttributeError):
        return False
    if not isinstance(entries, list) or not entries:
        return False
    numbers, wabas = set(), set()
    for entry in entries:
        if not isinstance(entry, dict):
            return False
        wabas.add(str(entry.get("id", "")))
        for change in entry.get("changes") or []:
            value = change.get("value") if isinstance(change, dict) else None
            metadata = value.get("metadata") if isinstance(value, dict) else None
            if isinstance(metadata, dict) and metadata.get("phone_number_id"):
                numbers.add(str(metadata["phone_number_id"]))
    named = Q(phone_number_id__in=numbers) | Q(waba_id__in=wabas - {""})
    return not Channel.objects.filter(named).exclude(provider=Channel.Provider.SANDBOX).exists()
