"""End to end: WhatsApp traffic through the Cloud API emulator becomes signed events at a customer's endpoint."""

import pytest
from django.utils import timezone

from events_app import services
from events_app.models import Delivery
from messaging_app.models import Conversation, Message
from messaging_app.services.outbound import message_send
from tests.conftest import wait_until
from tests.events.test_delivery import readme_verify

ALL_MESSAGE_EVENTS = ["message.received", "message.sent", "message.status_updated", "conversation.created"]


@pytest.fixture(autouse=True)
def _fast_retries(settings):
    settings.WHATSAPP_RETRY_DELAY_SCALE = 0
    settings.GRAPH_READ_TIMEOUT = 2.0


def events_of(receiver, type_: str) -> list[dict]:
    return [body for body in receiver.bodies() if body["type"] == type_]


def test_a_customer_message_is_delivered_as_a_signed_message_received_event(sandbox, receiver):
    _subscription, secret = services.subscription_create(
        workspace=sandbox.channel.workspace, url=receiver.url, event_types=ALL_MESSAGE_EVENTS
    )
    sandbox.emulator.customer_says(sandbox.number, sandbox.customer, "text", {"body": "Do you deliver to Leeds?"})
    sandbox.emulator.drain()

    [event] = wait_until(lambda: events_of(receiver, "message.received"))
    inbound = Message.objects.get(content__body="Do you deliver to Leeds?")
    assert event["workspace"] == "lucky-shrub"
    assert event["data"]["message"] == {
        "id": str(inbound.public_id),
        "wamid": inbound.wamid,
        "direction": "inbound",
        "type": "text",
        "text": "Do you deliver to Leeds?",
        "sender": "customer",
        "status": inbound.status,
        "timestamp": event["data"]["message"]["timestamp"],
        "error": None,
    }
    assert event["data"]["contact"] == {
        "wa_id": "16505551234",
        "user_id": inbound.contact.user_id or "",
        "name": "Sheena Nelson",
    }
    assert event["data"]["conversation"] == {"id": sandbox.conversation.pk}
    assert event["data"]["channel"]["id"] == str(sandbox.channel.public_id)
    request = next(r for r in receiver.requests if b"Do you deliver to Leeds?" in r.body)
    assert readme_verify()(secret, request.headers, request.body)
    assert events_of(receiver, "conversation.created") == []  # the conversation existed already


def test_a_new_customer_starts_a_conversation_created_event(sandbox, receiver):
    services.subscription_create(workspace=sandbox.channel.workspace, url=receiver.url, event_types=ALL_MESSAGE_EVENTS)
    newcomer = sandbox.emulator.customer(sandbox.number, name="Ade Bello", phone="447700900123")
    sandbox.emulator.customer_says(sandbox.number, newcomer, "text", {"body": "Hello!"})
    sandbox.emulator.drain()

    [created] = wait_until(lambda: events_of(receiver, "conversation.created"))
    conversation = Conversation.objects.get(contact__wa_id="447700900123")
    assert created["data"]["conversation"]["id"] == conversation.pk
    assert created["data"]["contact"]["name"] == "Ade Bello"
    assert wait_until(lambda: events_of(receiver, "message.received"))


def test_a_sent_message_produces_sent_then_status_updated_events(sandbox, receiver):
    services.subscription_create(
        workspace=sandbox.channel.workspace, url=receiver.url, event_types=["message.sent", "message.status_updated"]
    )
    message = message_send(
        conversation=sandbox.conversation, message_type="text", content={"body": "Yes, 3 left 🌿"}, sender="api"
    )
    sandbox.emulator.drain()

    statuses = wait_until(
        lambda: (
            [e["data"]["message"]["status"] for e in events_of(receiver, "message.status_updated")]
            if len(events_of(receiver, "message.status_updated")) >= 2
            else None
        )
    )
    assert statuses == ["delivered", "read"]
    [sent] = events_of(receiver, "message.sent")
    message.refresh_from_db()
    assert sent["data"]["message"]["id"] == str(message.public_id)
    assert sent["data"]["message"]["wamid"] == message.wamid
    assert sent["data"]["message"]["direction"] == "outbound"
    assert sent["data"]["message"]["text"] == "Yes, 3 left 🌿"
    assert Delivery.objects.filter(state=Delivery.State.DELIVERED).count() == 3


def test_a_failed_status_carries_metas_error(sandbox, receiver):
    services.subscription_create(
        workspace=sandbox.channel.workspace, url=receiver.url, event_types=["message.status_updated"]
    )
    stranger_contact = sandbox.conversation.contact.__class__.objects.create(
        workspace=sandbox.channel.workspace, channel=sandbox.channel, wa_id="447700900999"
    )
    sandbox.emulator.customer(sandbox.number, name="Quiet Customer", phone="447700900999")
    conversation = Conversation.objects.create(
        workspace=sandbox.channel.workspace,
        channel=sandbox.channel,
        contact=stranger_contact,
        last_inbound_at=timezone.now(),
    )
    message_send(conversation=conversation, message_type="text", content={"body": "Hi"}, sender="api")
    sandbox.emulator.drain()

    [failed] = wait_until(lambda: events_of(receiver, "message.status_updated"))
    assert failed["data"]["message"]["status"] == "failed"
    assert failed["data"]["message"]["error"]["code"] == 131047
    assert failed["data"]["message"]["error"]["title"]
