"""The emulator's own settings, each read at use time so tests can override them.

Every name is optional; the defaults suit a developer's machine. Tests shrink the delays.
"""

from typing import Any

from django.conf import settings

# Seconds after an accepted send at which each status webhook is due.
DEFAULT_STATUS_DELAYS = {"sent": 0.5, "delivered": 1.5, "read": 3.0, "played": 4.0}
DEFAULTS: dict[str, Any] = {
    "STATUS_DELAYS": DEFAULT_STATUS_DELAYS,
    # Seconds before a created template is approved (or rejected when its name contains "reject").
    "TEMPLATE_REVIEW_SECONDS": 2.0,
    # Lifetime of a media download URL (Meta: 5 minutes).
    "MEDIA_URL_TTL_SECONDS": 300,
    # Webhook delivery: attempts before giving up, first retry delay (doubles each time), HTTP timeout.
    "WEBHOOK_MAX_ATTEMPTS": 8,
    "WEBHOOK_RETRY_BASE_SECONDS": 1.0,
    "WEBHOOK_RETRY_MAX_SECONDS": 3600.0,
    "WEBHOOK_TIMEOUT_SECONDS": 10.0,
    # How long the dispatcher keeps a claimed delivery before another process may take it over.
    "WEBHOOK_CLAIM_SECONDS": 60.0,
    # Customer-service window (Meta: 24 hours).
    "SERVICE_WINDOW_SECONDS": 24 * 3600,
    # When set, the control API requires `Authorization: Bearer <this>`.
    "CONTROL_TOKEN": "",
}


def get(name: str) -> Any:
    """`settings.WHATSAPP_EMULATOR_<name>`, or the default above."""
    return getattr(settings, f"WHATSAPP_EMULATOR_{name}", DEFAULTS[name])
