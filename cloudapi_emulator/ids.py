"""Fresh identifiers shaped like Meta's."""

import base64
import secrets
import string


def numeric_id(length: int = 15) -> str:
    """A Graph object id: digits, never starting with 0."""
    return str(secrets.randbelow(9) + 1) + "".join(secrets.choice(string.digits) for _ in range(length - 1))


def wamid() -> str:
    """A message id: `wamid.` and base64, as Meta's (which wrap a protobuf) look."""
    return "wamid." + base64.b64encode(b"\x15\x02" + secrets.token_bytes(30)).decode()


def bsuid(country: str = "US") -> str:
    """A business-scoped user id, `XX.<digits>`."""
    return f"{country}.{numeric_id(20)}"


def url_key() -> str:
    return secrets.token_urlsafe(24)


def digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())
