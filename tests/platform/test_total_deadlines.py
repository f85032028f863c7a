"""Every outbound call ends at its total deadline, however its peer paces the answer.

The peer is a loopback server that sends one byte every 0.1 s (tests/drip_server.py): each read
succeeds well within any per-read timeout, so only a deadline on the whole call can end it.
"""

import time

import pytest

from agents_app.providers.base import ChatMessage, ErrorKind, ProviderError
from agents_app.providers.registry import provider_for
from agents_app.tools import http_tool_create, http_tool_run
from channels_app.whatsapp.client import GraphClient, GraphOutcomeUnknown
from events_app import services as events
from events_app.models import DeliveryAttempt
from tests.drip_server import DripServer, elapsed
from tests.factories import AgentFactory, WorkspaceFactory

# The deadline in every spec below is 1 s; a drip of the whole answer would take 30 s or more.
CUT_BY = 2.0


@pytest.fixture(params=[False, True], ids=["dripping-head", "dripping-body"])
def drip(request):
    with DripServer(head_first=request.param) as server:
        yield server


def test_an_http_tool_ends_at_its_timeout_against_a_dripping_service(db, settings, drip):
    settings.AGENT_TOOL_ALLOWED_HOSTS = [drip.address]
    agent = AgentFactory(workspace=WorkspaceFactory())
    http_tool_create(
        agent=agent,
        name="order_status",
        description="Look up an order.",
        url_template=drip.url + "/orders/1",
        parameters={"type": "object", "properties": {}},
        timeout_seconds=1,
    )
    started = time.monotonic()
    result = http_tool_run(agent=agent, name="order_status", arguments={})
    assert elapsed(started) < CUT_BY
    assert result["ok"] is False and "timed out" in result["error"]


def test_an_event_webhook_attempt_that_overruns_is_recorded_as_a_failure(
    db, settings, drip, django_capture_on_commit_callbacks
):
    settings.EVENT_WEBHOOK_ALLOWED_HOSTS = [drip.address]
    settings.EVENT_WEBHOOK_TOTAL_TIMEOUT = 1.0
    workspace = WorkspaceFactory()
    events.subscription_create(workspace=workspace, url=drip.url + "/hooks", event_types=["conversation.closed"])
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        events.event_emit(workspace_id=workspace.pk, type="conversation.closed", data={"conversation": {"id": 7}})
    assert elapsed(started) < CUT_BY
    [attempt] = DeliveryAttempt.objects.all()
    assert attempt.succeeded is False
    assert "did not finish answering within 1 s" in attempt.error


def test_a_graph_call_ends_at_its_total_timeout(drip):
    graph = GraphClient(
        base_url=drip.url, version="v25.0", access_token="EAAG-test", total_timeout=1.0, max_get_retries=0
    )
    started = time.monotonic()
    with pytest.raises(GraphOutcomeUnknown):
        graph.phone_number_get("106540352242922", fields=["display_phone_number"])
    assert elapsed(started) < CUT_BY


def test_a_media_download_ends_at_its_total_timeout(drip):
    graph = GraphClient(
        base_url=drip.url, version="v25.0", access_token="EAAG-test", media_total_timeout=1.0, max_get_retries=0
    )
    started = time.monotonic()
    with pytest.raises(GraphOutcomeUnknown):
        graph.media_download(drip.url + "/media/1", max_bytes=5_000_000)
    assert elapsed(started) < CUT_BY


@pytest.mark.parametrize("kind, prefix", [("openai", "/v1"), ("anthropic", "")])
def test_a_model_call_ends_at_its_timeout(drip, kind, prefix):
    provider = provider_for(kind=kind, model="drip-model", api_key="sk-test-key", base_url=drip.url + prefix)
    started = time.monotonic()
    with pytest.raises(ProviderError) as failure:
        provider.complete(
            system="Be brief.",
            messages=[ChatMessage(role="user", content="Hi")],
            tools=[],
            temperature=0.3,
            max_output_tokens=50,
            timeout_seconds=1.0,
        )
    assert elapsed(started) < CUT_BY
    assert failure.value.kind == ErrorKind.TIMEOUT
