import time

import pytest
from django.conf import settings
from django.core.cache import cache

from whatsapp_platform.ratelimit import local_buckets_clear


@pytest.fixture(autouse=True)
def _no_internet_graph(settings):
    # No test may reach Meta: anything not pointed at the emulator hits a closed local port.
    settings.GRAPH_API_BASE_URL = "http://127.0.0.1:9"
    settings.WHATSAPP_EMULATOR_GRAPH_URL = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Rate-limit counters live in the cache (and, without Redis, in-process); each test starts with none.
    cache.clear()
    local_buckets_clear()
    yield


@pytest.fixture
def celery_worker(transactional_db):
    """A real Celery worker thread consuming from the configured broker.

    Redis when REDIS_URL is set (as in CI), kombu's in-memory transport otherwise. Tasks
    are sent through the broker, not run eagerly, for the duration of the test.
    """
    from celery.contrib.testing.worker import start_worker

    from whatsapp_platform.celery import app

    app.conf.task_always_eager = False
    try:
        with start_worker(app, pool="solo", concurrency=1, perform_ping_check=False, shutdown_timeout=10) as worker:
            yield worker
    finally:
        app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER


def wait_until(condition, *, timeout: float = 15.0, interval: float = 0.05):
    """Poll until condition() is truthy; fail with its last value otherwise."""
    deadline = time.monotonic() + timeout
    value = condition()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = condition()
    assert value, f"condition still false after {timeout}s"
    return value


# Fixtures that run the Cloud API emulator on a live port (see tests/emulator_fixtures.py).
pytest_plugins = ["tests.emulator_fixtures"]
