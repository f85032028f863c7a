import uuid

from django.conf import settings
from django.db import models


class Contact(models.Model):
    """A WhatsApp user as one channel sees them.

    The business-scoped user id (BSUID) is the primary identity when present; users with a
    username may arrive without a phone number at all. Number or id changes update this row.
    """

    workspace = models.ForeignKey("workspaces_app.Workspace", on_delete=models.CASCADE, related_name="contacts")
    channel = models.ForeignKey("channels_app.Channel", on_delete=models.CASCADE, related_name="contacts")
    user_id = models.CharField("BSUID", max_length=160, null=True, blank=True)
    parent_user_id = models.CharField(max_length=160, blank=True)
    wa_id = models.CharField(max_length=32, null=True, blank=True)
    username = models.CharField(max_length=64, blank=True)
    profile_name = models.CharField(max_length=256, blank=True)
    marketing_opt_out = models.BooleanField(default=False)
    # When and how the contact opted out of marketing (a STOP keyword, Meta's user_preferences, 131050).
    marketing_opt_out_at = models.DateTimeField(null=True, blank=True)
    marketing_opt_out_source = models.CharField(max_length=32, blank=True)
    # Labels staff and integrations use for audiences and filters, e.g. ["vip", "newsletter"].
    tags = models.JSONField(default=list, blank=True)
    # CRM fields (plan, city, order count...): shown to the agent as context, set by tools and the API.
    attributes = models.JSONField(default=dict, blank=True)
    # A blocked contact gets no agent replies and no sends.
    blocked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["profile_name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "user_id"], condition=models.Q(user_id__isnull=False), name="contact_unique_bsuid"
            ),
            models.UniqueConstraint(
                fields=["channel", "wa_id"], condition=models.Q(wa_id__isnull=False), name="contact_unique_wa_id"
            ),
            models.CheckConstraint(
                condition=models.Q(user_id__isnull=False) | models.Q(wa_id__isnull=False),
                name="contact_has_an_identity",
            ),
        ]

    def __str__(self) -> str:
        return self.profile_name or self.username or self.phone_display

    @property
    def phone_display(self) -> str:
        return f"+{self.wa_id}" if self.wa_id else (self.user_id or "")

    @property
    def send_address(self) -> dict:
        """Meta prefers the phone number when known; a username-only user is reached by BSUID."""
        return {"to": f"+{self.wa_id}"} if self.wa_id else {"recipient": self.user_id}


