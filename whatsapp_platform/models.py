"""What the platform's own processes record about themselves: who is alive, and when each periodic job last ran."""

from django.db import models


class ProcessHeartbeat(models.Model):
    """A running worker or scheduler says it is alive by refreshing its row every HEARTBEAT_SECONDS.

    A process that stops cleanly deletes its row; one that is killed leaves it behind, and the row then
    simply grows old (readyz and /metrics tell alive from stale by `beat_at`).
    """

    class Role(models.TextChoices):
        WORKER = "worker", "Celery worker"
        SCHEDULER = "scheduler", "Scheduler"

    role = models.CharField(max_length=20, choices=Role.choices)
    # "worker@host" (Celery's node name) or "scheduler@host:pid": unique among running processes.
    name = models.CharField(max_length=200, unique=True)
    # The queues a worker consumes (comma-separated); empty for the scheduler.
    queues = models.CharField(max_length=300, blank=True)
    started_at = models.DateTimeField()
    beat_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["role", "beat_at"], name="heartbeat_role_beat_idx")]

    def __str__(self) -> str:
        return self.name


class PeriodicJobRun(models.Model):
    """The last run of one of settings.PERIODIC_JOBS, shared by every scheduler process.

    A scheduler runs a job only after moving `last_run_at` forward with a conditional UPDATE (see
    whatsapp_platform/scheduler.py), so two schedulers never run the same period twice, and a scheduler
    that restarts knows what is due instead of waiting a whole interval (a daily job would otherwise never
    run on a scheduler restarted more often than daily).
    """

    name = models.CharField(max_length=100, unique=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    runs = models.PositiveBigIntegerField(default=0)
    # Which scheduler ran it last (ProcessHeartbeat.name), for whoever wonders.
    last_run_by = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return self.name
