"""Campaigns: an approved template to an audience, paced at the channel's throughput.

One dispatcher per running campaign works in time-bounded slices: it turns pending recipients
into queued messages no faster than the number's rate, delivers each at once (a few lanes overlap
the Graph round trips), then re-enqueues itself. So 10,000 recipients are a few dozen slices, not
10,000 tasks fighting for the rate limit's tokens, and sends stay evenly spaced. All state is in
the database: a campaign is a row first, a dispatcher holds a lease on it, and a sweeper restarts a
running campaign whose dispatcher died.
"""

import logging
import math
import queue
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from channels_app.models import Channel, MessageTemplate
from channels_app.selectors import templates_approved
from channels_app.whatsapp.payloads import PayloadInvalid
from messaging_app.errors import ChannelUnavailable
from messaging_app.models import Contact, Message
from messaging_app.services.contacts import conversation_for_contact
from messaging_app.services.outbound import message_send
from outreach_app.models import Campaign, CampaignRecipient
from outreach_app.services.audience import audience_contacts, audience_materialise
from outreach_app.services.consent import MARKETING_LIMITED
from outreach_app.services.template_values import template_message_content, template_rendered, values_for_contact
from whatsapp_platform.errors import Conflict, InvalidInput, PlatformError

logger = logging.getLogger(__name__)

# Campaigns take this share of the number's messages per second: Meta counts every message,
# inbound included, so agent replies to the customers who answer still find room.
CAMPAIGN_THROUGHPUT_SHARE = 0.9
# A dispatcher works this long, then hands over to a fresh task (workers stay responsive).
CAMPAIGN_SLICE_SECONDS = 10.0
# A dispatcher's lease outlives its slice by this much; after that the sweeper restarts the campaign.
CAMPAIGN_LEASE_GRACE_SECONDS = 30
# A running campaign with no dispatcher for this long lost its task (broker flushed): restarted.
CAMPAIGN_STALE_SECONDS = 60
# Sends on their way at once, at most; each waits on a Graph round trip, so a few overlap.
CAMPAIGN_MAX_LANES = 32
_BATCH = 200
_STATE_CHECK_SECONDS = 0.5
MARKETING_LIMIT_HOLD = timedelta(hours=24)

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
    from outreach_app import tasks  # tasks import services

    transaction.on_commit(lambda: tasks.campaign_dispatch.delay(campaign_id))


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


# --- the dispatcher ------------------------------------------------------------------------------


def campaign_pace(channel: Channel) -> tuple[float, float, int]:
    """(sends per second, burst, lanes) for a campaign on this number.

    A send leaves within moments of its token, and at most `lanes` sends are on their way at once,
    so the sends Meta counts in any one second stay within rate + burst + lanes. The three are chosen
    to keep that under the number's limit: 72 + 1.44 + 5 lanes = 78.44 at the default 80 msg/s.
    """
    limit = channel.throughput_mps or settings.WHATSAPP_DEFAULT_MPS
    rate = limit * CAMPAIGN_THROUGHPUT_SHARE
    headroom = limit - rate
    burst = max(1.0, min(rate * 0.02, headroom / 4))
    lanes = max(1, min(CAMPAIGN_MAX_LANES, math.floor(headroom - burst - 1)))
    return rate, burst, lanes


class _Pacer:
    """A thread-safe token bucket with a tiny burst: a stalled dispatcher never catches up in a rush.

    Meta's meter (and the emulator's) counts sends in any one-second window, and the outbox's own
    bucket lets a whole second's worth through at once; so campaign sends are spaced evenly here.
    """

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = 1.0
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self, deadline: float) -> bool:
        """Wait for one send; False when the deadline comes first."""
        while True:
            with self._lock:
                now = time.monotonic()
                if now >= deadline:
                    return False
                self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
                self._at = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return True
                wait = (1 - self._tokens) / self.rate
            if now + wait > deadline:
                return False
            time.sleep(wait)

    def refund(self) -> None:
        """A recipient that was skipped sent nothing: its turn goes to the next one."""
        with self._lock:
            self._tokens = min(self.burst, self._tokens + 1)


