"""The emulator's own webhook signing (deliberately not shared with the platform's verifier)."""

import hashlib
import hmac
import json
from typing import Any


def webhook_body(payload: dict[str, Any]) -> str:
    """Serialise as Meta does: compact separators are not promised, escaped unicode is (reference §1.2)."""
    return json.dumps(payload, ensure_ascii=True)


def signature_header(body: bytes, app_secret: str) -> str:
    """`X-Hub-Signature-256` for these exact bytes: `sha256=` and the lowercase hex HMAC."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
