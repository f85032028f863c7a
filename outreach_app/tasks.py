"""Celery tasks: each loads ids and calls a service. Names are explicit and stable."""

import logging

from celery import shared_task

from outreach_app import services

logger = logging.getLogger(__name__)


@shared_task(name="outreach.campaign_dispatch", ignore_result=True)
def campaign_dispatch(campaign_id: int) -> None:
    # One slice, then a fresh task for the next: a worker is never held for a whole campaign.
    if services.campaign_dispatch(campaign_id=campaign_id):
        campaign_dispatch.delay(campaign_id)


@shared_task(name="outreach.campaigns_sweep", ignore_result=True)
def campaigns_sweep() -> None:
    counts = services.campaigns_sweep()
    if any(counts.values()):
        logger.info("campaigns swept", extra=counts)


@shared_task(name="outreach.scheduled_messages_send", ignore_result=True)
def scheduled_messages_send() -> None:
    sent = services.scheduled_messages_send_due()
    if sent:
        logger.info("scheduled messages sent", extra={"count": sent})
