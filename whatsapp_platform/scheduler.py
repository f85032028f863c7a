"""One scheduler, however many are started: each period of a periodic job is claimed in the database.

Every scheduler process (`manage.py run_scheduler`, and Celery beat through `ClaimingBeatScheduler`)
runs a job only after moving its PeriodicJobRun.last_run_at forward with a conditional UPDATE that
matches only when the job is due; the database lets one UPDATE match, so two schedulers started side by
side (a deploy overlapping the old one, a second host) run each period once. Times are the database's
clock, so hosts whose clocks disagree still agree on what is due. The last run is kept in the database, so
a scheduler that restarts often still runs a daily job once a day instead of one interval after each start.
"""

import logging
import os
import socket
from datetime import timedelta

from django.db import IntegrityError
from django.db.models import DateTimeField, ExpressionWrapper, F, Q
from django.db.models.functions import Now

from whatsapp_platform.models import PeriodicJobRun

logger = logging.getLogger(__name__)


def periodic_job_claim(*, name: str, every: float, by: str) -> bool:
    """Take this period's run of the job `name` (due `every` seconds after its last run): True for exactly
    one caller per period, across every scheduler process. A job never run before is due at once."""
    try:
        PeriodicJobRun.objects.get_or_create(name=name)
    except IntegrityError:
        pass  # another scheduler created the row between our read and our insert
    due_before = ExpressionWrapper(Now() - timedelta(seconds=every), output_field=DateTimeField())
    claimed = (
        PeriodicJobRun.objects.filter(name=name)
        .filter(Q(last_run_at__isnull=True) | Q(last_run_at__lte=due_before))
        .update(last_run_at=Now(), runs=F("runs") + 1, last_run_by=by[:200])
    )
    return claimed == 1


def periodic_job_release(*, name: str) -> None:
    """Give back a claimed period whose task could not be sent (the broker was down): the job is due again at
    once, so the next attempt (by any scheduler) runs it instead of skipping a whole period (a day, say)."""
    PeriodicJobRun.objects.filter(name=name).update(last_run_at=None)


def periodic_job_due_in(*, name: str, every: float) -> float:
    """Seconds until the job `name` is due by the database's clock (0 when due now)."""
    row = PeriodicJobRun.objects.filter(name=name).annotate(db_now=Now()).values_list("last_run_at", "db_now").first()
    if row is None or row[0] is None:
        return 0.0
    last_run_at, db_now = row
    return max(0.0, (last_run_at + timedelta(seconds=every) - db_now).total_seconds())


def scheduler_name() -> str:
    """This scheduler process's name in heartbeats and PeriodicJobRun.last_run_by."""
    return f"scheduler@{socket.gethostname()}:{os.getpid()}"
