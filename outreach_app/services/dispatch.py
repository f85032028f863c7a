"""A running campaign's dispatcher: pending recipients become sends at the number's pace, each once.

One dispatcher per running campaign works in time-bounded slices, then re-enqueues itself; a lease
on the campaign row lets one dispatcher at a time work on it, and the sweeper (campaigns.py)
restarts a running campaign whose lease lapsed. Within a slice, the calling thread queues the
messages of a chunk of recipients at a time (a tenth of a second of sends, in a handful of
statements: the recipients and their contacts read and locked together, consent checked, the
conversations fetched or created, the messages inserted and the recipients marked, all at once),
and a few lanes (threads) deliver them at once with message_deliver, overlapping the Graph round
trips. So 10,000 recipients are a few dozen slices and about a thousand small transactions, not
10,000 tasks fighting for the rate limit's tokens.

Two bounds keep the number under Meta's limit. The chunks are paced at 95% of the number's
throughput. And no send starts while the sends that Meta may still count in the coming second (those
that finished less than a second ago, and those still on their way) already make 97.5% of it: Meta
counts a send in the second it arrives, which is after it started and before its answer came back,
so this holds in every sliding second whatever the round trip takes. The share left over is for the
number's conversations: every send, campaign or reply, also takes its token from the outbox's shared
`mps:<phone_number_id>` bucket in message_deliver.
"""

import logging
import math
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from channels_app.models import Channel, MessageTemplate
from channels_app.whatsapp.payloads import PayloadInvalid
from messaging_app.errors import ChannelUnavailable
from messaging_app.models import Message
from messaging_app.services.consent import MARKETING_LIMITED
from messaging_app.services.contacts import conversations_for_contacts
from messaging_app.services.outbound import message_deliver, template_messages_queue
from outreach_app.models import Campaign, CampaignRecipient
from outreach_app.services.template_values import template_message_content, values_for_contact
from whatsapp_platform.bulk import rows_update
from whatsapp_platform.errors import PlatformError

logger = logging.getLogger(__name__)

# Campaigns are paced at this share of the number's messages per second...
CAMPAIGN_THROUGHPUT_SHARE = 0.95
# ...and never have more than this share counted by Meta in any one second: the rest is the
# conversations' (agent and teammate replies on the same number).
CAMPAIGN_WINDOW_SHARE = 0.975
# A dispatcher works this long, then hands over to a fresh task (workers stay responsive).
CAMPAIGN_SLICE_SECONDS = 10.0
# A dispatcher's lease outlives its slice by this much; after that the sweeper restarts the campaign.
CAMPAIGN_LEASE_GRACE_SECONDS = 30
# Sends on their way at once, at most; each waits on a Graph round trip, so a few overlap.
CAMPAIGN_MAX_LANES = 32
# A chunk holds about this long's worth of sends (one transaction queues them all), and at most this many.
CAMPAIGN_CHUNK_SECONDS = 0.1
CAMPAIGN_MAX_CHUNK = 50
MARKETING_LIMIT_HOLD = timedelta(hours=24)
_STATE_CHECK_SECONDS = 0.5


@dataclass(frozen=True)
class Pace:
    rate: float  # sends per second, chunk by chunk
    window: int  # most sends Meta may count in any one second
    lanes: int  # sends on their way at once
    chunk: int  # recipients queued in one transaction


def campaign_pace(channel: Channel) -> Pace:
    """How a campaign on this number is paced: 76 msg/s in chunks of 8, at most 78 counted in any second,
    7 lanes, at the default 80 msg/s; 950 msg/s in chunks of 50, at most 975, 32 lanes at 1,000."""
    limit = channel.throughput_mps or settings.WHATSAPP_DEFAULT_MPS
    rate = limit * CAMPAIGN_THROUGHPUT_SHARE
    return Pace(
        rate=rate,
        window=max(1, math.floor(limit * CAMPAIGN_WINDOW_SHARE)),
        # A send takes a few tens of milliseconds end to end (Graph's answer and our writes).
        lanes=max(2, min(CAMPAIGN_MAX_LANES, math.ceil(rate / 12))),
        chunk=max(1, min(CAMPAIGN_MAX_CHUNK, round(rate * CAMPAIGN_CHUNK_SECONDS))),
    )


class _Pacer:
    """Spaces chunks evenly: a chunk of n waits n / rate after the one before. A stalled dispatcher
    never catches up in a rush (the next chunk is due from now, not from when it should have been)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._next = time.monotonic()

    def acquire(self, count: int, deadline: float) -> bool:
        """Wait for `count` sends' turn; False when it would come after the deadline."""
        now = time.monotonic()
        start = max(now, self._next)
        if start > deadline:
            return False
        if start > now:
            time.sleep(start - now)
        self._next = start + count / self.rate
        return True

    def refund(self, count: int) -> None:
        """Recipients that were skipped sent nothing: their turns go to the next chunk."""
        self._next = max(time.monotonic(), self._next - count / self.rate)


