import uuid

from django.db import models

from whatsapp_platform.encryption import EncryptedTextField


class ChannelQuerySet(models.QuerySet):
    def whatsapp(self) -> "ChannelQuerySet":
        """Channels that are WhatsApp numbers (real or sandbox), not agents' test consoles."""
        return self.exclude(provider=Channel.Provider.TEST_CONSOLE)


class Channel(models.Model):
    """A WhatsApp Business phone number connected to a workspace."""

    class Provider(models.TextChoices):
        CLOUD_API = "cloud_api", "WhatsApp Cloud API"
        SANDBOX = "sandbox", "Sandbox (local emulator)"
        # An agent's test console: the same runtime, answered in the browser instead of WhatsApp.
        TEST_CONSOLE = "test_console", "Agent test console"

    class Status(models.TextChoices):
        PENDING = "pending", "Not connected yet"
        ACTIVE = "active", "Active"
        NEEDS_RECONNECTION = "needs_reconnection", "Needs reconnection"
        DISABLED = "disabled", "Disabled"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    workspace = models.ForeignKey("workspaces_app.Workspace", on_delete=models.CASCADE, related_name="channels")
    name = models.CharField(max_length=120, help_text="A label staff recognise, e.g. 'WhatsApp Support UK'.")
    provider = models.CharField(max_length=16, choices=Provider.choices, default=Provider.CLOUD_API)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.PENDING)
    status_reason = models.TextField(blank=True)
    waba_id = models.CharField("WhatsApp Business Account id", max_length=32, blank=True)
    phone_number_id = models.CharField(max_length=32, blank=True)
    display_phone_number = models.CharField(max_length=32, blank=True)
    verified_name = models.CharField(max_length=120, blank=True)
    access_token = EncryptedTextField(blank=True)
    # Only for a channel connected by hand with its own Meta app.
    app_secret = EncryptedTextField(blank=True)
    verify_token = EncryptedTextField(blank=True)
    quality_rating = models.CharField(max_length=16, blank=True)
    messaging_limit = models.CharField(max_length=32, blank=True)
    # Messages per second this number may send; empty means the platform default (Meta's 80).
    throughput_mps = models.PositiveIntegerField(null=True, blank=True)
    agent = models.ForeignKey(
        "agents_app.Agent", on_delete=models.SET_NULL, null=True, blank=True, related_name="channels"
    )

    class Connection(models.TextChoices):
        NONE = "", "Not connected"
        EMBEDDED_SIGNUP = "embedded_signup", "Login with Facebook"
        MANUAL = "manual", "Credentials entered by hand"
        SANDBOX = "sandbox", "Sandbox"
        TEST_CONSOLE = "test_console", "Agent test console"

    connection = models.CharField(max_length=20, choices=Connection.choices, default="", blank=True)
    # The Meta app the access token belongs to (uploads such as the profile photo go through it).
    meta_app_id = models.CharField(max_length=32, blank=True)
    # None means the token never expires (debug_token's expires_at = 0).
    token_expires_at = models.DateTimeField(null=True, blank=True)
    webhook_subscribed = models.BooleanField(default=False)
    name_status = models.CharField(max_length=32, blank=True)
    phone_status = models.CharField(max_length=32, blank=True)
    throughput_level = models.CharField(max_length=32, blank=True)
    last_webhook_at = models.DateTimeField(null=True, blank=True)
    # Why staff should look at this channel (token expiring, quality red...); empty when healthy.
    attention_reason = models.TextField(blank=True)
    health_checked_at = models.DateTimeField(null=True, blank=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ChannelQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["phone_number_id"],
                condition=~models.Q(phone_number_id=""),
                name="channel_unique_phone_number_id",
            )
        ]

    def __str__(self) -> str:
        return self.name


