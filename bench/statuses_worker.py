"""The platform's Celery app, counting every SQL statement its tasks send: for bench/statuses.py.

    celery -A bench.statuses_worker worker ...   (the Procfile's `worker` line, with this app)

A `connection.execute_wrapper` counts each statement Django sends through a cursor (SELECT, INSERT,
UPDATE, SAVEPOINT...; not the COMMIT psycopg sends for a transaction), per worker thread; when a task
ends, its count is added to the Redis key named by BENCH_SQL_COUNTER_KEY. Nothing else differs from
`-A whatsapp_platform`: same app, same tasks, same settings.
"""

import os
import threading

import redis
from celery import signals

from whatsapp_platform.celery import app

__all__ = ["app"]

_COUNTER_KEY = os.environ.get("BENCH_SQL_COUNTER_KEY", "bench:sql-statements")
_redis = redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=5)
_local = threading.local()


def _count(execute, sql, params, many, context):
    _local.statements = getattr(_local, "statements", 0) + 1
    return execute(sql, params, many, context)


@signals.task_prerun.connect
def _counting_start(**kwargs) -> None:
    from django.db import connection

    if _count not in connection.execute_wrappers:
        connection.execute_wrappers.append(_count)
    _local.statements = 0


@signals.task_postrun.connect
def _counting_flush(**kwargs) -> None:
    statements, _local.statements = getattr(_local, "statements", 0), 0
    if statements:
        _redis.incrby(_COUNTER_KEY, statements)
