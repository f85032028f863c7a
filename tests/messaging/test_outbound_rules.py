"""Every WhatsApp rule is checked before a row is written or a byte leaves: errors name field, limit and value."""

import io
from datetime import timedelta

import pytest
from django.utils import timezone

from channels_app.models import Channel, MessageTemplate
from messaging_app.errors import ChannelUnavailable, MessageRejected, WindowClosed
from messaging_app.models import Message
from messaging_app.services.outbound import message_send
from tests.factories import conversation_with

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(channel):
    return conversation_with(channel)


def send(conversation, message_type, content, **kw):
    return message_send(conversation=conversation, message_type=message_type, content=content, sender="api", **kw)


def test_a_button_title_over_20_characters_is_refused_naming_the_field_limit_and_value(conversation):
    content = {
        "type": "button",
        "body": {"text": "Anything else?"},
        "action": {"buttons": [{"type": "reply", "reply": {"id": "status", "title": "Check my order status"}}]},
    }
    with pytest.raises(MessageRejected) as caught:
        send(conversation, "interactive", content)
    assert "Check my order status" in caught.value.message
    assert "21" in caught.value.message and "20" in caught.value.message
    assert "title" in (caught.value.field or "")
    assert not Message.objects.exists()


def test_a_text_over_4096_characters_is_refused(conversation):
    with pytest.raises(MessageRejected, match="4096"):
        send(conversation, "text", {"body": "a" * 4097})
    assert not Message.objects.exists()


def test_four_reply_buttons_are_refused(conversation):
    buttons = [{"type": "reply", "reply": {"id": f"b{i}", "title": f"Option {i}"}} for i in range(4)]
    content = {"type": "button", "body": {"text": "Pick one"}, "action": {"buttons": buttons}}
    with pytest.raises(MessageRejected, match="3"):
        send(conversation, "interactive", content)


def test_a_free_form_message_outside_the_window_is_refused_listing_approved_templates(channel):
    stale = conversation_with(channel, last_inbound_at=timezone.now() - timedelta(hours=25))
    MessageTemplate.objects.create(
        workspace=channel.workspace, waba_id=channel.waba_id, name="order_update", language="en_US", status="APPROVED"
    )
    MessageTemplate.objects.create(
        workspace=channel.workspace, waba_id=channel.waba_id, name="draft_promo", language="en_US", status="PENDING"
    )
    with pytest.raises(WindowClosed) as caught:
        send(stale, "text", {"body": "Hello again"})
    assert "template" in caught.value.message
    assert "order_update (en_US)" in caught.value.message
    assert "draft_promo" not in caught.value.message
    assert not Message.objects.exists()


def test_a_template_is_allowed_outside_the_window(channel):
    from channels_app.models import MessageTemplate

    MessageTemplate.objects.create(
        workspace=channel.workspace, waba_id=channel.waba_id, name="order_update", language="en_US", status="APPROVED"
    )
    stale = conversation_with(channel, last_inbound_at=timezone.now() - timedelta(days=3))
    message = send(stale, "template", {"name": "order_update", "language": {"code": "en_US"}})
    assert message.status == Message.Status.QUEUED


def test_a_channel_needing_reconnection_refuses_sends_saying_why(conversation, channel):
    Channel.objects.filter(pk=channel.pk).update(
        status=Channel.Status.NEEDS_RECONNECTION, status_reason="Token expired"
    )
    conversation.channel.refresh_from_db()
    with pytest.raises(ChannelUnavailable, match="Token expired"):
        send(conversation, "text", {"body": "Hi"})


def test_a_valid_message_is_queued_as_a_row_before_any_network_call(conversation, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        message = send(conversation, "text", {"body": "Your order shipped 📦"})
    assert message.status == Message.Status.QUEUED and message.wamid is None
    assert len(callbacks) == 1  # the delivery task, enqueued only once the row is committed


def test_a_reaction_cannot_be_a_reply(conversation):
    target = send(conversation, "text", {"body": "Hi"})
    with pytest.raises(MessageRejected, match="reply"):
        send(conversation, "reaction", {"message_id": "wamid.x", "emoji": "👍"}, reply_to=target)


def _gif() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), "green").save(out, format="GIF")
    return out.getvalue()


def test_a_gif_is_converted_to_an_image_whatsapp_accepts(conversation):
    message = send(conversation, "image", {"caption": "Our shop"}, media_file=(_gif(), "shop.gif", "image/gif"))
    assert message.message_type == "image"
    assert message.media_mime_type == "image/jpeg"
    assert message.media_file.name.endswith(".jpg")
    assert message.content == {"caption": "Our shop"}


def test_an_unsupported_file_is_refused_naming_the_accepted_formats(conversation):
    with pytest.raises(MessageRejected) as caught:
        send(conversation, "document", {}, media_file=(b"MZ\x90\x00", "setup.exe", "application/x-msdownload"))
    assert "application/pdf" in caught.value.message
    assert not Message.objects.exists()


def test_an_oversized_image_is_refused_with_the_limit(conversation):
    big = b"\xff\xd8\xff" + b"0" * (5 * 1024 * 1024 + 10)
    with pytest.raises(MessageRejected, match="5"):
        send(conversation, "image", {}, media_file=(big, "huge.jpg", "image/jpeg"))
