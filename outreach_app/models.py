"""Business-initiated messaging: campaigns to an audience, scheduled messages and the welcome template.

The messages themselves are ordinary `messaging_app.Message` rows sent through the outbox; these
models hold what was planned, for whom, and the link to the message that carried it.
"""

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone


class Campaign(models.Model):
    """An approved template sent to an audience, paced at the channel's throughput.

    The state is the source of truth for the dispatcher: it sends only while RUNNING, and a
    dispatcher holds `dispatch_lease_until` while it works, so two never run for one campaign.
    """

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    workspace = models.ForeignKey("workspaces_app.Workspace", on_delete=models.CASCADE, related_name="campaigns")
    channel = models.ForeignKey("channels_app.Channel", on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(max_length=120)
    template = models.ForeignKey(
        "channels_app.MessageTemplate", on_delete=models.SET_NULL, null=True, related_name="campaigns"
    )
    # Kept apart from the template row: a template deleted at Meta must not blur what was sent.
    template_name = models.CharField(max_length=512)
    template_language = models.CharField(max_length=16)
    # Value per template parameter; "{contact.name}", "{contact.phone}" or "{contact.<attribute>}" in a
    # value is filled from the recipient. A CSV column named like a parameter wins for its row.
    parameter_values = models.JSONField(default=dict, blank=True)
    header_media_link = models.URLField(max_length=1000, blank=True)
    # The audience besides imported rows: contacts with any of these tags and every attribute given.
    audience_tags = models.JSONField(default=list, blank=True)
    audience_attributes = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.DRAFT)
    state_reason = models.TextField(blank=True)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    audience_built_at = models.DateTimeField(null=True, blank=True)
    # While in the future a dispatcher is working on this campaign; the sweeper restarts one after it.
    dispatch_lease_until = models.DateTimeField(null=True, blank=True)
    # The latest CSV import: rows imported and every rejected row (line and reason).
    import_report = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "scheduled_at"], name="campaign_state_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_editable(self) -> bool:
        return self.state in (self.State.DRAFT, self.State.SCHEDULED)

    @property
    def is_finished(self) -> bool:
        return self.state in (self.State.COMPLETED, self.State.CANCELLED)

    @property
    def funnel_is_live(self) -> bool:
        """Statuses and replies keep arriving for a while after the last send; the console keeps refreshing."""
        if self.state == self.State.RUNNING:
            return True
        return self.finished_at is not None and timezone.now() - self.finished_at < timedelta(hours=1)


class CampaignRecipient(models.Model):
    """One contact in a campaign's audience and what happened to them.

    PENDING until the dispatcher reaches it; then SENT (a message row exists and carries the
    delivery status), SKIPPED (opted out, blocked, held back: `reason` says which) or FAILED
    (the message was refused before it could be queued).
    """

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Message queued"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed before sending"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    contact = models.ForeignKey("messaging_app.Contact", on_delete=models.CASCADE, related_name="campaign_recipients")
    # Values from the imported CSV row, by template parameter name.
    parameters = models.JSONField(default=dict, blank=True)
    source_line = models.PositiveIntegerField(null=True, blank=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    reason = models.CharField(max_length=300, blank=True)
    message = models.OneToOneField(
        "messaging_app.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="campaign_recipient"
    )
    processed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "contact"], name="campaign_recipient_unique_contact")
        ]
        indexes = [models.Index(fields=["campaign", "state", "id"], name="campaign_recipient_queue_idx")]

    def __str__(self) -> str:
        return f"{self.contact} in {self.campaign}"


class ScheduledMessage(models.Model):
    """A message to one contact at a set time (a reminder, an order update), sent by a periodic job.

    Claimed with one conditional UPDATE in the transaction that queues the message, so it is
    sent once however many schedulers run, and a schedule missed during downtime goes on recovery.
    """

    class State(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    workspace = models.ForeignKey(
        "workspaces_app.Workspace", on_delete=models.CASCADE, related_name="scheduled_messages"
    )
    channel = models.ForeignKey("channels_app.Channel", on_delete=models.CASCADE, related_name="scheduled_messages")
    contact = models.ForeignKey("messaging_app.Contact", on_delete=models.CASCADE, related_name="scheduled_messages")
    message_type = models.CharField(max_length=24)
    # Meta's `<type>` object, exactly as message_send takes it (a template with its components built).
    content = models.JSONField(default=dict)
    send_at = models.DateTimeField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.SCHEDULED)
    failure_reason = models.TextField(blank=True)
    message = models.OneToOneField(
        "messaging_app.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="scheduled_from"
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_via = models.CharField(max_length=16, default="console")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["send_at", "id"]
        indexes = [models.Index(fields=["state", "send_at"], name="scheduled_message_due_idx")]

    def __str__(self) -> str:
        return f"{self.message_type} to {self.contact} at {self.send_at:%Y-%m-%d %H:%M}"


class WelcomeTemplate(models.Model):
    """The template a channel sends when a contact writes to it for the first time ever."""

    channel = models.OneToOneField("channels_app.Channel", on_delete=models.CASCADE, related_name="welcome_template")
    template = models.ForeignKey("channels_app.MessageTemplate", on_delete=models.CASCADE, related_name="+")
    # As Campaign.parameter_values: literal text, or "{contact.name}"-style values filled per contact.
    parameter_values = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Welcome on {self.channel}: {self.template}"
