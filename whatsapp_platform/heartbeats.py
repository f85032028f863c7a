"""Heartbeats of the platform's background processes: each Celery worker and the scheduler refresh a row
every HEARTBEAT_SECONDS, and /readyz and /metrics read them to say whether anyone is working the queues.

Ages are measured on each host's clock against the reader's; hosts are expected to run NTP, and a process
counts as alive for three intervals, which absorbs a skew of a few seconds.
"""

import logging
import threading
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Count, Max, Q
from django.utils import timezone

from whatsapp_platform.models import ProcessHeartbeat

logger = logging.getLogger(__name__)


def heartbeat_stale_after() -> timedelta:
    return timedelta(seconds=3 * settings.HEARTBEAT_SECONDS)


def heartbeat_beat(*, role: str, name: str, started_at: datetime, queues: str = "") -> None:
    """Say that the process `name` is alive now (creating its row on the first beat)."""
    ProcessHeartbeat.objects.update_or_create(
        name=name, defaults={"role": role, "queues": queues, "started_at": started_at, "beat_at": timezone.now()}
    )


def heartbeat_remove(*, name: str) -> None:
    """A process that stops cleanly takes its row away, so it is not mistaken for one that died."""
    ProcessHeartbeat.objects.filter(name=name).delete()


def heartbeats_prune(*, older_than: timedelta = timedelta(days=1)) -> int:
    """Forget processes that stopped beating long ago (killed, never removed their row)."""
    deleted, _ = ProcessHeartbeat.objects.filter(beat_at__lt=timezone.now() - older_than).delete()
    return deleted


def heartbeats_by_role() -> dict[str, dict]:
    """For each role: how many processes beat recently, and how old the newest beat is (None: never seen)."""
    now = timezone.now()
    rows = {
        row["role"]: row
        for row in ProcessHeartbeat.objects.values("role")
        .annotate(alive=Count("pk", filter=Q(beat_at__gte=now - heartbeat_stale_after())), newest=Max("beat_at"))
        .order_by()
    }
    summary = {}
    for role in ProcessHeartbeat.Role.values:
        row = rows.get(role)
        summary[role] = {
            "alive": row["alive"] if row else 0,
            "last_beat_seconds": round(max(0.0, (now - row["newest"]).total_seconds()), 1) if row else None,
        }
    return summary


class HeartbeatThread(threading.Thread):
    """Beats for a long-running process (a Celery worker) from a daemon thread, until `stop()`.

    A beat that fails (the database is restarting) is logged and tried again at the next interval: the
    process keeps working, and its heartbeat simply ages until the database answers again.
    """

    def __init__(self, *, role: str, name: str, queues: str = "") -> None:
        super().__init__(name=f"heartbeat-{role}", daemon=True)
        self.role, self.process_name, self.queues = role, name, queues
        self.started_at = timezone.now()
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                heartbeat_beat(role=self.role, name=self.process_name, started_at=self.started_at, queues=self.queues)
            except DatabaseError:
                logger.warning("heartbeat not recorded; the database did not answer", exc_info=True)
            finally:
                connection.close()  # this thread's own connection: never hold one (or a pooled one) while idle
            self._stopping.wait(settings.HEARTBEAT_SECONDS)

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=5)
        try:
            heartbeat_remove(name=self.process_name)
        except DatabaseError:
            logger.warning("heartbeat row not removed at shutdown", exc_info=True)
