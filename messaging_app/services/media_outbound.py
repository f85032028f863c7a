"""Outbound media: converted to a format WhatsApp accepts (or refused, saying which), uploaded once, sent by id."""

import hashlib
import io
import logging
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from channels_app.services import graph_client_for_channel
from channels_app.whatsapp.payloads import MEDIA_RULES, PayloadInvalid, media_check, mime_normalise
from messaging_app.errors import MessageRejected
from messaging_app.models import MediaUpload, Message
from whatsapp_platform.images import ImageTooLarge, ImageUnreadable, image_open, image_size_check

logger = logging.getLogger(__name__)

# What WhatsApp accepts per kind (reference §6); the one table lives with the wire format.
ACCEPTED = {kind: rule.mime_types for kind, rule in MEDIA_RULES.items()}
_PILLOW_CONVERTIBLE = {"image/gif", "image/webp", "image/heic", "image/heif", "image/bmp", "image/tiff"}
_FFMPEG_VIDEO = {"video/quicktime", "video/webm", "video/x-matroska", "video/x-msvideo"}
_FFMPEG_AUDIO = {"audio/ogg", "audio/webm", "audio/wav", "audio/x-wav", "audio/flac", "audio/x-m4a"}
# Upload ids live 30 days at Meta; re-upload a day early.
UPLOAD_REUSE_DAYS = 29
FFMPEG_TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class PreparedMedia:
    kind: str
    content: bytes
    mime_type: str
    filename: str


def _base(mime_type: str) -> str:
    return mime_normalise(mime_type or "")


def _refuse(mime_type: str, kind: str | None = None) -> MessageRejected:
    kinds = [kind] if kind else ["image", "video", "audio", "document"]
    accepted = "; ".join(f"{k}: {', '.join(ACCEPTED[k])}" for k in kinds)
    return MessageRejected(
        f"WhatsApp does not accept {mime_type or 'this file type'}. Accepted formats — {accepted}.", field="file"
    )


def _image_convert(content: bytes, filename: str) -> tuple[bytes, str, str]:
    from PIL import ImageOps

    try:
        from pillow_heif import register_heif_opener

        register_heif_opener()
    except ImportError:  # HEIC then fails below with a clear refusal
        pass
    try:
        with image_open(content) as image:
            image.seek(0)  # animated GIF/WebP: the first frame
            image = ImageOps.exif_transpose(image)
            has_alpha = (
                image.mode in ("RGBA", "LA", "P") and "transparency" in image.info or image.mode in ("RGBA", "LA")
            )
            out = io.BytesIO()
            if has_alpha:
                image.convert("RGBA").save(out, format="PNG", optimize=True)
                return out.getvalue(), "image/png", f"{Path(filename).stem}.png"
            image.convert("RGB").save(out, format="JPEG", quality=88, optimize=True)
            return out.getvalue(), "image/jpeg", f"{Path(filename).stem}.jpg"
    except ImageTooLarge as exc:
        raise MessageRejected(str(exc), field="file", code=exc.code) from exc
    except Exception as exc:  # Pillow raises many types for unreadable files
        raise MessageRejected(f"The image {filename!r} could not be read ({exc}).", field="file") from exc


def _pixel_bomb_refuse(content: bytes, filename: str) -> None:
    """Refuse an image declaring more pixels than we allow, even in a format sent as it is: the customer's
    phone would have to decode it. A file that is no image at all is left for WhatsApp to refuse, as before."""
    try:
        image_size_check(content)
    except ImageTooLarge as exc:
        raise MessageRejected(str(exc), field="file", code=exc.code) from exc
    except ImageUnreadable:
        pass


