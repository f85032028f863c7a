"""examples/send_template_and_verify_events.py works as its docstring says, against a live platform.

A developer's receiver (the example's own listener) subscribes to events, the example sends an
approved template over the API, the emulator's phone receives and reads it, and the listener gets
`message.sent` and `message.status_updated`, each verified with the example's signature check.
"""

import importlib.util
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from django.utils import timezone

from channels_app.models import MessageTemplate
from channels_app.services.templates import templates_sync
from tests.conftest import wait_until
from tests.factories import api_key_for

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "send_template_and_verify_events.py"


@pytest.fixture
def example():
    spec = importlib.util.spec_from_file_location("send_template_and_verify_events", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def received(example, sandbox, settings):
    """The example's listener on a loopback port, subscribed to the workspace's message events."""
    events: list[dict] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)  # the port first, the handler below
    server.daemon_threads = True
    port = server.server_address[1]
    settings.EVENT_WEBHOOK_ALLOWED_HOSTS = [f"127.0.0.1:{port}"]
    subscription = requests.post(
        f"{sandbox.emulator.url}/api/v1/webhook-subscriptions/",
        json={"url": f"http://127.0.0.1:{port}/events", "event_types": ["message.sent", "message.status_updated"]},
        headers={"Authorization": f"Bearer {api_key_for(sandbox.channel.workspace)}"},
        timeout=10,
    )
    assert subscription.status_code == 201, subscription.text
    server.RequestHandlerClass = example.listener(subscription.json()["secret"], on_event=events.append)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    box = {"events": events, "port": port}
    try:
        yield box
    finally:
        server.shutdown()
        server.server_close()


def test_the_example_sends_a_template_and_verifies_the_events_that_follow(example, sandbox, received):
    sandbox.emulator.template(
        sandbox.number,
        "order_ready",
        components=[
            {"type": "BODY", "text": "Hi {{1}}, order {{2}} is ready.", "example": {"body_text": [["Sheena", "1042"]]}}
        ],
    )
    templates_sync(channel=sandbox.channel, since=timezone.now())
    template = MessageTemplate.objects.get(name="order_ready", status="APPROVED")

    sent = example.template_send(
        base_url=sandbox.emulator.url,
        api_key=api_key_for(sandbox.channel.workspace),
        template_id=str(template.public_id),
        to="+1 650 555 1234",
        parameters={"1": "Sheena", "2": "1042"},
    )
    assert sent["status"] == "queued"
    again = example.template_send(
        base_url=sandbox.emulator.url,
        api_key=api_key_for(sandbox.channel.workspace),
        template_id=str(template.public_id),
        to="+1 650 555 1234",
        parameters={"1": "Sheena", "2": "1042"},
    )
    assert again["message_id"] == sent["message_id"]  # its Idempotency-Key made the retry safe

    sandbox.emulator.drain()
    wait_until(lambda: {"message.sent", "message.status_updated"} <= {e["type"] for e in received["events"]})
    statuses = [e["data"]["message"]["status"] for e in received["events"] if e["type"] == "message.status_updated"]
    assert "delivered" in statuses or "read" in statuses


def test_the_example_listener_refuses_a_forged_delivery(example, sandbox, received):
    forged = requests.post(
        f"http://127.0.0.1:{received['port']}/events",
        data=b'{"type": "message.received"}',
        headers={"webhook-id": "msg_x", "webhook-timestamp": "0", "webhook-signature": "v1,AAAA"},
        timeout=5,
    )
    assert forged.status_code == 401 and received["events"] == []
