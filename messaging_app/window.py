"""The 24-hour customer-service window: opened and refreshed by each customer message. Outside it WhatsApp
accepts only templates from the business (and a few exempt types)."""

from datetime import timedelta

from django.utils import timezone

from messaging_app.models import Conversation

WINDOW = timedelta(hours=24)


def window_open(conversation: Conversation, *, now=None) -> bool:
    """Whether the conversation's window is open now (or at `now`)."""
    if conversation.last_inbound_at is None:
        return False
    return (now or timezone.now()) < conversation.last_inbound_at + WINDOW
