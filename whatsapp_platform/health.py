"""Probes: /healthz says the process answers (liveness); /readyz says it can take traffic (readiness).

Ready means the database answers: webhooks are stored there first, so intake survives a Redis outage (the
sweepers drain what the broker never saw). Redis (cache and broker) and the background processes'
heartbeats are shown in the detail, never a reason to take a node out of the load balancer.
"""

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.urls import resolve

from whatsapp_platform.celery import app as celery_app
from whatsapp_platform.heartbeats import heartbeats_by_role

logger = logging.getLogger(__name__)

# Redis is asked in parallel and given this long in all: a probe's own timeout is a few seconds, and a
# blackholed Redis must not make /readyz itself time out.
OPTIONAL_CHECKS_SECONDS = 1.5
# Long-lived threads, so each keeps its cache client (and its Redis connection) from one probe to the next.
# A check that hangs holds its thread until its own socket timeout (2 s); later probes report "no answer".
_CHECKERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="readyz")


def healthz(request):
    return JsonResponse({"status": "ok"})


def _database_check() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _cache_check() -> None:
    key = f"readyz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=10)
    if cache.get(key) != "1":
        raise RuntimeError("the cache did not return what was just written")
    cache.delete(key)


def _broker_check() -> None:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=1)


def _optional_checks() -> dict[str, str]:
    """ "ok", or why not, for the cache and the broker (Redis in production)."""
    checks = {"cache": _cache_check}
    states = {}
    if settings.CELERY_TASK_ALWAYS_EAGER:
        states["broker"] = "in-process"  # tasks run in-process; there is no broker to reach
    else:
        checks["broker"] = _broker_check
    futures = {name: _CHECKERS.submit(check) for name, check in checks.items()}
    for name, future in futures.items():
        try:
            future.result(timeout=OPTIONAL_CHECKS_SECONDS)
            states[name] = "ok"
        except FutureTimeout:
            states[name] = f"down: no answer within {OPTIONAL_CHECKS_SECONDS} s"
        except Exception as exc:  # reported, never raised: Redis down does not make the node unready
            states[name] = f"down: {type(exc).__name__}: {exc}"
    return dict(sorted(states.items()))


def readyz(request):
    try:
        _database_check()
    except Exception as exc:  # any failure means "not ready"; the reason is reported
        logger.warning("readiness check failed", extra={"check": "database", "error": str(exc)})
        return JsonResponse(
            {
                "status": "unavailable",
                "failed": {"database": f"{type(exc).__name__}: {exc}"},
                "message": "Not ready: database unreachable.",
            },
            status=503,
        )
    optional = _optional_checks()
    for name, state in optional.items():
        if state.startswith("down"):
            logger.warning("readiness detail: %s is down; still ready", name, extra={"check": name, "error": state})
    return JsonResponse(
        {
            "status": "ok",
            "checks": {"database": "ok", **optional},
            "tasks": "in-process" if settings.CELERY_TASK_ALWAYS_EAGER else "broker",
            "processes": heartbeats_by_role(),
        }
    )


# What a load balancer, an orchestrator or Prometheus asks each node for, by the node's address.
PROBE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class ProbeMiddleware:
    """Serves /healthz, /readyz and /metrics before anything reads the Host header.

    Load balancers, orchestrators and Prometheus address a node by its IP address, which is not in
    ALLOWED_HOSTS: Django would answer 400 (and a redirect to HTTPS when SECURE_SSL_REDIRECT is on). These
    views build no URL from the Host header (what ALLOWED_HOSTS protects) and need no session; /metrics
    still demands its bearer token. Their views are found through the URLconf, as for any request.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info in PROBE_PATHS and request.method in {"GET", "HEAD"}:
            match = resolve(request.path_info)
            return match.func(request, *match.args, **match.kwargs)
        return self.get_response(request)
