"""Reads for outreach: campaign lists, the live funnel, per-recipient outcomes, scheduled messages."""

from collections.abc import Iterator

from django.db.models import Count, DateTimeField, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Trunc

from channels_app.whatsapp.errors import plain_reason
from messaging_app.models import Message
from outreach_app.models import Campaign, CampaignRecipient, ScheduledMessage, WelcomeTemplate

_REACHED_SENT = (Message.Status.SENT, Message.Status.DELIVERED, Message.Status.READ, Message.Status.PLAYED)


def campaigns_list(*, workspace) -> QuerySet[Campaign]:
    return Campaign.objects.filter(workspace=workspace).select_related("channel", "template")


def campaign_get(*, workspace, public_id) -> Campaign | None:
    return campaigns_list(workspace=workspace).filter(public_id=public_id).first()


def _replies_after() -> QuerySet[Message]:
    """Customer messages in the campaign message's conversation from the second it was queued on
    (the outer query annotates `message_second`, see _with_message_second).

    Meta stamps messages to the second, so a reply within the same second as our send still counts.
    """
    return Message.objects.filter(
        conversation_id=OuterRef("message__conversation_id"),
        direction=Message.Direction.INBOUND,
        timestamp__gte=OuterRef("message_second"),
    )


def _with_message_second(recipients: QuerySet[CampaignRecipient]) -> QuerySet[CampaignRecipient]:
    return recipients.annotate(message_second=Trunc("message__timestamp", "second", output_field=DateTimeField()))


def campaign_funnel(*, campaign: Campaign) -> dict:
    """queued → sent → delivered → read → replied, failures by Meta's reason, skips by ours.

    Counts are cumulative: a read message was also delivered and sent. Computed from the
    messages' folded statuses, so they follow the status webhooks as they arrive.
    """
    recipients = CampaignRecipient.objects.filter(campaign=campaign)
    by_state = dict(recipients.values_list("state").annotate(n=Count("pk")).values_list("state", "n"))
    messages = Message.objects.filter(campaign_recipient__campaign=campaign)
    counts = messages.aggregate(
        queued=Count("pk"),
        sent=Count("pk", filter=Q(sent_at__isnull=False) | Q(status__in=_REACHED_SENT)),
        delivered=Count("pk", filter=Q(delivered_at__isnull=False) | Q(status__in=_REACHED_SENT[1:])),
        read=Count("pk", filter=Q(read_at__isnull=False) | Q(status__in=_REACHED_SENT[2:])),
        failed=Count("pk", filter=Q(status=Message.Status.FAILED)),
    )
    counts["replied"] = (
        _with_message_second(recipients.filter(message__isnull=False)).filter(Exists(_replies_after())).count()
    )
    failed_by_reason = [
        {
            "code": row["error_code"],
            "title": row["error_title"] or "Failed",
            "reason": plain_reason(row["error_code"]) or row["error_title"] or "",
            "count": row["n"],
        }
        for row in messages.filter(status=Message.Status.FAILED)
        .values("error_code", "error_title")
        .annotate(n=Count("pk"))
        .order_by("-n", "error_code")
    ]
    for row in (
        recipients.filter(state=CampaignRecipient.State.FAILED).values("reason").annotate(n=Count("pk")).order_by("-n")
    ):
        failed_by_reason.append(
            {"code": None, "title": "Refused before sending", "reason": row["reason"], "count": row["n"]}
        )
    skipped_by_reason = [
        {"reason": row["reason"], "count": row["n"]}
        for row in recipients.filter(state=CampaignRecipient.State.SKIPPED)
        .values("reason")
        .annotate(n=Count("pk"))
        .order_by("-n", "reason")
    ]
    return {
        "recipients": sum(by_state.values()),
        "pending": by_state.get(CampaignRecipient.State.PENDING, 0),
        "skipped": by_state.get(CampaignRecipient.State.SKIPPED, 0),
        **counts,
        "failed": counts["failed"] + by_state.get(CampaignRecipient.State.FAILED, 0),
        "failed_by_reason": failed_by_reason,
        "skipped_by_reason": skipped_by_reason,
    }


EXPORT_COLUMNS = [
    "phone",
    "name",
    "outcome",
    "reason",
    "message_status",
    "wamid",
    "queued_at",
    "sent_at",
    "delivered_at",
    "read_at",
    "replied_at",
    "failed_at",
    "error_code",
    "error_title",
]


def campaign_outcome_rows(*, campaign: Campaign) -> Iterator[list[str]]:
    """One row per recipient for the CSV export (EXPORT_COLUMNS), in import/audience order."""
    first_reply = Subquery(_replies_after().order_by("timestamp").values("timestamp")[:1])
    rows = (
        _with_message_second(CampaignRecipient.objects.filter(campaign=campaign))
        .select_related("contact", "message")
        .annotate(replied_at=first_reply)
        .order_by("id")
    )

    def when(value) -> str:
        return value.isoformat() if value else ""

    for recipient in rows.iterator(chunk_size=1000):
        message = recipient.message
        contact = recipient.contact
        if message is None:
            outcome = recipient.get_state_display().lower()
        elif message.status == Message.Status.FAILED:
            outcome = "failed"
        elif recipient.replied_at:
            outcome = "replied"
        else:
            outcome = message.get_status_display().lower()
        yield [
            contact.phone_display,
            contact.profile_name,
            outcome,
            recipient.reason,
            message.status if message else "",
            (message.wamid or "") if message else "",
            when(message.timestamp if message else None),
            when(message.sent_at if message else None),
            when(message.delivered_at if message else None),
            when(message.read_at if message else None),
            when(recipient.replied_at),
            when(message.failed_at if message else None),
            str(message.error_code) if message and message.error_code is not None else "",
            message.error_title if message else "",
        ]


def scheduled_messages_list(*, workspace, state: str | None = None) -> QuerySet[ScheduledMessage]:
    rows = ScheduledMessage.objects.filter(workspace=workspace).select_related("channel", "contact", "message")
    return rows.filter(state=state) if state else rows


def scheduled_message_get(*, workspace, public_id) -> ScheduledMessage | None:
    return scheduled_messages_list(workspace=workspace).filter(public_id=public_id).first()


def welcome_templates_for(*, workspace) -> dict[int, WelcomeTemplate]:
    return {
        w.channel_id: w
        for w in WelcomeTemplate.objects.filter(channel__workspace=workspace).select_related("template", "channel")
    }