def _ffmpeg_convert(content: bytes, filename: str, *, target: str) -> tuple[bytes, str, str] | None:
    """Convert with ffmpeg; None when ffmpeg is not installed."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        return None
    if target == "video":
        args, mime, suffix = (
            ["-c:v", "libx264", "-profile:v", "main", "-bf", "0", "-c:a", "aac", "-movflags", "+faststart"],
            "video/mp4",
            ".mp4",
        )
    else:
        args, mime, suffix = ["-vn", "-ac", "1", "-c:a", "libopus", "-b:a", "32k"], "audio/ogg; codecs=opus", ".ogg"
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / f"in{Path(filename).suffix or '.bin'}"
        target_path = Path(folder) / f"out{suffix}"
        source.write_bytes(content)
        try:
            subprocess.run(  # noqa: S603 - fixed arguments, our own temp files
                [ffmpeg, "-y", "-loglevel", "error", "-i", str(source), *args, str(target_path)],
                check=True,
                capture_output=True,
                timeout=FFMPEG_TIMEOUT_SECONDS,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            raise MessageRejected(f"The file {filename!r} could not be converted for WhatsApp.", field="file") from exc
        return target_path.read_bytes(), mime, f"{Path(filename).stem}{suffix}"


def outbound_media_prepare(*, content: bytes, filename: str, mime_type: str, as_sticker: bool = False) -> PreparedMedia:
    """Pick the WhatsApp media kind for a file and convert it when WhatsApp would refuse it."""
    mime = _base(mime_type)
    if as_sticker and mime == "image/webp":
        kind = "sticker"
    elif mime in ("image/jpeg", "image/png"):
        kind = "image"
    elif mime in _PILLOW_CONVERTIBLE:
        content, mime, filename = _image_convert(content, filename)
        kind = "image"
    elif mime in ACCEPTED["video"]:
        kind = "video"
    elif mime in ACCEPTED["audio"]:
        kind = "audio"
    elif mime in _FFMPEG_VIDEO or mime in _FFMPEG_AUDIO:
        kind = "video" if mime in _FFMPEG_VIDEO else "audio"
        converted = _ffmpeg_convert(content, filename, target=kind)
        if converted is None:
            raise MessageRejected(
                f"{mime} needs converting and ffmpeg is not installed here. Send {', '.join(ACCEPTED[kind])} instead.",
                field="file",
            )
        content, mime, filename = converted
    elif mime in ACCEPTED["document"]:
        kind = "document"
    else:
        raise _refuse(mime)
    try:
        media_check(kind, mime, len(content))
    except PayloadInvalid as exc:
        raise MessageRejected(str(exc), field="file") from None
    if kind in ("image", "sticker"):
        _pixel_bomb_refuse(content, filename)
    return PreparedMedia(kind=kind, content=content, mime_type=mime, filename=filename)


def outbound_media_store(*, message: Message, prepared: PreparedMedia) -> None:
    """Keep the prepared file with the message (for the inbox, and to upload when sending)."""
    name = (
        f"whatsapp-media/{message.workspace_id}/{timezone.now():%Y/%m}/out-{message.public_id.hex}-{prepared.filename}"
    )
    message.media_file.name = default_storage.save(name, ContentFile(prepared.content))
    message.media_mime_type = prepared.mime_type
    message.media_size = len(prepared.content)
    message.media_sha256 = hashlib.sha256(prepared.content).hexdigest()
    message.media_state = Message.MediaState.STORED


def media_upload_once(*, message: Message) -> str:
    """The Graph media id for the message's file: reused when these bytes were uploaded recently."""
    fresh_after = timezone.now() - timedelta(days=UPLOAD_REUSE_DAYS)
    existing = MediaUpload.objects.filter(
        channel_id=message.channel_id, sha256=message.media_sha256, uploaded_at__gte=fresh_after
    ).first()
    if existing:
        return existing.media_id
    with message.media_file.open("rb") as handle:
        content = handle.read()
    media_id = graph_client_for_channel(message.channel).media_upload(
        message.channel.phone_number_id,
        content=content,
        mime_type=message.media_mime_type,
        filename=Path(message.media_file.name).name,
    )
    try:
        with transaction.atomic():
            MediaUpload.objects.filter(channel_id=message.channel_id, sha256=message.media_sha256).delete()
            MediaUpload.objects.create(
                channel_id=message.channel_id,
                sha256=message.media_sha256,
                media_id=media_id,
                mime_type=message.media_mime_type,
                size=len(content),
            )
    except IntegrityError:  # a concurrent upload of the same bytes won; either id works
        pass
    logger.info("media uploaded", extra={"message_id": message.pk, "bytes": len(content)})
    return media_id
