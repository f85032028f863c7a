"""Celery tasks: each calls a service. Names are explicit and stable."""

import logging

from celery import shared_task

from analytics_app.services import rollup

logger = logging.getLogger(__name__)


@shared_task(name="analytics.daily_stats_rollup", ignore_result=True)
def daily_stats_rollup() -> None:
    counts = rollup.daily_stats_rollup_recent()
    logger.info("daily figures rolled up", extra=counts)
