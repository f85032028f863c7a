"""A second line of defence: log lines never carry a secret, even when code logs one by mistake.

Secrets are never logged on purpose (GraphClient's repr hides its token, errors carry no
headers); this filter still masks what looks like one: bearer tokens, Meta access tokens,
LLM and platform API keys, webhook secrets, and any `extra` field named like a secret.
"""

import logging
import re

MASK = "[redacted]"
_SECRET_NAMES = re.compile(r"(token|secret|password|passwd|api[_-]?key|authorization|signature|cookie)", re.I)
_PATTERNS = [
    # Authorization: Bearer <anything>
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + MASK),
    # Meta user/system tokens: EAA…, long
    (re.compile(r"\bEAA[A-Za-z0-9]{20,}"), MASK),
    # our workspace API keys, webhook subscription secrets, OpenAI/Anthropic-style keys
    (re.compile(r"\bwap_[A-Za-z0-9]+_[A-Za-z0-9_-]{16,}"), MASK),
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=]{16,}"), MASK),
    (re.compile(r"\bsk-(?:ant-)?[A-Za-z0-9_-]{16,}"), MASK),
    # Links whose path is the credential: invitations, allauth's password-reset and email-confirmation
    # keys. Access logs (runserver's, gunicorn's) and the console email backend write these paths.
    (re.compile(r"(/invitations/)[A-Za-z0-9_-]{16,}"), r"\1" + MASK),
    (re.compile(r"(/password/reset/key/)[^/\s\"']+"), r"\1" + MASK),
    (re.compile(r"(/confirm-email/)[^/\s\"']+"), r"\1" + MASK),
    # key=value in URLs and form bodies
    (
        re.compile(r"(?i)\b(access_token|client_secret|app_secret|password|api_key|hub\.verify_token)=([^&\s\"']+)"),
        r"\1=" + MASK,
    ),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class SecretRedactionFilter(logging.Filter):
    """Masks secrets in the message, its arguments and any `extra` field before a handler writes it."""

    _STANDARD = set(vars(logging.makeLogRecord({})))

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg = record.getMessage()
            record.args = None
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        for name, value in list(vars(record).items()):
            if name in self._STANDARD or name == "request_id":
                continue
            if _SECRET_NAMES.search(name) and value not in (None, ""):
                setattr(record, name, MASK)
            elif isinstance(value, str):
                setattr(record, name, redact(value))
        return True
