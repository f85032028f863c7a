from django.db import models

from analytics_app.histogram import buckets_empty


class DailyChannelStats(models.Model):
    """One channel's figures for one day of its workspace's calendar, recomputed from the source rows.

    Written only by `analytics_app.services.rollup`, which recomputes a whole day from messages,
    agent runs and ratings and overwrites the row: running it again never double counts.
    Test-console channels never get a row. Definitions of each figure are on the analytics page
    (templates/analytics/dashboard.html) and in the rollup's docstring.
    """

    workspace = models.ForeignKey("workspaces_app.Workspace", on_delete=models.CASCADE, related_name="daily_stats")
    channel = models.ForeignKey("channels_app.Channel", on_delete=models.CASCADE, related_name="daily_stats")
    # A date in the workspace's time zone at the time of the rollup.
    day = models.DateField()
    # Volume, by Message.timestamp.
    inbound = models.PositiveIntegerField(default=0)
    outbound = models.PositiveIntegerField(default=0)
    # Delivery funnel of that day's outbound messages; a later stage implies the earlier ones.
    sent = models.PositiveIntegerField(default=0)
    delivered = models.PositiveIntegerField(default=0)
    read = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    # {"131026": {"code": 131026, "title": "Message undeliverable", "count": 3}, "none:Channel unavailable": ...}
    failed_by_code = models.JSONField(default=dict, blank=True)
    # Agent turns (AgentRun, by started_at) that ended answered, handed off or failed.
    agent_turns = models.PositiveIntegerField(default=0)
    turns_answered = models.PositiveIntegerField(default=0)
    turns_handed_off = models.PositiveIntegerField(default=0)
    turns_failed = models.PositiveIntegerField(default=0)
    slow_turns = models.PositiveIntegerField(default=0)
    # Counts per analytics_app.histogram.RESPONSE_BUCKETS_MS bucket: every reply, and each conversation's first.
    response_buckets = models.JSONField(default=buckets_empty)
    response_ms_sum = models.FloatField(default=0)
    first_response_buckets = models.JSONField(default=buckets_empty)
    # Conversation-days: a conversation counts on each day the customer wrote or the agent took a turn.
    conversations = models.PositiveIntegerField(default=0)
    agent_handled = models.PositiveIntegerField(default=0)
    handed_off = models.PositiveIntegerField(default=0)
    resolved_by_agent = models.PositiveIntegerField(default=0)
    # Satisfaction answers (ConversationRating.answered_at): {"1": n, "3": n, "5": n}.
    ratings_by_score = models.JSONField(default=dict, blank=True)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["day", "channel_id"]
        verbose_name = "daily channel figures"
        verbose_name_plural = "daily channel figures"
        constraints = [models.UniqueConstraint(fields=["channel", "day"], name="daily_stats_unique_channel_day")]
        indexes = [models.Index(fields=["workspace", "day"], name="daily_stats_workspace_day_idx")]

    def __str__(self) -> str:
        return f"{self.channel_id} on {self.day}"
