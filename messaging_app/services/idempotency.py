"""Safe retries for API sends: one Idempotency-Key, one message, however often or concurrently it is sent."""

import hashlib
from collections.abc import Callable
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from messaging_app.models import IdempotencyKey, Message
from whatsapp_platform.errors import InvalidInput, Unprocessable

KEY_TTL = timedelta(hours=24)
KEY_MAX_LENGTH = 255


def request_fingerprint(*, method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\n".join([method.encode(), path.encode(), body])).hexdigest()


def idempotent_send(*, workspace, key: str, fingerprint: str, send: Callable[[], Message]) -> tuple[Message, bool]:
    """Run `send` once per (workspace, key) within 24 hours. Returns (message, replayed).

    The key's row is written in the same transaction as the message, so a concurrent request
    with the same key waits on the row's lock and then finds the message; a key reused with a
    different body is refused rather than silently returning the first message.
    """
    if not key or len(key) > KEY_MAX_LENGTH or not key.isprintable():
        raise InvalidInput(
            f"Idempotency-Key must be 1 to {KEY_MAX_LENGTH} printable characters, e.g. a UUID.",
            field="Idempotency-Key",
        )
    for _ in range(3):
        try:
            with transaction.atomic():
                # No join here: PostgreSQL cannot lock the nullable side of an outer join.
                row = IdempotencyKey.objects.select_for_update().filter(workspace=workspace, key=key).first()
                if row is not None and row.created_at < timezone.now() - KEY_TTL:
                    row.delete()  # an expired key starts afresh
                    row = None
                if row is not None:
                    if row.fingerprint != fingerprint:
                        raise Unprocessable(
                            "This Idempotency-Key was already used with a different request body. "
                            "Use a new key for a different message.",
                            field="Idempotency-Key",
                            code="idempotency_key_reused",
                        )
                    return row.message, True
                row = IdempotencyKey.objects.create(workspace=workspace, key=key, fingerprint=fingerprint)
                message = send()
                row.message = message
                row.save(update_fields=["message"])
                return message, False
        except IntegrityError:
            continue  # a concurrent request inserted the key first: read its result
    raise Unprocessable("This Idempotency-Key is being used by another request right now; retry shortly.")


def idempotency_keys_expire() -> int:
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - KEY_TTL).delete()
    return deleted
