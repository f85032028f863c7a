"""Graph errors as Meta shapes them (reference §9.1), raised anywhere and rendered once by the views."""

import secrets
from typing import Any

# code → title. `message` on the wire is "(#<code>) <title>".
TITLES: dict[int, str] = {
    0: "AuthException",
    1: "API Unknown",
    2: "API Service",
    3: "API Method",
    4: "API Too Many Calls",
    10: "Permission Denied",
    33: "Parameter value is not valid",
    100: "Invalid parameter",
    190: "Invalid OAuth access token",
    200: "Permissions error",
    368: "Temporarily blocked for policies violations",
    80007: "Rate limit issues",
    130429: "Rate limit hit",
    130472: "User's number is part of an experiment",
    131000: "Something went wrong",
    131005: "Access denied",
    131008: "Required parameter is missing",
    131009: "Parameter value is not valid",
    131016: "Service unavailable",
    131021: "Recipient cannot be sender",
    131026: "Message undeliverable",
    131031: "Business Account locked",
    131042: "Business eligibility payment issue",
    131045: "Incorrect certificate",
    131047: "Re-engagement message",
    131048: "Spam rate limit hit",
    131049: "This message was not delivered to maintain healthy ecosystem engagement.",
    131050: "User has stopped marketing messages",
    131051: "Unsupported message type",
    131052: "Media download error",
    131053: "Media upload error",
    131056: "(Business Account, Consumer Account) pair rate limit hit",
    131057: "Account in maintenance mode",
    131062: "Business-scoped user ID recipients not supported",
    132000: "Number of parameters does not match the expected number of params",
    132001: "Template does not exist",
    132005: "Translated text too long",
    132007: "Template Format Character Policy Violated",
    132012: "Parameter format does not match format in the created template",
    132015: "Template is Paused",
    132016: "Template is Disabled",
    133000: "Incomplete Deregistration",
    133004: "Server Temporarily Unavailable",
    133005: "Two step verification PIN Mismatch",
    133006: "Phone number re-verification needed",
    133008: "Too Many two step verification PIN Guesses",
    133010: "Phone number Not Registered",
    133016: "Account register deregister rate limit exceeded",
}

DEFAULT_DETAILS: dict[int, str] = {
    130429: "Cloud API message throughput has been reached.",
    131026: "Message Undeliverable.",
    131047: "Message failed to send because more than 24 hours have passed since the customer last replied to "
    "this number.",
    131056: "Message failed to send because there were too many messages sent from this phone number to the "
    "same phone number in a short period of time.",
    131000: "Something went wrong.",
    133016: "Too many register or deregister attempts for this number; try again in 72 hours.",
}

# §9.1: 100 → 400, 190 → 401, 200 → 403, 4 → 429, 2 → 500, 803 → 404; anything else 400.
HTTP_STATUS: dict[int, int] = {
    0: 401,
    190: 401,
    3: 403,
    10: 403,
    200: 403,
    4: 429,
    80007: 429,
    1: 500,
    2: 500,
    131000: 500,
    131016: 503,
    133004: 503,
    803: 404,
}

ERROR_CODES_HREF = "/documentation/business-messaging/whatsapp/support/error-codes"


def title_for(code: int) -> str:
    if 200 <= code <= 299:
        return TITLES[200]
    return TITLES.get(code, "Unknown error")


def http_status_for(code: int) -> int:
    if 200 <= code <= 299:
        return 403
    return HTTP_STATUS.get(code, 400)


def fbtrace_id() -> str:
    return secrets.token_urlsafe(16)[:22]


class GraphError(Exception):
    """A synchronous Graph error. Raise it from validation or a service; the view renders it."""

    def __init__(
        self,
        code: int,
        details: str = "",
        *,
        http_status: int | None = None,
        subcode: int | None = None,
        user_title: str = "",
        user_msg: str = "",
        title: str | None = None,
    ):
        self.code = code
        self.title = title or title_for(code)
        self.details = details or DEFAULT_DETAILS.get(code, self.title)
        self.http_status = http_status or http_status_for(code)
        self.subcode = subcode
        self.user_title = user_title
        self.user_msg = user_msg
        super().__init__(f"(#{code}) {self.title}: {self.details}")

    def envelope(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "message": f"(#{self.code}) {self.title}",
            "type": "OAuthException",
            "code": self.code,
            "error_data": {"messaging_product": "whatsapp", "details": self.details},
        }
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
            error["is_transient"] = False
        if self.user_title:
            error["error_user_title"] = self.user_title
        if self.user_msg:
            error["error_user_msg"] = self.user_msg
        error["fbtrace_id"] = fbtrace_id()
        return {"error": error}


def webhook_error(code: int, details: str = "") -> dict[str, Any]:
    """The error object carried by `statuses[].errors[]` (reference §1.5): title and message are the same."""
    title = title_for(code)
    return {
        "code": code,
        "title": title,
        "message": title,
        "error_data": {"details": details or DEFAULT_DETAILS.get(code, title)},
        "href": ERROR_CODES_HREF,
    }
