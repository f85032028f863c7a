"""Attempting deliveries: sign, POST to the vetted address, record the attempt, schedule the next one.

A delivery is claimed with a conditional UPDATE (pending and due → sending), so a task and the
sweeper racing for it make one attempt. Failures back off over about a day; a subscription
whose every attempt failed for EVENT_WEBHOOK_DISABLE_AFTER_HOURS is disabled and its owners told.
"""

import json
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from events_app import signing
from events_app.models import Delivery, DeliveryAttempt, WebhookSubscription
from events_app.services.emit import event_envelope
from whatsapp_platform import outbound_http
from whatsapp_platform.deadlines import Deadline, DeadlineExceeded, total_deadline
from whatsapp_platform.task_queue import task_enqueue
from workspaces_app.models import Membership, Role

logger = logging.getLogger(__name__)

# Seconds before each retry: 9 attempts over about 21 hours.
RETRY_DELAYS = (5, 30, 120, 600, 1800, 7200, 21600, 43200)
# Retries this close are enqueued with a countdown; later ones wait for the sweeper (a long
# countdown outlives the Redis broker's visibility timeout and would be delivered twice).
COUNTDOWN_LIMIT_SECONDS = 300
# A pending delivery untouched this long has lost its task; the sweeper enqueues it again.
STALE_SECONDS = 30
EXCERPT_BYTES = 500
USER_AGENT = "WhatsAppAgentPlatform-Webhooks/1.0"


@dataclass
class _Outcome:
    status_code: int | None = None
    error: str = ""
    excerpt: str = ""
    response_ms: int = 0

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _lease_seconds() -> float:
    return settings.EVENT_WEBHOOK_CONNECT_TIMEOUT + settings.EVENT_WEBHOOK_READ_TIMEOUT + 60


def delivery_attempt(*, delivery_id: int) -> Delivery | None:
    """One attempt, when the delivery is pending and due; None when another worker has it or it is not due."""
    now = timezone.now()
    claimed = (
        Delivery.objects.filter(pk=delivery_id, state=Delivery.State.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(state=Delivery.State.SENDING, claimed_at=now, updated_at=now)
    )
    if not claimed:
        return None
    delivery = Delivery.objects.select_related("event__workspace", "subscription").get(pk=delivery_id)
    subscription = delivery.subscription
    if not subscription.enabled:
        Delivery.objects.filter(pk=delivery.pk).update(
            state=Delivery.State.FAILED,
            next_attempt_at=None,
            last_error="Not sent: the subscription is disabled.",
            updated_at=now,
        )
        return Delivery.objects.get(pk=delivery.pk)

    body = json.dumps(event_envelope(delivery.event), ensure_ascii=False, separators=(",", ":")).encode()
    timestamp = int(now.timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": delivery.public_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.signature_header(
            secrets_in_use=subscription_secrets(subscription, at=now),
            webhook_id=delivery.public_id,
            timestamp=timestamp,
            body=body,
        ),
    }
    outcome = _post(subscription.url, body, headers)
    return _attempt_record(delivery, outcome, attempted_at=now)


def subscription_secrets(subscription: WebhookSubscription, *, at) -> list[str]:
    """The secrets that sign now: the current one, and the previous one until its overlap ends."""
    secrets = [subscription.secret]
    expires = subscription.previous_secret_expires_at
    if subscription.previous_secret and expires is not None and expires > at:
        secrets.append(subscription.previous_secret)
    return secrets


def _post(url: str, body: bytes, headers: dict) -> _Outcome:
    started = time.monotonic()
    outcome = _exchange(url, body, headers)
    outcome.response_ms = int((time.monotonic() - started) * 1000)
    return outcome


def _exchange(url: str, body: bytes, headers: dict) -> _Outcome:
    """The attempt within EVENT_WEBHOOK_TOTAL_TIMEOUT: an endpoint that answers 200 and then drips the
    rest has not answered in time, and the attempt is a failure."""
    total = settings.EVENT_WEBHOOK_TOTAL_TIMEOUT
    try:
        with total_deadline(total) as deadline:
            return _exchange_within(url, body, headers, deadline=deadline)
    except DeadlineExceeded:
        host = urlsplit(url).hostname
        return _Outcome(error=f"timed out: {host} did not finish answering within {total:g} s.")


