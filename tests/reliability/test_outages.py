"""Points 4 and 5: the database or the broker goes away under load, and nothing is lost.

The platform (gunicorn + a Celery worker) runs on its own PostgreSQL cluster and Redis, which these tests
stop. Customers keep writing through the emulator, whose webhook dispatcher retries what was not answered
200, as Meta does; a prober POSTs webhooks of its own and records every answer.
"""

import time

import pytest

from agents_app.models import AgentRun
from cloudapi_emulator.models import Message as GraphMessage
from cloudapi_emulator.models import WebhookDelivery
from messaging_app.models import Message
from tests.reliability.invariants import invariants_check
from tests.reliability.traffic import Chatter, Prober

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def meta_keeps_retrying(settings):
    """Meta retries an unacknowledged webhook for days; the emulator does it for as long as these tests need."""
    settings.WHATSAPP_EMULATOR_WEBHOOK_MAX_ATTEMPTS = 200
    settings.WHATSAPP_EMULATOR_WEBHOOK_RETRY_BASE_SECONDS = 0.2
    settings.WHATSAPP_EMULATOR_WEBHOOK_RETRY_MAX_SECONDS = 1.0


def _load(platform) -> tuple[Chatter, Prober]:
    chatter = Chatter(platform)
    prober = Prober(platform.processes.web_port, platform.webhook_path, platform.meta)
    chatter.start()
    prober.start()
    return chatter, prober


def _whereabouts(platform, wamids) -> str:
    """Where customer messages that never reached the database got lost, for the failure message."""
    from channels_app.models import WebhookEvent

    lines = []
    for wamid in wamids:
        for delivery in WebhookDelivery.objects.filter(body__contains=wamid):
            tried = f"{delivery.attempts} attempts, last answered {delivery.last_status_code}"
            lines.append(f"{wamid}: emulator delivery {delivery.state}, {tried}")
        for event in WebhookEvent.objects.using(platform.db).all():
            if wamid.encode() in bytes(event.body):
                lines.append(f"{wamid}: webhook event {event.pk} {event.state} {event.error!r}")
    return "customer messages never stored:\n" + "\n".join(lines)


def _every_customer_message_answered_once(platform, chatter: Chatter) -> None:
    stored = dict(
        Message.objects.using(platform.db).filter(direction=Message.Direction.INBOUND).values_list("wamid", "pk")
    )
    missing = set(chatter.sent) - set(stored)
    assert not missing, _whereabouts(platform, missing)
    assert not WebhookDelivery.objects.filter(state=WebhookDelivery.State.FAILED).exists()
    answered = [
        pk for ids in AgentRun.objects.using(platform.db).values_list("trigger_message_ids", flat=True) for pk in ids
    ]
    assert sorted(answered) == sorted(stored[w] for w in chatter.sent)  # each in exactly one turn
    replies = GraphMessage.objects.filter(direction=GraphMessage.Direction.OUTBOUND).count()
    assert replies == AgentRun.objects.using(platform.db).count()  # and each turn's one reply reached Graph


def _answers_during_an_outage(platform, *, stop, start, lead_in: float, down_for: float, settle: float):
    """Customers and the prober write throughout; `stop` takes a server away for `down_for` seconds and
    `start` brings it back. Returns the chatter, the prober and the statuses the prober got meanwhile."""
    chatter, prober = _load(platform)
    time.sleep(lead_in)
    stop()
    down_at = time.monotonic()
    time.sleep(down_for)
    up_at = time.monotonic()
    start()
    time.sleep(settle)
    chatter.stop()
    prober.stop()
    during = [attempt.status for attempt in prober.between(down_at + 0.5, up_at)]
    assert during, "the prober sent nothing during the outage"
    return chatter, prober, during


def _everything_processed_once(platform, chatter: Chatter, prober: Prober) -> None:
    platform.wait_at_rest()
    _every_customer_message_answered_once(platform, chatter)
    invariants_check(using=platform.db, acknowledged=prober.acknowledged(), emulator_using="default")


def test_while_postgresql_is_down_webhooks_get_5xx_and_everything_is_processed_once_it_is_back(
    platform, meta_keeps_retrying
):
    def postgres_back() -> None:
        platform.postgres.start()
        platform.reconnect()

    chatter, prober, during = _answers_during_an_outage(
        platform, stop=platform.postgres.stop, start=postgres_back, lead_in=3, down_for=20, settle=3
    )

    # During the outage nothing was acknowledged: there was nowhere to write it down.
    assert set(during) == {503}, during
    _everything_processed_once(platform, chatter, prober)
    assert platform.processes.restarts == []  # a database outage kills no process


def test_when_redis_is_flushed_then_stopped_the_sweepers_finish_everything(platform, meta_keeps_retrying):
    def redis_flushed_then_gone() -> None:
        platform.redis.flush()  # queued tasks, drain hints, rate-limit buckets: all gone
        time.sleep(2)
        platform.redis.stop()

    # Redis comes back empty, as after a crash without persistence.
    chatter, prober, during = _answers_during_an_outage(
        platform, stop=redis_flushed_then_gone, start=platform.redis.start, lead_in=2, down_for=6, settle=2
    )

    # The database is the source of truth: intake goes on acknowledging (and storing) without the broker.
    # (The worker may have exited meanwhile, a kombu failure: wait_at_rest restarts it as a supervisor would.)
    assert set(during) == {200}, during
    _everything_processed_once(platform, chatter, prober)