class _SendMeter:
    """The sliding second as Meta counts it, bounded from our side.

    Meta counts a send in the second it arrives: after the send started, before its answer came
    back. A send that starts at t can share a second with every send whose answer came after t - 1
    or has not come yet; so a send starts only while there are fewer than `limit` of those.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._finished: deque[float] = deque()
        self._on_the_way = 0
        self._changed = threading.Condition()

    def start(self) -> None:
        with self._changed:
            while True:
                now = time.monotonic()
                while self._finished and self._finished[0] <= now - 1.0:
                    self._finished.popleft()
                if self._on_the_way + len(self._finished) < self.limit:
                    self._on_the_way += 1
                    return
                # Room comes when the oldest finished send leaves the second (or, with none, a send finishes).
                self._changed.wait(self._finished[0] + 1.0 - now if self._finished else None)

    def finish(self) -> None:
        with self._changed:
            self._on_the_way -= 1
            self._finished.append(time.monotonic())
            self._changed.notify()


def campaign_dispatch(*, campaign_id: int, time_budget_seconds: float = CAMPAIGN_SLICE_SECONDS) -> bool:
    """Send to pending recipients for one slice; True when another slice should follow.

    Safe to call any number of times, even at once: a lease lets one dispatcher at a time work on a
    campaign, and should two ever overlap (a lease that lapsed under a slow one), each recipient is
    locked and re-read as pending in the transaction that queues its message, so it is sent once.
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
    campaign = Campaign.objects.select_related("channel", "template", "created_by").get(pk=campaign_id)
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

    The calling thread queues chunks of recipients, in id order, at the pace; the lanes deliver
    each message at once, so sends leave at the pace set here rather than whenever a busy worker
    picks up a task. A message queued here is delivered even when the campaign is paused meanwhile
    (messages already queued still go; a cancelled campaign's are failed before they leave), and a
    message a lane could not deliver (the slice failed) is left queued for the outbox sweeper.
    """

    def __init__(self, campaign: Campaign, *, deadline: float) -> None:
        self.campaign = campaign
        self.deadline = deadline
        self.pace = campaign_pace(campaign.channel)
        self.pacer = _Pacer(self.pace.rate)
        self.meter = _SendMeter(self.pace.window)
        self.stop = threading.Event()
        self.failure: BaseException | None = None
        self.work: queue.Queue = queue.Queue(maxsize=self.pace.lanes)
        self.lanes = [
            threading.Thread(target=self._lane, name=f"campaign-{campaign.pk}-lane-{i}") for i in range(self.pace.lanes)
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
        # Recipients passed over (their contact locked by a conversation at that moment) are still pending.
        return more or self.campaign.recipients.filter(state=CampaignRecipient.State.PENDING).exists()

    def _feed(self) -> bool:
        cursor, checked = 0, 0.0
        while not self.stop.is_set() and self.failure is None:
            if time.monotonic() - checked >= _STATE_CHECK_SECONDS:
                if not self._still_sending():
                    self.stop.set()
                    return False
                checked = time.monotonic()
            if not self.pacer.acquire(self.pace.chunk, self.deadline):
                return True
            try:
                chunk = _chunk_queue(self.campaign, after_id=cursor, size=self.pace.chunk)
            except _CampaignStopped:
                self.stop.set()
                return False
            except ChannelUnavailable as exc:
                self.stop.set()
                _campaign_stop(self.campaign, f"Paused: {exc.message}")
                return False
            if chunk is None:
                return False
            cursor, messages = chunk
            self.pacer.refund(self.pace.chunk - len(messages))
            for message in messages:
                self.work.put(message)  # the lanes take whatever is queued (see _lane): never a long wait
        return False

    def _still_sending(self) -> bool:
        """Still running, the template still approved and the channel still active (read afresh)."""
        state, channel_status, channel_reason = (
            Campaign.objects.filter(pk=self.campaign.pk)
            .values_list("state", "channel__status", "channel__status_reason")
            .get()
        )
        if state != Campaign.State.RUNNING:
            return False  # paused or cancelled by someone
        channel = self.campaign.channel
        channel.status, channel.status_reason = channel_status, channel_reason
        template = MessageTemplate.objects.filter(pk=self.campaign.template_id).first()
        if template is None or template.status != "APPROVED":
            state = template.status.lower() if template else "deleted"
            _campaign_stop(
                self.campaign,
                f"The template {self.campaign.template_name} is {state} at WhatsApp; choose another template "
                "or wait until it is approved again, then resume.",
            )
            return False
        self.campaign.template = template
        return True

    def _lane(self) -> None:
        # A lane takes from the queue until told it is done, even after a failure, so the dispatcher's
        # thread never waits on a full queue for ever.
        try:
            while True:
                message = self.work.get()
                if message is _DONE:
                    return
                if self.failure is not None:
                    continue  # left queued: the outbox sweeper sends it
                self.meter.start()
                try:
                    message_deliver(message_id=message.pk)
                except BaseException as exc:  # reported by run(); the lease lapses and the sweeper restarts
                    self.failure = exc
                    self.stop.set()
                finally:
                    self.meter.finish()
        finally:
            connection.close()


class _CampaignStopped(Exception):
    """Paused or cancelled since the last look: the chunk queues nothing."""


def _skip_reason(recipient: CampaignRecipient) -> str:
    contact = recipient.contact
    if contact.blocked_at is not None:
        return "Blocked contact"
    if contact.marketing_opt_out:
        return "Opted out of marketing"
    if recipient.marketing_limited:
        return "Marketing limit (131049) in the last 24 hours; not retried yet"
    return ""


def _chunk_queue(campaign: Campaign, *, after_id: int, size: int) -> tuple[int, list[Message]] | None:
    """Queue the messages of the next `size` pending recipients after `after_id`, in one transaction.

    Returns (the last recipient id looked at, the messages queued), or None when no pending recipient
    is left after `after_id`; raises _CampaignStopped when the campaign is no longer running. Contacts
    are read here, at send time, and locked with their recipients until the messages are queued: an
    opt-out or a block a moment ago counts, and a recipient another dispatcher holds is passed over
    (and then found no longer pending).
    """
    limited = Message.objects.filter(
        contact_id=OuterRef("contact_id"),
        direction=Message.Direction.OUTBOUND,
        status=Message.Status.FAILED,
        error_code=MARKETING_LIMITED,
        failed_at__gte=timezone.now() - MARKETING_LIMIT_HOLD,
    )
    with transaction.atomic():
        # The campaign row stays locked until the chunk is queued: a cancel waits for it and then fails
        # these messages before they leave; a chunk that comes after a pause or a cancel queues nothing.
        running = Campaign.objects.select_for_update(no_key=True).filter(pk=campaign.pk, state=Campaign.State.RUNNING)
        if not list(running.values_list("pk", flat=True)):
            raise _CampaignStopped
        recipients = list(
            CampaignRecipient.objects.filter(
                campaign_id=campaign.pk, state=CampaignRecipient.State.PENDING, pk__gt=after_id
            )
            .select_related("contact")
            .annotate(marketing_limited=Exists(limited))
            .order_by("id")
            .select_for_update(no_key=True, skip_locked=True, of=("self", "contact"))[:size]
        )
        if not recipients:
            return None
        outcome: dict[int, tuple[str, str]] = {}  # recipient id -> (state, reason) when not sent
        sendable = []
        for recipient in recipients:
            reason = _skip_reason(recipient)
            if reason:
                outcome[recipient.pk] = (CampaignRecipient.State.SKIPPED, reason)
                continue
            values = values_for_contact(
                defaults=campaign.parameter_values, overrides=recipient.parameters, contact=recipient.contact
            )
            try:
                content = template_message_content(
                    template=campaign.template, values=values, header_media_link=campaign.header_media_link
                )
            except (PlatformError, PayloadInvalid) as exc:
                outcome[recipient.pk] = (CampaignRecipient.State.FAILED, getattr(exc, "message", None) or str(exc))
                continue
            sendable.append((recipient, content))
        conversations = conversations_for_contacts(
            channel=campaign.channel, contacts=[recipient.contact for recipient, _ in sendable]
        )
        results = template_messages_queue(
            channel=campaign.channel,
            sends=[(conversations[recipient.contact_id], content) for recipient, content in sendable],
            sender_user=campaign.created_by,
        )
        messages = []
        for (recipient, _), result in zip(sendable, results, strict=True):
            if isinstance(result, Message):
                recipient.state, recipient.message = CampaignRecipient.State.SENT, result
                messages.append(result)
            else:
                outcome[recipient.pk] = (CampaignRecipient.State.FAILED, result.message)
        now = timezone.now()
        for recipient in recipients:
            if recipient.pk in outcome:
                recipient.state, reason = outcome[recipient.pk]
                recipient.reason = reason[:300]
            recipient.processed_at = now
        rows_update(CampaignRecipient, recipients, ["state", "reason", "message", "processed_at"])
    return recipients[-1].pk, messages


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
