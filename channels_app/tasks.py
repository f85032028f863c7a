import logging
import smtplib

from celery import shared_task

from channels_app.services import health, templates

logger = logging.getLogger(__name__)


@shared_task(name="channels.health_check_all", ignore_result=True)
def health_check_all() -> None:
    for channel_id in health.channels_due_for_health_check():
        health_check.delay(channel_id)


@shared_task(name="channels.health_check", ignore_result=True)
def health_check(channel_id: int) -> None:
    health.channel_health_check(channel_id=channel_id)


@shared_task(name="channels.template_sync_run", ignore_result=True)
def template_sync_run(sync_id: int) -> None:
    templates.template_sync_run(sync_id=sync_id)


@shared_task(name="channels.template_sync_all", ignore_result=True)
def template_sync_all() -> None:
    templates.template_sync_request_all()


@shared_task(name="channels.template_syncs_sweep", ignore_result=True)
def template_syncs_sweep() -> None:
    counts = templates.template_syncs_sweep()
    if any(counts.values()):
        logger.info("template syncs swept", extra=counts)


@shared_task(
    name="channels.template_status_notify",
    ignore_result=True,
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=30,
    retry_backoff_max=900,
    retry_jitter=True,
    max_retries=6,
)
def template_status_notify(template_id: int, status: str) -> None:
    templates.template_status_notify(template_id=template_id, status=status)