class Conversation(models.Model):
    """The thread between a channel and one contact; closed threads reopen on the next message."""

    class State(models.TextChoices):
        AGENT = "agent", "Agent handling"
        WAITING_HUMAN = "waiting_human", "Waiting for a human"
        HUMAN = "human", "Human handling"
        CLOSED = "closed", "Closed"

    workspace = models.ForeignKey("workspaces_app.Workspace", on_delete=models.CASCADE, related_name="conversations")
    channel = models.ForeignKey("channels_app.Channel", on_delete=models.CASCADE, related_name="conversations")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="conversations")
    state = models.CharField(max_length=16, choices=State.choices, default=State.AGENT)
    assigned_agent = models.ForeignKey(
        "agents_app.Agent", on_delete=models.SET_NULL, null=True, blank=True, related_name="conversations"
    )
    assigned_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="conversations"
    )
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    last_message_at = models.DateTimeField(null=True, blank=True, db_index=True)
    waiting_since = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Why the agent handed over, for whoever picks the conversation up.
    handoff_reason = models.CharField(max_length=1000, blank=True)
    # What staff read first when they pick it up: the customer's last messages and details found in them.
    handoff_summary = models.TextField(blank=True)
    # The language the customer wrote in when handed over (ISO 639-1, "" unknown): later notices use it.
    handoff_language = models.CharField(max_length=8, blank=True)
    # The last "a teammate will reply" the customer got while waiting: at most one per few minutes (claimed by a
    # conditional UPDATE on this field).
    handoff_acknowledged_at = models.DateTimeField(null=True, blank=True)
    # Customer messages nobody on the team has looked at yet.
    unread_count = models.PositiveIntegerField(default=0)
    # While set in the future, an agent turn is running: one turn per conversation at a time.
    agent_turn_until = models.DateTimeField(null=True, blank=True)
    # Set when the customer wrote while the agent was answering as many conversations as it may at once; the
    # turn that frees a place hands it to the longest waiting (agents_app.turns).
    turn_waiting_since = models.DateTimeField(null=True, blank=True)
    # Business hours. A closed period is named by the instant it began (see services/business_hours.py).
    # The customer's first message while closed that nobody has served yet: the queue at opening, oldest first.
    closed_arrival_at = models.DateTimeField(null=True, blank=True)
    # The latest closed period the customer wrote in, and the ones that got the away and "we're back" messages:
    # each is sent once per period, claimed by a conditional UPDATE on these fields.
    closed_period_start = models.DateTimeField(null=True, blank=True)
    away_period_start = models.DateTimeField(null=True, blank=True)
    back_period_start = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-last_message_at"]
        constraints = [models.UniqueConstraint(fields=["channel", "contact"], name="conversation_unique_contact")]
        indexes = [
            models.Index(fields=["workspace", "state", "last_message_at"], name="conversation_inbox_idx"),
            # The inbox's "everything else, newest first" and its change check.
            models.Index(fields=["workspace", "-last_message_at", "-id"], name="conversation_recent_idx"),
            models.Index(fields=["workspace", "updated_at"], name="conversation_changed_idx"),
            # An agent's turns running now, and its conversations waiting for a place (both small sets).
            models.Index(
                fields=["assigned_agent", "agent_turn_until"],
                name="conversation_turn_running_idx",
                condition=models.Q(agent_turn_until__isnull=False),
            ),
            models.Index(
                fields=["assigned_agent", "turn_waiting_since"],
                name="conversation_turn_waiting_idx",
                condition=models.Q(turn_waiting_since__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact} on {self.channel}"


class Message(models.Model):
    class Direction(models.TextChoices):
        INBOUND = "in", "Inbound"
        OUTBOUND = "out", "Outbound"

    class Sender(models.TextChoices):
        CUSTOMER = "customer", "Customer"
        AGENT = "agent", "AI agent"
        TEAMMATE = "teammate", "Teammate"
        API = "api", "API"
        TEMPLATE = "template", "Template"
        SYSTEM = "system", "System"

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        # The request may have reached Meta but its answer was lost; settled by a status
        # webhook (matched on biz_opaque_callback_data) or resent once after a grace period.
        UNKNOWN = "unknown", "Outcome unknown"
        ACCEPTED = "accepted", "Accepted by WhatsApp"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        READ = "read", "Read"
        PLAYED = "played", "Played"
        FAILED = "failed", "Failed"

    class MediaState(models.TextChoices):
        NONE = "", "No media"
        PENDING = "pending", "Downloading"
        STORED = "stored", "Stored"
        FAILED = "failed", "Download failed"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    workspace = models.ForeignKey("workspaces_app.Workspace", on_delete=models.CASCADE, related_name="messages")
    channel = models.ForeignKey("channels_app.Channel", on_delete=models.CASCADE, related_name="messages")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    message_type = models.CharField(max_length=24)
    # Meta's `<type>` object as sent or received (text: {"body": ...}; interactive: the whole object).
    content = models.JSONField(default=dict)
    wamid = models.CharField(max_length=160, null=True, blank=True)
    timestamp = models.DateTimeField(db_index=True)
    context_wamid = models.CharField(max_length=160, blank=True)
    reply_to = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="replies")
    context = models.JSONField(null=True, blank=True)
    referral = models.JSONField(null=True, blank=True)
    reactions = models.JSONField(default=dict, blank=True)  # {"customer": "👍", "business": "🙏"}
    sender = models.CharField(max_length=16, choices=Sender.choices)
    sender_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    sender_agent = models.ForeignKey(
        "agents_app.Agent", on_delete=models.SET_NULL, null=True, blank=True, related_name="messages"
    )
    status = models.CharField(max_length=16, choices=Status.choices)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    played_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    error_code = models.IntegerField(null=True, blank=True)
    error_title = models.CharField(max_length=300, blank=True)
    error_details = models.TextField(blank=True)
    # Outbox bookkeeping.
    attempts = models.PositiveSmallIntegerField(default=0)
    pair_rate_hits = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    possible_duplicate = models.BooleanField(default=False)
    # Inbound processing: when the conversation's downstream (agent turn, notification) took it.
    handled_at = models.DateTimeField(null=True, blank=True)
    # Media, inbound (downloaded from Meta) or outbound (uploaded once, sent by id).
    media_id = models.CharField(max_length=64, blank=True)
    media_file = models.FileField(upload_to="whatsapp-media/%Y/%m/", blank=True)
    media_mime_type = models.CharField(max_length=128, blank=True)
    media_sha256 = models.CharField(max_length=128, blank=True)
    media_size = models.PositiveBigIntegerField(null=True, blank=True)
    media_state = models.CharField(max_length=10, choices=MediaState.choices, default="", blank=True)
    media_error = models.TextField(blank=True)
    # What the agent understood of the media, computed once: a voice note's words, a document's text.
    transcript = models.TextField(blank=True)
    extracted_text = models.TextField(blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    edits = models.JSONField(default=list, blank=True)
    errors = models.JSONField(default=list, blank=True)  # inbound `unsupported` errors
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["timestamp", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "wamid"], condition=models.Q(wamid__isnull=False), name="message_unique_wamid"
            ),
        ]
        indexes = [
            models.Index(fields=["conversation", "timestamp"], name="message_thread_idx"),
            models.Index(fields=["status", "next_attempt_at"], name="message_outbox_idx"),
            # The media sweeper looks only at downloads still pending: a small partial index.
            models.Index(
                fields=["created_at"], name="message_media_pending_idx", condition=models.Q(media_state="pending")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.message_type} {self.wamid or self.public_id}"


class StatusReceipt(models.Model):
    """One status webhook per (channel, wamid, status), kept even before its message is known.

    A message's status is folded from all its receipts, so any arrival order (and a status
    that arrives before the send call's answer was stored) ends in the same state.
    """

    channel = models.ForeignKey("channels_app.Channel", on_delete=models.CASCADE, related_name="status_receipts")
    wamid = models.CharField(max_length=160)
    status = models.CharField(max_length=16)
    timestamp = models.DateTimeField()
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, null=True, blank=True, related_name="status_receipts"
    )
    errors = models.JSONField(default=list, blank=True)
    pricing = models.JSONField(null=True, blank=True)
    biz_opaque_callback_data = models.CharField(max_length=512, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["timestamp", "id"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "wamid", "status"], name="status_receipt_unique"),
        ]
        indexes = [models.Index(fields=["channel", "wamid"], name="status_receipt_wamid_idx")]

    def __str__(self) -> str:
        return f"{self.wamid} {self.status}"


