"""What a message's media says, in words the model can read.

Voice notes and other audio are transcribed (`agents_app/transcripts.py`); documents (PDF, DOCX,
XLSX, CSV, plain text and Markdown) have their text extracted by `agents_app/document_reader.py`, in a
child process with bounds. Both are stored on the message (`transcript`, `extracted_text`; why a
stored document could not be read goes in `media_error`), so each is computed once and the inbox can
show it. Everything else, and every failure, becomes a sentence describing the file:
`media_understanding` never raises, because a turn must go on whatever a customer sends.

`turns.py` calls this for every media message in the model's context, on every turn, so a
failure that will not change is not recomputed each time: a document's is kept on the message for
good, others (an agent without speech-to-text) are remembered in the cache for a while.
"""

import logging
import os

from django.core.cache import cache
from django.utils import timezone

from agents_app.document_reader import DocumentUnreadable, document_text_read
from agents_app.transcripts import MAX_AUDIO_BYTES, TranscriptUnavailable, agent_transcribes, audio_transcribe
from messaging_app.models import Message
from messaging_app.services.media import MediaFetchRetry, inbound_media_fetch

logger = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
FAILURE_MEMO_SECONDS = 6 * 60 * 60

_KIND_BY_EXTENSION = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".csv": "csv",
    ".txt": "text",
    ".text": "text",
    ".md": "text",
    ".markdown": "text",
}
_KIND_BY_MIME = {
    "application/pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.ms-excel.sheet.macroenabled.12": "xlsx",
    "text/csv": "csv",
    "application/csv": "csv",
    "text/comma-separated-values": "csv",
    "text/plain": "text",
    "text/markdown": "text",
    "text/x-markdown": "text",
}


class _Unreadable(Exception):
    """The file's content cannot be had. `str(error)` is why, for the model; `lasting`: trying again won't help."""

    def __init__(self, reason: str, *, lasting: bool):
        super().__init__(reason)
        self.lasting = lasting


def media_understanding(message) -> str:
    """Text for the model about one media message (a `messaging_app.models.Message`).

    May download a pending inbound file, call the agent's speech-to-text and write `transcript`
    or `extracted_text` on the message; any failure is logged and described instead.
    """
    try:
        if message.message_type == "audio":
            return _audio_understanding(message)
        if message.message_type == "document":
            return _document_understanding(message)
    except Exception:
        # Our own bug or a library's surprise; the turn still goes on with what is known for sure.
        logger.exception("media not understood", extra={"message_id": message.pk})
    return _description(message)


# --- voice notes and audio ---------------------------------------------------------------------


def _audio_understanding(message) -> str:
    label = "Voice note transcript" if _content(message).get("voice") else "Audio transcript"
    if message.transcript:
        return f"[{label}] {message.transcript}"
    agent = message.conversation.assigned_agent
    if not agent_transcribes(agent):
        return _not_transcribed(message, "this agent's model provider has no speech-to-text")
    remembered = cache.get(_memo_key(message))
    if remembered:
        return remembered
    try:
        audio = _media_bytes(message, max_bytes=MAX_AUDIO_BYTES)
        transcript = audio_transcribe(
            agent=agent,
            audio=audio,
            mime_type=message.media_mime_type,
            filename=os.path.basename(message.media_file.name) or "voice.ogg",
        )
    except (_Unreadable, TranscriptUnavailable) as exc:
        return _failure(message, _not_transcribed(message, str(exc)), lasting=exc.lasting)
    _store(message, transcript=transcript)
    return f"[{label}] {transcript}"


def _not_transcribed(message, reason: str) -> str:
    return _description(
        message, f"It could not be transcribed ({reason}); if it matters, ask the customer to type it instead."
    )


# --- documents ---------------------------------------------------------------------------------


def _document_understanding(message) -> str:
    name = _content(message).get("filename") or "document"
    if message.extracted_text:
        return f"[Document {name}] {message.extracted_text}"
    if message.media_error and message.media_file:
        # Read once already and found unreadable (damaged, locked, too large): never read again.
        return _description(message, f"Its text could not be read: {message.media_error}.")
    kind = _document_kind(message)
    if kind is None:
        return _description(message, "Its text could not be read: this kind of file is not supported.")
    remembered = cache.get(_memo_key(message))
    if remembered:
        return remembered
    try:
        data = _media_bytes(message, max_bytes=MAX_DOCUMENT_BYTES)
    except _Unreadable as exc:
        return _failure(message, _description(message, f"Its text could not be read: {exc}."), lasting=exc.lasting)
    try:
        text = document_text_read(kind, data)
    except DocumentUnreadable as exc:
        # The same bytes give the same answer: kept on the message, where staff see it too.
        logger.info("document text not read", extra={"message_id": message.pk, "kind": kind, "reason": str(exc)})
        _store(message, media_error=str(exc))
        return _description(message, f"Its text could not be read: {exc}.")
    _store(message, extracted_text=text)
    return f"[Document {name}] {text}"


