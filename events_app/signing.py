"""Standard Webhooks signatures (https://www.standardwebhooks.com/).

Secrets read `whsec_<base64 of 32 random bytes>`; the HMAC key is the decoded bytes. The signed
content is `{webhook-id}.{webhook-timestamp}.{body}`, and the header is `v1,<base64 HMAC-SHA256>`,
several of them space-separated while a rotated secret still overlaps.
"""

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"


def secret_generate() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signature(*, secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    content = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()


def signature_header(*, secrets_in_use: list[str], webhook_id: str, timestamp: int, body: bytes) -> str:
    return " ".join(
        signature(secret=secret, webhook_id=webhook_id, timestamp=timestamp, body=body) for secret in secrets_in_use
    )
