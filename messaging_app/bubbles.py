"""A conversation drawn as a chat: the platform's messages as bubbles, with who sent what and its ticks.

Two sides look at a conversation: staff (the inbox: the business's messages on the right) and
the customer (an agent's test console: the tester's messages on the right).
"""

from django.urls import reverse

from channels_app.models import MessageTemplate
from channels_app.whatsapp.bubbles import Bubble, bubbles_fold, media_ids
from messaging_app.models import Conversation, Message

STAFF = "staff"
CUSTOMER = "customer"

_TICKS = {
    Message.Status.QUEUED: ("pending", "🕓", "Queued"),
    Message.Status.SENDING: ("pending", "🕓", "Sending"),
    Message.Status.UNKNOWN: ("pending", "🕓", "Waiting for WhatsApp to confirm"),
    Message.Status.ACCEPTED: ("sent", "✓", "Accepted by WhatsApp"),
    Message.Status.SENT: ("sent", "✓", "Sent"),
    Message.Status.DELIVERED: ("delivered", "✓✓", "Delivered"),
    Message.Status.READ: ("read", "✓✓", "Read"),
    Message.Status.PLAYED: ("read", "✓✓", "Played"),
}


class _PlatformSource:
    """Files and templates for the bubbles of one response, looked up once."""

    def __init__(self, conversation: Conversation, messages: list[Message]):
        self.workspace_slug = conversation.workspace.slug
        self.files: dict[str, Message] = {}
        for message in messages:
            if message.media_file:
                for media_id in media_ids(message.content) | {message.media_id, f"message-{message.public_id}"}:
                    if media_id:
                        self.files[media_id] = message
        self.waba_id = conversation.channel.waba_id
        self.templates: dict[tuple[str, str], list | None] = {}

    def media_file(self, media_id: str) -> dict | None:
        message = self.files.get(media_id)
        if message is None:
            return None
        return {
            "url": reverse(
                "message_media", kwargs={"workspace_slug": self.workspace_slug, "message_id": message.public_id}
            ),
            "mime_type": message.media_mime_type,
            "size": message.media_size,
            "filename": message.content.get("filename", "") if isinstance(message.content, dict) else "",
        }

    def template_components(self, name: str, language: str) -> list | None:
        key = (name, language)
        if key not in self.templates:
            template = (
                MessageTemplate.objects.filter(waba_id=self.waba_id, name=name, language=language).first()
                if self.waba_id
                else None
            )
            self.templates[key] = template.components if template is not None else None
        return self.templates[key]


def bubble_source(conversation: Conversation, messages: list[Message]) -> _PlatformSource:
    """Where the bubbles of these messages find their files and templates."""
    return _PlatformSource(conversation, messages)


def conversation_bubbles(conversation: Conversation, *, side: str = STAFF, limit: int = 200) -> list[Bubble]:
    """The latest `limit` messages of a conversation, oldest first, as one side sees them."""
    messages = list(
        conversation.messages.select_related("sender_user", "sender_agent").order_by("-timestamp", "-id")[:limit]
    )
    messages.reverse()
    for message in messages:
        # An outbound file not uploaded yet has no Graph id: point its bubble at the stored copy.
        if message.media_file and isinstance(message.content, dict) and not message.content.get("id"):
            message.content = {**message.content, "id": f"message-{message.public_id}"}

    def mine(message: Message) -> bool:
        inbound = message.direction == Message.Direction.INBOUND
        return inbound if side == CUSTOMER else not inbound

    business = conversation.channel.verified_name or conversation.channel.name
    customer = str(conversation.contact)

    def quote_author(quoted: Bubble) -> str:
        if quoted.mine:
            return "You"
        return business if side == CUSTOMER else customer

    bubbles = bubbles_fold(messages, mine=mine, source=bubble_source(conversation, messages), quote_author=quote_author)
    for bubble in bubbles:
        _annotate(bubble.message, bubble)
    return bubbles


def _annotate(message: Message, bubble: Bubble) -> None:
    """What the chat adds to WhatsApp's own look: who sent it, its state, what the agent understood."""
    if message.direction == Message.Direction.OUTBOUND:
        bubble.extra["sender"] = _sender_label(message)
        if message.status == Message.Status.FAILED:
            reason = message.error_title or "Failed"
            if message.error_code:
                reason = f"{reason} ({message.error_code})"
            bubble.ticks = {"state": "failed", "symbol": "⚠", "label": reason, "code": message.error_code}
            bubble.extra["error"] = message.error_details or message.error_title
        else:
            state, symbol, label = _TICKS.get(message.status, ("pending", "🕓", message.get_status_display()))
            bubble.ticks = {"state": state, "symbol": symbol, "label": label}
        if message.possible_duplicate:
            bubble.extra["notice"] = "Sent again after an unconfirmed attempt: the customer may see it twice."
    else:
        if message.handled_at:
            bubble.ticks = {"state": "read", "symbol": "✓✓", "label": "Read"}
        if message.media_state == Message.MediaState.PENDING:
            bubble.extra["notice"] = "Downloading the file…"
        elif message.media_state == Message.MediaState.FAILED:
            bubble.extra["notice"] = f"The file could not be downloaded: {message.media_error}"
        elif message.media_error:
            # Stored, but the agent could not read it (damaged, locked, too large to read).
            bubble.extra["notice"] = f"The agent could not read this file: {message.media_error}"
    if message.transcript:
        bubble.extra["transcript"] = message.transcript
    if message.extracted_text:
        bubble.extra["extracted"] = f"{len(message.extracted_text):,} characters of text read from the file"
    if message.revoked_at:
        bubble.notice = "This message was deleted."
        bubble.text = ""


def _sender_label(message: Message) -> str:
    if message.sender == Message.Sender.AGENT:
        return f"🤖 {message.sender_agent.name}" if message.sender_agent else "🤖 AI agent"
    if message.sender == Message.Sender.TEAMMATE and message.sender_user is not None:
        return f"👤 {message.sender_user.get_full_name() or message.sender_user.email}"
    return message.get_sender_display()


def conversation_version(conversation: Conversation) -> str:
    """Changes whenever the drawn chat would: a message, a status, a download, a state change."""
    latest = conversation.messages.order_by("-updated_at").values_list("updated_at", flat=True).first()
    count = conversation.messages.count()
    conversation.refresh_from_db(fields=["state", "updated_at"])
    stamp = latest.timestamp() if latest else 0
    return f"{count}.{stamp:.6f}.{conversation.state}.{conversation.updated_at.timestamp():.6f}"