def _document_kind(message) -> str | None:
    """The format to read, by the file name's extension first: phones often send documents as octet-stream."""
    extension = os.path.splitext(str(_content(message).get("filename") or ""))[1].lower()
    mime_type = (message.media_mime_type or "").split(";")[0].strip().lower()
    return _KIND_BY_EXTENSION.get(extension) or _KIND_BY_MIME.get(mime_type)


# --- the stored file ---------------------------------------------------------------------------


def _media_bytes(message, *, max_bytes: int) -> bytes:
    """The message's file, downloading it now if the inbound fetch task has not stored it yet. Raises _Unreadable."""
    if message.media_state == Message.MediaState.PENDING and message.direction == Message.Direction.INBOUND:
        _fetch_now(message)
    limit = f"{max_bytes // (1024 * 1024)} MB"
    if message.media_size and message.media_size > max_bytes:
        raise _Unreadable(f"it is larger than {limit}", lasting=True)
    if not message.media_file:
        if message.media_state == Message.MediaState.FAILED:
            raise _Unreadable("the file could not be downloaded from WhatsApp", lasting=False)
        raise _Unreadable("the file is not available yet", lasting=False)
    try:
        with message.media_file.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        logger.warning("stored media not readable", extra={"message_id": message.pk, "error": str(exc)})
        raise _Unreadable("the stored file could not be opened", lasting=False) from exc
    if len(data) > max_bytes:
        raise _Unreadable(f"it is larger than {limit}", lasting=True)
    return data


def _fetch_now(message) -> None:
    """Run the inbound media fetch in this turn. The task enqueued on commit usually stored the file
    before the (debounced) turn starts; when it has not, the turn would otherwise see no file.

    The task may be fetching at the same moment: then the file is stored twice and the last
    write wins. Both copies are the same bytes (checked against WhatsApp's sha256), so that is fine.
    """
    try:
        fetched = inbound_media_fetch(message_id=message.pk)
    except MediaFetchRetry as exc:
        logger.info(
            "media not fetched in the turn; the task retries", extra={"message_id": message.pk, "error": str(exc)}
        )
        return
    except Exception:
        logger.exception("media fetch in the turn failed", extra={"message_id": message.pk})
        return
    if fetched is not None:
        for name in ("media_file", "media_size", "media_mime_type", "media_state", "media_error"):
            setattr(message, name, getattr(fetched, name))


def _store(message, **fields: str) -> None:
    # An UPDATE of these columns only: the inbound pipeline may be writing others on the same row.
    Message.objects.filter(pk=message.pk).update(**fields, updated_at=timezone.now())
    for name, value in fields.items():
        setattr(message, name, value)


def _failure(message, sentence: str, *, lasting: bool) -> str:
    if lasting:
        cache.set(_memo_key(message), sentence, FAILURE_MEMO_SECONDS)
    return sentence


def _memo_key(message) -> str:
    return f"media-understanding-failed:{message.pk}"


# --- what is known without opening the file ----------------------------------------------------


def _content(message) -> dict:
    return message.content if isinstance(message.content, dict) else {}


def _description(message, problem: str = "") -> str:
    """e.g. "[The customer sent a document, order.pdf, application/pdf, 52,113 bytes.]"."""
    content = _content(message)
    kind = "voice note" if message.message_type == "audio" and content.get("voice") else message.message_type
    details = [f"{'an' if kind[:1] in 'aeiou' else 'a'} {kind}"]
    if content.get("filename"):
        details.append(str(content["filename"]))
    if message.media_mime_type:
        details.append(message.media_mime_type)
    if message.media_size:
        details.append(f"{message.media_size:,} bytes")
    caption = " ".join(str(content.get("caption") or "").split())
    if caption:
        details.append(f'captioned "{caption}"')
    who = "The customer" if message.direction == Message.Direction.INBOUND else "We"
    return f"[{who} sent {', '.join(details)}.{' ' + problem if problem else ''}]"
