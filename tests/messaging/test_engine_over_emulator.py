"""The engine against the Cloud API emulator over real HTTP: no mock of Graph anywhere here.

Each test runs the whole platform and the emulator on a live port: the platform sends to the
emulator's Graph endpoints; the emulator answers like Meta and posts signed webhooks back.
"""

import io
from datetime import timedelta

import pytest
from django.utils import timezone

from channels_app.models import Channel
from messaging_app.models import Conversation, Message
from messaging_app.services.outbound import message_send, outbox_sweep
from tests.conftest import SANDBOX_TOKEN as TOKEN
from tests.conftest import wait_until


@pytest.fixture(autouse=True)
def _fast_retries(settings):
    settings.WHATSAPP_RETRY_DELAY_SCALE = 0
    settings.GRAPH_READ_TIMEOUT = 2.0


def send(box, message_type, content, **kw) -> Message:
    message = message_send(
        conversation=box.conversation, message_type=message_type, content=content, sender="api", **kw
    )
    box.emulator.drain()
    return Message.objects.get(pk=message.pk)


def settled(message: Message, *statuses: str) -> Message:
    return wait_until(lambda: Message.objects.filter(pk=message.pk, status__in=statuses).first())


def test_a_customer_message_arrives_through_a_signed_webhook(sandbox):
    inbound = Message.objects.get(direction=Message.Direction.INBOUND)
    assert inbound.content["body"] == "Hi! Is the fern in stock? 🌿"
    assert inbound.contact.profile_name == "Sheena Nelson"
    assert sandbox.conversation.last_inbound_at is not None


def test_a_text_is_accepted_then_sent_delivered_and_read_with_every_timestamp(sandbox):
    message = send(sandbox, "text", {"body": "Yes! 🌿 We have 3 left.", "preview_url": False})
    message = settled(message, "read")
    assert message.wamid.startswith("wamid.")
    assert message.sent_at and message.delivered_at and message.read_at
    body = sandbox.emulator.requests_received(sandbox.number.phone_number_id)[-1]
    assert body["to"] == "+16505551234" and body["text"]["body"] == "Yes! 🌿 We have 3 left."
    assert body["biz_opaque_callback_data"] == str(message.public_id)


def _inbound_wamid(box) -> str:
    return Message.objects.filter(direction=Message.Direction.INBOUND).latest("timestamp").wamid


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 4), "white").save(out, format="PNG")
    return out.getvalue()


MESSAGE_TYPES = {
    "location": ("location", {"latitude": 37.44, "longitude": -122.16, "name": "Lucky Shrub", "address": "1 Fern St"}),
    "contacts": (
        "contacts",
        [
            {
                "name": {"formatted_name": "Lucky Shrub", "first_name": "Lucky"},
                "phones": [{"phone": "+1 555 010 0001", "type": "WORK"}],
            }
        ],
    ),
    "buttons": (
        "interactive",
        {
            "type": "button",
            "body": {"text": "Deliver or pick up?"},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": "deliver", "title": "Deliver"}},
                    {"type": "reply", "reply": {"id": "pickup", "title": "Pick up"}},
                ]
            },
        },
    ),
    "list": (
        "interactive",
        {
            "type": "list",
            "body": {"text": "Choose shipping"},
            "action": {
                "button": "Options",
                "sections": [{"title": "Fast", "rows": [{"id": "express", "title": "Express"}]}],
            },
        },
    ),
    "cta_url": (
        "interactive",
        {
            "type": "cta_url",
            "body": {"text": "Track your parcel"},
            "action": {"name": "cta_url", "parameters": {"display_text": "Track", "url": "https://example.com/t/1"}},
        },
    ),
    "image_link": ("image", {"link": "https://example.com/fern.jpg", "caption": "Our fern"}),
    "video_link": ("video", {"link": "https://example.com/fern.mp4"}),
    "audio_link": ("audio", {"link": "https://example.com/hello.mp3"}),
    "document_link": ("document", {"link": "https://example.com/invoice.pdf", "filename": "invoice.pdf"}),
    "sticker_link": ("sticker", {"link": "https://example.com/happy.webp"}),
}


