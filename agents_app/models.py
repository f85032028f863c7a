import uuid
from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models

from whatsapp_platform.encryption import EncryptedTextField

DEFAULT_HANDOFF_KEYWORDS = "human, agent, person, someone, teammate, operator"
DEFAULT_FALLBACK = "Sorry, I can't answer right now 🙏 A teammate will reply here shortly."
DEFAULT_MODEL_CALLS_PER_CONVERSATION_HOUR = 15
DEFAULT_MODEL_CALLS_PER_CONTACT_DAY = 40
DEFAULT_PROMPT_TOKEN_BUDGET = 8000
# Below this the instructions and the tools offered would leave no room for the conversation.
MIN_PROMPT_TOKEN_BUDGET = 1000


class Agent(models.Model):
    """An AI agent a workspace assigns to its channels."""

    class Provider(models.TextChoices):
        KNOWLEDGE_BASE = "knowledge_base", "Knowledge base (offline)"
        OPENAI_COMPATIBLE = "openai", "OpenAI-compatible"
        ANTHROPIC = "anthropic", "Anthropic"
        AZURE_OPENAI = "azure_openai", "Azure OpenAI"
        BEDROCK = "bedrock", "Claude on Amazon Bedrock"
        VERTEX = "vertex", "Claude on Google Vertex AI"
        GEMINI = "gemini", "Google Gemini (OpenAI-compatible endpoint)"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    workspace = models.ForeignKey("workspaces_app.Workspace", on_delete=models.CASCADE, related_name="agents")
    name = models.CharField(max_length=120)
    instructions = models.TextField(help_text="The system prompt: who the agent is and how it writes.")
    provider = models.CharField(max_length=24, choices=Provider.choices, default=Provider.KNOWLEDGE_BASE)
    model = models.CharField(max_length=120, blank=True)
    base_url = models.URLField(blank=True, help_text="For OpenAI-compatible servers (Ollama, vLLM, gateways).")
    api_key = EncryptedTextField(blank=True)
    # Cloud presets (agents_app/providers/presets.py says which each one needs).
    api_version = models.CharField(
        "API version", max_length=32, blank=True, help_text="Azure OpenAI only, e.g. 2024-10-21."
    )
    region = models.CharField(
        max_length=40, blank=True, help_text="Bedrock (e.g. us-east-1) or Vertex (e.g. europe-west1)."
    )
    project_id = models.CharField("Google Cloud project", max_length=64, blank=True, help_text="Vertex only.")
    monthly_budget = models.DecimalField(
        "monthly budget",
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text="The most this agent's model turns may cost in a calendar month (UTC), in the price table's "
        "currency; then a teammate takes over. Empty or 0: no cap.",
    )
    temperature = models.FloatField(default=0.3)
    max_output_tokens = models.PositiveIntegerField(default=600)
    request_timeout_seconds = models.FloatField(default=30.0)
    # Reply shaping: a soft target per WhatsApp message, never split mid-word.
    target_chars = models.PositiveIntegerField(default=160)
    max_messages_per_turn = models.PositiveSmallIntegerField(default=6)
    use_emoji = models.BooleanField(default=True)
    history_messages = models.PositiveSmallIntegerField(default=20, help_text="Past messages given to the model.")
    debounce_seconds = models.FloatField(default=1.5, help_text="Wait this long so a burst of messages is one turn.")
    max_concurrent_turns = models.PositiveSmallIntegerField(
        "conversations answered at once",
        default=20,
        help_text="At most this many customers are answered at the same time (your model provider's concurrency "
        "or rate limit); the others wait their turn, in order.",
    )
    # What one customer may cost (agents_app/limits.py): beyond a limit the turn is handed to a teammate.
    model_calls_per_conversation_hour = models.PositiveIntegerField(
        "model calls per conversation per hour",
        default=DEFAULT_MODEL_CALLS_PER_CONVERSATION_HOUR,
        validators=[MinValueValidator(1)],
        help_text="Beyond this the customer gets the fallback message once and a teammate takes over.",
    )
    model_calls_per_contact_day = models.PositiveIntegerField(
        "model calls per customer per day",
        default=DEFAULT_MODEL_CALLS_PER_CONTACT_DAY,
        validators=[MinValueValidator(1)],
        help_text="Over any 24 hours: a customer who keeps under the hourly limit all day still stops here.",
    )
    prompt_token_budget = models.PositiveIntegerField(
        "prompt token budget",
        default=DEFAULT_PROMPT_TOKEN_BUDGET,
        validators=[MinValueValidator(MIN_PROMPT_TOKEN_BUDGET)],
        help_text="The most tokens (estimated) sent to the model per call; the oldest history is left out first.",
    )
    handoff_keywords = models.CharField(max_length=300, blank=True, default=DEFAULT_HANDOFF_KEYWORDS)
    fallback_message = models.CharField(max_length=500, default=DEFAULT_FALLBACK)
    # Outside the 24-hour window WhatsApp takes only approved templates: when set, this one carries the
    # agent's handoff/fallback notice there instead (looked up per channel's account by name and language).
    window_closed_template = models.CharField(
        "template when the window is closed",
        max_length=512,
        blank=True,
        help_text="Name of an approved template (e.g. we_will_reply) sent when the customer can no longer be "
        "answered with free text. Empty: the agent stays silent and a teammate follows up.",
    )
    window_closed_template_language = models.CharField(max_length=16, blank=True, default="en_US")
    window_closed_template_parameters = models.JSONField(
        default=dict,
        blank=True,
        help_text='Fixed values for its placeholders, e.g. {"1": "Lucky Shrub"}.',
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="agent_unique_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def cloud_settings(self) -> dict[str, str]:
        """The settings the cloud presets read besides the key and base URL (registry.provider_for's names)."""
        return {"api_version": self.api_version, "region": self.region, "project_id": self.project_id}

    @property
    def handoff_words(self) -> list[str]:
        return [w.strip().lower() for w in self.handoff_keywords.split(",") if w.strip()]


class KnowledgeEntry(models.Model):
    """What an agent answers from: an FAQ pair, or a document split into passages."""

    class Kind(models.TextChoices):
        FAQ = "faq", "FAQ"
        DOCUMENT = "document", "Document"

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="knowledge")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.FAQ)
    title = models.CharField(max_length=200, help_text="The question (FAQ) or the document's name.")
    body = models.TextField(help_text="The answer (FAQ) or the document's text.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "title"]

    def __str__(self) -> str:
        return self.title


class AgentRun(models.Model):
    """One turn of an agent: what it was given, what it answered, what it cost, how long it took."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        ANSWERED = "answered", "Answered"
        HANDED_OFF = "handed_off", "Handed to a human"
        FAILED = "failed", "Failed (fallback sent)"
        SKIPPED = "skipped", "Skipped"

    workspace = models.ForeignKey("workspaces_app.Workspace", on_delete=models.CASCADE, related_name="agent_runs")
    agent = models.ForeignKey(Agent, on_delete=models.SET_NULL, null=True, related_name="runs")
    conversation = models.ForeignKey("messaging_app.Conversation", on_delete=models.CASCADE, related_name="agent_runs")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RUNNING)
    provider = models.CharField(max_length=24)
    model = models.CharField(max_length=120, blank=True)
    trigger_message_ids = models.JSONField(default=list)
    prompt = models.JSONField(default=list)  # the messages given to the model
    output = models.TextField(blank=True)
    tool_calls = models.JSONField(default=list)  # [{name, arguments, result, duration_ms}]
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    # Prompt caching (Anthropic; OpenAI reports reads only): input tokens read from, and written to, the cache.
    # `input_tokens` counts the rest, billed at the full input price.
    cache_read_tokens = models.PositiveIntegerField(default=0)
    cache_write_tokens = models.PositiveIntegerField(default=0)
    # From the price table when the turn finished; None when no price was set for the provider and model.
    cost = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True)
    cost_currency = models.CharField(max_length=3, blank=True)
    # Requests made to the model (tool rounds and retries each count): what the per-customer limits add up.
    model_calls = models.PositiveSmallIntegerField(default=0)
    model_latency_ms = models.FloatField(null=True, blank=True)
    # From the customer's (first) message to the agent's first reply being queued.
    response_ms = models.FloatField(null=True, blank=True)
    slow = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["conversation", "started_at"], name="agentrun_conversation_idx"),
            # Analytics roll up a workspace's runs by day; the agent log filters by time.
            models.Index(fields=["workspace", "started_at"], name="agentrun_workspace_idx"),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.status})"


class HttpTool(models.Model):
    """An HTTP endpoint an agent may call as a tool, e.g. a shop's order-status API.

    The model fills the JSON-schema `parameters`; `{name}` placeholders in `url_template` take
    those values URL-encoded, and the rest go in the query (GET, DELETE) or a JSON body. Rules and
    the call itself live in `agents_app/tools.py`.
    """

    class Method(models.TextChoices):
        GET = "GET", "GET"
        POST = "POST", "POST"
        PUT = "PUT", "PUT"
        PATCH = "PATCH", "PATCH"
        DELETE = "DELETE", "DELETE"

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="http_tools")
    name = models.CharField(max_length=64, help_text="What the model calls it: a-z, 0-9 and _, e.g. order_status.")
    description = models.TextField(help_text="Tells the model what the tool does and when to use it.")
    parameters = models.JSONField(default=dict, blank=True, help_text="A JSON schema of type object.")
    method = models.CharField(max_length=6, choices=Method.choices, default=Method.GET)
    url_template = models.CharField(max_length=2000, help_text="e.g. https://shop.example/api/orders/{order_id}")
    # JSON object of header name → value (API keys); write-only, never rendered back.
    headers = EncryptedTextField(blank=True)
    timeout_seconds = models.PositiveSmallIntegerField(default=10)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["agent", "name"], name="httptool_unique_name"),
            models.CheckConstraint(
                condition=models.Q(timeout_seconds__gte=1, timeout_seconds__lte=30), name="httptool_timeout_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ModelPrice(models.Model):
    """What a provider charges per million tokens for a model, or for every model whose name starts so.

    Kept by the platform's admins (Django admin); a turn is priced from the longest matching prefix when it
    finishes, so a change applies to later turns only.
    """

    provider = models.CharField(max_length=24, choices=Agent.Provider.choices)
    model_prefix = models.CharField(
        max_length=120, help_text="A model name, or the start of one: claude-sonnet-4 prices claude-sonnet-4-5 too."
    )
    currency = models.CharField(max_length=3, default="USD")
    input_per_million = models.DecimalField(max_digits=10, decimal_places=4, validators=[MinValueValidator(0)])
    output_per_million = models.DecimalField(max_digits=10, decimal_places=4, validators=[MinValueValidator(0)])
    cached_input_per_million = models.DecimalField(
        max_digits=10,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="Input read from the prompt cache. Empty: the input price.",
    )
    cache_write_per_million = models.DecimalField(
        max_digits=10,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="Input written to the prompt cache (Anthropic). Empty: the input price.",
    )
    source = models.CharField(max_length=300, blank=True, help_text="Where the price comes from (a pricing page).")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["provider", "model_prefix"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "model_prefix"], name="modelprice_unique_model"),
            models.CheckConstraint(
                condition=models.Q(input_per_million__gte=0, output_per_million__gte=0), name="modelprice_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} {self.model_prefix}"


class WorkspaceModelBudget(models.Model):
    """A workspace's monthly cap on what its agents' model turns cost (all agents together)."""

    workspace = models.OneToOneField("workspaces_app.Workspace", on_delete=models.CASCADE, related_name="model_budget")
    monthly_budget = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text="In the price table's currency, per calendar month (UTC). Empty or 0: no cap.",
    )
    currency = models.CharField(max_length=3, default="USD")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"budget of workspace {self.workspace_id}"
