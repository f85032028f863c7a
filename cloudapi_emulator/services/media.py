"""Media: upload, the expiring download URL, delete (reference §6).

`sha256` is reported as base64 of the SHA-256 digest everywhere (webhooks and `GET /<media_id>`),
as Meta's webhook examples show it.
"""

import base64
import hashlib
from datetime import timedelta

from cloudapi_emulator import clock, conf, ids
from cloudapi_emulator.errors import GraphError
from cloudapi_emulator.models import Media, PhoneNumber

KB = 1024
MB = 1024 * 1024
DOCUMENT_MIME_TYPES = {
    "text/plain",
    "application/pdf",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
# kind → (MIME types, max bytes). audio/ogg must be OPUS; the emulator cannot tell, so it trusts the label.
MEDIA_KINDS: dict[str, tuple[set[str], int]] = {
    "audio": ({"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"}, 16 * MB),
    "document": (DOCUMENT_MIME_TYPES, 100 * MB),
    "image": ({"image/jpeg", "image/png"}, 5 * MB),
    "sticker": ({"image/webp"}, 500 * KB),  # animated stickers; static ones are ≤100 KB
    "video": ({"video/mp4", "video/3gpp"}, 16 * MB),
}


def mime_base(mime_type: str) -> str:
    return mime_type.split(";", 1)[0].strip().lower()


def media_kind(mime_type: str) -> str | None:
    base = mime_base(mime_type)
    for kind, (types, _) in MEDIA_KINDS.items():
        if base in types:
            return kind
    return None


def media_check(*, mime_type: str, size: int) -> str:
    """The kind of this file, or GraphError 131053 for an unsupported type or a file too big."""
    kind = media_kind(mime_type)
    if kind is None:
        raise GraphError(131053, f"Param file must be a file with one of the supported media types; got {mime_type}.")
    limit = MEDIA_KINDS[kind][1]
    if size == 0:
        raise GraphError(131053, "The uploaded file is empty.")
    if size > limit:
        raise GraphError(131053, f"File size {size} bytes exceeds the {limit} bytes limit for {kind} media.")
    return kind


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def media_store(*, number: PhoneNumber, data: bytes, mime_type: str, filename: str = "") -> Media:
    """Keep a file under a fresh media id (no checks: customers' media come through here too)."""
    return Media.objects.create(
        media_id=ids.numeric_id(16),
        number=number,
        mime_type=mime_type,
        filename=filename,
        data=data,
        sha256=sha256_b64(data),
        file_size=len(data),
        created_at=clock.now(),
    )


def media_upload(*, number: PhoneNumber, data: bytes, mime_type: str, filename: str = "") -> Media:
    media_check(mime_type=mime_type, size=len(data))
    return media_store(number=number, data=data, mime_type=mime_type, filename=filename)


def media_get(media_id: str) -> Media | None:
    return Media.objects.select_related("number").filter(media_id=media_id, deleted_at__isnull=True).first()


def media_url_key(media: Media) -> str:
    """The current download key, minting a new one (valid MEDIA_URL_TTL_SECONDS) when the last expired."""
    now = clock.now()
    if media.url_key and media.url_expires_at and media.url_expires_at > now:
        return media.url_key
    media.url_key = ids.url_key()
    media.url_expires_at = now + timedelta(seconds=conf.get("MEDIA_URL_TTL_SECONDS"))
    media.save(update_fields=["url_key", "url_expires_at"])
    return media.url_key


def media_for_download(url_key: str) -> Media | None:
    """The file behind a download key, or None when the key is unknown, expired or the media deleted."""
    media = Media.objects.filter(url_key=url_key, deleted_at__isnull=True).first()
    if media is None or media.url_expires_at is None or media.url_expires_at <= clock.now():
        return None
    return media


def media_delete(media: Media) -> None:
    media.deleted_at = clock.now()
    media.save(update_fields=["deleted_at"])


def media_urls_expire() -> int:
    """Expire every download URL handed out so far (the next `GET /<media_id>` mints a new one)."""
    return Media.objects.filter(url_expires_at__gt=clock.now()).update(url_expires_at=clock.now())
