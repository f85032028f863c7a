"""Serving stored customer files to staff: never rendered as a page of ours, never sniffed."""

from django.http import HttpResponse
from django.utils.http import content_disposition_header

from channels_app.whatsapp.payloads import DOCUMENT_MIME_TYPES

# Shown inline (an <img>/<audio>/<video> source); anything else downloads.
INLINE_MIME_TYPES = {"image/jpeg", "image/png", "image/webp", "image/gif"}
# Documents keep their type (WhatsApp's document types, and CSV) so a download opens in the right
# program; anything else is a plain download.
DOWNLOAD_MIME_TYPES = {*DOCUMENT_MIME_TYPES, "text/csv"}


def private_file_response(data: bytes, *, mime_type: str, filename: str) -> HttpResponse:
    """A response for a customer's file, behind the caller's permission check."""
    bare = mime_type.split(";", 1)[0].strip().lower()
    inline = bare in INLINE_MIME_TYPES or bare.startswith(("audio/", "video/"))
    if inline:
        content_type = mime_type
    else:
        content_type = bare if bare in DOWNLOAD_MIME_TYPES else "application/octet-stream"
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(not inline, filename)
    # Even if a browser were talked into rendering it, the file runs in an empty sandbox.
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    return response
