"""Inbound media: fetched from Graph in a task, checked against the webhook, stored once."""

import base64
import hashlib
import logging
import mimetypes
import uuid
from datetime import timedelta

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from channels_app.services import graph_client_for_channel
from channels_app.whatsapp import errors as graph_errors
from channels_app.whatsapp.client import MediaUrlExpired
from messaging_app.models import Message
from whatsapp_platform.images import ImageTooLarge, ImageUnreadable, image_size_check

logger = logging.getLogger(__name__)

# Customers may send up to 100 MB (larger files arrive as error 131052 instead).
INBOUND_MEDIA_MAX_BYTES = 100 * 1024 * 1024


class MediaFetchRetry(Exception):
    """A passing failure (rate limit, outage, timeout): try again later."""


def _sha256_matches(expected: str, content: bytes) -> bool:
    if not expected:
        return True
    digest = hashlib.sha256(content).digest()
    return expected in (digest.hex(), base64.b64encode(digest).decode(), base64.urlsafe_b64encode(digest).decode())


def _extension(mime_type: str) -> str:
    base = (mime_type or "").split(";")[0].strip()
    return {"audio/ogg": ".ogg", "image/jpeg": ".jpg", "audio/mpeg": ".mp3"}.get(base) or (
        mimetypes.guess_extension(base) or ".bin"
    )


def inbound_media_fetch(*, message_id: int) -> Message | None:
    """Download and store the media of one inbound message. Raises MediaFetchRetry for passing failures."""
    message = Message.objects.select_related("channel").filter(pk=message_id).first()
    if message is None or message.media_state != Message.MediaState.PENDING:
        return message
    client = graph_client_for_channel(message.channel)
    try:
        content, content_type = _download(client, message)
    except (graph_errors.GraphUnavailable, graph_errors.GraphOutcomeUnknown) as exc:
        raise MediaFetchRetry(str(exc)) from exc
    except graph_errors.GraphError as exc:
        if exc.kind in (graph_errors.RETRYABLE, graph_errors.RETRY_ONCE, graph_errors.PAIR_RATE_LIMIT):
            raise MediaFetchRetry(str(exc)) from exc
        return inbound_media_fail(message_id=message.pk, reason=str(exc))
    if not _sha256_matches(message.media_sha256, content):
        return inbound_media_fail(
            message_id=message.pk, reason="The downloaded file does not match the checksum WhatsApp announced."
        )
    if message.message_type in ("image", "sticker"):
        try:
            image_size_check(content)
        except ImageTooLarge as exc:
            # Kept, it would be decoded by the inbox's browsers and the model's vision input.
            reason = f"The image is {exc.dimensions}, too large to open."
            return inbound_media_fail(message_id=message.pk, reason=reason)
        except ImageUnreadable:
            pass  # stored as it came: staff can still download it
    mime_type = message.media_mime_type or content_type
    name = f"whatsapp-media/{message.workspace_id}/{timezone.now():%Y/%m}/{uuid.uuid4().hex}{_extension(mime_type)}"
    stored_name = default_storage.save(name, ContentFile(content))
    Message.objects.filter(pk=message.pk).update(
        media_file=stored_name,
        media_size=len(content),
        media_mime_type=mime_type,
        media_state=Message.MediaState.STORED,
        media_error="",
        updated_at=timezone.now(),
    )
    logger.info("inbound media stored", extra={"message_id": message.pk, "bytes": len(content)})
    message.refresh_from_db()
    return message


def _download(client, message: Message) -> tuple[bytes, str]:
    info = client.media_info(message.media_id, phone_number_id=message.channel.phone_number_id)
    try:
        return client.media_download(info["url"], max_bytes=INBOUND_MEDIA_MAX_BYTES)
    except MediaUrlExpired:
        # Media URLs live 5 minutes: ask for a fresh one, once.
        info = client.media_info(message.media_id, phone_number_id=message.channel.phone_number_id)
        return client.media_download(info["url"], max_bytes=INBOUND_MEDIA_MAX_BYTES)


def inbound_media_fail(*, message_id: int, reason: str) -> Message | None:
    Message.objects.filter(pk=message_id, media_state=Message.MediaState.PENDING).update(
        media_state=Message.MediaState.FAILED, media_error=reason[:2000], updated_at=timezone.now()
    )
    logger.warning("inbound media failed", extra={"message_id": message_id, "reason": reason})
    return Message.objects.filter(pk=message_id).first()


def inbound_media_pending_stale(*, older_than_seconds: int = 600) -> list[int]:
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    return list(
        Message.objects.filter(media_state=Message.MediaState.PENDING, updated_at__lte=cutoff).values_list(
            "pk", flat=True
        )[:1000]
    )
