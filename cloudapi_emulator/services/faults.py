"""Faults and limits a test switches on: Graph errors, bare 5xx, timeouts, latency, throughput, pair rate.

Endpoint names for `fault_add`: messages, media (upload, GET and DELETE of a media id),
media_download, message_templates, phone_numbers, phone_number (GET/POST /<phone_number_id>),
subscribed_apps, register, oauth (code exchange), debug_token, or "*" for any.
"""

from django.db.models import F, Q

from cloudapi_emulator import clock
from cloudapi_emulator.models import Fault, PhoneNumber

ENDPOINTS = {
    "messages",
    "media",
    "media_download",
    "message_templates",
    "phone_numbers",
    "phone_number",
    "subscribed_apps",
    "register",
    "oauth",
    "debug_token",
    "*",
}


def fault_add(
    *,
    phone_number_id: str | None = None,
    endpoint: str = "messages",
    count: int = 1,
    error_code: int | None = None,
    http_status: int | None = None,
    timeout_seconds: float | None = None,
    accepted_despite_timeout: bool = False,
    latency_ms: int = 0,
    details: str = "",
) -> Fault:
    """Make the next `count` matching calls misbehave.

    error_code: answer with this Graph error (HTTP status per §9.1 unless http_status is given).
    http_status alone: a bare HTTP error with no Graph envelope (a proxy's 502/503).
    timeout_seconds: sleep this long before answering (a bare 504 after it); with
    accepted_despite_timeout the call is really processed first, so a message is accepted and its
    statuses flow although the client saw no answer. latency_ms: answer normally, that much later.
    """
    if endpoint not in ENDPOINTS:
        raise ValueError(f"Unknown endpoint {endpoint!r}; use one of {', '.join(sorted(ENDPOINTS))}.")
    return Fault.objects.create(
        phone_number_id=phone_number_id or "",
        endpoint=endpoint,
        remaining=count,
        error_code=error_code,
        http_status=http_status,
        timeout_seconds=timeout_seconds,
        accepted_despite_timeout=accepted_despite_timeout,
        latency_ms=latency_ms,
        details=details,
    )


def fault_take(*, endpoint: str, phone_number_id: str = "") -> Fault | None:
    """Claim one use of the oldest matching fault (a conditional UPDATE, so each use is taken once)."""
    candidates = Fault.objects.filter(
        Q(endpoint=endpoint) | Q(endpoint="*"),
        Q(phone_number_id="") | Q(phone_number_id=phone_number_id),
        remaining__gt=0,
    ).order_by("id")
    for fault in candidates:
        if Fault.objects.filter(pk=fault.pk, remaining__gt=0).update(remaining=F("remaining") - 1) == 1:
            return fault
    return None


def throughput_limit_set(phone_number_id: str, mps: int | None) -> None:
    """Above `mps` messages per second the number answers 130429; None lifts the limit."""
    PhoneNumber.objects.filter(phone_number_id=phone_number_id).update(throughput_mps=mps)


def pair_rate_limit_set(phone_number_id: str, per_seconds: float | None) -> None:
    """Messaging the same recipient again within `per_seconds` answers 131056; None lifts the limit."""
    PhoneNumber.objects.filter(phone_number_id=phone_number_id).update(pair_rate_seconds=per_seconds)


def faults_clear() -> None:
    """Forget every fault and limit, and put the clock back."""
    Fault.objects.all().delete()
    PhoneNumber.objects.update(throughput_mps=None, pair_rate_seconds=None)
    clock.reset()