@pytest.mark.parametrize("case", list(MESSAGE_TYPES))
def test_each_message_type_is_accepted(sandbox, case):
    message_type, content = MESSAGE_TYPES[case]
    message = settled(send(sandbox, message_type, content), "sent", "delivered", "read")
    body = sandbox.emulator.requests_received(sandbox.number.phone_number_id)[-1]
    assert body["type"] == message_type and message.wamid


def test_an_uploaded_image_is_uploaded_once_and_sent_by_id(sandbox):
    first = settled(
        send(sandbox, "image", {"caption": "A fern"}, media_file=(_png(), "fern.png", "image/png")),
        "sent",
        "delivered",
        "read",
    )
    second = settled(
        send(sandbox, "image", {}, media_file=(_png(), "fern.png", "image/png")), "sent", "delivered", "read"
    )
    assert first.content["id"] == second.content["id"]
    bodies = sandbox.emulator.requests_received(sandbox.number.phone_number_id)[-2:]
    assert [b["image"]["id"] for b in bodies] == [first.content["id"]] * 2


def test_a_reaction_and_a_reply_reach_the_customers_message(sandbox):
    wamid = _inbound_wamid(sandbox)
    inbound = Message.objects.get(wamid=wamid)
    reply = settled(send(sandbox, "text", {"body": "Here it is"}, reply_to=inbound), "sent", "delivered", "read")
    reaction = settled(send(sandbox, "reaction", {"message_id": wamid, "emoji": "👍"}), "sent")
    bodies = sandbox.emulator.requests_received(sandbox.number.phone_number_id)[-2:]
    assert bodies[0]["context"] == {"message_id": wamid}
    assert bodies[1]["reaction"] == {"message_id": wamid, "emoji": "👍"}
    assert reply.wamid and reaction.status == Message.Status.SENT


def test_a_template_is_accepted(sandbox):
    sandbox.emulator.template(
        sandbox.number,
        "order_update",
        components=[{"type": "BODY", "text": "Hi {{1}}!", "example": {"body_text": [["Sheena"]]}}],
    )
    from channels_app.services.templates import templates_sync

    templates_sync(channel=sandbox.channel, since=timezone.now())
    content = {
        "name": "order_update",
        "language": {"code": "en_US"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "Sheena"}]}],
    }
    message = settled(send(sandbox, "template", content), "sent", "delivered", "read")
    assert message.wamid


def test_a_limit_violation_is_rejected_before_the_network(sandbox):
    from messaging_app.errors import MessageRejected

    before = len(sandbox.emulator.requests_received(sandbox.number.phone_number_id))
    with pytest.raises(MessageRejected, match="20"):
        message_send(
            conversation=sandbox.conversation,
            message_type="interactive",
            sender="api",
            content={
                "type": "button",
                "body": {"text": "?"},
                "action": {"buttons": [{"type": "reply", "reply": {"id": "a", "title": "Check my order status"}}]},
            },
        )
    assert len(sandbox.emulator.requests_received(sandbox.number.phone_number_id)) == before


@pytest.mark.parametrize(
    "fault",
    [
        {"error_code": 130429},
        {"error_code": 131000},
        {"http_status": 503},
        {"error_code": 2},
    ],
    ids=["throughput-130429", "unknown-131000", "bare-503", "temporary-2"],
)
def test_retryable_failures_are_retried_then_sent(sandbox, fault):
    sandbox.emulator.fault(endpoint="messages", count=2, **fault)
    message = settled(send(sandbox, "text", {"body": "Retry me"}), "sent", "delivered", "read")
    assert message.attempts == 3
    assert (
        len(
            [
                b
                for b in sandbox.emulator.requests_received(sandbox.number.phone_number_id)
                if b.get("text", {}).get("body") == "Retry me"
            ]
        )
        == 1
    )


