"""The daily rollup: each channel's figures for one local day, recomputed from the source rows.

A day is recomputed whole (messages, agent runs, ratings in that day's bounds in the workspace's
time zone) and written over the previous rows with one upsert per channel, so running it twice,
or two workers running it at once, leaves the same numbers: nothing is ever added to a stored
count. Test-console channels are left out.

Definitions (the analytics page states them too):
- Volume and the delivery funnel count messages by `Message.timestamp`. Of a day's outbound
  messages, `sent` reached WhatsApp's sent stage (or later), `delivered` and `read` likewise;
  `failed` ended failed, by `error_code` (no code: it failed before WhatsApp answered).
- Agent turns are `AgentRun` rows by `started_at` that ended answered, handed off or failed;
  `slow` ones took over 30 s. Response times are `AgentRun.response_ms` (the customer's first
  message of the turn to the agent's first reply), counted in histogram buckets; "first
  response" is the first reply of each conversation-day.
- A conversation-day is a conversation on a day the customer wrote in it or the agent took a turn.
  It was handed to a human when, that day, an agent turn ended handed off or failed (its
  fallback promises a teammate), or a teammate wrote in it.
- It was resolved by the agent alone when the agent answered that day, nothing went to a human
  that day, and then nothing went to a human for 24 hours after the agent's last answer either;
  it counts once it is closed or those 24 hours have passed (idle). Until then it is pending.
"""

import logging
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from agents_app.models import AgentRun
from analytics_app.histogram import bucket_index, buckets_empty
from analytics_app.models import DailyChannelStats
from channels_app.models import Channel
from messaging_app.models import Conversation, ConversationRating, Message
from workspaces_app.models import Workspace

logger = logging.getLogger(__name__)

# A conversation-day is resolved by the agent only if no human had to step in this long after its last answer.
RESOLUTION_QUIET = timedelta(hours=24)
# The periodic job recomputes this many local days, today included. A day's last answer settles
# up to 24 h later, so the day after next still sees it settle (and late receipts get counted).
RECENT_DAYS = 3

_SENT = Q(sent_at__isnull=False) | Q(status__in=["sent", "delivered", "read", "played"])
_DELIVERED = Q(delivered_at__isnull=False) | Q(status__in=["delivered", "read", "played"])
_READ = Q(read_at__isnull=False) | Q(status__in=["read", "played"])
_FAILED = Q(status=Message.Status.FAILED)
_TURN_FIELDS = {
    AgentRun.Status.ANSWERED: "turns_answered",
    AgentRun.Status.HANDED_OFF: "turns_handed_off",
    AgentRun.Status.FAILED: "turns_failed",
}
_HANDOFF_STATUSES = (AgentRun.Status.HANDED_OFF, AgentRun.Status.FAILED)
_COUNT_FIELDS = (
    "inbound",
    "outbound",
    "sent",
    "delivered",
    "read",
    "failed",
    "agent_turns",
    "turns_answered",
    "turns_handed_off",
    "turns_failed",
    "slow_turns",
    "conversations",
    "agent_handled",
    "handed_off",
    "resolved_by_agent",
)
_WRITTEN_FIELDS = (
    *_COUNT_FIELDS,
    "failed_by_code",
    "response_buckets",
    "response_ms_sum",
    "first_response_buckets",
    "ratings_by_score",
    "computed_at",
)


