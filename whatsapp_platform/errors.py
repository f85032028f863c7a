"""Errors a person can act on, raised by services and mapped once to HTTP answers."""


class PlatformError(Exception):
    """Base of our own errors: a stable code, a message a person understands, maybe a field."""

    code = "error"
    http_status = 400

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code


class InvalidInput(PlatformError):
    code = "invalid"
    http_status = 400


class NotPermitted(PlatformError):
    code = "permission_denied"
    http_status = 403


class Conflict(PlatformError):
    code = "conflict"
    http_status = 409


class Unprocessable(PlatformError):
    """Well-formed but not acceptable as it stands, e.g. an Idempotency-Key reused with another body."""

    code = "unprocessable"
    http_status = 422
