"""Meta's webhook endpoints: verify, store the raw bytes, answer 200 at once, process in a task."""

import hmac
import logging

from django.conf import settings
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from channels_app.models import Channel
from channels_app.services import webhook_event_receive
from channels_app.whatsapp.webhooks import signature_valid
from messaging_app import tasks as messaging_tasks

logger = logging.getLogger(__name__)


def _challenge_response(request, expected_token: str) -> HttpResponse:
    mode = request.GET.get("hub.mode")
    token = request.GET.get("hub.verify_token", "")
    challenge = request.GET.get("hub.challenge", "")
    if mode == "subscribe" and expected_token and hmac.compare_digest(token.encode(), expected_token.encode()):
        return HttpResponse(challenge, content_type="text/plain")
    logger.warning("webhook verification refused", extra={"mode": mode})
    return HttpResponse("Verification token mismatch.", status=403, content_type="text/plain")


def _receive(request, *, app_secret: str, channel: Channel | None) -> Response:
    raw = request.body  # the exact bytes Meta signed; never re-serialised
    valid = signature_valid(raw, request.headers.get("X-Hub-Signature-256"), app_secret)
    with transaction.atomic():
        event = webhook_event_receive(
            raw_body=raw, headers=dict(request.headers), signature_valid=valid, channel=channel
        )
        if valid:
            transaction.on_commit(lambda: messaging_tasks.webhook_event_process.delay(event.pk))
    if not valid:
        logger.warning("webhook signature rejected", extra={"webhook_event_id": event.pk})
        return Response(
            {"error": {"code": "invalid_signature", "message": "X-Hub-Signature-256 is missing or does not match."}},
            status=401,
        )
    return Response({"received": True})


class _WebhookBase(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes: list = []  # the body is read raw
    throttle_classes: list = []


class MetaAppWebhookApi(_WebhookBase):
    """The platform's own Meta app: events are routed to channels by phone number id / WABA id."""

    @extend_schema(exclude=True)
    def get(self, request):
        return _challenge_response(request, settings.WHATSAPP_VERIFY_TOKEN)

    @extend_schema(exclude=True)
    def post(self, request):
        return _receive(request, app_secret=settings.META_APP_SECRET, channel=None)


class ChannelWebhookApi(_WebhookBase):
    """A channel connected by hand with its own Meta app: its own verify token and app secret."""

    @extend_schema(exclude=True)
    def get(self, request, channel_id):
        channel = get_object_or_404(Channel, public_id=channel_id)
        return _challenge_response(request, channel.verify_token)

    @extend_schema(exclude=True)
    def post(self, request, channel_id):
        channel = get_object_or_404(Channel, public_id=channel_id)
        return _receive(request, app_secret=channel.app_secret, channel=channel)