def workspace_zone(workspace: Workspace) -> ZoneInfo:
    """The workspace's time zone; an unknown name reads as UTC rather than breaking reports."""
    try:
        return ZoneInfo(workspace.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        logger.warning("unknown workspace time zone", extra={"workspace_id": workspace.pk, "tz": workspace.timezone})
        return ZoneInfo("UTC")


def local_today(workspace: Workspace, *, now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(workspace_zone(workspace)).date()


def local_day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of a local calendar day, in UTC: 23 or 25 hours long on the days clocks change."""

    def midnight(d: date) -> datetime:
        return datetime.combine(d, time(), tzinfo=tz).astimezone(UTC)

    return midnight(day), midnight(day + timedelta(days=1))


def _blank() -> dict:
    figures = dict.fromkeys(_COUNT_FIELDS, 0)
    figures.update(
        failed_by_code={},
        response_buckets=buckets_empty(),
        response_ms_sum=0.0,
        first_response_buckets=buckets_empty(),
        ratings_by_score={},
    )
    return figures


def _is_empty(figures: dict) -> bool:
    return not any(figures[name] for name in _COUNT_FIELDS) and not figures["ratings_by_score"]


def failure_key(code: int | None, title: str) -> str:
    """How failures are grouped: by Graph error code, or by reason when the send never got a code."""
    return str(code) if code is not None else f"none:{title or 'Unknown'}"


def _messages(figures, *, workspace, channel_ids, start, end) -> None:
    rows = (
        Message.objects.filter(workspace=workspace, channel_id__in=channel_ids, timestamp__gte=start, timestamp__lt=end)
        .values("channel_id", "direction")
        .annotate(
            total=Count("pk"),
            sent=Count("pk", filter=_SENT),
            delivered=Count("pk", filter=_DELIVERED),
            read=Count("pk", filter=_READ),
            failed=Count("pk", filter=_FAILED),
        )
    )
    for row in rows:
        f = figures[row["channel_id"]]
        if row["direction"] == Message.Direction.INBOUND:
            f["inbound"] += row["total"]
            continue
        f["outbound"] += row["total"]
        for stage in ("sent", "delivered", "read", "failed"):
            f[stage] += row[stage]
    failures = (
        Message.objects.filter(
            workspace=workspace,
            channel_id__in=channel_ids,
            timestamp__gte=start,
            timestamp__lt=end,
            direction=Message.Direction.OUTBOUND,
            status=Message.Status.FAILED,
        )
        .values("channel_id", "error_code", "error_title")
        .annotate(n=Count("pk"))
    )
    for row in failures:
        code, title = row["error_code"], row["error_title"]
        by_code = figures[row["channel_id"]]["failed_by_code"]
        entry = by_code.setdefault(failure_key(code, title), {"code": code, "title": title, "count": 0})
        entry["count"] += row["n"]
        entry["title"] = entry["title"] or title


def _turns_and_conversations(figures, *, workspace, channel_ids, start, end, now) -> None:
    # Conversations the customer wrote in that day, with their channel.
    active: dict[int, int] = dict(
        Message.objects.filter(
            workspace=workspace,
            channel_id__in=channel_ids,
            direction=Message.Direction.INBOUND,
            timestamp__gte=start,
            timestamp__lt=end,
        )
        .values_list("conversation_id", "channel_id")
        .order_by()  # without it the model's ordering columns join the DISTINCT
        .distinct()
    )
    runs = (
        AgentRun.objects.filter(
            workspace=workspace,
            conversation__channel_id__in=channel_ids,
            started_at__gte=start,
            started_at__lt=end,
        )
        .order_by("started_at", "pk")
        .values_list("conversation_id", "conversation__channel_id", "status", "response_ms", "slow", "started_at")
    )
    handed: set[int] = set()
    agent_ran: set[int] = set()
    first_replied: set[int] = set()
    last_answer: dict[int, datetime] = {}
    for conversation_id, channel_id, status, response_ms, slow, started_at in runs:
        active.setdefault(conversation_id, channel_id)
        f = figures[channel_id]
        if status in _TURN_FIELDS:
            f["agent_turns"] += 1
            f[_TURN_FIELDS[status]] += 1
            agent_ran.add(conversation_id)
        if slow:
            f["slow_turns"] += 1
        if response_ms is not None:
            f["response_buckets"][bucket_index(response_ms)] += 1
            f["response_ms_sum"] += response_ms
            if conversation_id not in first_replied:
                first_replied.add(conversation_id)
                f["first_response_buckets"][bucket_index(response_ms)] += 1
        if status in _HANDOFF_STATUSES:
            handed.add(conversation_id)
        elif status == AgentRun.Status.ANSWERED:
            last_answer[conversation_id] = started_at  # runs come in order: the last one wins

    # A teammate writing takes the conversation over; later ones (and later handoffs) undo a resolution.
    human_later: dict[int, list[datetime]] = defaultdict(list)
    teammate_messages = Message.objects.filter(
        workspace=workspace,
        channel_id__in=channel_ids,
        direction=Message.Direction.OUTBOUND,
        sender=Message.Sender.TEAMMATE,
        timestamp__gte=start,
        timestamp__lt=end + RESOLUTION_QUIET,
    ).values_list("conversation_id", "timestamp")
    for conversation_id, timestamp in teammate_messages:
        if timestamp < end:
            if conversation_id in active:
                handed.add(conversation_id)
        else:
            human_later[conversation_id].append(timestamp)
    later_handoffs = AgentRun.objects.filter(
        workspace=workspace,
        conversation__channel_id__in=channel_ids,
        status__in=_HANDOFF_STATUSES,
        started_at__gte=end,
        started_at__lt=end + RESOLUTION_QUIET,
    ).values_list("conversation_id", "started_at")
    for conversation_id, started_at in later_handoffs:
        human_later[conversation_id].append(started_at)

    candidates: dict[int, datetime] = {}
    for conversation_id, answered_at in last_answer.items():
        if conversation_id in handed:
            continue
        if any(answered_at < moment <= answered_at + RESOLUTION_QUIET for moment in human_later[conversation_id]):
            continue
        candidates[conversation_id] = answered_at
    resolved = {c for c, answered_at in candidates.items() if now >= answered_at + RESOLUTION_QUIET}
    unsettled = [c for c in candidates if c not in resolved]
    # Closed since the agent's last answer: resolved without waiting out the 24 hours.
    for offset in range(0, len(unsettled), 5000):
        closed = Conversation.objects.filter(
            pk__in=unsettled[offset : offset + 5000], state=Conversation.State.CLOSED
        ).values_list("pk", "closed_at")
        resolved.update(c for c, closed_at in closed if closed_at is not None and closed_at >= candidates[c])

    for conversation_id, channel_id in active.items():
        f = figures[channel_id]
        f["conversations"] += 1
        f["agent_handled"] += conversation_id in agent_ran
        f["handed_off"] += conversation_id in handed
        f["resolved_by_agent"] += conversation_id in resolved


def _ratings(figures, *, workspace, channel_ids, start, end) -> None:
    rows = (
        ConversationRating.objects.filter(
            workspace=workspace,
            answered_at__gte=start,
            answered_at__lt=end,
            score__isnull=False,
            conversation__channel_id__in=channel_ids,
        )
        .values("conversation__channel_id", "score")
        .annotate(n=Count("pk"))
    )
    for row in rows:
        by_score = figures[row["conversation__channel_id"]]["ratings_by_score"]
        by_score[str(row["score"])] = by_score.get(str(row["score"]), 0) + row["n"]


def daily_stats_rollup(*, workspace: Workspace, day: date, now: datetime | None = None) -> int:
    """Recompute one local day of the workspace, every WhatsApp channel. Returns the rows written.

    Idempotent: the rows are overwritten (an upsert on channel and day), and a channel with
    nothing left that day loses its row.
    """
    now = now or timezone.now()
    start, end = local_day_bounds(day, workspace_zone(workspace))
    channel_ids = list(Channel.objects.whatsapp().filter(workspace=workspace).values_list("pk", flat=True))
    figures: dict[int, dict] = defaultdict(_blank)
    if channel_ids and start <= now:
        scope = {"workspace": workspace, "channel_ids": channel_ids, "start": start, "end": end}
        _messages(figures, **scope)
        _turns_and_conversations(figures, now=now, **scope)
        _ratings(figures, **scope)
    rows = [
        DailyChannelStats(workspace=workspace, channel_id=channel_id, day=day, computed_at=now, **values)
        for channel_id, values in figures.items()
        if not _is_empty(values)
    ]
    with transaction.atomic():
        DailyChannelStats.objects.filter(workspace=workspace, day=day).exclude(
            channel_id__in=[row.channel_id for row in rows]
        ).delete()
        DailyChannelStats.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["channel", "day"], update_fields=list(_WRITTEN_FIELDS)
        )
    return len(rows)


def daily_stats_rollup_days(*, workspace: Workspace, days: int, now: datetime | None = None) -> int:
    """Recompute the workspace's last `days` local days, today included. Returns the rows written."""
    now = now or timezone.now()
    today = local_today(workspace, now=now)
    return sum(
        daily_stats_rollup(workspace=workspace, day=today - timedelta(days=back), now=now) for back in range(days)
    )


def daily_stats_rollup_recent(*, days: int = RECENT_DAYS, now: datetime | None = None) -> dict[str, int]:
    """The periodic job: recompute the last few days of every workspace that had activity in them.

    A workspace with no message in the window (and no rows to clear) is skipped, so idle
    workspaces cost nothing. A conversation's `last_message_at` (indexed) is its latest message,
    and every rating answer and agent turn comes with a message, so conversations written in
    since the window began name every workspace to recompute.
    """
    now = now or timezone.now()
    # A day longer than the window: whatever the workspace's UTC offset, its local days are covered.
    since = now - timedelta(days=days + 1)
    workspace_ids = set(
        Conversation.objects.filter(last_message_at__gte=since)
        .exclude(channel__provider=Channel.Provider.TEST_CONSOLE)
        .values_list("workspace_id", flat=True)
        .order_by()
        .distinct()
    )
    workspace_ids |= set(
        DailyChannelStats.objects.filter(day__gte=since.date() - timedelta(days=1))
        .values_list("workspace_id", flat=True)
        .order_by()
        .distinct()
    )
    written = 0
    for workspace in Workspace.objects.filter(pk__in=workspace_ids).order_by("pk"):
        written += daily_stats_rollup_days(workspace=workspace, days=days, now=now)
    return {"workspaces": len(workspace_ids), "rows": written}
