import os
import time
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.core.cache import cache

from channels_app.models import Channel
from channels_app.selectors import channel_lookup_cache_clear
from messaging_app.models import Conversation
from tests.factories import ChannelFactory, WorkspaceFactory
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
    channel_lookup_cache_clear()
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
        app.control.purge()  # tasks still waiting (e.g. with a countdown) must not leak into later tests


def wait_until(condition, *, timeout: float = 15.0, interval: float = 0.05):
    """Poll until condition() is truthy; fail with its last value otherwise."""
    deadline = time.monotonic() + timeout
    value = condition()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = condition()
    assert value, f"condition still false after {timeout}s"
    return value


SANDBOX_APP_SECRET = "sandbox-app-secret"
SANDBOX_TOKEN = "sandbox-access-token"


@dataclass
class Sandbox:
    channel: Channel
    number: object
    customer: object
    conversation: Conversation
    emulator: object


@pytest.fixture
def sandbox(emulator):
    """A sandbox channel wired to an emulated number, and a customer who just wrote to it."""
    workspace = WorkspaceFactory(name="Lucky Shrub", slug="lucky-shrub")
    channel = ChannelFactory(workspace=workspace, provider=Channel.Provider.SANDBOX, phone_number_id="", waba_id="")
    number = emulator.provision(
        f"{emulator.url}/webhooks/whatsapp/{channel.public_id}/",
        app_secret=SANDBOX_APP_SECRET,
        access_token=SANDBOX_TOKEN,
    )
    Channel.objects.filter(pk=channel.pk).update(
        phone_number_id=number.phone_number_id,
        meta_app_id=number.app.app_id,
        connection=Channel.Connection.SANDBOX,
        waba_id=number.waba_id,
        access_token=SANDBOX_TOKEN,
        app_secret=SANDBOX_APP_SECRET,
    )
    channel.refresh_from_db()
    customer = emulator.customer(number, name="Sheena Nelson", phone="16505551234")
    emulator.customer_says(number, customer, "text", {"body": "Hi! Is the fern in stock? 🌿"})
    emulator.drain()
    conversation = wait_until(lambda: Conversation.objects.filter(channel=channel).first())

    class Sandbox:
        pass

    box = Sandbox()
    box.channel, box.number, box.customer, box.conversation, box.emulator = (
        channel,
        number,
        customer,
        conversation,
        emulator,
    )
    return box


# Debian's Chromium driven by Playwright, for the browser tests (`make test` installs it when it may:
# .ci/chromium_ensure). CHROMIUM_PATH points elsewhere, for a Chromium installed another way.
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser(monkeypatch):
    if not os.access(CHROMIUM, os.X_OK):
        message = f"Chromium is missing at {CHROMIUM}: install it with `sudo apt-get install -y chromium`"
        if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
            pytest.fail(message + " (CI must run the browser tests).")
        pytest.skip(message + ", then run the browser tests again.")
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


# Fixtures that run the Cloud API emulator on a live port (see tests/emulator_fixtures.py).
pytest_plugins = ["tests.emulator_fixtures"]