class MediaUpload(models.Model):
    """A file uploaded to a channel's Graph media store, so the same bytes are uploaded once."""

    channel = models.ForeignKey("channels_app.Channel", on_delete=models.CASCADE, related_name="media_uploads")
    sha256 = models.CharField(max_length=64)
    media_id = models.CharField(max_length=64)
    mime_type = models.CharField(max_length=128)
    size = models.PositiveBigIntegerField()
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "sha256"], name="media_upload_unique_content")]

    def __str__(self) -> str:
        return f"{self.media_id} ({self.mime_type})"


class BusinessHours(models.Model):
    """When a channel's team is at work, in the channel's time zone, and what happens outside those hours.

    Disabled, or absent, the channel is open around the clock.
    """

    class Mode(models.TextChoices):
        AGENT = "agent", "The AI agent keeps answering (24/7)"
        AWAY_WAIT = "away_wait", "Away message, then the conversation waits for the team until opening"
        AWAY_AND_AGENT = "away_and_agent", "Away message, and the AI agent still answers"

    channel = models.OneToOneField("channels_app.Channel", on_delete=models.CASCADE, related_name="business_hours")
    enabled = models.BooleanField(default=False)
    timezone = models.CharField(max_length=64, default="UTC", help_text="An IANA time zone, e.g. Europe/London.")
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.AGENT)
    # Text with variables such as {{next_open}} and {{contact_email}} (services/business_hours.py lists them).
    away_message = models.TextField(blank=True)
    contact_email = models.EmailField(blank=True)
    contact_phone = models.CharField(max_length=32, blank=True)
    alternative_contact = models.TextField(blank=True)
    # "We're back", at opening, to whoever still waits: this text inside the 24-hour window, the template after it.
    back_message = models.TextField(blank=True)
    back_template_name = models.CharField(max_length=512, blank=True)
    back_template_language = models.CharField(max_length=16, blank=True)
    # The template's parameter values by placeholder key ("1", "first_name", "button.0"); variables allowed.
    back_template_values = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "business hours"

    def __str__(self) -> str:
        return f"Business hours of {self.channel}"


class BusinessHoursRange(models.Model):
    """One opening range on a weekday, in wall-clock time; an end at or before the start runs past midnight."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    hours = models.ForeignKey(BusinessHours, on_delete=models.CASCADE, related_name="ranges")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start = models.TimeField()
    end = models.TimeField()

    class Meta:
        ordering = ["weekday", "start"]
        constraints = [
            models.CheckConstraint(condition=models.Q(weekday__lte=6), name="business_hours_range_weekday"),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}–{self.end:%H:%M}"


class ClosedDate(models.Model):
    """A date the team is off (a holiday): closed for the whole local day, whatever the weekly hours say."""

    hours = models.ForeignKey(BusinessHours, on_delete=models.CASCADE, related_name="closed_dates")
    date = models.DateField()
    label = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["hours", "date"], name="closed_date_unique")]

    def __str__(self) -> str:
        return f"{self.date} {self.label}".strip()


class ConversationRating(models.Model):
    """A customer's satisfaction with a closed conversation: asked with reply buttons, answered by a tap."""

    workspace = models.ForeignKey("workspaces_app.Workspace", on_delete=models.CASCADE, related_name="ratings")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="ratings")
    question = models.ForeignKey(Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    score = models.PositiveSmallIntegerField(null=True, blank=True)  # 1 poor · 3 OK · 5 great
    comment = models.TextField(blank=True)
    asked_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-asked_at"]
        indexes = [models.Index(fields=["workspace", "answered_at"], name="rating_workspace_answered_idx")]

    def __str__(self) -> str:
        return f"{self.score or '—'} for conversation {self.conversation_id}"


class IdempotencyKey(models.Model):
    """An API send's Idempotency-Key: the same key and body within 24 h return the first message."""

    workspace = models.ForeignKey("workspaces_app.Workspace", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # SHA-256 of the method, path and body the key was first used with.
    fingerprint = models.CharField(max_length=64)
    message = models.ForeignKey(Message, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "key"], name="idempotency_unique_key")]

    def __str__(self) -> str:
        return self.key
