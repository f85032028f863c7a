"""The transport of an agent's test console: the GraphClient calls the runtime makes, answered locally.

A test-console channel runs the real pipeline (inbound storage, debounce, agent turn, outbound
queue, pacing) but its "customer" is a person in the browser, so nothing goes to Meta: a send is
accepted with a local wamid, a read receipt is a no-op, and media lives in the platform's own
storage. Only the calls the message pipeline makes exist here; templates, phone numbers and
profiles have no meaning for a test console, and the services that use them skip its channels.
"""

import hashlib
import json
import logging
import uuid

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from channels_app.whatsapp.errors import GraphError, MediaTooLarge

logger = logging.getLogger(__name__)

MEDIA_PREFIX = "console-media/"


class ConsoleTransport:
    """Stands in for GraphClient on channels whose customer is the test console."""

    def __repr__(self) -> str:
        return "ConsoleTransport()"

    def message_send(self, phone_number_id: str, payload: dict) -> dict:
        wamid = f"wamid.console.{uuid.uuid4().hex}"
        logger.info("test console message accepted", extra={"wamid": wamid, "type": payload.get("type")})
        return {"messaging_product": "whatsapp", "messages": [{"id": wamid}]}

    def message_mark_read(self, phone_number_id: str, wamid: str, *, typing: bool = False) -> None:
        return None  # the console shows the agent's activity from its runs, not from receipts

    def media_upload(self, phone_number_id: str, *, content: bytes, mime_type: str, filename: str) -> str:
        return media_store(content=content, mime_type=mime_type, filename=filename)

    def media_info(self, media_id: str, *, phone_number_id: str | None = None) -> dict:
        meta = _meta_read(media_id)
        return {**meta, "id": media_id, "url": _path(media_id)}

    def media_download(self, url: str, *, max_bytes: int) -> tuple[bytes, str]:
        if not url.startswith(MEDIA_PREFIX) or ".." in url:
            raise GraphError(http_status=400, title="Not a test-console media URL", details=url[:200])
        media_id = url[len(MEDIA_PREFIX) :]
        meta = _meta_read(media_id)
        if meta["file_size"] > max_bytes:
            raise MediaTooLarge(title=f"Media is {meta['file_size']:,} bytes; the limit is {max_bytes:,}")
        with default_storage.open(_path(media_id), "rb") as handle:
            return handle.read(), meta["mime_type"]

    def media_delete(self, media_id: str) -> None:
        for name in (_path(media_id), _path(media_id) + ".json"):
            if default_storage.exists(name):
                default_storage.delete(name)


def media_store(*, content: bytes, mime_type: str, filename: str) -> str:
    """Keep a file the tester sent (or the agent sends); returns its media id."""
    media_id = uuid.uuid4().hex
    meta = {
        "mime_type": mime_type,
        "sha256": hashlib.sha256(content).hexdigest(),
        "file_size": len(content),
        "filename": filename,
    }
    default_storage.save(_path(media_id), ContentFile(content))
    default_storage.save(_path(media_id) + ".json", ContentFile(json.dumps(meta).encode()))
    return media_id


def _path(media_id: str) -> str:
    if not media_id.isalnum():
        raise GraphError(http_status=404, title="No such test-console media", details=media_id[:80])
    return MEDIA_PREFIX + media_id


def _meta_read(media_id: str) -> dict:
    name = _path(media_id) + ".json"
    if not default_storage.exists(name):
        raise GraphError(http_status=404, title="No such test-console media", details=media_id[:80])
    with default_storage.open(name, "rb") as handle:
        return json.loads(handle.read())
