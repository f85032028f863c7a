"""Celery tasks: each loads ids and calls a service. Names are explicit and stable."""

import logging
import smtplib

from celery import shared_task

from agents_app import replies
from messaging_app.services import business_hours, handoff, inbound, media, outbound, privacy, webhooks

logger = logging.getLogger(__name__)


@shared_task(name="messaging.webhook_events_drain", ignore_result=True)
def webhook_events_drain() -> None:
    webhooks.webhook_events_drain()


@shared_task(name="messaging.webhook_events_sweep", ignore_result=True)
def webhook_events_sweep() -> None:
    if webhooks.webhook_events_pending_stale():
        webhooks.webhook_events_drain()


@shared_task(name="messaging.inbound_sweep", ignore_result=True)
def inbound_sweep() -> None:
    inbound.inbound_overdue_sweep()


@shared_task(name="messaging.message_deliver", ignore_result=True)
def message_deliver(message_id: int) -> None:
    outbound.message_deliver(message_id=message_id)


@shared_task(name="messaging.outbox_sweep", ignore_result=True)
def outbox_sweep() -> None:
    counts = outbound.outbox_sweep()
    if any(counts.values()):
        logger.info("outbox swept", extra=counts)


@shared_task(name="messaging.inbound_media_fetch", bind=True, ignore_result=True, max_retries=6)
def inbound_media_fetch(self, message_id: int) -> None:
    try:
        media.inbound_media_fetch(message_id=message_id)
    except media.MediaFetchRetry as exc:
        if self.request.retries >= self.max_retries:
            media.inbound_media_fail(message_id=message_id, reason=f"Gave up after {self.max_retries} retries: {exc}")
            return
        raise self.retry(countdown=min(600, 5 * 2**self.request.retries)) from exc


@shared_task(name="messaging.inbound_media_sweep", ignore_result=True)
def inbound_media_sweep() -> None:
    for message_id in media.inbound_media_pending_stale():
        inbound_media_fetch.delay(message_id)


@shared_task(name="messaging.business_hours_openings", ignore_result=True)
def business_hours_openings() -> None:
    counts = business_hours.business_hours_openings_run()
    if any(counts.values()):
        logger.info("business hours openings", extra=counts)


@shared_task(name="messaging.conversation_inbound_handle", ignore_result=True)
def conversation_inbound_handle(conversation_id: int) -> None:
    replies.conversation_inbound_handle(conversation_id=conversation_id)


@shared_task(
    name="messaging.handoff_notify",
    ignore_result=True,
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=30,
    retry_backoff_max=900,
    retry_jitter=True,
    max_retries=6,
)
def handoff_notify(conversation_id: int, reason: str) -> None:
    handoff.handoff_notify(conversation_id=conversation_id, reason=reason)


@shared_task(name="messaging.file_deletions_run", ignore_result=True)
def file_deletions_run(workspace_id: int) -> None:
    counts = privacy.file_deletions_run(workspace_id=workspace_id)
    if counts["failed"]:
        logger.warning("stored files left for the retention job", extra=counts)


@shared_task(name="messaging.retention_apply", ignore_result=True)
def retention_apply() -> None:
    totals = privacy.retention_apply_all()
    logger.info("retention job", extra={k: v for k, v in totals.items() if k != "files"})
    if not totals["done"]:
        # A backlog (a policy just switched on): carry on in a fresh task rather than wait a day.
        retention_apply.apply_async(countdown=60)
