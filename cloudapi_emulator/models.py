"""What the fake Meta remembers: apps, tokens, numbers, customers, messages, media, templates,
the webhook outbox and the faults a test has asked for.

Ids on the wire (phone number, WABA, media, template ids, wamids) are strings, as Meta sends them.
"""

from django.db import models


class App(models.Model):
    """A Meta app: its secret signs webhooks and authenticates `debug_token` and the code exchange.

    `callback_url` and `verify_token` are what a developer sets in the App Dashboard: the default
    destination of the webhooks of every WABA this app is subscribed to (reference §1.4).
    Sandbox-provisioned apps have none; their numbers carry their own `webhook_url`.
    """

    app_id = models.CharField(max_length=32, unique=True)
    app_secret = models.CharField(max_length=255)
    name = models.CharField(max_length=100, default="Emulated app")
    callback_url = models.URLField(max_length=1000, blank=True)
    verify_token = models.CharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return self.app_id


class AccessToken(models.Model):
    """A bearer token and the WABAs it may act on (its `granular_scopes` targets)."""

    token = models.CharField(max_length=512, unique=True)
    app = models.ForeignKey(App, null=True, blank=True, on_delete=models.SET_NULL)
    waba_ids = models.JSONField(default=list)
    scopes = models.JSONField(default=list)
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)  # null: never expires (debug_token says 0)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.token[:8]}…"


class PhoneNumber(models.Model):
    """An emulated business number and where its webhooks go."""

    phone_number_id = models.CharField(max_length=32, unique=True)
    waba_id = models.CharField(max_length=32, db_index=True)
    display_phone_number = models.CharField(max_length=32, unique=True)
    verified_name = models.CharField(max_length=200)
    app = models.ForeignKey(App, on_delete=models.PROTECT, related_name="numbers")
    access_token = models.CharField(max_length=512)
    webhook_url = models.URLField(max_length=1000, blank=True)
    # Per-number callback override (POST /<phone_number_id> webhook_configuration), and the app
    # whose token set it: its secret signs what goes there.
    override_callback_uri = models.URLField(max_length=200, blank=True)
    override_app = models.ForeignKey(App, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    quality_rating = models.CharField(max_length=16, default="GREEN")
    status = models.CharField(max_length=32, default="CONNECTED")
    name_status = models.CharField(max_length=32, default="APPROVED")
    new_name_status = models.CharField(max_length=32, default="NONE")
    code_verification_status = models.CharField(max_length=32, default="VERIFIED")
    account_mode = models.CharField(max_length=16, default="SANDBOX")
    messaging_limit = models.CharField(max_length=32, default="TIER_250")
    throughput_level = models.CharField(max_length=32, default="STANDARD")
    two_step_pin = models.CharField(max_length=6, blank=True)
    registered_at = models.DateTimeField(null=True, blank=True)
    # Behaviour a test can switch on (see services.limits / webhook_mode_set).
    throughput_mps = models.PositiveIntegerField(null=True, blank=True)
    pair_rate_seconds = models.FloatField(null=True, blank=True)
    status_delays = models.JSONField(default=dict, blank=True)  # {"sent": 0.01, ...} overrides the defaults
    webhook_modes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.display_phone_number} ({self.phone_number_id})"

    @property
    def display_digits(self) -> str:
        """The display number as Meta puts it in webhook metadata: digits only."""
        return "".join(ch for ch in self.display_phone_number if ch.isdigit())


class SubscribedApp(models.Model):
    """`POST /<waba_id>/subscribed_apps`: an app subscribed to a WABA, maybe with its own callback."""

    waba_id = models.CharField(max_length=32)
    app = models.ForeignKey(App, on_delete=models.CASCADE)
    override_callback_uri = models.URLField(max_length=200, blank=True)
    verify_token = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["waba_id", "app"], name="emulator_one_subscription_per_app")]

    def __str__(self) -> str:
        return f"app {self.app_id} on WABA {self.waba_id}"


