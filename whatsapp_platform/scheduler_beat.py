"""Celery beat, made safe to start twice: the same database claims as `manage.py run_scheduler`.

The Procfile's scheduler is run_scheduler; this class is what `celery -A whatsapp_platform beat` uses
(CELERY_BEAT_SCHEDULER) so that a beat started by habit, or beside run_scheduler, runs no job twice and keeps
no schedule on local disk: what is due is read from PeriodicJobRun, and each period is claimed before it is
sent (whatsapp_platform/scheduler.py).
"""

import logging
import time

from celery import beat
from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from whatsapp_platform.heartbeats import heartbeat_beat, heartbeat_remove
from whatsapp_platform.models import ProcessHeartbeat
from whatsapp_platform.scheduler import periodic_job_claim, periodic_job_due_in, periodic_job_release, scheduler_name

logger = logging.getLogger(__name__)


class ClaimingBeatScheduler(beat.Scheduler):
    # Look at the schedule at least this often (Celery's default, 5 minutes, would delay the heartbeat).
    max_interval = 5

    def __init__(self, *args, **kwargs):
        self._name = scheduler_name()
        self._started_at = timezone.now()
        self._next_beat = 0.0
        super().__init__(*args, **kwargs)

    def install_default_entries(self, data):
        """No `celery.backend_cleanup`: the platform keeps no task results."""

    @staticmethod
    def _every(entry) -> float:
        return entry.schedule.run_every.total_seconds()

    def is_due(self, entry):
        try:
            due_in = periodic_job_due_in(name=entry.name, every=self._every(entry))
        except DatabaseError:
            logger.warning("periodic job not checked; the database did not answer", exc_info=True)
            connection.close()
            return False, 5.0
        if due_in > 0:
            return False, due_in + 0.01
        return True, self._every(entry)

    def apply_entry(self, entry, producer=None):
        try:
            claimed = periodic_job_claim(name=entry.name, every=self._every(entry), by=self._name)
        except DatabaseError:
            logger.warning("periodic job not claimed; the database did not answer", exc_info=True)
            connection.close()
            return
        if not claimed:
            return  # another scheduler ran this period
        try:
            self.apply_async(entry, producer=producer, advance=False)
        except Exception:  # the broker is down: give the period back so the job runs as soon as it can
            logger.exception("periodic job not sent", extra={"job": entry.name})
            periodic_job_release(name=entry.name)

    def tick(self, *args, **kwargs):
        if time.monotonic() >= self._next_beat:
            try:
                heartbeat_beat(role=ProcessHeartbeat.Role.SCHEDULER, name=self._name, started_at=self._started_at)
            except DatabaseError:
                logger.warning("scheduler heartbeat not recorded", exc_info=True)
                connection.close()
            self._next_beat = time.monotonic() + settings.HEARTBEAT_SECONDS
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()  # a broken one (PostgreSQL restarted) is reopened
        return super().tick(*args, **kwargs)

    def close(self):
        # The stop signal may have cut a query short and left this connection unusable: start from a fresh one.
        connection.close()
        try:
            heartbeat_remove(name=self._name)
        except DatabaseError:
            logger.warning("scheduler heartbeat not removed at shutdown", exc_info=True)
        super().close()
