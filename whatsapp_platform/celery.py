import gc
import logging
import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whatsapp_platform.settings")

app = Celery("whatsapp_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_init.connect
def _worker_shared_memory_prepare(sender=None, **kwargs) -> None:
    """In the worker's parent, before a prefork pool forks: load what every task process needs and move it
    out of the garbage collector's reach. The children then share those pages copy-on-write instead of
    each holding its own copy (a collection would otherwise touch, and so copy, every object)."""
    if "prefork" not in str(getattr(sender, "pool_cls", "")).lower():
        return
    from django.urls import get_resolver

    from agents_app.providers.registry import providers_preload

    providers_preload()
    get_resolver().url_patterns  # noqa: B018 (reverse() in tasks builds links; load the URLconf once)
    gc.collect()
    gc.freeze()


@signals.celeryd_after_setup.connect
def _turn_worker_prepare(sender=None, instance=None, **kwargs) -> None:
    """A worker that runs agent turns on threads imports the model SDKs before its first task: otherwise the
    first burst's turns wait on one import (about a second of CPU, under the import lock) before any model call.
    Workers that never run a turn skip it, and do not carry the SDKs."""
    if "prefork" in str(getattr(instance, "pool_cls", "")).lower():
        return  # done before the fork, above
    queues = getattr(getattr(getattr(instance, "app", None), "amqp", None), "queues", None)
    consumed = set(getattr(queues, "consume_from", None) or {})
    if "turns" in consumed:
        from agents_app.providers.registry import providers_preload

        providers_preload()
        logging.getLogger(__name__).info("model SDKs loaded before the first turn")


@signals.task_prerun.connect
def _database_connection_check(sender=None, **kwargs) -> None:
    """Connections are reused across tasks (CELERY_DB_REUSE_MAX): close one that broke (say PostgreSQL
    restarted) or outlived CONN_MAX_AGE, as Django does between web requests, so the task opens a fresh one."""
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return  # in-process tasks run inside their caller's transaction
    from django.db import close_old_connections

    close_old_connections()


@signals.task_postrun.connect
def _database_connection_return(sender=None, **kwargs) -> None:
    """With a connection pool, a task's connection goes back to the pool when the task ends: an idle thread
    of a 200-thread worker must not sit on one of the pool's few connections until its next task."""
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    from django.db import connections

    from whatsapp_platform.db import connection_pooled

    if connection_pooled():
        connections.close_all()


_heartbeat = None  # this worker's HeartbeatThread, while it runs


@signals.worker_ready.connect
def _heartbeat_start(sender=None, **kwargs) -> None:
    """A worker refreshes its heartbeat row from a daemon thread while it runs, so /readyz and /metrics show
    who works which queues (whatsapp_platform/heartbeats.py)."""
    global _heartbeat
    from django.conf import settings

    if settings.TESTING:
        return  # the test suite's in-process workers come and go with each test's database
    from whatsapp_platform.heartbeats import HeartbeatThread  # models need Django set up, which Celery does late

    queues = getattr(getattr(getattr(sender, "app", None), "amqp", None), "queues", None)
    consumed = sorted(getattr(queues, "consume_from", None) or {})
    _heartbeat = HeartbeatThread(role="worker", name=str(sender.hostname), queues=",".join(consumed))
    _heartbeat.start()


@signals.worker_shutdown.connect
def _heartbeat_stop(**kwargs) -> None:
    if _heartbeat is not None:
        _heartbeat.stop()
