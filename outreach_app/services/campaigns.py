"""Campaigns: an approved template to an audience, paced at the channel's throughput.

Here a campaign's life: created, edited, launched (now or at a time), paused, resumed, cancelled,
previewed, and the sweeper that starts scheduled campaigns and restarts running ones whose dispatcher
died. All state is in the database: a campaign is a row first. The dispatcher that turns recipients
into sends is outreach_app/services/dispatch.py.
"""

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from channels_app.models import Channel, MessageTemplate
from channels_app.selectors import templates_approved
from channels_app.whatsapp.payloads import PayloadInvalid
from messaging_app.errors import ChannelUnavailable
from messaging_app.models import Message
from outreach_app.models import Campaign
from outreach_app.services.audience import audience_contacts, audience_materialise
from outreach_app.services.template_values import template_message_content, template_rendered, values_for_contact
from whatsapp_platform.errors import Conflict, InvalidInput, PlatformError
from whatsapp_platform.task_queue import task_enqueue

logger = logging.getLogger(__name__)

# A running campaign with no dispatcher for this long lost its task (broker flushed): restarted.
CAMPAIGN_STALE_SECONDS = 60

_STARTABLE = (Campaign.State.DRAFT, Campaign.State.SCHEDULED)
_CANCELLABLE = (Campaign.State.DRAFT, Campaign.State.SCHEDULED, Campaign.State.RUNNING, Campaign.State.PAUSED)


def _template_for(*, channel: Channel, name: str, language: str) -> MessageTemplate:
    template = templates_approved(channel=channel).filter(name=name, language=language).first()
    if template is None:
        names = ", ".join(f"{t.name} ({t.language})" for t in templates_approved(channel=channel)[:20])
        raise InvalidInput(
            f"No approved template {name!r} in {language!r} for the channel {channel.name}."
            + (f" Approved: {names}." if names else " No approved template is synced for it yet."),
            field="template_name",
        )
    return template


def _clean_audience(tags, attributes) -> tuple[list[str], dict]:
    if tags is None:
        tags = []
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise InvalidInput('Tags are a list of words, e.g. ["vip", "newsletter"].', field="audience_tags")
    if attributes is None:
        attributes = {}
    if not isinstance(attributes, dict) or not all(isinstance(k, str) and k.isidentifier() for k in attributes):
        raise InvalidInput(
            'The attribute filter maps attribute names (letters, digits, _) to values, e.g. {"city": "Leeds"}.',
            field="audience_attributes",
        )
    return [tag.strip() for tag in tags if tag.strip()], attributes


def campaign_create(
    *,
    workspace,
    channel: Channel,
    name: str,
    template_name: str,
    template_language: str,
    parameter_values: dict | None = None,
    header_media_link: str = "",
    audience_tags: list | None = None,
    audience_attributes: dict | None = None,
    user=None,
) -> Campaign:
    if channel.workspace_id != workspace.pk:
        raise InvalidInput("No such channel in this workspace.", field="channel")
    if not name.strip():
        raise InvalidInput("Name the campaign, e.g. 'Spring sale'.", field="name")
    template = _template_for(channel=channel, name=template_name, language=template_language)
    tags, attributes = _clean_audience(audience_tags, audience_attributes)
    if not isinstance(parameter_values or {}, dict):
        raise InvalidInput("Parameter values map parameter names to text.", field="parameter_values")
    return Campaign.objects.create(
        workspace=workspace,
        channel=channel,
        name=name.strip()[:120],
        template=template,
        template_name=template.name,
        template_language=template.language,
        parameter_values={str(k): str(v) for k, v in (parameter_values or {}).items()},
        header_media_link=header_media_link,
        audience_tags=tags,
        audience_attributes=attributes,
        created_by=user,
    )


def campaign_update(*, campaign: Campaign, **fields) -> Campaign:
    """Change a draft or scheduled campaign: name, parameter values, header media, audience."""
    if not campaign.is_editable:
        raise Conflict(f"The campaign is {campaign.get_state_display().lower()}; it can no longer be changed.")
    if "audience_tags" in fields or "audience_attributes" in fields:
        fields["audience_tags"], fields["audience_attributes"] = _clean_audience(
            fields.get("audience_tags", campaign.audience_tags),
            fields.get("audience_attributes", campaign.audience_attributes),
        )
    for key in ("name", "parameter_values", "header_media_link", "audience_tags", "audience_attributes"):
        if key in fields and fields[key] is not None:
            setattr(campaign, key, fields[key])
    campaign.save()
    return campaign


def _launch_check(campaign: Campaign) -> None:
    if campaign.state not in _STARTABLE:
        raise Conflict(f"The campaign is {campaign.get_state_display().lower()}; only a draft or scheduled one starts.")
    channel = campaign.channel
    if channel.status != Channel.Status.ACTIVE:
        raise ChannelUnavailable(f"The channel '{channel.name}' is {channel.get_status_display().lower()}.")
    _template_for(channel=channel, name=campaign.template_name, language=campaign.template_language)
    if not campaign.recipients.exists() and not audience_contacts(campaign=campaign).exists():
        raise InvalidInput(
            "The audience is empty: choose tags or an attribute filter that match contacts, or import a CSV.",
            field="audience_tags",
        )


