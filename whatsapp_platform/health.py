"""Probes: /healthz says the process is up; /readyz says its dependencies answer."""

import logging
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse

from whatsapp_platform.celery import app as celery_app

logger = logging.getLogger(__name__)


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
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return  # tasks run in-process; there is no broker to reach
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


CHECKS = {"database": _database_check, "cache": _cache_check, "broker": _broker_check}


def readyz(request):
    failed = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:  # any failure means "not ready"; the reason is reported
            logger.warning("readiness check failed", extra={"check": name, "error": str(exc)})
            failed[name] = f"{type(exc).__name__}: {exc}"
    if failed:
        return JsonResponse(
            {"status": "unavailable", "failed": failed, "message": f"Not ready: {', '.join(failed)} unreachable."},
            status=503,
        )
    return JsonResponse(
        {
            "status": "ok",
            "checks": list(CHECKS),
            "tasks": "in-process" if settings.CELERY_TASK_ALWAYS_EAGER else "broker",
        }
    )