class Customer(models.Model):
    """A WhatsApp user who talks to one emulated number. Username-only users have no phone."""

    number = models.ForeignKey(PhoneNumber, on_delete=models.CASCADE, related_name="customers")
    name = models.CharField(max_length=200)
    phone = models.CharField(max_length=32, blank=True)  # digits only, the wa_id
    bsuid = models.CharField(max_length=160)
    username = models.CharField(max_length=100, blank=True)
    last_message_at = models.DateTimeField(null=True, blank=True)  # opens/refreshes the 24 h window
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["number", "bsuid"], name="emulator_customer_bsuid_unique"),
            models.UniqueConstraint(
                fields=["number", "phone"], condition=~models.Q(phone=""), name="emulator_customer_phone_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.phone or self.bsuid})"


class Message(models.Model):
    """One message in a chat, either way. `content` is the type object as it travels on the wire."""

    class Direction(models.TextChoices):
        INBOUND = "inbound"  # customer → business
        OUTBOUND = "outbound"  # business → customer

    number = models.ForeignKey(PhoneNumber, on_delete=models.CASCADE, related_name="messages")
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=8, choices=Direction.choices)
    wamid = models.CharField(max_length=200, unique=True)
    message_type = models.CharField(max_length=32)
    content = models.JSONField(default=dict)
    context_wamid = models.CharField(max_length=200, blank=True)
    recipient_input = models.CharField(max_length=200, blank=True)  # `to` or `recipient` as sent
    biz_opaque_callback_data = models.CharField(max_length=512, blank=True)
    payload = models.JSONField(default=dict)  # outbound: the raw request; inbound: the webhook message object
    error_code = models.PositiveIntegerField(null=True, blank=True)  # outbound that failed asynchronously
    read_at = models.DateTimeField(null=True, blank=True)  # inbound marked read by the business
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["number", "direction", "created_at"])]

    def __str__(self) -> str:
        return self.wamid

    @property
    def statuses_emitted(self) -> list[str]:
        """Statuses whose webhook the platform has acknowledged, in the order they were emitted."""
        return [event.status for event in self.status_events.all() if event.emitted_at]


