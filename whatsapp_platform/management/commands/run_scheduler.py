"""The platform's one scheduler: runs settings.PERIODIC_JOBS, each period once however many are started.

It is the Procfile's `scheduler` role. With a broker (REDIS_URL) it sends each due job to its queue for
the workers; without one (`make run` on a bare machine) it runs the job in this process. Each period is
claimed in the database first (whatsapp_platform/scheduler.py), so a second scheduler started beside it
(a rolling deploy, a second host) runs nothing twice, and one that restarts often still runs its daily jobs.
It refreshes a heartbeat row that /readyz and /metrics show.
"""

import logging
import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DatabaseError, connection
from django.utils import timezone

from whatsapp_platform.celery import app
from whatsapp_platform.heartbeats import heartbeat_beat, heartbeat_remove, heartbeats_prune
from whatsapp_platform.models import ProcessHeartbeat
from whatsapp_platform.scheduler import (
    periodic_job_claim,
    periodic_job_due_in,
    periodic_job_release,
    scheduler_name,
)

logger = logging.getLogger(__name__)

# After a failure to reach the database or the broker, try that job again this much later.
RETRY_SECONDS = 5.0
# Never sleep longer than this, so a stop signal and the heartbeat are served promptly.
MAX_SLEEP_SECONDS = 1.0


class Command(BaseCommand):
    help = "Run the periodic jobs (one scheduler per deployment; extra ones run nothing twice)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run every job that is due once, then exit.")

    def handle(self, *args, once: bool = False, **options):
        self._stopping = False
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        app.loader.import_default_modules()  # autodiscovery is lazy; the jobs' tasks must be registered now
        self.name = scheduler_name()
        self.started_at = timezone.now()
        jobs = settings.PERIODIC_JOBS
        next_try = {name: 0.0 for name in jobs}
        next_beat = 0.0
        mode = "in-process" if settings.CELERY_TASK_ALWAYS_EAGER else "to the broker"
        self.stdout.write(f"scheduler {self.name}: {len(jobs)} periodic job(s), run {mode}: {', '.join(jobs)}")
        try:
            while not self._stopping:
                now = time.monotonic()
                if now >= next_beat:
                    self._heartbeat()
                    next_beat = now + settings.HEARTBEAT_SECONDS
                for name, job in jobs.items():
                    if self._stopping or time.monotonic() < next_try[name]:
                        continue
                    next_try[name] = time.monotonic() + self._job_try(name, job["task"], job["every"])
                if not connection.in_atomic_block:  # inside a caller's transaction (a test), keep it
                    connection.close_if_unusable_or_obsolete()
                if once:
                    return
                time.sleep(min(MAX_SLEEP_SECONDS, max(0.05, min(next_try.values()) - time.monotonic())))
        finally:
            try:
                heartbeat_remove(name=self.name)
            except DatabaseError:
                logger.warning("scheduler heartbeat not removed at shutdown", exc_info=True)

    def _job_try(self, name: str, task_name: str, every: float) -> float:
        """Run the job if this scheduler wins its period; return the seconds until it should look again."""
        try:
            if not periodic_job_claim(name=name, every=every, by=self.name):
                # Another scheduler ran this period (or it is not due yet): look again when it is next due.
                return periodic_job_due_in(name=name, every=every) + 0.01
        except DatabaseError:
            logger.warning("periodic job not claimed; the database did not answer", extra={"job": name}, exc_info=True)
            connection.close()
            return RETRY_SECONDS
        try:
            self._run(task_name)
        except Exception:  # one failing job must not stop the others
            logger.exception("periodic job failed", extra={"job": name})
            if not settings.CELERY_TASK_ALWAYS_EAGER:
                # Not sent (the broker is down): give the period back so the job runs as soon as it can,
                # instead of a whole interval (a day, for retention) later.
                try:
                    periodic_job_release(name=name)
                except DatabaseError:
                    logger.warning("periodic job not released", extra={"job": name}, exc_info=True)
                return RETRY_SECONDS
        return every

    def _run(self, task_name: str) -> None:
        if settings.CELERY_TASK_ALWAYS_EAGER:
            app.tasks[task_name].apply(throw=True)
        else:
            app.tasks[task_name].apply_async()  # to the queue CELERY_TASK_ROUTES gives it

    def _heartbeat(self) -> None:
        try:
            heartbeat_beat(role=ProcessHeartbeat.Role.SCHEDULER, name=self.name, started_at=self.started_at)
            heartbeats_prune()
        except DatabaseError:
            logger.warning("scheduler heartbeat not recorded; the database did not answer", exc_info=True)
            connection.close()

    def _stop(self, *args) -> None:
        self._stopping = True
