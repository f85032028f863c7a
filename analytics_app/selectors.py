"""Reads for the analytics page and its CSV: the daily rows of a date range, added up.

Only `DailyChannelStats` rows are read (a channel-day each), so a range of a year over many
channels is a few thousand small rows, however many messages lie behind them.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import Max

from analytics_app.histogram import buckets_add, buckets_empty, percentile_ms
from analytics_app.models import DailyChannelStats
from channels_app.models import Channel
from messaging_app.models import ConversationRating
from workspaces_app.models import Workspace

SLOW_TURN_SECONDS = 30
SCORE_LABELS = {1: "Poor", 3: "OK", 5: "Great"}


@dataclass
class Figures:
    """One day's figures (or a range's), all channels in scope added up."""

    inbound: int = 0
    outbound: int = 0
    sent: int = 0
    delivered: int = 0
    read: int = 0
    failed: int = 0
    agent_turns: int = 0
    turns_answered: int = 0
    turns_handed_off: int = 0
    turns_failed: int = 0
    slow_turns: int = 0
    conversations: int = 0
    agent_handled: int = 0
    handed_off: int = 0
    resolved_by_agent: int = 0
    response_ms_sum: float = 0.0
    response_buckets: list[int] = field(default_factory=buckets_empty)
    first_response_buckets: list[int] = field(default_factory=buckets_empty)
    failed_by_code: dict[str, dict] = field(default_factory=dict)
    ratings_by_score: dict[int, int] = field(default_factory=dict)

    _SUMMED = (
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
        "response_ms_sum",
    )

    def add(self, row: "DailyChannelStats | Figures") -> None:
        for name in self._SUMMED:
            setattr(self, name, getattr(self, name) + getattr(row, name))
        buckets_add(self.response_buckets, row.response_buckets)
        buckets_add(self.first_response_buckets, row.first_response_buckets)
        for key, entry in (row.failed_by_code or {}).items():
            mine = self.failed_by_code.setdefault(key, {"code": entry.get("code"), "title": "", "count": 0})
            mine["count"] += entry.get("count", 0)
            mine["title"] = mine["title"] or entry.get("title", "")
        for score, count in (row.ratings_by_score or {}).items():
            self.ratings_by_score[int(score)] = self.ratings_by_score.get(int(score), 0) + count

    @property
    def replies_timed(self) -> int:
        return sum(self.response_buckets)

    def response_percentile_ms(self, q: float) -> float | None:
        return percentile_ms(self.response_buckets, q)

    def first_response_percentile_ms(self, q: float) -> float | None:
        return percentile_ms(self.first_response_buckets, q)

    @property
    def ratings(self) -> int:
        return sum(self.ratings_by_score.values())

    @property
    def rating_average(self) -> float | None:
        if not self.ratings:
            return None
        return sum(score * count for score, count in self.ratings_by_score.items()) / self.ratings

    @property
    def failures(self) -> list[dict]:
        """Failed messages by reason, most frequent first."""
        return sorted(self.failed_by_code.values(), key=lambda e: (-e["count"], str(e["code"]), e["title"]))


@dataclass
class AnalyticsReport:
    start: date
    end: date
    channel: Channel | None
    days: list[tuple[date, Figures]]
    totals: Figures
    # The latest rollup behind these figures (or of the workspace, when the range has no rows).
    computed_at: datetime | None
    rows: int


def analytics_report(
    *, workspace: Workspace, start: date, end: date, channel: Channel | None = None
) -> AnalyticsReport:
    """The workspace's figures from `start` to `end` (local dates, both included), one channel or all.

    Days without a row read as zeros. Test-console channels never have rows.
    """
    rows = DailyChannelStats.objects.filter(workspace=workspace, day__gte=start, day__lte=end).exclude(
        channel__provider=Channel.Provider.TEST_CONSOLE
    )
    if channel is not None:
        rows = rows.filter(channel=channel)
    per_day: dict[date, Figures] = {}
    day = start
    while day <= end:
        per_day[day] = Figures()
        day += timedelta(days=1)
    totals = Figures()
    computed_at = None
    count = 0
    for row in rows:
        count += 1
        per_day[row.day].add(row)
        totals.add(row)
        computed_at = max(computed_at, row.computed_at) if computed_at else row.computed_at
    if computed_at is None:
        # No activity in range: still say how fresh the figures are, from the latest rollup of the workspace.
        computed_at = DailyChannelStats.objects.filter(workspace=workspace).aggregate(at=Max("computed_at"))["at"]
    return AnalyticsReport(
        start=start,
        end=end,
        channel=channel,
        days=list(per_day.items()),
        totals=totals,
        computed_at=computed_at,
        rows=count,
    )


def rating_comments_recent(
    *, workspace: Workspace, start_at: datetime, end_at: datetime, channel: Channel | None = None, limit: int = 10
) -> list[ConversationRating]:
    """The latest answered ratings with a comment in [start_at, end_at), newest first (an indexed read)."""
    ratings = (
        ConversationRating.objects.filter(
            workspace=workspace, answered_at__gte=start_at, answered_at__lt=end_at, score__isnull=False
        )
        .exclude(comment="")
        .exclude(conversation__channel__provider=Channel.Provider.TEST_CONSOLE)
        .select_related("conversation__contact", "conversation__channel")
        .order_by("-answered_at")
    )
    if channel is not None:
        ratings = ratings.filter(conversation__channel=channel)
    return list(ratings[:limit])
