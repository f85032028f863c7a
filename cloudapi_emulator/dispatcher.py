"""Delivers the webhook outbox from an in-process daemon thread, never inside the request that caused it.

`dispatcher_ensure_running()` (called after commit whenever rows are added) starts the thread
if it is not alive and wakes it. The thread claims each due row with a conditional UPDATE, so
several processes sharing one database never deliver a row twice; a claim lapses after
WEBHOOK_CLAIM_SECONDS, so a row held by a process that died is picked up again.

Under tests with an in-memory SQLite database the thread borrows the caller's connection, as
Django's live server thread does: a second connection to a shared-cache memory database gets
"database table is locked" instead of waiting.
"""

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

import requests
from django.db import connections
from django.db.models import F, Q

from cloudapi_emulator import clock, conf
from cloudapi_emulator.models import StatusEvent, WebhookDelivery
from cloudapi_emulator.signatures import signature_header
from whatsapp_platform.deadlines import DeadlineExceeded, deadline_session, total_deadline

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_thread: threading.Thread | None = None
_wake = threading.Event()
_stop = threading.Event()
_shared_connection = None
_IDLE_POLL_SECONDS = 0.5
# Outbox rows that are a service's deferred work rather than a POST (a template's review ending): their kind's
# handler, registered by the service that owns the kind, so the dispatcher never imports the services above it.
_DEFERRED: dict[str, Callable[[str], None]] = {}


def deferred_handler_register(kind: str, handler: Callable[[str], None]) -> None:
    """`handler(row.body)` runs when an outbox row of `kind` falls due, instead of a POST."""
    _DEFERRED[kind] = handler


def dispatcher_ensure_running() -> None:
    """Start the dispatcher thread if needed and wake it to look for due rows."""
    global _thread, _shared_connection
    with _lock:
        if _thread is None or not _thread.is_alive():
            connection = connections["default"]
            shared = connection.vendor == "sqlite" and connection.is_in_memory_db()
            if shared:
                connection.inc_thread_sharing()
            _shared_connection = connection if shared else None
            _stop.clear()
            _thread = threading.Thread(target=_run, name="cloudapi-emulator-dispatcher", daemon=True)
            _thread.start()
    _wake.set()


def dispatcher_stop(timeout: float = 15) -> None:
    """Stop the thread (tests call this at teardown, before the database is flushed)."""
    global _thread, _shared_connection
    with _lock:
        thread, _thread = _thread, None
        shared, _shared_connection = _shared_connection, None
    if thread is not None:
        _stop.set()
        _wake.set()
        thread.join(timeout)
    if shared is not None:
        shared.dec_thread_sharing()


def dispatcher_is_running() -> bool:
    return _thread is not None and _thread.is_alive()


def _run() -> None:
    if _shared_connection is not None:
        connections["default"] = _shared_connection
    try:
        while not _stop.is_set():
            try:
                worked = deliver_due()
                wait = 0 if worked else _seconds_to_next_due()
            except Exception:
                # Keep the thread alive through a database hiccup; the rows stay pending.
                logger.exception("emulator webhook dispatcher failed a pass")
                wait = _IDLE_POLL_SECONDS
            if wait > 0:
                _wake.wait(wait)
                _wake.clear()
    finally:
        if _shared_connection is None:
            connections["default"].close()


def _seconds_to_next_due() -> float:
    nxt = (
        WebhookDelivery.objects.filter(state=WebhookDelivery.State.PENDING)
        .order_by("due_at")
        .values_list("due_at", flat=True)
        .first()
    )
    if nxt is None:
        return _IDLE_POLL_SECONDS
    return max(0.005, min(_IDLE_POLL_SECONDS, (nxt - clock.now()).total_seconds()))


def deliver_due(limit: int = 50) -> int:
    """Deliver up to `limit` due rows, earliest first; return how many were attempted."""
    now = clock.now()
    due = list(
        WebhookDelivery.objects.filter(state=WebhookDelivery.State.PENDING, due_at__lte=now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .order_by("due_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    attempted = 0
    for pk in due:
        if _stop.is_set():
            break
        if _claim(pk):
            attempted += 1
            _process(WebhookDelivery.objects.get(pk=pk))
    return attempted


def _claim(pk: int) -> bool:
    now = clock.now()
    lease = now + timedelta(seconds=conf.get("WEBHOOK_CLAIM_SECONDS"))
    rows = (
        WebhookDelivery.objects.filter(pk=pk, state=WebhookDelivery.State.PENDING, due_at__lte=now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=lease, attempts=F("attempts") + 1)
    )
    return rows == 1


def _process(row: WebhookDelivery) -> None:
    deferred = _DEFERRED.get(row.kind)
    if deferred is not None:
        deferred(row.body)
        _mark_delivered(row, status_code=None)
        return
    body = row.body.encode("ascii")
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": signature_header(body, row.app_secret),
        "User-Agent": "facebookexternalua",
    }
    timeout = conf.get("WEBHOOK_TIMEOUT_SECONDS")
    try:
        with deadline_session() as session, total_deadline(timeout) as deadline:
            response = session.post(row.url, data=body, headers=headers, timeout=deadline.timeouts(timeout, timeout))
    except DeadlineExceeded as exc:
        _mark_retry(row, status_code=None, error=f"DeadlineExceeded: {exc}")
        return
    except requests.RequestException as exc:
        _mark_retry(row, status_code=None, error=f"{type(exc).__name__}: {exc}")
        return
    if response.status_code == 200:
        _mark_delivered(row, status_code=200)
    else:
        _mark_retry(row, status_code=response.status_code, error=response.text[:500])


def _mark_delivered(row: WebhookDelivery, *, status_code: int | None) -> None:
    now = clock.now()
    WebhookDelivery.objects.filter(pk=row.pk).update(
        state=WebhookDelivery.State.DELIVERED, delivered_at=now, claimed_until=None, last_status_code=status_code
    )
    StatusEvent.objects.filter(delivery_id=row.pk, emitted_at__isnull=True).update(emitted_at=now)


def _mark_retry(row: WebhookDelivery, *, status_code: int | None, error: str) -> None:
    """Back off exponentially (base, 2×base, 4×base…) until max_attempts, then record the give-up."""
    if row.attempts >= row.max_attempts:
        WebhookDelivery.objects.filter(pk=row.pk).update(
            state=WebhookDelivery.State.FAILED, claimed_until=None, last_status_code=status_code, last_error=error
        )
        logger.warning("emulator gave up on a webhook", extra={"delivery_id": row.pk, "url": row.url})
        return
    delay = min(conf.get("WEBHOOK_RETRY_BASE_SECONDS") * 2 ** (row.attempts - 1), conf.get("WEBHOOK_RETRY_MAX_SECONDS"))
    WebhookDelivery.objects.filter(pk=row.pk).update(
        due_at=clock.now() + timedelta(seconds=delay),
        claimed_until=None,
        last_status_code=status_code,
        last_error=error,
    )
