"""The changes that record events: each writes an Event and its Delivery in the same transaction."""

import pytest
from django.db import transaction

from channels_app.models import Channel, MessageTemplate
from channels_app.services.channels import channel_flag_needs_reconnection
from channels_app.services.health import channel_health_check
from channels_app.services.templates import template_event_apply
from events_app import services
from events_app.models import EVENT_TYPES, Delivery, Event
from messaging_app.models import ConversationRating, Message
from messaging_app.services.conversations import conversation_close, rating_answer_apply
from messaging_app.services.handoff import conversation_handoff
from messaging_app.services.statuses import message_status_fold
from tests.factories import ChannelFactory, WorkspaceFactory, conversation_with, outbound_message

pytestmark = pytest.mark.django_db


@pytest.fixture
def channel():
    return ChannelFactory(workspace=WorkspaceFactory(slug="lucky-shrub"), name="Support")


@pytest.fixture
def subscribed(channel, receiver):
    names = [name for name, _label in EVENT_TYPES]
    subscription, _secret = services.subscription_create(
        workspace=channel.workspace, url=receiver.url, event_types=names
    )
    return subscription


def recorded(type_: str) -> list[dict]:
    return [event.payload for event in Event.objects.filter(type=type_).order_by("pk")]


def test_a_handoff_records_conversation_handoff_with_the_reason(
    channel, subscribed, django_capture_on_commit_callbacks
):
    conversation = conversation_with(channel)
    with django_capture_on_commit_callbacks(execute=False):
        conversation_handoff(conversation=conversation, reason="Asked for a refund")
    [data] = recorded("conversation.handoff")
    assert data["reason"] == "Asked for a refund"
    assert data["conversation"]["id"] == conversation.pk and data["conversation"]["state"] == "waiting_human"
    assert data["contact"]["wa_id"] == "16505551234" and data["channel"]["name"] == "Support"
    assert Delivery.objects.get().subscription == subscribed


def test_closing_records_conversation_closed(channel, subscribed, django_capture_on_commit_callbacks):
    conversation = conversation_with(channel)
    with django_capture_on_commit_callbacks(execute=False):
        conversation_close(conversation=conversation, ask_rating=False)
    [data] = recorded("conversation.closed")
    assert data["conversation"]["state"] == "closed" and data["conversation"]["closed_at"]


def test_a_rating_tap_records_csat_received(channel, subscribed, django_capture_on_commit_callbacks):
    conversation = conversation_with(channel)
    ConversationRating.objects.create(workspace=channel.workspace, conversation=conversation)
    tap = Message.objects.create(
        workspace=channel.workspace,
        channel=channel,
        conversation=conversation,
        contact=conversation.contact,
        direction=Message.Direction.INBOUND,
        message_type="interactive",
        content={"type": "button_reply", "button_reply": {"id": "csat:5", "title": "Great"}},
        timestamp=conversation.last_inbound_at,
        sender=Message.Sender.CUSTOMER,
        status=Message.Status.RECEIVED,
    )
    with django_capture_on_commit_callbacks(execute=False), transaction.atomic():
        assert rating_answer_apply(message=tap)
    [data] = recorded("csat.received")
    assert data["rating"]["score"] == 5 and data["conversation"]["id"] == conversation.pk


def test_a_status_is_recorded_only_when_it_changes_to_delivered_read_or_failed(
    channel, subscribed, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    from messaging_app.models import StatusReceipt

    message = outbound_message(conversation_with(channel), wamid="wamid.ABC", status="accepted")
    with django_capture_on_commit_callbacks(execute=False):
        for status in ("sent", "delivered", "delivered", "read"):
            StatusReceipt.objects.get_or_create(
                channel=channel, wamid="wamid.ABC", status=status, defaults={"timestamp": timezone.now()}
            )
            message_status_fold(message)
    assert [data["message"]["status"] for data in recorded("message.status_updated")] == ["delivered", "read"]


def test_a_template_status_webhook_records_template_status_updated(
    channel, subscribed, django_capture_on_commit_callbacks
):
    MessageTemplate.objects.create(
        workspace=channel.workspace,
        waba_id="WABA1",
        meta_id="555",
        name="order_update",
        language="en_US",
        status="PENDING",
        components=[{"type": "BODY", "text": "Your order shipped"}],
    )
    value = {
        "event": "REJECTED",
        "message_template_id": 555,
        "message_template_name": "order_update",
        "message_template_language": "en_US",
        "reason": "INVALID_FORMAT",
    }
    with django_capture_on_commit_callbacks(execute=False), transaction.atomic():
        template_event_apply(
            workspace_id=channel.workspace_id, waba_id="WABA1", field="message_template_status_update", value=value
        )
    [data] = recorded("template.status_updated")
    assert data["template"]["status"] == "REJECTED" and data["template"]["previous_status"] == "PENDING"
    assert data["template"]["name"] == "order_update" and data["template"]["rejection_reason"] == "INVALID_FORMAT"


def test_a_channel_flagged_for_reconnection_records_channel_needs_attention(
    channel, subscribed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        channel_flag_needs_reconnection(channel_id=channel.pk, reason="The access token expired.")
    [data] = recorded("channel.needs_attention")
    assert data["reason"] == "The access token expired."
    assert data["channel"]["id"] == str(channel.public_id) and data["channel"]["status"] == "needs_reconnection"


def test_a_health_check_that_finds_new_problems_records_channel_needs_attention_once(
    channel, subscribed, django_capture_on_commit_callbacks
):
    Channel.objects.filter(pk=channel.pk).update(quality_rating="RED")
    with django_capture_on_commit_callbacks(execute=False):
        channel_health_check(channel_id=channel.pk)
        channel_health_check(channel_id=channel.pk)  # the same problems: no second event
    [data] = recorded("channel.needs_attention")
    assert "Quality rating is RED" in data["reason"]


def test_a_workspace_without_subscriptions_records_nothing(channel, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        conversation_handoff(conversation=conversation_with(channel), reason="x")
    assert not Event.objects.exists()
