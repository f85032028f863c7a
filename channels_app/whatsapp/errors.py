"""Graph API errors, classified by what the caller should do next.

Classification follows the reference (§9): build logic on `code` (and `error_data.details`), never on
HTTP status, title or subcode. The one exception is a 5xx whose body carries no code we know: Meta's
own outage pages are HTML, and those are worth retrying.
"""

from __future__ import annotations

import json
import random
import re
from enum import StrEnum
from typing import Any


class ErrorKind(StrEnum):
    RETRYABLE = "retryable"  # back off and try again
    RETRY_ONCE = "retry_once"  # code 1: maybe a server blip, maybe our request; one more try only
    PAIR_RATE_LIMIT = "pair_rate_limit"  # 131056: wait 4**n seconds for this recipient only
    AUTH = "auth"  # the channel's token or permissions are gone: reconnect the channel
    OUTCOME_UNKNOWN = "outcome_unknown"  # the request may or may not have reached Meta: do not resend blindly
    PERMANENT = "permanent"  # fail the message and show why


RETRYABLE = ErrorKind.RETRYABLE
RETRY_ONCE = ErrorKind.RETRY_ONCE
PAIR_RATE_LIMIT = ErrorKind.PAIR_RATE_LIMIT
AUTH = ErrorKind.AUTH
OUTCOME_UNKNOWN = ErrorKind.OUTCOME_UNKNOWN
PERMANENT = ErrorKind.PERMANENT

RETRYABLE_CODES = frozenset({2, 4, 80007, 130429, 131000, 131016, 131057, 133004, 133015})
AUTH_CODES = frozenset({0, 190, 10, *range(200, 300)})

# Every code the reference's §9.2 table names. A 5xx carrying one of these is classified by the code;
# a 5xx carrying anything else is treated as an outage and retried.
KNOWN_CODES = frozenset(
    {
        0, 1, 2, 3, 4, 10, 33, 100, 190, 368, 80007,
        130403, 130429, 130472, 130497,
        131000, 131005, 131008, 131009, 131016, 131021, 131026, 131030, 131031, 131037, 131042, 131045,
        131047, 131048, 131049, 131050, 131051, 131052, 131053, 131056, 131057, 131060, 131062, 131063, 131064,
        132000, 132001, 132005, 132007, 132008, 132012, 132015, 132016, 132068, 132069,
        133000, 133004, 133005, 133006, 133008, 133009, 133010, 133015, 133016,
        134011, 135000, 137000,
        2388019, 2388040, 2388047, 2388072, 2388073, 2388293, 2388299,
        *range(200, 300),
    }
)  # fmt: skip

