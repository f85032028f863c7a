"""The Graph Resumable Upload API: `POST /<app_id>/uploads`, then `POST /upload:<session>` with the bytes.

Meta's guide (developers.facebook.com/docs/graph-api/guides/upload): start a session with
file_name, file_length and file_type; send the bytes with a `file_offset` header and
`Authorization: OAuth <token>`; get back `{"h": "<handle>"}` once the file is complete.
`GET /upload:<session>` tells where an interrupted upload stands.
"""

import base64
import secrets

from django.db import transaction

from cloudapi_emulator import clock
from cloudapi_emulator.errors import GraphError
from cloudapi_emulator.models import App, UploadSession

UPLOAD_FILE_TYPES = {"application/pdf", "image/jpeg", "image/jpg", "image/png", "video/mp4"}
# Meta documents no cap here; an emulator keeps files in its database, so it sets one.
MAX_UPLOAD_BYTES = 100 * 1024 * 1024
SESSION_PREFIX = "upload:"


def upload_session_start(*, app: App, file_length: str, file_type: str, file_name: str = "") -> UploadSession:
    try:
        length = int(file_length)
    except (TypeError, ValueError):
        raise GraphError(100, "The parameter file_length is required and must be a positive integer.")
    if not 0 < length <= MAX_UPLOAD_BYTES:
        raise GraphError(100, f"Param file_length must be between 1 and {MAX_UPLOAD_BYTES}.")
    if file_type not in UPLOAD_FILE_TYPES:
        raise GraphError(100, f"Param file_type must be one of {', '.join(sorted(UPLOAD_FILE_TYPES))}.")
    return UploadSession.objects.create(
        session_id=secrets.token_urlsafe(24),
        app=app,
        file_name=file_name[:255],
        file_type=file_type,
        file_length=length,
        created_at=clock.now(),
    )


def upload_session_get(node: str) -> UploadSession | None:
    """The session named by a path segment `upload:<session>`."""
    if not node.startswith(SESSION_PREFIX):
        return None
    return UploadSession.objects.select_related("app").filter(session_id=node.removeprefix(SESSION_PREFIX)).first()


def upload_chunk_append(*, session: UploadSession, file_offset: str | None, data: bytes) -> UploadSession:
    """Append bytes sent from `file_offset`, which must be where the session stands.

    The row lock keeps two chunks sent at once from both landing at the same offset.
    """
    try:
        offset = int(file_offset or "")
    except ValueError:
        raise GraphError(100, "The header file_offset is required and must be an integer.")
    with transaction.atomic():
        session = UploadSession.objects.select_for_update().get(pk=session.pk)
        stored = bytes(session.data)
        if session.completed_at is not None:
            return session
        if offset != len(stored):
            raise GraphError(100, f"file_offset {offset} does not match the session's offset {len(stored)}.")
        if not data:
            raise GraphError(100, "The request body must hold the file's bytes.")
        stored += data
        if len(stored) > session.file_length:
            raise GraphError(100, f"More bytes than the declared file_length ({session.file_length}).")
        session.data = stored
        fields = ["data"]
        if len(stored) == session.file_length:
            session.completed_at = clock.now()
            kind = base64.b64encode(session.file_type.encode()).decode()
            session.handle = f"4::{kind}:{secrets.token_urlsafe(32)}"
            fields += ["completed_at", "handle"]
        session.save(update_fields=fields)
    return session


def upload_for_handle(*, handle: str, app: App | None) -> UploadSession | None:
    """A complete upload of this app behind `handle` (handles do not cross apps)."""
    if not handle or app is None:
        return None
    return UploadSession.objects.filter(handle=handle, app=app, completed_at__isnull=False).first()