class StatusEvent(models.Model):
    """A status the emulator scheduled for an outbound message, and when its webhook went out."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="status_events")
    status = models.CharField(max_length=16)
    error_code = models.PositiveIntegerField(null=True, blank=True)
    due_at = models.DateTimeField()
    delivery = models.ForeignKey("WebhookDelivery", null=True, blank=True, on_delete=models.SET_NULL)
    emitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["emitted_at", "due_at", "id"]

    def __str__(self) -> str:
        return f"{self.status} of {self.message_id}"


class SendRequest(models.Model):
    """Every accepted `POST /<phone_number_id>/messages` body, exactly as it arrived."""

    phone_number_id = models.CharField(max_length=32, db_index=True)
    payload = models.JSONField()
    wamid = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"send to {self.phone_number_id} ({self.wamid or 'read'})"


class Media(models.Model):
    """An uploaded file, or one a customer sent. Its download URL is a key that expires."""

    media_id = models.CharField(max_length=32, unique=True)
    number = models.ForeignKey(PhoneNumber, on_delete=models.CASCADE, related_name="media")
    mime_type = models.CharField(max_length=255)
    filename = models.CharField(max_length=255, blank=True)
    data = models.BinaryField()
    sha256 = models.CharField(max_length=64)  # base64 of the SHA-256 digest, as in Meta webhooks
    file_size = models.PositiveBigIntegerField()
    url_key = models.CharField(max_length=64, blank=True, db_index=True)
    url_expires_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.media_id


class Template(models.Model):
    class Status(models.TextChoices):
        PENDING = "PENDING"
        APPROVED = "APPROVED"
        REJECTED = "REJECTED"
        PAUSED = "PAUSED"
        DISABLED = "DISABLED"
        DELETED = "DELETED"

    template_id = models.CharField(max_length=32, unique=True)
    waba_id = models.CharField(max_length=32, db_index=True)
    name = models.CharField(max_length=512)
    language = models.CharField(max_length=16)
    category = models.CharField(max_length=32)
    status = models.CharField(max_length=32, choices=Status.choices, default=Status.PENDING)
    parameter_format = models.CharField(max_length=16, default="POSITIONAL")
    components = models.JSONField(default=list)
    rejected_reason = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} [{self.language}]"


class OAuthCode(models.Model):
    """An Embedded Signup code: exchanged once, within 30 s, for `access_token`."""

    code = models.CharField(max_length=128, unique=True)
    app = models.ForeignKey(App, on_delete=models.CASCADE)
    access_token = models.CharField(max_length=512)
    waba_id = models.CharField(max_length=32)
    scopes = models.JSONField(default=list)
    # The WABAs the token's `granular_scopes` will target; null means just `waba_id`.
    target_ids = models.JSONField(null=True, blank=True)
    # Lifetime of the token the exchange creates; null: it never expires.
    token_expires_in = models.PositiveIntegerField(null=True, blank=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"code for WABA {self.waba_id}"


class RegisterCall(models.Model):
    """One `POST /<phone_number_id>/register`; more than 10 in 72 h lock the number (133016)."""

    number = models.ForeignKey(PhoneNumber, on_delete=models.CASCADE, related_name="register_calls")
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"register {self.number_id} at {self.created_at}"


class Fault(models.Model):
    """The next `remaining` matching Graph calls misbehave as described."""

    phone_number_id = models.CharField(max_length=32, blank=True)  # blank: any number
    endpoint = models.CharField(max_length=32, default="messages")  # "*" matches every endpoint
    remaining = models.PositiveIntegerField(default=1)
    error_code = models.PositiveIntegerField(null=True, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    timeout_seconds = models.FloatField(null=True, blank=True)
    accepted_despite_timeout = models.BooleanField(default=False)
    latency_ms = models.PositiveIntegerField(default=0)
    details = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.endpoint} fault ×{self.remaining}"


class WebhookDelivery(models.Model):
    """The outbox: a webhook POST (or a scheduled template review) due at `due_at`.

    The dispatcher claims a row with a conditional UPDATE on `claimed_until`, so two
    processes never deliver the same row at once.
    """

    class Kind(models.TextChoices):
        WEBHOOK = "webhook"
        TEMPLATE_REVIEW = "template_review"  # body holds the template pk; decides, then enqueues a webhook

    class State(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"  # gave up after max attempts

    number = models.ForeignKey(PhoneNumber, null=True, blank=True, on_delete=models.CASCADE)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.WEBHOOK)
    field = models.CharField(max_length=64, default="messages")
    url = models.CharField(max_length=1000, blank=True)
    app_secret = models.CharField(max_length=255, blank=True)
    body = models.TextField()  # ASCII JSON (escaped unicode), signed byte for byte
    due_at = models.DateTimeField(db_index=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=8)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["state", "due_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.pk} ({self.state})"


class Signup(models.Model):
    """One stand-in Embedded Signup that finished: the business, WABA and number it onboarded.

    Keyed by the display number the tester typed, so signing the same number up again reuses
    its business, WABA and number. `number` is null when only the WABA was shared.
    """

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="signups")
    display_phone_number = models.CharField(max_length=32, unique=True)
    business_id = models.CharField(max_length=32)
    business_name = models.CharField(max_length=200)
    waba_id = models.CharField(max_length=32, db_index=True)
    number = models.ForeignKey(PhoneNumber, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    simulate = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"signup of {self.display_phone_number} to {self.app_id}"


class UploadSession(models.Model):
    """A Resumable Upload API session (`POST /<app_id>/uploads`); its `handle` once every byte arrived."""

    session_id = models.CharField(max_length=64, unique=True)
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="uploads")
    file_name = models.CharField(max_length=255, blank=True)
    file_type = models.CharField(max_length=64)
    file_length = models.PositiveBigIntegerField()
    data = models.BinaryField(default=b"")
    handle = models.CharField(max_length=128, blank=True, db_index=True)
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"upload:{self.session_id}"


class BusinessProfile(models.Model):
    """`/<phone_number_id>/whatsapp_business_profile`; blank fields are left out of the answer."""

    number = models.OneToOneField(PhoneNumber, on_delete=models.CASCADE, related_name="business_profile")
    about = models.CharField(max_length=139, blank=True)
    address = models.CharField(max_length=256, blank=True)
    description = models.CharField(max_length=512, blank=True)
    email = models.CharField(max_length=128, blank=True)
    vertical = models.CharField(max_length=32, blank=True)
    websites = models.JSONField(default=list, blank=True)
    picture = models.ForeignKey(UploadSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    picture_key = models.CharField(max_length=64, blank=True, db_index=True)  # the photo's public URL key

    def __str__(self) -> str:
        return f"profile of {self.number_id}"
