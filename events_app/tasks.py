"""Celery tasks: each loads ids and calls a service. Names are explicit and stable."""

import logging
import smtplib

from celery import shared_task

from events_app import services

logger = logging.getLogger(__name__)


@shared_task(name="events.delivery_attempt", ignore_result=True)
def delivery_attempt(delivery_id: int) -> None:
    services.delivery_attempt(delivery_id=delivery_id)


@shared_task(name="events.deliveries_sweep", ignore_result=True)
def deliveries_sweep() -> None:
    counts = services.deliveries_sweep()
    if any(counts.values()):
        logger.info("event deliveries swept", extra=counts)


@shared_task(
    name="events.subscription_disabled_notify",
    ignore_result=True,
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=60,
    max_retries=5,
)
def subscription_disabled_notify(subscription_id: int) -> None:
    services.subscription_disabled_notify(subscription_id=subscription_id)