def campaign_launch(*, campaign: Campaign, start_at=None) -> Campaign:
    """Start now, or at `start_at` (the sweeper starts it then; the audience is taken at the start)."""
    _launch_check(campaign)
    now = timezone.now()
    if start_at is not None and start_at > now + timedelta(seconds=5):
        if not Campaign.objects.filter(pk=campaign.pk, state__in=_STARTABLE).update(
            state=Campaign.State.SCHEDULED, scheduled_at=start_at, state_reason="", updated_at=now
        ):
            raise Conflict("The campaign changed meanwhile; reload it.")
    elif not _campaign_start(campaign_id=campaign.pk):
        raise Conflict("The campaign changed meanwhile; reload it.")
    campaign.refresh_from_db()
    return campaign


@transaction.atomic
def _campaign_start(*, campaign_id: int) -> bool:
    now = timezone.now()
    started = Campaign.objects.filter(pk=campaign_id, state__in=_STARTABLE).update(
        state=Campaign.State.RUNNING, started_at=now, state_reason="", updated_at=now
    )
    if not started:
        return False
    campaign = Campaign.objects.select_related("channel").get(pk=campaign_id)
    audience_materialise(campaign=campaign)
    if not campaign.recipients.exists():
        Campaign.objects.filter(pk=campaign_id).update(
            state=Campaign.State.COMPLETED, finished_at=now, state_reason="The audience was empty when it started."
        )
        return True
    _dispatch_on_commit(campaign_id)
    return True


def _dispatch_on_commit(campaign_id: int) -> None:
    transaction.on_commit(lambda: task_enqueue("outreach.campaign_dispatch", campaign_id))


def campaign_pause(*, campaign: Campaign, reason: str = "") -> Campaign:
    """Stop new sends (messages already queued still go); resume picks up where it stopped."""
    if not Campaign.objects.filter(pk=campaign.pk, state=Campaign.State.RUNNING).update(
        state=Campaign.State.PAUSED, state_reason=reason[:1000], updated_at=timezone.now()
    ):
        raise Conflict(f"Only a running campaign can be paused; this one is {campaign.get_state_display().lower()}.")
    campaign.refresh_from_db()
    return campaign


def campaign_resume(*, campaign: Campaign) -> Campaign:
    with transaction.atomic():
        if not Campaign.objects.filter(pk=campaign.pk, state=Campaign.State.PAUSED).update(
            state=Campaign.State.RUNNING, state_reason="", updated_at=timezone.now()
        ):
            raise Conflict(
                f"Only a paused campaign can be resumed; this one is {campaign.get_state_display().lower()}."
            )
        _dispatch_on_commit(campaign.pk)
    campaign.refresh_from_db()
    return campaign


def campaign_cancel(*, campaign: Campaign) -> Campaign:
    """Stop for good: nobody else is messaged, and messages still waiting in the outbox do not leave."""
    now = timezone.now()
    with transaction.atomic():
        if not Campaign.objects.filter(pk=campaign.pk, state__in=_CANCELLABLE).update(
            state=Campaign.State.CANCELLED, finished_at=now, updated_at=now
        ):
            raise Conflict(f"The campaign is already {campaign.get_state_display().lower()}.")
        # Conditional on `queued`: a message a worker already claimed is on its way and is left alone.
        Message.objects.filter(campaign_recipient__campaign=campaign, status=Message.Status.QUEUED).update(
            status=Message.Status.FAILED,
            failed_at=now,
            error_title="Campaign cancelled",
            error_details="The campaign was cancelled before this message left.",
            updated_at=now,
        )
    campaign.refresh_from_db()
    return campaign


def campaign_preview(*, campaign: Campaign, count: int = 3) -> list[dict]:
    """The message as a few recipients would get it, with any parameter problem spelled out."""
    template = campaign.template or _template_for(
        channel=campaign.channel, name=campaign.template_name, language=campaign.template_language
    )
    pairs = [(r.contact, r.parameters) for r in campaign.recipients.select_related("contact")[:count]]
    if len(pairs) < count:
        seen = [contact.pk for contact, _ in pairs]
        pairs += [(c, {}) for c in audience_contacts(campaign=campaign).exclude(pk__in=seen)[: count - len(pairs)]]
    previews = []
    for contact, parameters in pairs:
        values = values_for_contact(defaults=campaign.parameter_values, overrides=parameters, contact=contact)
        preview = {"contact": contact, "values": values, "rendered": None, "error": ""}
        try:
            template_message_content(template=template, values=values, header_media_link=campaign.header_media_link)
            preview["rendered"] = template_rendered(template=template, values=values)
        except (PlatformError, PayloadInvalid) as exc:
            preview["error"] = getattr(exc, "message", None) or str(exc)
        previews.append(preview)
    return previews


def campaigns_sweep() -> dict[str, int]:
    """Start scheduled campaigns whose time came; restart running ones whose dispatcher is gone."""
    now = timezone.now()
    counts = {"started": 0, "restarted": 0}
    for campaign_id in Campaign.objects.filter(state=Campaign.State.SCHEDULED, scheduled_at__lte=now).values_list(
        "pk", flat=True
    )[:100]:
        counts["started"] += _campaign_start(campaign_id=campaign_id)
    stale = now - timedelta(seconds=CAMPAIGN_STALE_SECONDS)
    orphaned = Campaign.objects.filter(state=Campaign.State.RUNNING).filter(
        Q(dispatch_lease_until__lt=now) | Q(dispatch_lease_until__isnull=True, updated_at__lte=stale)
    )
    for campaign_id in orphaned.values_list("pk", flat=True)[:100]:
        logger.warning("campaign dispatcher restarted", extra={"campaign_id": campaign_id})
        with transaction.atomic():
            _dispatch_on_commit(campaign_id)
        counts["restarted"] += 1
    return counts
