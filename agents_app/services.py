"""Writes for agents: creating and configuring them, their knowledge, and their turns."""

from django.db import IntegrityError, transaction

from agents_app.models import Agent, KnowledgeEntry
from agents_app.prompts import WHATSAPP_STYLE_GUIDE, instructions_for
from whatsapp_platform.errors import Conflict, InvalidInput

DEFAULT_AGENT_NAME = "Assistant"
# The fields staff may set; the API key is write-only and handled apart.
AGENT_FIELDS = (
    "name",
    "instructions",
    "provider",
    "model",
    "base_url",
    "temperature",
    "max_output_tokens",
    "request_timeout_seconds",
    "target_chars",
    "max_messages_per_turn",
    "use_emoji",
    "history_messages",
    "debounce_seconds",
    "handoff_keywords",
    "fallback_message",
)
KNOWLEDGE_DOCUMENT_MAX_BYTES = 2 * 1024 * 1024


def agent_default_ensure(*, workspace) -> Agent:
    """The workspace's starting agent: offline knowledge-base answers, no API key needed."""
    agent, _ = Agent.objects.get_or_create(
        workspace=workspace,
        name=DEFAULT_AGENT_NAME,
        defaults={
            "instructions": WHATSAPP_STYLE_GUIDE.format(business_name=workspace.name),
            "provider": Agent.Provider.KNOWLEDGE_BASE,
        },
    )
    return agent


def _validate(agent: Agent) -> None:
    if not agent.name.strip():
        raise InvalidInput("Give the agent a name.", field="name")
    if agent.provider not in Agent.Provider.values:
        raise InvalidInput(f"Choose a provider: {', '.join(Agent.Provider.values)}.", field="provider")
    if agent.provider != Agent.Provider.KNOWLEDGE_BASE:
        if not agent.model.strip():
            raise InvalidInput("Name the model to use, e.g. gpt-4o-mini or claude-sonnet-4-5.", field="model")
        if agent.provider == Agent.Provider.ANTHROPIC and not agent.api_key:
            raise InvalidInput("An Anthropic agent needs an API key.", field="api_key")
        if agent.provider == Agent.Provider.OPENAI_COMPATIBLE and not (agent.api_key or agent.base_url):
            raise InvalidInput("Give an API key, or the base URL of a local server such as Ollama.", field="api_key")
    ranges = {
        "temperature": (0.0, 2.0),
        "max_output_tokens": (16, 8000),
        "request_timeout_seconds": (1, 120),
        "target_chars": (40, 4096),
        "max_messages_per_turn": (1, 10),
        "history_messages": (0, 100),
        "debounce_seconds": (0, 30),
    }
    for field, (low, high) in ranges.items():
        value = getattr(agent, field)
        if value is None or not low <= value <= high:
            raise InvalidInput(f"{field.replace('_', ' ').capitalize()} must be between {low} and {high}.", field=field)
    if not agent.fallback_message.strip():
        raise InvalidInput(
            "The fallback message cannot be empty: customers see it when the agent fails.", field="fallback_message"
        )


def agent_save(
    *, workspace, agent: Agent | None = None, values: dict, api_key: str | None = None, example: str = ""
) -> Agent:
    """Create (agent=None) or update an agent. `api_key=None` keeps the stored key; "" clears it."""
    agent = agent or Agent(workspace=workspace)
    for field, value in values.items():
        if field in AGENT_FIELDS:
            setattr(agent, field, value.strip() if isinstance(value, str) and field != "instructions" else value)
    if not agent.instructions.strip():
        agent.instructions = instructions_for(business_name=workspace.name, example=example)
    if api_key is not None:
        agent.api_key = api_key.strip()
    _validate(agent)
    try:
        with transaction.atomic():
            agent.save()
    except IntegrityError:
        raise Conflict(f"An agent called '{agent.name}' already exists here.", field="name") from None
    return agent


def knowledge_add(*, agent: Agent, title: str, body: str, kind: str = KnowledgeEntry.Kind.FAQ) -> KnowledgeEntry:
    title, body = (title or "").strip(), (body or "").strip()
    if not title:
        raise InvalidInput("Write the question (or the document's name).", field="title")
    if not body:
        raise InvalidInput("Write the answer (or upload the document's text).", field="body")
    if len(title) > 200:
        raise InvalidInput(f"The title is {len(title)} characters; keep it to 200.", field="title")
    return KnowledgeEntry.objects.create(agent=agent, kind=kind, title=title, body=body)


def knowledge_document_add(*, agent: Agent, filename: str, content: bytes) -> KnowledgeEntry:
    """A plain-text or Markdown document the agent answers from."""
    if not filename.lower().endswith((".txt", ".md", ".markdown")):
        raise InvalidInput("Upload a .txt or .md file (plain text or Markdown).", field="document")
    if len(content) > KNOWLEDGE_DOCUMENT_MAX_BYTES:
        raise InvalidInput(f"The document is {len(content):,} bytes; the limit is 2 MB.", field="document")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("The document is not UTF-8 text.", field="document") from None
    return knowledge_add(agent=agent, title=filename, body=text, kind=KnowledgeEntry.Kind.DOCUMENT)


def knowledge_remove(*, agent: Agent, entry_id: int) -> None:
    KnowledgeEntry.objects.filter(agent=agent, pk=entry_id).delete()


def agent_turn_run(*, conversation, messages: list):
    """The assigned agent answers a burst of customer messages (see agents_app.turns)."""
    from agents_app.turns import agent_turn_run as run

    return run(conversation=conversation, messages=messages)
