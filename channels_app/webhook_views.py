"""Meta's webhook endpoints: verify, store the raw bytes, answer 200 at once, process later.

Intake is the hot path (Meta sends ~3 status webhooks per message and expects a median
answer under 250 ms), so it is a plain Django view doing the minimum: check the signature
over the exact bytes, one INSERT in autocommit, and a cheap hint to the worker.
"""

import hmac
import json
import logging
import math

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from kombu.exceptions import KombuError
from redis.exceptions import RedisError

from audit_app.middleware import client_ip
from channels_app.models import Channel
from channels_app.selectors import webhook_concerns_only_sandbox_channels
from channels_app.services import WebhookRejectionsThrottled, webhook_event_receive, webhook_rejection_record
from channels_app.whatsapp.webhooks import signature_valid
from messaging_app.services.webhooks import webhook_events_drain_schedule

logger = logging.getLogger(__name__)

_ACK = json.dumps({"received": True}).encode()
_REJECTED = {"error": {"code": "invalid_signature", "message": "X-Hub-Signature-256 is missing or does not match."}}
_THROTTLED = {
    "error": {
        "code": "too_many_rejected_webhooks",
        "message": "Too many webhooks with a missing or wrong X-Hub-Signature-256 from this address; "
        "none of these is recorded. Fix the app secret that signs them, then retry after Retry-After seconds.",
    }
}
_UNAVAILABLE = {
    "error": {
        "code": "temporarily_unavailable",
        "message": "The webhook could not be stored (database unavailable); it was not accepted. Retry later.",
    }
}
# Meta retries unacknowledged webhooks with backoff for days; other senders may honour the header.
_RETRY_AFTER_SECONDS = 5


def _challenge_response(request, expected_token: str) -> HttpResponse:
    mode = request.GET.get("hub.mode")
    token = request.GET.get("hub.verify_token", "")
    challenge = request.GET.get("hub.challenge", "")
    if mode == "subscribe" and expected_token and hmac.compare_digest(token.encode(), expected_token.encode()):
        return HttpResponse(challenge, content_type="text/plain")
    logger.warning("webhook verification refused", extra={"mode": mode})
    return HttpResponse("Verification token mismatch.", status=403, content_type="text/plain")


def _unavailable(error: DatabaseError) -> JsonResponse:
    """Nowhere to write the event down, so it is not acknowledged: a 503 makes the sender deliver it again."""
    logger.error("webhook refused: the database is unavailable", extra={"error": str(error)[:300]})
    response = JsonResponse(_UNAVAILABLE, status=503)
    response["Retry-After"] = str(_RETRY_AFTER_SECONDS)
    return response


def _receive(request, *, app_secret: str, channel: Channel | None) -> HttpResponse:
    try:
        return _receive_and_store(request, app_secret=app_secret, channel=channel)
    except DatabaseError as error:
        return _unavailable(error)


def _receive_and_store(request, *, app_secret: str, channel: Channel | None) -> HttpResponse:
    raw = request.body  # the exact bytes Meta signed; never re-serialised
    valid = signature_valid(raw, request.headers.get("X-Hub-Signature-256"), app_secret)
    if valid and hmac.compare_digest(app_secret.encode(), settings.EMULATOR_META_APP_SECRET.encode()):
        valid = webhook_concerns_only_sandbox_channels(raw_body=raw, channel=channel)
    if not valid:
        return _reject(request, raw, channel)
    # Autocommit: the row is durable before we answer, and the hint below cannot outrun it.
    event = webhook_event_receive(raw_body=raw, headers=request.headers, signature_valid=True, channel=channel)
    try:
        webhook_events_drain_schedule()
    except (RedisError, KombuError, OSError):
        # The event is stored, so it is acknowledged: the webhook-events sweeper drains it once the broker
        # is back. A 5xx here would only make Meta send it again (and slow its deliveries to us down).
        logger.warning("drain hint lost; the sweeper will process the event", extra={"webhook_event_id": event.pk})
    return HttpResponse(_ACK, content_type="application/json")


def _reject(request, raw: bytes, channel: Channel | None) -> JsonResponse:
    """401, with a bounded record of the attempt; 429 once its source has had too many recorded."""
    source = client_ip(request) or "unknown"
    try:
        event = webhook_rejection_record(raw_body=raw, headers=request.headers, channel=channel, source=source)
    except WebhookRejectionsThrottled as throttled:
        response = JsonResponse(_THROTTLED, status=429)
        response["Retry-After"] = str(max(1, math.ceil(throttled.retry_after)))
        return response
    except (RedisError, OSError):
        # Without the shared counters nothing is recorded: the URL stays closed to bad signatures either way.
        logger.warning("webhook signature rejected; not recorded (rate limiter unavailable)", extra={"source": source})
        return JsonResponse(_REJECTED, status=401)
    logger.warning("webhook signature rejected", extra={"webhook_event_id": event.pk, "source": source})
    return JsonResponse(_REJECTED, status=401)


def _method_not_allowed() -> HttpResponse:
    return HttpResponse("Use GET to verify or POST to deliver.", status=405, content_type="text/plain")


@csrf_exempt
def meta_app_webhook(request):
    """The platform's own Meta app: events are routed to channels by phone number id / WABA id."""
    if request.method == "GET":
        return _challenge_response(request, settings.WHATSAPP_VERIFY_TOKEN)
    if request.method == "POST":
        return _receive(request, app_secret=settings.META_APP_SECRET, channel=None)
    return _method_not_allowed()


@csrf_exempt
def channel_webhook(request, channel_id):
    """A channel connected by hand with its own Meta app: its own verify token and app secret."""
    try:
        channel = get_object_or_404(Channel, public_id=channel_id)
    except DatabaseError as error:
        return _unavailable(error)
    if request.method == "GET":
        return _challenge_response(request, channel.verify_token)
    if request.method == "POST":
        return _receive(request, app_secret=channel.app_secret, channel=channel)
    return _method_not_allowed()
