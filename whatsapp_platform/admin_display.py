"""Shared pieces of the admin: read-only JSON shown indented, and secret fields that are never rendered."""

import json

from django.utils.html import format_html

from whatsapp_platform.encryption import EncryptedTextField


def json_block(value) -> str:
    """A JSON value (or JSON text) indented in a <pre>, escaped."""
    if isinstance(value, bytes | memoryview):
        value = bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return format_html('<pre style="white-space: pre-wrap">{}</pre>', value)
    return format_html(
        '<pre style="white-space: pre-wrap">{}</pre>', json.dumps(value, indent=2, ensure_ascii=False, default=str)
    )


def encrypted_fields(model) -> list[str]:
    """The model's secrets (access tokens, app secrets, LLM keys, tool headers): no admin form may show them."""
    return [field.name for field in model._meta.fields if isinstance(field, EncryptedTextField)]