# What staff read in the console next to a failed message. Keep each one sentence a person can act on.
PLAIN_REASONS: dict[int, str] = {
    0: "WhatsApp no longer accepts this channel's access token; reconnect the channel.",
    1: "WhatsApp rejected the request as invalid or hit a server error; it is retried once.",
    2: "WhatsApp is temporarily down or overloaded; the message is retried automatically.",
    3: "The app lacks a capability or permission it needs; check the token's permissions.",
    4: "The app made too many API calls; requests resume after a pause.",
    10: "A permission this channel needs was never granted or has been removed; reconnect the channel.",
    33: "The business phone number has been deleted from WhatsApp.",
    100: "WhatsApp rejected a parameter as unsupported, misspelled or too long.",
    190: "The channel's access token has expired or been revoked; reconnect the channel.",
    200: "A permission this channel needs is missing or was removed; reconnect the channel.",
    368: "The WhatsApp Business Account is restricted for a policy violation; sending is stopped.",
    80007: "The WhatsApp Business Account hit its API rate limit; requests resume after a pause.",
    130403: "The business has blocked this customer; unblock them to send.",
    130429: "Too many messages per second from this number; the message is retried shortly.",
    130472: "The customer is in a WhatsApp marketing experiment group, so this marketing message was not sent.",
    130497: "This business may not message customers in the recipient's country.",
    131000: "Something went wrong at WhatsApp; the message is retried automatically.",
    131005: "The channel lacks permission for this action.",
    131008: "A required parameter is missing from the message.",
    131009: "A parameter value is invalid (for example a reaction to an old or unknown message).",
    131016: "WhatsApp is temporarily unavailable; the message is retried automatically.",
    131021: "The recipient is the business number itself.",
    131026: (
        "The message could not be delivered: the number may not be on WhatsApp, may not have accepted the "
        "terms, or may run an old app. Reach the customer another way."
    ),
    131030: "The recipient is not on the test number's allowed list; add them in the Meta dashboard.",
    131031: "The account is locked, or data such as the two-step verification PIN failed verification.",
    131037: "The business number has no approved display name yet.",
    131042: "There is a problem with the business's payment method.",
    131045: "The business phone number is not registered with WhatsApp.",
    131047: (
        "Re-engagement message: more than 24 hours since the customer last wrote, so only an approved "
        "template can be sent."
    ),
    131048: "Sending was limited because too many earlier messages were blocked or reported as spam.",
    131049: (
        "WhatsApp held back this marketing message to keep engagement healthy; do not retry to this "
        "customer for at least 24 hours."
    ),
    131050: "The customer has stopped marketing messages from this business.",
    131051: "This message type is not supported by WhatsApp.",
    131052: "The file the customer sent could not be downloaded (it may be over 100 MB); ask them to resend.",
    131053: "The media could not be uploaded: the file type is unsupported, mislabelled or too large.",
    131056: "Too many messages to this customer in a short time; the message is retried after a pause.",
    131057: "The business account is in maintenance (for example a throughput upgrade); retried in a minute.",
    131060: "The customer's message is currently unavailable.",
    131062: "This message type cannot be sent to a username-only contact; send to their phone number.",
    131063: "Marketing templates are disabled for this account on the Cloud API.",
    131064: "The messaging limit was cut because templates were miscategorised; fix the template categories.",
    132000: "The number of template parameters does not match the approved template.",
    132001: "The template does not exist in this language or is not approved yet.",
    132005: "The template text is too long once the parameters are filled in.",
    132007: "The template content violates WhatsApp policy.",
    132008: "A template parameter is formatted incorrectly.",
    132012: "The template parameters do not match the template's format (named versus numbered).",
    132015: "The template is paused for low quality; use another template meanwhile.",
    132016: "The template has been disabled permanently; create a new one.",
    133000: "A previous deregistration failed; deregister the number again before registering.",
    133004: "The WhatsApp server is temporarily unavailable; retried automatically.",
    133005: "The two-step verification PIN is incorrect.",
    133006: "The phone number must be verified before it can be registered.",
    133008: "Too many PIN guesses for this number; wait before trying again.",
    133009: "The PIN was entered too quickly; wait before trying again.",
    133010: "The phone number is not registered on the Cloud API.",
    133015: "The number was recently deleted and deletion is still in progress; retried in a few minutes.",
    133016: "Too many register or deregister attempts; the number is locked for 72 hours.",
    135000: "WhatsApp rejected the request parameters.",
    137000: "The customer's identity key changed; verify them another way before resending.",
}


def error_kind(code: int | None, http_status: int | None = None) -> ErrorKind:
    """What to do about an error, decided by Meta's code; HTTP status only matters for unknown 5xx."""
    if code is None or code not in KNOWN_CODES:
        if http_status is not None and http_status >= 500:
            return RETRYABLE
    if code is None:
        return PERMANENT
    if code in RETRYABLE_CODES:
        return RETRYABLE
    if code == 1:
        return RETRY_ONCE
    if code == 131056:
        return PAIR_RATE_LIMIT
    if code in AUTH_CODES:
        return AUTH
    return PERMANENT


def plain_reason(code: int | None) -> str:
    if code is None:
        return ""
    if code in PLAIN_REASONS:
        return PLAIN_REASONS[code]
    if 200 <= code <= 299:
        return PLAIN_REASONS[200]
    return ""


class GraphError(Exception):
    """An error reported by Graph (HTTP response or webhook) or met on the way to it."""

    default_kind: ErrorKind | None = None

    def __init__(
        self,
        *,
        http_status: int | None = None,
        code: int | None = None,
        title: str = "",
        message: str = "",
        details: str = "",
        subcode: int | None = None,
        fbtrace_id: str = "",
        is_transient: bool = False,
        href: str = "",
        kind: ErrorKind | None = None,
    ) -> None:
        self.http_status = http_status
        self.code = code
        self.title = title
        self.message = message
        self.details = details
        self.subcode = subcode
        self.fbtrace_id = fbtrace_id
        self.is_transient = is_transient
        self.href = href
        self.kind = kind or self.default_kind or error_kind(code, http_status)
        super().__init__(str(self))

    @property
    def plain_reason(self) -> str:
        return plain_reason(self.code)

    def __str__(self) -> str:
        prefix = f"(#{self.code}) " if self.code is not None else ""
        title = self.title or self.message or (f"HTTP {self.http_status}" if self.http_status else "Graph error")
        reason = self.plain_reason
        if reason and reason.casefold().startswith(title.casefold()):
            text = f"{prefix}{reason}"  # the reason already opens with Meta's title
        else:
            text = f"{prefix}{title}"
            if reason and not _same_text(reason, title):
                text += f": {reason}"
        if self.details and not _same_text(self.details, title) and not _same_text(self.details, reason):
            text += f" ({self.details})"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, http_status={self.http_status!r}, kind={self.kind.value!r})"

    def __reduce__(self) -> tuple:
        # Exceptions pickle as cls(*args) by default, which keyword-only __init__ refuses; task queues pickle them.
        fields = ("http_status", "code", "title", "message", "details", "subcode", "fbtrace_id", "is_transient", "href")
        return (_rebuild, (type(self), {name: getattr(self, name) for name in fields} | {"kind": self.kind}))


