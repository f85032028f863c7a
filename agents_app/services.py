"""Writes for agents: creating and configuring them, their knowledge, and their turns."""

import hashlib
import uuid

from django.db import IntegrityError, transaction
from django.utils import timezone

from agents_app.models import MIN_PROMPT_TOKEN_BUDGET, Agent, KnowledgeEntry
from agents_app.prompts import WHATSAPP_STYLE_GUIDE, instructions_for
from agents_app.providers.presets import preset_problem
from audit_app.services import audit_diff, audit_record, audit_stored_snapshot
from channels_app.models import Channel
from channels_app.whatsapp.bubbles import tap_reply
from channels_app.whatsapp.console_transport import media_store
from channels_app.whatsapp.template_rules import LANGUAGE_RE, NAME_RE
from channels_app.whatsapp.webhooks import InboundMessage
from messaging_app.bubbles import bubble_source
from messaging_app.models import Conversation, Message
from messaging_app.services.contacts import contact_resolve, conversation_for_contact
from messaging_app.services.inbound import inbound_message_record
from whatsapp_platform.errors import Conflict, InvalidInput

DEFAULT_AGENT_NAME = "Assistant"
# The fields staff may set; the API key is write-only and handled apart.
AGENT_FIELDS = (
    "name",
    "instructions",
    "provider",
    "model",
    "base_url",
    "api_version",
    "region",
    "project_id",
    "monthly_budget",
    "temperature",
    "max_output_tokens",
    "request_timeout_seconds",
    "target_chars",
    "max_messages_per_turn",
    "use_emoji",
    "history_messages",
    "debounce_seconds",
    "max_concurrent_turns",
    "model_calls_per_conversation_hour",
    "model_calls_per_contact_day",
    "prompt_token_budget",
    "handoff_keywords",
    "fallback_message",
    "window_closed_template",
    "window_closed_template_language",
    "window_closed_template_parameters",
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
        for setting in ("api_version", "region", "project_id"):
            setattr(agent, setting, (getattr(agent, setting) or "").strip())
        problem = preset_problem(
            kind=agent.provider, api_key=agent.api_key, base_url=agent.base_url, **agent.cloud_settings
        )
        if problem is not None:
            raise InvalidInput(problem[1], field=problem[0])
    if agent.monthly_budget is not None and agent.monthly_budget < 0:
        raise InvalidInput("A monthly budget cannot be negative (empty or 0 means no cap).", field="monthly_budget")
    ranges = {
        "temperature": (0.0, 2.0),
        "max_output_tokens": (16, 8000),
        "request_timeout_seconds": (1, 120),
        "target_chars": (40, 4096),
        "max_messages_per_turn": (1, 10),
        "history_messages": (0, 100),
        "debounce_seconds": (0, 30),
        "max_concurrent_turns": (1, 1000),
        "model_calls_per_conversation_hour": (1, 10_000),
        "model_calls_per_contact_day": (1, 100_000),
        "prompt_token_budget": (MIN_PROMPT_TOKEN_BUDGET, 200_000),
    }
    for field, (low, high) in ranges.items():
        value = getattr(agent, field)
        if value is None or not low <= value <= high:
            raise InvalidInput(f"{field.replace('_', ' ').capitalize()} must be between {low} and {high}.", field=field)
    if not agent.fallback_message.strip():
        raise InvalidInput(
            "The fallback message cannot be empty: customers see it when the agent fails.", field="fallback_message"
        )
    _window_closed_template_validate(agent)


def _window_closed_template_validate(agent: Agent) -> None:
    agent.window_closed_template = (agent.window_closed_template or "").strip()
    agent.window_closed_template_language = (agent.window_closed_template_language or "").strip()
    if agent.window_closed_template_parameters in (None, ""):
        agent.window_closed_template_parameters = {}  # an empty form field
    if not agent.window_closed_template:
        return
    if not NAME_RE.fullmatch(agent.window_closed_template):
        raise InvalidInput(
            "A template name holds only lowercase letters, digits and _, e.g. we_will_reply.",
            field="window_closed_template",
        )
    if not LANGUAGE_RE.fullmatch(agent.window_closed_template_language or ""):
        raise InvalidInput("Give the template's language code, e.g. en_US.", field="window_closed_template_language")
    parameters = agent.window_closed_template_parameters
    if not isinstance(parameters, dict) or not all(
        isinstance(k, str) and isinstance(v, str | int | float) for k, v in parameters.items()
    ):
        raise InvalidInput(
            'The template\'s parameters are an object of placeholder → text, e.g. {"1": "Lucky Shrub"}.',
            field="window_closed_template_parameters",
        )


def agent_save(
    *, workspace, agent: Agent | None = None, values: dict, api_key: str | None = None, example: str = ""
) -> Agent:
    """Create (agent=None) or update an agent. `api_key=None` keeps the stored key; "" clears it."""
    agent = agent or Agent(workspace=workspace)
    before = audit_stored_snapshot(Agent, agent.pk)  # the caller may have changed the instance already
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
            audit_record(
                action="agent.updated" if before else "agent.created", target=agent, changes=audit_diff(before, agent)
            )
    except IntegrityError:
        raise Conflict(f"An agent called '{agent.name}' already exists here.", field="name") from None
    return agent


@transaction.atomic
def agent_delete(*, agent: Agent) -> None:
    """Remove an agent; its WhatsApp channels stay (unanswered until another agent is assigned),
    its test consoles and their chats go with it."""
    Channel.objects.filter(agent=agent, provider=Channel.Provider.TEST_CONSOLE).delete()
    agent.delete()
    audit_record(action="agent.deleted", target=agent)


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


# --- The agent test console: the same runtime, with a person in the browser as the customer ----


def agent_test_channel(*, agent: Agent):
    """The agent's own test-console channel, created on first use and kept pointing at the agent."""
    phone_number_id = f"console-{agent.public_id.hex[:24]}"
    name = f"Test console · {agent.name}"[:120]
    channel, created = Channel.objects.get_or_create(
        phone_number_id=phone_number_id,
        defaults={
            "workspace_id": agent.workspace_id,
            "name": name,
            "provider": Channel.Provider.TEST_CONSOLE,
            "connection": Channel.Connection.TEST_CONSOLE,
            "status": Channel.Status.ACTIVE,
            "verified_name": agent.name,
            "agent": agent,
        },
    )
    if not created and (channel.agent_id != agent.pk or channel.name != name or channel.verified_name != agent.name):
        Channel.objects.filter(pk=channel.pk).update(agent=agent, name=name, verified_name=agent.name)
        channel.refresh_from_db()
    return channel


def _tester_identity(user) -> dict:
    # BSUID-shaped, so every WhatsApp rule on recipients holds; "ZZ" is no country.
    return {"wa_id": None, "user_id": f"ZZ.console{user.pk}", "profile_name": user.get_full_name() or user.email}


def agent_test_conversation(*, agent: Agent, user):
    """The tester's conversation with the agent (created empty on first look)."""
    channel = agent_test_channel(agent=agent)
    with transaction.atomic():
        contact = contact_resolve(channel=channel, **_tester_identity(user))
        return conversation_for_contact(contact=contact)


def agent_test_message_send(
    *,
    agent: Agent,
    user,
    message_type: str,
    content: dict,
    context_wamid: str = "",
    file: tuple[bytes, str, str] | None = None,
):
    """The tester writes to the agent: stored as a customer message and answered by the real runtime.

    `file` is (bytes, filename, MIME type) for a photo, voice note or document; it is kept like
    media WhatsApp announces, and fetched and understood by the same media pipeline.
    """
    channel = agent_test_channel(agent=agent)
    content = dict(content)
    if file is not None:
        data, filename, mime_type = file
        content.update(
            {"id": media_store(content=data, mime_type=mime_type, filename=filename), "mime_type": mime_type}
        )
        content["sha256"] = hashlib.sha256(data).hexdigest()
        if message_type == "document":
            content["filename"] = filename
    identity = _tester_identity(user)
    item = InboundMessage(
        waba_id="",
        phone_number_id=channel.phone_number_id,
        display_phone_number="",
        wamid=f"wamid.console.in.{uuid.uuid4().hex}",
        timestamp=timezone.now(),
        message_type=message_type,
        from_phone=None,
        from_user_id=identity["user_id"],
        parent_user_id=None,
        profile_name=identity["profile_name"],
        username=None,
        content=content,
        context={"id": context_wamid} if context_wamid else None,
        referral=None,
        errors=[],
        raw={},
    )
    with transaction.atomic():
        return inbound_message_record(channel=channel, item=item)


def agent_test_tap(*, agent: Agent, user, wamid: str, choice: str):
    """The tester taps a reply button or list row of one of the agent's messages."""
    conversation = agent_test_conversation(agent=agent, user=user)
    message = conversation.messages.filter(direction=Message.Direction.OUTBOUND, wamid=wamid).exclude(wamid="").first()
    if message is None:
        raise InvalidInput("That message is not in this test chat.", field="wamid")
    tapped = tap_reply(message, choice, source=bubble_source(conversation, [message]))
    if tapped is None:
        raise InvalidInput("That message has no such button.", field="choice")
    message_type, content = tapped
    return agent_test_message_send(
        agent=agent, user=user, message_type=message_type, content=content, context_wamid=message.wamid
    )


def agent_test_conversation_reset(*, agent: Agent, user) -> None:
    """Start the test chat afresh: its messages and runs go (they are the tester's own)."""
    conversation = agent_test_conversation(agent=agent, user=user)
    deleted, _ = Conversation.objects.filter(pk=conversation.pk).exclude(agent_turn_until__gt=timezone.now()).delete()
    if not deleted:
        raise Conflict("The agent is answering right now; reset once its reply has arrived.")
