"""Celery beat's stand-in when there is no Redis: runs PERIODIC_JOBS in this process.

`make run` starts it beside the web server on a bare machine, so sweepers and scheduled
work happen there too. With Redis, Celery beat reads the same PERIODIC_JOBS.
"""

import logging
import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from whatsapp_platform.celery import app

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run the periodic jobs in-process (for machines without Redis and Celery beat)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run every job once and exit.")

    def handle(self, *args, once: bool = False, **options):
        self._stopping = False
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        app.loader.import_default_modules()  # autodiscovery is lazy; the jobs' tasks must be registered now
        next_run = {name: 0.0 for name in settings.PERIODIC_JOBS}
        self.stdout.write(f"scheduler: {len(next_run)} periodic job(s): {', '.join(next_run)}")
        while not self._stopping:
            now = time.monotonic()
            for name, job in settings.PERIODIC_JOBS.items():
                if now >= next_run[name]:
                    self._run(name, job["task"])
                    next_run[name] = now + job["every"]
            if once:
                return
            time.sleep(max(0.2, min(next_run.values()) - time.monotonic()))

    def _run(self, name: str, task_name: str) -> None:
        try:
            app.tasks[task_name].apply(throw=True)
        except Exception:  # one failing job must not stop the others; it is retried next period
            logger.exception("periodic job failed", extra={"job": name})

    def _stop(self, *args) -> None:
        self._stopping = True
