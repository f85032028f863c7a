"""The database is the truth: tasks lost by the broker, or a worker killed mid-send, lose no message."""

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from django.conf import settings

from messaging_app.models import Message
from messaging_app.services.outbound import message_send, outbox_sweep
from tests.conftest import wait_until
from whatsapp_platform.celery import app


def _broker_flush() -> int:
    """Lose every task the broker holds: FLUSHDB on Redis (as in CI), a purge of the in-memory broker otherwise.

    Returns how many tasks were lost."""
    if settings.REDIS_URL:
        client = redis.Redis.from_url(app.conf.broker_url)
        lost = sum(client.llen(queue.name) for queue in settings.CELERY_TASK_QUEUES)
        client.flushdb()
        return lost
    return app.control.purge()


@pytest.fixture
def broker_mode():
    """Tasks go through the broker (not run inline) for this test."""
    app.conf.task_always_eager = False
    yield
    app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER


@pytest.mark.celery_worker
def test_messages_whose_tasks_the_broker_lost_are_each_sent_exactly_once_after_recovery(sandbox, broker_mode, settings):
    settings.WHATSAPP_OUTBOX_STALE_SECONDS = 0
    number_id = sandbox.number.phone_number_id
    _broker_flush()  # start from an empty broker: earlier worker tests may have left tasks behind
    before = len(sandbox.emulator.requests_received(number_id))
    queued = [
        message_send(
            conversation=sandbox.conversation, message_type="text", content={"body": f"Part {i}"}, sender="api"
        )
        for i in range(5)
    ]

    assert _broker_flush() == 5  # the broker restarts empty: every delivery task is gone
    assert len(sandbox.emulator.requests_received(number_id)) == before
    assert set(Message.objects.filter(pk__in=[m.pk for m in queued]).values_list("status", flat=True)) == {"queued"}

    with start_worker(app, pool="solo", concurrency=1, perform_ping_check=False, shutdown_timeout=10):
        outbox_sweep()
        outbox_sweep()  # a sweeper running twice (or twice at once) must not send anything twice
        wait_until(
            lambda: (
                not Message.objects.filter(pk__in=[m.pk for m in queued], status__in=["queued", "sending"]).exists()
            ),
            timeout=30,
        )
        sandbox.emulator.drain()

    bodies = [b["text"]["body"] for b in sandbox.emulator.requests_received(number_id)[before:]]
    assert sorted(bodies) == [f"Part {i}" for i in range(5)]  # each once, none twice
    assert bodies == [f"Part {i}" for i in range(5)]  # and in the order they were written
    assert all(m.attempts == 1 for m in Message.objects.filter(pk__in=[m.pk for m in queued]))


@pytest.mark.django_db
def test_a_send_whose_worker_died_is_not_resent_until_its_outcome_is_known(channel, settings):
    from datetime import timedelta

    from django.utils import timezone

    from tests.factories import conversation_with, outbound_message

    settings.WHATSAPP_SENDING_LEASE_SECONDS = 60
    message = outbound_message(conversation_with(channel), status="sending")
    Message.objects.filter(pk=message.pk).update(claimed_at=timezone.now() - timedelta(minutes=5))

    counts = outbox_sweep()

    message.refresh_from_db()
    assert counts["unknown"] == 1
    assert message.status == Message.Status.UNKNOWN
    assert "status webhook" in message.error_details
