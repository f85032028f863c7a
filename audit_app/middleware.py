"""The request being served, for services that record audit entries far from any view."""

import contextvars
import ipaddress

from django.conf import settings
from django.http import HttpRequest

current_request: contextvars.ContextVar[HttpRequest | None] = contextvars.ContextVar("audit_request", default=None)


class AuditRequestMiddleware:
    """Keep the request in a context variable while it is served, so `audit_record` knows where from."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = current_request.set(request)
        try:
            return self.get_response(request)
        finally:
            current_request.reset(token)


def _ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR, or the first X-Forwarded-For hop when TRUST_X_FORWARDED_FOR says a proxy sets it."""
    if settings.TRUST_X_FORWARDED_FOR:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        first = _ip(forwarded.split(",")[0]) if forwarded else None
        if first:
            return first
    return _ip(request.META.get("REMOTE_ADDR", ""))