class GraphUnavailable(GraphError):
    """The request certainly did not reach Meta (connection refused, connect timeout): safe to retry."""

    default_kind = RETRYABLE


class GraphOutcomeUnknown(GraphError):
    """The request was sent but no answer came back: Meta may have acted on it. Do not resend blindly."""

    default_kind = OUTCOME_UNKNOWN


class MediaUrlExpired(GraphError):
    """A media download URL answered 404: URLs live 5 minutes, so fetch a fresh one from media_info."""

    default_kind = PERMANENT


class MediaTooLarge(GraphError):
    """A media download was refused because the body exceeds the caller's limit."""

    default_kind = PERMANENT


def _rebuild(cls: type[GraphError], fields: dict) -> GraphError:
    return cls(**fields)


def _same_text(a: str, b: str) -> bool:
    return a.strip().rstrip(".").casefold() == b.strip().rstrip(".").casefold()


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,12}", value.strip()):
        return int(value.strip())
    return None


def _as_str(value: Any) -> str:
    return value if isinstance(value, str) else ""


_MESSAGE_PREFIX = re.compile(r"^\(#\d+\)\s*")


def graph_error_from_response(http_status: int, body: bytes | str | dict | None) -> GraphError:
    """Parse Graph's error envelope; HTML, empty or garbled bodies give an error with no code."""
    parsed: Any = body
    if isinstance(body, bytes | bytearray):
        body = bytes(body).decode("utf-8", errors="replace")
    if isinstance(body, str):
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
    envelope = parsed.get("error") if isinstance(parsed, dict) else None
    if not isinstance(envelope, dict):
        snippet = " ".join(body.split())[:200] if isinstance(body, str) else ""
        return GraphError(
            http_status=http_status,
            title=f"HTTP {http_status} from Graph",
            message=snippet,
            details=snippet,
        )
    message = _as_str(envelope.get("message"))
    error_data = envelope.get("error_data")
    details = _as_str(error_data.get("details")) if isinstance(error_data, dict) else ""
    title = _as_str(envelope.get("error_user_title")) or _MESSAGE_PREFIX.sub("", message)
    return GraphError(
        http_status=http_status,
        code=_as_int(envelope.get("code")),
        title=title,
        message=message,
        details=details,
        subcode=_as_int(envelope.get("error_subcode")),
        fbtrace_id=_as_str(envelope.get("fbtrace_id")),
        is_transient=envelope.get("is_transient") is True,
    )


def graph_error_from_webhook(error: dict) -> GraphError:
    """An error object from a webhook: `{"code","title","message","error_data":{"details"},"href"}`."""
    if not isinstance(error, dict):
        return GraphError(title="Malformed error in webhook", details=str(error)[:200])
    error_data = error.get("error_data")
    details = _as_str(error_data.get("details")) if isinstance(error_data, dict) else ""
    message = _as_str(error.get("message"))
    return GraphError(
        code=_as_int(error.get("code")),
        title=_as_str(error.get("title")) or _MESSAGE_PREFIX.sub("", message),
        message=message,
        details=details,
        href=_as_str(error.get("href")),
    )


def pair_rate_limit_delay(attempt: int) -> float:
    """Seconds to wait before messaging the same recipient again after 131056: 4**attempt (1, 4, 16, ...)."""
    return float(4 ** max(0, min(attempt, 16)))


_jitter = random.SystemRandom()


def retry_delay(attempt: int, *, base: float = 1.0, cap: float = 300.0) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
    ceiling = min(cap, base * 2.0 ** max(0, min(attempt, 64)))
    return _jitter.uniform(0.0, ceiling)