def campaign_dispatch(*, campaign_id: int, time_budget_seconds: float = CAMPAIGN_SLICE_SECONDS) -> bool:
    """Send to pending recipients for one slice; True when another slice should follow.

    Safe to call any number of times: a lease lets one dispatcher at a time work on a campaign.
    """
    now = timezone.now()
    lease = now + timedelta(seconds=time_budget_seconds + CAMPAIGN_LEASE_GRACE_SECONDS)
    claimed = (
        Campaign.objects.filter(pk=campaign_id, state=Campaign.State.RUNNING)
        .filter(Q(dispatch_lease_until__isnull=True) | Q(dispatch_lease_until__lt=now))
        .update(dispatch_lease_until=lease, updated_at=now)
    )
    if not claimed:
        return False
    campaign = Campaign.objects.select_related("channel", "template").get(pk=campaign_id)
    try:
        more = _Slice(campaign, deadline=time.monotonic() + time_budget_seconds).run()
    finally:
        Campaign.objects.filter(pk=campaign_id, dispatch_lease_until=lease).update(
            dispatch_lease_until=None, updated_at=timezone.now()
        )
    if not more:
        _campaign_complete_if_done(campaign_id)
    return more


_DONE = object()


class _Slice:
    """One time-bounded slice of a campaign's dispatch.

    The calling thread feeds pending recipients, in id order, to a few lanes; each lane waits for
    the pacer, queues the recipient's message and delivers it at once, so sends leave at the pace
    set here rather than whenever a busy worker picks up the task (message_send still enqueues
    one: whichever claims the message first sends it, the other finds it taken).
    """

    def __init__(self, campaign: Campaign, *, deadline: float) -> None:
        self.campaign = campaign
        self.deadline = deadline
        rate, burst, lanes = campaign_pace(campaign.channel)
        self.pacer = _Pacer(rate, burst)
        self.stop = threading.Event()
        self.failure: BaseException | None = None
        self.work: queue.Queue = queue.Queue(maxsize=lanes)
        self.lanes = [
            threading.Thread(target=self._lane, name=f"campaign-{campaign.pk}-lane-{i}") for i in range(lanes)
        ]

    def run(self) -> bool:
        for lane in self.lanes:
            lane.start()
        try:
            more = self._feed()
        finally:
            for _ in self.lanes:
                self.work.put(_DONE)
            for lane in self.lanes:
                lane.join()
        if self.failure is not None:
            raise self.failure
        if self.stop.is_set():
            return False
        # Recipients a lane could not reach before the deadline are still pending: another slice.
        return more or self.campaign.recipients.filter(state=CampaignRecipient.State.PENDING).exists()

    def _running(self) -> bool:
        state = Campaign.objects.filter(pk=self.campaign.pk).values_list("state", flat=True).first()
        return state == Campaign.State.RUNNING

    def _feed(self) -> bool:
        cursor, state_checked = 0, 0.0
        while time.monotonic() < self.deadline and not self.stop.is_set():
            batch = list(
                CampaignRecipient.objects.filter(
                    campaign=self.campaign, state=CampaignRecipient.State.PENDING, pk__gt=cursor
                )
                .select_related("contact")
                .order_by("id")[:_BATCH]
            )
            if not batch:
                return False
            if not self._template_still_approved():
                return False
            held = _marketing_limited(contact_ids=[r.contact_id for r in batch])
            for recipient in batch:
                while True:
                    if self.stop.is_set():
                        return False
                    if time.monotonic() >= self.deadline:
                        return True
                    if time.monotonic() - state_checked >= _STATE_CHECK_SECONDS:
                        if not self._running():
                            self.stop.set()  # paused or cancelled: the lanes drop what they hold
                            return False
                        state_checked = time.monotonic()
                    try:
                        self.work.put((recipient, recipient.contact_id in held), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                cursor = recipient.pk
        return True

    def _template_still_approved(self) -> bool:
        template = MessageTemplate.objects.filter(pk=self.campaign.template_id).first()
        if template is None or template.status != "APPROVED":
            state = template.status.lower() if template else "deleted"
            self.stop.set()
            _campaign_stop(
                self.campaign,
                f"The template {self.campaign.template_name} is {state} at WhatsApp; choose another template "
                "or wait until it is approved again, then resume.",
            )
            return False
        self.campaign.template = template
        return True

    def _lane(self) -> None:
        from messaging_app.services.outbound import message_deliver

        try:
            while True:
                item = self.work.get()
                if item is _DONE:
                    return
                if self.stop.is_set() or self.failure is not None:
                    continue  # left pending for the next slice
                recipient, marketing_limited = item
                if not self.pacer.acquire(self.deadline):
                    continue  # the slice is over; still pending
                try:
                    message = _recipient_dispatch(self.campaign, recipient, marketing_limited=marketing_limited)
                except ChannelUnavailable as exc:
                    self.stop.set()
                    _campaign_stop(self.campaign, f"Paused: {exc.message}")
                    continue
                if message is None:
                    self.pacer.refund()
                else:
                    message_deliver(message_id=message.pk)
        except BaseException as exc:  # reported by run(); the lease lapses and the sweeper restarts
            self.failure = exc
            self.stop.set()
        finally:
            connection.close()


def _marketing_limited(*, contact_ids: list[int]) -> set[int]:
    """Contacts WhatsApp held a marketing message back from (131049) in the last 24 hours."""
    since = timezone.now() - MARKETING_LIMIT_HOLD
    return set(
        Message.objects.filter(
            contact_id__in=contact_ids,
            direction=Message.Direction.OUTBOUND,
            status=Message.Status.FAILED,
            error_code=MARKETING_LIMITED,
            failed_at__gte=since,
        ).values_list("contact_id", flat=True)
    )


def _recipient_skip(recipient: CampaignRecipient, state: str, reason: str) -> None:
    CampaignRecipient.objects.filter(pk=recipient.pk).update(
        state=state, reason=reason[:300], processed_at=timezone.now()
    )


def _recipient_dispatch(campaign: Campaign, recipient: CampaignRecipient, *, marketing_limited: bool) -> Message | None:
    """Queue this recipient's message, or record why not (None)."""
    with transaction.atomic():
        # Read at dispatch time, not when the audience was built: an opt-out a second ago counts.
        contact = Contact.objects.select_for_update(no_key=True).get(pk=recipient.contact_id)
        if contact.blocked_at is not None:
            _recipient_skip(recipient, CampaignRecipient.State.SKIPPED, "Blocked contact")
            return None
        if contact.marketing_opt_out:
            _recipient_skip(recipient, CampaignRecipient.State.SKIPPED, "Opted out of marketing")
            return None
        if marketing_limited:
            _recipient_skip(
                recipient,
                CampaignRecipient.State.SKIPPED,
                "Marketing limit (131049) in the last 24 hours; not retried yet",
            )
            return None
        values = values_for_contact(defaults=campaign.parameter_values, overrides=recipient.parameters, contact=contact)
        try:
            with transaction.atomic():
                content = template_message_content(
                    template=campaign.template, values=values, header_media_link=campaign.header_media_link
                )
                message = message_send(
                    conversation=conversation_for_contact(contact=contact),
                    message_type="template",
                    content=content,
                    sender=Message.Sender.TEMPLATE,
                    sender_user=campaign.created_by,
                )
        except ChannelUnavailable:
            raise
        except (PlatformError, PayloadInvalid) as exc:
            _recipient_skip(recipient, CampaignRecipient.State.FAILED, getattr(exc, "message", None) or str(exc))
            return None
        CampaignRecipient.objects.filter(pk=recipient.pk).update(
            state=CampaignRecipient.State.SENT, message=message, processed_at=timezone.now()
        )
    return message


def _campaign_stop(campaign: Campaign, reason: str) -> None:
    Campaign.objects.filter(pk=campaign.pk, state=Campaign.State.RUNNING).update(
        state=Campaign.State.PAUSED, state_reason=reason[:1000], updated_at=timezone.now()
    )
    logger.warning("campaign paused", extra={"campaign_id": campaign.pk, "reason": reason})


def _campaign_complete_if_done(campaign_id: int) -> bool:
    now = timezone.now()
    pending = CampaignRecipient.objects.filter(campaign_id=OuterRef("pk"), state=CampaignRecipient.State.PENDING)
    return (
        Campaign.objects.filter(pk=campaign_id, state=Campaign.State.RUNNING)
        .filter(~Exists(pending))
        .update(state=Campaign.State.COMPLETED, finished_at=now, updated_at=now)
        == 1
    )


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