def _exchange_within(url: str, body: bytes, headers: dict, *, deadline: Deadline) -> _Outcome:
    connect, read = deadline.timeouts(settings.EVENT_WEBHOOK_CONNECT_TIMEOUT, settings.EVENT_WEBHOOK_READ_TIMEOUT)
    try:
        _scheme, host, port = outbound_http.url_origin(url)
        name = outbound_http.ascii_host(host)
        address = outbound_http.vetted_address(name, port, allowed_hosts=settings.EVENT_WEBHOOK_ALLOWED_HOSTS)
    except (outbound_http.OutboundRefused, outbound_http.HostUnresolved) as exc:
        return _Outcome(error=str(exc))
    pinned, host_header = outbound_http.pinned_request_target(url, address)
    with outbound_http.pinned_session(server_hostname=name) as session:
        try:
            response = session.post(
                pinned,
                data=body,
                headers={**headers, "Host": host_header},
                timeout=(connect, read),
                allow_redirects=False,  # a redirect is an answer that is not 2xx: the receiver must fix its URL
                stream=True,
            )
        except requests.ConnectTimeout:
            return _Outcome(error=f"timed out: {host} did not accept the connection within {connect:g} s.")
        except requests.ReadTimeout:
            return _Outcome(error=f"timed out: {host} did not answer within {read:g} s.")
        except requests.exceptions.SSLError:
            return _Outcome(error=f"Could not make a secure connection to {host} (TLS or certificate error).")
        except requests.ConnectionError:
            return _Outcome(error=f"Could not connect to {host}.")
        except requests.RequestException as exc:
            return _Outcome(error=f"The request to {host} failed ({type(exc).__name__}).")
        with response:
            try:
                chunk = next(response.iter_content(chunk_size=EXCERPT_BYTES), b"")
            except requests.RequestException:
                chunk = b""
            excerpt = chunk[:EXCERPT_BYTES].decode("utf-8", errors="replace")
            error = "" if 200 <= response.status_code < 300 else f"The endpoint answered HTTP {response.status_code}."
            return _Outcome(status_code=response.status_code, error=error, excerpt=excerpt)


def _attempt_record(delivery: Delivery, outcome: _Outcome, *, attempted_at) -> Delivery:
    now = timezone.now()
    retry_at = None
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery,
            attempted_at=attempted_at,
            status_code=outcome.status_code,
            response_ms=outcome.response_ms,
            error=outcome.error[:2000],
            response_excerpt=outcome.excerpt[:EXCERPT_BYTES],
            succeeded=outcome.succeeded,
        )
        attempts = delivery.attempt_count + 1
        values = {
            "attempt_count": attempts,
            "last_status_code": outcome.status_code,
            "last_error": outcome.error[:2000],
            "claimed_at": None,
            "updated_at": now,
        }
        if outcome.succeeded:
            values.update(state=Delivery.State.DELIVERED, delivered_at=now, next_attempt_at=None)
            WebhookSubscription.objects.filter(pk=delivery.subscription_id, failing_since__isnull=False).update(
                failing_since=None
            )
        else:
            if attempts <= len(RETRY_DELAYS):
                retry_at = now + timedelta(seconds=RETRY_DELAYS[attempts - 1])
                values.update(state=Delivery.State.PENDING, next_attempt_at=retry_at)
            else:
                values.update(state=Delivery.State.FAILED, next_attempt_at=None)
            _failure_note(delivery.subscription_id, attempted_at=attempted_at, error=outcome.error)
        Delivery.objects.filter(pk=delivery.pk, state=Delivery.State.SENDING).update(**values)
        if retry_at is not None:
            _retry_enqueue(delivery.pk, delay=(retry_at - now).total_seconds())
    log = logger.info if outcome.succeeded else logger.warning
    log(
        "event webhook attempt",
        extra={
            "delivery_id": delivery.pk,
            "status_code": outcome.status_code,
            "error": outcome.error,
            "attempt": delivery.attempt_count + 1,
        },
    )
    return Delivery.objects.get(pk=delivery.pk)


