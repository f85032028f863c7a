"""The webhook ledger: every POST stored as received, then marked processed or failed."""

import re

from django.utils import timezone

from channels_app.models import Channel, WebhookEvent

# Headers worth keeping with a stored webhook; the rest is noise (or secret).
_KEPT_HEADERS = ("Content-Type", "Content-Length", "User-Agent", "X-Hub-Signature-256", "X-Request-ID")


# A "messages" key with a value (`"field": "messages"` names the field, statuses included). A byte search,
# not a parse: intake stays one INSERT; a false match only moves an event up the queue.
_CUSTOMER_MESSAGES = re.compile(rb'"messages"\s*:\s*\[')


def webhook_event_receive(
    *, raw_body: bytes, headers: dict, signature_valid: bool, channel: Channel | None
) -> WebhookEvent:
    """Store a webhook POST as received. Processing happens later, in a task."""
    kept = {name: headers[name] for name in _KEPT_HEADERS if name in headers}
    return WebhookEvent.objects.create(
        workspace_id=channel.workspace_id if channel else None,
        channel=channel,
        body=raw_body,
        headers=kept,
        signature_valid=signature_valid,
        customer_messages=signature_valid and _CUSTOMER_MESSAGES.search(raw_body) is not None,
        state=WebhookEvent.State.PENDING if signature_valid else WebhookEvent.State.REJECTED,
        error="" if signature_valid else "X-Hub-Signature-256 missing or wrong; nothing was processed.",
    )


def webhook_event_finish(*, event: WebhookEvent, error: str = "", summary: str = "") -> None:
    event.state = WebhookEvent.State.FAILED if error else WebhookEvent.State.PROCESSED
    event.error = error[:10000]
    event.summary = summary[:200]
    event.processed_at = timezone.now()
    event.save(update_fields=["state", "error", "summary", "processed_at", "attempts", "workspace_id"])