class ChannelSetupEvent(models.Model):
    """One step of connecting a channel, as staff see it on the configuration page."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="setup_events")
    step = models.CharField(max_length=40)
    ok = models.BooleanField()
    message = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.step} ({'ok' if self.ok else 'failed'})"


class WebhookEvent(models.Model):
    """One webhook POST as received: the replayable ledger and the log staff read."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed"
        REJECTED = "rejected", "Rejected (bad signature)"

    # Null when the POST could not be tied to a channel (bad signature on the shared URL, unknown number).
    workspace = models.ForeignKey(
        "workspaces_app.Workspace", on_delete=models.CASCADE, null=True, blank=True, related_name="webhook_events"
    )
    channel = models.ForeignKey(
        Channel, on_delete=models.SET_NULL, null=True, blank=True, related_name="webhook_events"
    )
    body = models.BinaryField()
    headers = models.JSONField(default=dict)
    signature_valid = models.BooleanField()
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    # What the event carried, for the log's filters: "messages", "statuses", a field name...
    summary = models.CharField(max_length=200, blank=True)
    # Set at intake from the raw bytes: the body carries customer messages. Under load these are drained
    # before delivery statuses, so customers are answered while the statuses catch up.
    customer_messages = models.BooleanField(default=False)
    # A drain claimed the event until then (a lease, so several drains share the backlog without overlap);
    # once it lapses a pending event may be claimed again: its drain died or gave up on it.
    claimed_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            models.Index(fields=["state", "received_at"], name="webhookevent_state_idx"),
            models.Index(
                fields=["id"],
                condition=models.Q(state="pending", customer_messages=True),
                name="webhookevent_pending_msgs_idx",
            ),
            # The claim walks the pending events in order: a small index of only those.
            models.Index(fields=["id"], condition=models.Q(state="pending"), name="webhookevent_pending_idx"),
        ]

    def __str__(self) -> str:
        return f"webhook {self.pk} ({self.state})"


class MessageTemplate(models.Model):
    """A template as Meta knows it, per WhatsApp Business Account and language.

    Rows are never deleted: a template Meta no longer lists is kept with status DELETED, because
    sent messages name it and staff need to see what was sent.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    workspace = models.ForeignKey("workspaces_app.Workspace", on_delete=models.CASCADE, related_name="templates")
    waba_id = models.CharField(max_length=32)
    meta_id = models.CharField(max_length=40, blank=True)
    name = models.CharField(max_length=512)
    language = models.CharField(max_length=16)
    category = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=32, default="PENDING")
    quality = models.CharField(max_length=16, blank=True)
    parameter_format = models.CharField(max_length=16, default="POSITIONAL")
    components = models.JSONField(default=list)
    rejection_reason = models.TextField(blank=True)
    recommendation = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "language"]
        constraints = [
            models.UniqueConstraint(fields=["waba_id", "name", "language"], name="template_unique_name_language")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"


class TemplateSync(models.Model):
    """One sync of a WhatsApp Business Account's templates with Meta: a row first, then a task runs it."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting to run"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Done"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        CONNECT = "connect", "Channel connected"
        MANUAL = "manual", "Sync now"
        PERIODIC = "periodic", "Scheduled"
        WEBHOOK = "webhook", "Unknown template in a webhook"

    workspace = models.ForeignKey("workspaces_app.Workspace", on_delete=models.CASCADE, related_name="template_syncs")
    # The channel whose token reads the account; any channel of the WABA will do.
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="template_syncs")
    waba_id = models.CharField(max_length=32)
    trigger = models.CharField(max_length=12, choices=Trigger.choices)
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    requested_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    removed_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            # One open sync per account: webhooks, the schedule and the button join it instead of piling up.
            models.UniqueConstraint(
                fields=["waba_id"],
                condition=models.Q(state__in=["pending", "running"]),
                name="templatesync_one_open_per_waba",
            )
        ]
        indexes = [models.Index(fields=["state", "requested_at"], name="templatesync_state_idx")]

    def __str__(self) -> str:
        return f"template sync {self.waba_id} ({self.state})"
