"""Exactly one scheduler: two started side by side on the same PostgreSQL and Redis run each period once,
and what ran last is kept in the database, not on a scheduler's local disk."""

import subprocess
import time
import uuid
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from tests.conftest import wait_until
from tests.platform.processes import ROOT, Processes, celery_argv, manage_argv, process_env
from whatsapp_platform.models import PeriodicJobRun, ProcessHeartbeat

SCHEDULERS = {
    "run_scheduler": lambda name, log_dir: manage_argv("run_scheduler"),
    # Celery beat started by habit beside run_scheduler, or twice, must be just as safe.
    "celery_beat": lambda name, log_dir: celery_argv(
        "beat", "--loglevel", "WARNING", "--schedule", str(log_dir / f"{name}-schedule")
    ),
}
WINDOW_SECONDS = 6


@pytest.mark.parametrize("kind", list(SCHEDULERS))
def test_a_second_scheduler_started_beside_the_first_runs_no_job_twice(transactional_db, kind):
    if not settings.REDIS_URL:
        pytest.skip("needs Redis (REDIS_URL): the schedulers' tasks are counted in its queue")
    queue = f"scheduler-probe-{uuid.uuid4().hex[:10]}"
    broker = redis.Redis.from_url(settings.REDIS_URL)
    env = process_env(DJANGO_SETTINGS_MODULE="tests.platform.scheduler_probe_settings", SCHEDULER_PROBE_QUEUE=queue)
    processes = Processes()
    try:
        for name in ("first", "second"):
            processes.start(name, SCHEDULERS[kind](name, processes.log_dir), env)
        try:
            wait_until(lambda: ProcessHeartbeat.objects.filter(role="scheduler").count() == 2, timeout=60)
            wait_until(lambda: broker.llen(queue) > 0, timeout=20)
        except AssertionError:
            pytest.fail(f"both schedulers did not come up and send:\n{processes.logs()}")
        sent_before, started = broker.llen(queue), time.monotonic()
        time.sleep(WINDOW_SECONDS)
        sent, elapsed = broker.llen(queue) - sent_before, time.monotonic() - started
        processes.stop_all()
        # A one-second job: at most one run per second (plus the period straddling the window's start),
        # where two schedulers each running it would send about twice as many.
        assert elapsed - 2 <= sent <= elapsed + 1, f"{sent} sends in {elapsed:.1f} s\n{processes.logs()}"
        assert PeriodicJobRun.objects.get(name="probe").runs == broker.llen(queue)
        # Both said goodbye (the logs say why one did not).
        assert ProcessHeartbeat.objects.filter(role="scheduler").count() == 0, processes.logs()
    finally:
        processes.stop_all()
        broker.delete(queue)


def test_a_restarted_scheduler_runs_what_is_due_from_the_last_run_kept_in_the_database(db, capsys):
    # A daily job last run 25 hours ago is due now, whatever the scheduler process did since.
    long_ago = timezone.now() - timedelta(hours=25)
    PeriodicJobRun.objects.create(name="messaging.retention_apply", last_run_at=long_ago)
    call_command("run_scheduler", once=True)
    first = PeriodicJobRun.objects.get(name="messaging.retention_apply")
    assert first.runs == 1 and first.last_run_at > long_ago
    # A scheduler started again a moment later does not run it again: it is due in a day, not at start.
    call_command("run_scheduler", once=True)
    assert PeriodicJobRun.objects.get(name="messaging.retention_apply").runs == 1
    assert PeriodicJobRun.objects.get(name="workspaces.invitations_expire").runs == 1


def test_a_job_the_broker_refused_is_due_again_at_once_instead_of_a_period_later(transactional_db):
    def scheduler_once(broker_url: str) -> str:
        env = process_env(
            DJANGO_SETTINGS_MODULE="tests.platform.scheduler_probe_settings",
            SCHEDULER_PROBE_QUEUE=f"scheduler-probe-{uuid.uuid4().hex[:10]}",
            REDIS_URL="",
            CELERY_BROKER_URL=broker_url,
        )
        result = subprocess.run(
            manage_argv("run_scheduler", "--once"), cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return result.stderr

    # Redis is down when the job's period comes: nothing was sent, so the period is given back.
    logs = scheduler_once("redis://127.0.0.1:1/0")
    assert "periodic job failed" in logs
    refused = PeriodicJobRun.objects.get(name="probe")
    assert refused.last_run_at is None
    # The next scheduler pass (any scheduler's) runs it, although a whole period has not passed.
    scheduler_once("memory://")
    sent = PeriodicJobRun.objects.get(name="probe")
    assert sent.last_run_at is not None and sent.runs == 2