def _retry_enqueue(delivery_id: int, *, delay: float) -> None:
    # With tasks run in-process a countdown would not wait, so the sweeper alone retries then.
    if settings.CELERY_TASK_ALWAYS_EAGER or delay > COUNTDOWN_LIMIT_SECONDS:
        return
    transaction.on_commit(lambda: task_enqueue("events.delivery_attempt", delivery_id, countdown=delay))


def _failure_note(subscription_id: int, *, attempted_at, error: str) -> None:
    """Remember since when the endpoint fails; disable it once that spans the configured time."""
    WebhookSubscription.objects.filter(pk=subscription_id, failing_since__isnull=True).update(
        failing_since=attempted_at
    )
    hours = settings.EVENT_WEBHOOK_DISABLE_AFTER_HOURS
    cutoff = attempted_at - timedelta(hours=hours)
    subscription = WebhookSubscription.objects.filter(
        pk=subscription_id, enabled=True, failing_since__lte=cutoff
    ).first()
    if subscription is None:
        return
    reason = (
        f"Disabled automatically: every delivery failed for more than {hours} hours "
        f"(since {subscription.failing_since:%Y-%m-%d %H:%M} UTC). Last error: {error or 'unknown'}"
    )[:2000]
    # Conditional, so two workers failing at once disable (and notify) once.
    if WebhookSubscription.objects.filter(pk=subscription_id, enabled=True).update(
        enabled=False, disabled_at=timezone.now(), disabled_reason=reason, updated_at=timezone.now()
    ):
        logger.warning("webhook subscription disabled", extra={"subscription_id": subscription_id, "error": error})
        transaction.on_commit(lambda: task_enqueue("events.subscription_disabled_notify", subscription_id))


def subscription_disabled_notify(*, subscription_id: int) -> int:
    """Email the workspace's owners and admins that a subscription was disabled. Returns how many were told.

    SMTP errors propagate so the task retries them.
    """
    subscription = (
        WebhookSubscription.objects.select_related("workspace").filter(pk=subscription_id, enabled=False).first()
    )
    if subscription is None:
        return 0  # deleted, or someone enabled it again meanwhile
    recipients = list(
        Membership.objects.filter(
            workspace=subscription.workspace, role__in=[Role.OWNER, Role.ADMIN], user__is_active=True
        )
        .values_list("user__email", flat=True)
        .distinct()
    )
    if not recipients:
        return 0
    link = f"{settings.SITE_URL}{reverse('webhook_list', args=[subscription.workspace.slug])}"
    send_mail(
        subject=f"Webhook to {subscription.url} was disabled",
        message=(
            f"Events for the workspace {subscription.workspace.name} are no longer sent to {subscription.url}.\n\n"
            f"{subscription.disabled_reason}\n\n"
            f"Fix the endpoint, then enable the subscription and resend the failed deliveries here: {link}\n"
        ),
        from_email=None,
        recipient_list=recipients,
        fail_silently=False,
    )
    return len(recipients)


def deliveries_sweep() -> dict[str, int]:
    """Give back deliveries whose worker died, and enqueue those due whose task is lost or was never set."""
    now = timezone.now()
    counts = {"released": 0, "enqueued": 0}
    counts["released"] = Delivery.objects.filter(
        state=Delivery.State.SENDING, claimed_at__lte=now - timedelta(seconds=_lease_seconds())
    ).update(state=Delivery.State.PENDING, claimed_at=None, next_attempt_at=now, updated_at=now)
    due = (
        Delivery.objects.filter(state=Delivery.State.PENDING, next_attempt_at__lte=now)
        # Recently touched ones have a task on its way (just created, or a short countdown).
        .filter(updated_at__lte=now - timedelta(seconds=STALE_SECONDS))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:1000]
    )
    for delivery_id in due:
        task_enqueue("events.delivery_attempt", delivery_id)
        counts["enqueued"] += 1
    return counts