def test_the_pair_rate_limit_delays_only_that_recipient(sandbox):
    other = sandbox.emulator.customer(sandbox.number, name="Oliver Twist", phone="447700900123")
    sandbox.emulator.customer_says(sandbox.number, other, "text", {"body": "Hello"})
    sandbox.emulator.drain()
    other_conversation = wait_until(lambda: Conversation.objects.exclude(pk=sandbox.conversation.pk).first())

    sandbox.emulator.fault(endpoint="messages", count=1, error_code=131056)
    limited = send(sandbox, "text", {"body": "First to Sheena"})
    unaffected = message_send(
        conversation=other_conversation, message_type="text", content={"body": "To Oliver"}, sender="api"
    )
    limited = settled(limited, "sent", "delivered", "read")
    unaffected = settled(unaffected, "sent", "delivered", "read")
    assert (limited.pair_rate_hits, limited.attempts) == (1, 2)
    assert (unaffected.pair_rate_hits, unaffected.attempts) == (0, 1)


def test_a_timeout_whose_request_was_accepted_is_settled_by_the_status_webhook(sandbox, settings):
    settings.GRAPH_READ_TIMEOUT = 0.3
    sandbox.emulator.fault(endpoint="messages", count=1, timeout_seconds=1.0, accepted_despite_timeout=True)
    message = send(sandbox, "text", {"body": "Lost answer"})
    message = settled(message, "sent", "delivered", "read")
    assert message.wamid and not message.possible_duplicate and message.attempts == 1


def test_a_timeout_whose_request_was_lost_is_resent_once_after_the_grace_period(sandbox, settings):
    settings.GRAPH_READ_TIMEOUT = 0.3
    settings.WHATSAPP_UNKNOWN_OUTCOME_GRACE_SECONDS = 0
    sandbox.emulator.fault(endpoint="messages", count=1, timeout_seconds=1.0, accepted_despite_timeout=False)
    message = send(sandbox, "text", {"body": "Lost request"})
    assert message.status == Message.Status.UNKNOWN
    outbox_sweep()
    message = settled(message, "sent", "delivered", "read")
    assert message.possible_duplicate is True and message.attempts == 2


def test_outside_the_window_meta_answers_131047_and_the_message_fails_with_the_reason(sandbox):
    # The platform believes the window is open; the emulated customer never wrote from this number.
    stranger = sandbox.emulator.customer(sandbox.number, name="Quiet Customer", phone="447700900999")
    assert stranger is not None
    conversation = Conversation.objects.create(
        workspace=sandbox.channel.workspace,
        channel=sandbox.channel,
        contact=sandbox.conversation.contact.__class__.objects.create(
            workspace=sandbox.channel.workspace, channel=sandbox.channel, wa_id="447700900999"
        ),
        last_inbound_at=timezone.now(),
    )
    message = message_send(conversation=conversation, message_type="text", content={"body": "Hi"}, sender="api")
    sandbox.emulator.drain()
    message = settled(message, "failed")
    assert message.error_code == 131047 and message.error_title


def test_an_unknown_recipient_fails_with_131026(sandbox):
    conversation = Conversation.objects.create(
        workspace=sandbox.channel.workspace,
        channel=sandbox.channel,
        contact=sandbox.conversation.contact.__class__.objects.create(
            workspace=sandbox.channel.workspace, channel=sandbox.channel, wa_id="15550009999"
        ),
        last_inbound_at=timezone.now() - timedelta(minutes=5),
    )
    message = message_send(conversation=conversation, message_type="text", content={"body": "Hi"}, sender="api")
    sandbox.emulator.drain()
    message = settled(message, "failed")
    assert message.error_code == 131026


def test_a_revoked_token_flags_the_channel_for_reconnection(sandbox):
    sandbox.emulator.revoke_token(TOKEN)
    message = send(sandbox, "text", {"body": "Anyone there?"})
    assert message.status == Message.Status.FAILED and message.error_code == 190
    sandbox.channel.refresh_from_db()
    assert sandbox.channel.status == Channel.Status.NEEDS_RECONNECTION
    assert "190" in sandbox.channel.status_reason


def test_a_permanent_error_fails_at_once_with_metas_details(sandbox):
    sandbox.emulator.fault(endpoint="messages", count=1, error_code=131009, details="Parameter value is not valid")
    message = send(sandbox, "text", {"body": "Bad"})
    assert message.status == Message.Status.FAILED and message.attempts == 1
    assert message.error_code == 131009 and "not valid" in message.error_details


