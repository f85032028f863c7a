from celery import shared_task

from channels_app.services import health


@shared_task(name="channels.health_check_all", ignore_result=True)
def health_check_all() -> None:
    for channel_id in health.channels_due_for_health_check():
        health_check.delay(channel_id)


@shared_task(name="channels.health_check", ignore_result=True)
def health_check(channel_id: int) -> None:
    health.channel_health_check(channel_id=channel_id)
