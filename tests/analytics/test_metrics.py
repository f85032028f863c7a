"""/metrics: Prometheus text behind a bearer token, read from the rows the platform keeps.

Cast: a scraper holding METRICS_TOKEN, one without it, and one with a wrong token.
"""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from agents_app.models import AgentRun
from channels_app.models import Channel, WebhookEvent
from messaging_app import tasks as messaging_tasks
from messaging_app.models import Message
from tests.analytics import world
from tests.factories import ChannelFactory, WorkspaceFactory
from whatsapp_platform.ratelimit import token_bucket_take

pytestmark = pytest.mark.django_db

TOKEN = "scrape-me-with-this-long-random-token"


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_TOKEN = TOKEN


def _scrape(client, token: str | None = TOKEN):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.get("/metrics", **headers)


def _samples(body: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} from the exposition, read by prometheus_client's own parser."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def test_metrics_do_not_exist_without_a_configured_token(client, settings):
    settings.METRICS_TOKEN = ""
    assert _scrape(client).status_code == 404


def test_a_scraper_without_the_token_is_asked_for_it(client, metrics_on):
    response = _scrape(client, token=None)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 401


def test_a_scraper_with_a_wrong_token_is_refused(client, metrics_on):
    assert _scrape(client, token="guess").status_code == 403


def _webhook(state: str, *, seconds_ago: float, signature_valid: bool = True) -> None:
    event = WebhookEvent.objects.create(body=b"{}", signature_valid=signature_valid, state=state)
    WebhookEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - timedelta(seconds=seconds_ago))


def test_the_exposition_parses_and_matches_the_stored_rows(client, metrics_on, settings):
    shop = WorkspaceFactory(timezone="Europe/London")
    channel = ChannelFactory(workspace=shop, name="Support")
    console = ChannelFactory(workspace=shop, provider=Channel.Provider.TEST_CONSOLE, phone_number_id="")

    _webhook("processed", seconds_ago=10)
    _webhook("processed", seconds_ago=20)
    _webhook("rejected", seconds_ago=30, signature_valid=False)
    _webhook("pending", seconds_ago=90)
    _webhook("processed", seconds_ago=3600)  # outside the recent window

    now = timezone.now()
    chat = world.conversation(channel, "447700900001")
    for _ in range(3):
        world.inbound(chat, now - timedelta(minutes=5))
    world.outbound(chat, now - timedelta(minutes=4), status="read")
    world.outbound(chat, now - timedelta(minutes=4), status="delivered")
    for _ in range(2):
        world.outbound(
            chat, now - timedelta(minutes=4), status="failed", error_code=131026, error_title="Undeliverable"
        )
    world.outbound(chat, now - timedelta(minutes=4), status="failed", error_title="Channel unavailable")
    for status in ("queued", "queued", "sending", "unknown"):
        world.outbound(chat, now, status=status)
    world.agent_run(chat, now - timedelta(minutes=5), status=AgentRun.Status.ANSWERED, response_ms=1200)
    world.agent_run(chat, now - timedelta(minutes=4), status=AgentRun.Status.HANDED_OFF, response_ms=40_000)
    photo = world.inbound(chat, now - timedelta(minutes=1))
    old_photo = world.inbound(chat, now - timedelta(days=3))
    Message.objects.filter(pk__in=[photo.pk, old_photo.pk]).update(media_state=Message.MediaState.PENDING)

    tester = world.conversation(console, "447700900099")
    world.inbound(tester, now)
    world.outbound(tester, now, status="queued")

    # A send that has to wait for the pair rate limit is put back in the queue: counted as paced.
    other = world.conversation(channel, "447700900002")
    settings.WHATSAPP_PAIR_BURST = 1
    token_bucket_take(f"pair:{channel.phone_number_id}:{other.contact.wa_id}", rate=1 / 6, capacity=1)
    paced = world.outbound(other, now, status="queued")
    messaging_tasks.message_deliver.delay(paced.pk)
    paced.refresh_from_db()
    assert (paced.status, paced.attempts) == (Message.Status.QUEUED, 0)
    call_command("analytics_rollup", "--days", "2", stdout=io.StringIO())

    response = _scrape(client)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = _samples(response.content.decode())

    def value(name: str, **labels) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    assert value("wap_webhook_events_recent", state="processed") == 2
    assert value("wap_webhook_events_recent", state="rejected") == 1
    assert value("wap_webhook_events_recent", state="pending") == 1
    assert value("wap_webhook_events_recent", state="failed") == 0
    assert value("wap_webhook_events_pending") == 1
    assert 89 <= value("wap_webhook_processing_lag_seconds") < 150

    assert value("wap_outbound_queue_messages", status="queued") == 3  # the console's queued one is left out
    assert value("wap_outbound_queue_messages", status="sending") == 1
    assert value("wap_outbound_queue_messages", status="unknown") == 1
    assert value("wap_inbound_media_pending") == 1
    assert value("wap_sends_paced_total") == 1

    assert value("wap_messages_total", direction="inbound") == 4  # the 3-day-old photo is before the rollup
    assert value("wap_messages_total", direction="outbound") == 10
    assert value("wap_outbound_messages_by_status_total", status="sent") == 2
    assert value("wap_outbound_messages_by_status_total", status="delivered") == 2
    assert value("wap_outbound_messages_by_status_total", status="read") == 1
    assert value("wap_outbound_messages_by_status_total", status="failed") == 3
    assert value("wap_graph_errors_total", code="131026") == 2
    assert value("wap_graph_errors_total", code="none") == 1
    assert value("wap_agent_turns_total", outcome="answered") == 1
    assert value("wap_agent_turns_total", outcome="handed_off") == 1
    assert value("wap_agent_turns_slow_total") == 1
    assert value("wap_agent_turn_response_seconds_count") == 2
    assert value("wap_agent_turn_response_seconds_sum") == pytest.approx(41.2)
    assert value("wap_agent_turn_response_seconds_bucket", le="1.0") == 0
    assert value("wap_agent_turn_response_seconds_bucket", le="1.5") == 1
    assert value("wap_agent_turn_response_seconds_bucket", le="30.0") == 1
    assert value("wap_agent_turn_response_seconds_bucket", le="45.0") == 2
    assert value("wap_agent_turn_response_seconds_bucket", le="+Inf") == 2
    assert 0 <= value("wap_analytics_rollup_age_seconds") < 60