def test_inbound_media_is_downloaded_checked_and_stored(sandbox):
    sandbox.emulator.customer_says(
        sandbox.number, sandbox.customer, "image", {"data": _png(), "mime_type": "image/png", "caption": "This one?"}
    )
    sandbox.emulator.drain()
    image = wait_until(lambda: Message.objects.filter(message_type="image", media_state="stored").first())
    assert image.media_file.read() == _png()
    assert image.content["caption"] == "This one?"


def test_inbound_media_with_an_expired_url_is_fetched_again(sandbox):
    sandbox.emulator.expire_media_urls()
    sandbox.emulator.customer_says(
        sandbox.number,
        sandbox.customer,
        "document",
        {"data": b"%PDF-1.4 receipt", "mime_type": "application/pdf", "filename": "receipt.pdf"},
    )
    sandbox.emulator.drain()
    document = wait_until(
        lambda: Message.objects.filter(message_type="document").exclude(media_state="pending").first()
    )
    assert document.media_state == "stored"


# --- one test per emulator fault type: the platform's reaction ------------------------------


def test_added_latency_only_slows_the_send(sandbox):
    sandbox.emulator.fault(endpoint="messages", count=1, latency_ms=300)
    message = settled(send(sandbox, "text", {"body": "Slow but sure"}), "sent", "delivered", "read")
    assert message.attempts == 1


def _swept_until(message: Message, *statuses: str) -> Message:
    """Wait like production does: the periodic sweeper re-enqueues rows whose back-off has passed."""

    def done():
        outbox_sweep()
        return Message.objects.filter(pk=message.pk, status__in=statuses).first()

    return wait_until(done, timeout=20, interval=0.2)


def test_a_throughput_limit_answers_130429_and_the_excess_is_retried_after_back_off(sandbox, settings):
    settings.WHATSAPP_RETRY_DELAY_SCALE = 0.3
    settings.WHATSAPP_OUTBOX_STALE_SECONDS = 0
    sandbox.emulator.throughput_limit(sandbox.number, 1)
    first = send(sandbox, "text", {"body": "one"})
    second = send(sandbox, "text", {"body": "two"})
    for message in (first, second):
        _swept_until(message, "sent", "delivered", "read")
    second.refresh_from_db()
    assert second.attempts >= 2 or first.attempts >= 2
    bodies = [b["text"]["body"] for b in sandbox.emulator.requests_received(sandbox.number.phone_number_id)[-2:]]
    assert bodies == ["one", "two"]


def test_the_pair_rate_limit_setting_answers_131056_and_the_recipient_is_retried(sandbox, settings):
    settings.WHATSAPP_RETRY_DELAY_SCALE = 0.3
    settings.WHATSAPP_OUTBOX_STALE_SECONDS = 0
    sandbox.emulator.pair_rate_limit(sandbox.number, 0.5)
    first = send(sandbox, "text", {"body": "first"})
    second = send(sandbox, "text", {"body": "second"})
    settled(first, "sent", "delivered", "read")
    second = _swept_until(second, "sent", "delivered", "read")
    assert second.pair_rate_hits >= 1
    # Retried only after the pair window; never sent twice.
    bodies = [b.get("text", {}).get("body") for b in sandbox.emulator.requests_received(sandbox.number.phone_number_id)]
    assert bodies.count("second") == 1


def test_duplicated_and_reordered_status_webhooks_end_in_the_same_state(sandbox):
    from messaging_app.models import StatusReceipt

    sandbox.emulator.webhook_mode(sandbox.number, duplicate=True, out_of_order=True)
    message = settled(send(sandbox, "text", {"body": "Twice, shuffled"}), "read")
    assert StatusReceipt.objects.filter(wamid=message.wamid).count() == 3
    assert message.sent_at <= message.delivered_at <= message.read_at


def test_a_skipped_delivered_status_still_records_a_delivery_time(sandbox):
    sandbox.emulator.webhook_mode(sandbox.number, skip_delivered=True)
    message = settled(send(sandbox, "text", {"body": "Read at once"}), "read")
    assert message.delivered_at == message.read_at


def test_an_asynchronous_failure_code_is_recorded_with_metas_reason(sandbox):
    sandbox.emulator.webhook_mode(sandbox.number, fail_code=131049)
    message = settled(send(sandbox, "text", {"body": "Marketing-ish"}), "failed")
    assert message.error_code == 131049 and message.error_title
