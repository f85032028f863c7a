"""Webhook intake: verification, signatures on raw bytes, the stored ledger, one row per wamid."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from channels_app.models import WebhookEvent
from messaging_app.models import Contact, Conversation, Message
from tests.messaging.conftest import APP_SECRET, CUSTOMER_BSUID, CUSTOMER_WA_ID, fixture_bytes

pytestmark = pytest.mark.django_db


def test_the_verification_handshake_echoes_the_challenge_for_the_right_token(client):
    response = client.get(
        "/webhooks/whatsapp/", {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"}
    )
    assert response.status_code == 200
    assert response.content == b"1158201444"


def test_the_verification_handshake_refuses_a_wrong_token(client):
    response = client.get(
        "/webhooks/whatsapp/", {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1158201444"}
    )
    assert response.status_code == 403
    assert b"1158201444" not in response.content


def test_a_channels_own_url_verifies_with_the_channels_own_token(client, channel):
    channel.verify_token = "channel-token"
    channel.save()
    url = f"/webhooks/whatsapp/{channel.public_id}/"
    ok = client.get(url, {"hub.mode": "subscribe", "hub.verify_token": "channel-token", "hub.challenge": "42"})
    wrong = client.get(url, {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "42"})
    assert (ok.status_code, ok.content) == (200, b"42")
    assert wrong.status_code == 403


def test_a_post_without_a_signature_gets_401_is_logged_as_rejected_and_processes_nothing(deliver, channel):
    response = deliver("text", sign=False)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_signature"
    event = WebhookEvent.objects.get()
    assert event.state == WebhookEvent.State.REJECTED and event.signature_valid is False
    assert not Message.objects.exists()


def test_a_post_signed_with_the_wrong_secret_gets_401(deliver, channel):
    assert deliver("text", secret="not-the-secret").status_code == 401
    assert not Message.objects.exists()


def test_a_valid_post_is_stored_raw_and_acknowledged(deliver, channel):
    response = deliver("text")
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert bytes(event.body) == fixture_bytes("text")
    assert event.signature_valid and event.state == WebhookEvent.State.PROCESSED
    assert event.channel_id is None and event.headers["X-Hub-Signature-256"].startswith("sha256=")


def test_the_signature_is_checked_over_the_raw_escaped_bytes_meta_sends(deliver, channel):
    raw = fixture_bytes("text_emoji_escaped")
    assert b"\\u" in raw  # Meta escapes non-ASCII; re-serialising would change the bytes
    assert deliver(raw).status_code == 200
    assert Message.objects.get().content["body"] == "Hola! ¿Tienen la talla M? 😍👗 Grüße, Zoë"


def test_a_3_mb_signed_payload_is_accepted(deliver, channel):
    body = json.loads(fixture_bytes("text"))
    body["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] = "x" * 4000
    padding = [
        {"id": str(i), "changes": [{"field": "some_future_field", "value": {"pad": "y" * 1000}}]} for i in range(3000)
    ]
    body["entry"].extend(padding)
    raw = json.dumps(body).encode()
    assert len(raw) > 3 * 1000 * 1000
    assert deliver(raw).status_code == 200
    assert Message.objects.count() == 1


def test_a_channels_own_url_checks_the_channels_own_app_secret(deliver, channel):
    channel.app_secret = "channel-own-secret"
    channel.save()
    url = f"/webhooks/whatsapp/{channel.public_id}/"
    assert deliver("text", url=url, secret=APP_SECRET).status_code == 401
    assert deliver("text", url=url, secret="channel-own-secret").status_code == 200
    assert WebhookEvent.objects.filter(channel=channel).count() == 2
    assert Message.objects.count() == 1


def test_an_unknown_channel_url_is_404(client):
    response = client.post(
        "/webhooks/whatsapp/00000000-0000-0000-0000-000000000000/", data=b"{}", content_type="application/json"
    )
    assert response.status_code == 404


def test_redelivering_the_same_post_stores_the_message_once(deliver, channel):
    for _ in range(3):
        assert deliver("text").status_code == 200
    assert Message.objects.count() == 1
    assert WebhookEvent.objects.filter(state=WebhookEvent.State.PROCESSED).count() == 3


def test_an_event_for_a_number_no_channel_has_is_kept_as_failed_with_the_reason(deliver):
    deliver("text")
    event = WebhookEvent.objects.get()
    assert event.state == WebhookEvent.State.FAILED
    assert "106540352242922" in event.error


def test_a_body_that_is_not_json_is_kept_as_failed(deliver, channel):
    deliver(b"not json at all")
    event = WebhookEvent.objects.get()
    assert event.state == WebhookEvent.State.FAILED and "not JSON" in event.error


def test_a_new_customer_becomes_a_contact_and_a_conversation(deliver, channel):
    deliver("text")
    contact = Contact.objects.get()
    assert (contact.wa_id, contact.user_id, contact.profile_name) == (CUSTOMER_WA_ID, CUSTOMER_BSUID, "Sheena Nelson")
    conversation = Conversation.objects.get()
    assert conversation.contact == contact and conversation.last_inbound_at is not None


def _text_at(wamid: str, body: str, timestamp: int) -> bytes:
    raw = json.loads(fixture_bytes("text"))
    message = raw["entry"][0]["changes"][0]["value"]["messages"][0]
    message.update(id=wamid, timestamp=str(timestamp), text={"body": body})
    return json.dumps(raw).encode()


def test_messages_whose_webhooks_race_are_handled_in_the_customers_order(deliver, channel):
    from agents_app.replies import conversation_inbound_handle

    deliver(_text_at("wamid.second", "second", 1764000100))
    deliver(_text_at("wamid.first", "first", 1764000050))

    handled = conversation_inbound_handle(conversation_id=Conversation.objects.get().pk)

    assert [m.content["body"] for m in handled] == ["first", "second"]
    assert conversation_inbound_handle(conversation_id=Conversation.objects.get().pk) == []  # taken once


def test_under_a_backlog_customer_messages_are_processed_before_the_statuses_that_came_first(channel):
    from channels_app.services import webhook_event_receive
    from messaging_app.services.webhooks import webhook_events_drain

    def store(raw: bytes) -> WebhookEvent:
        return webhook_event_receive(raw_body=raw, headers={}, signature_valid=True, channel=None)

    statuses = [store(fixture_bytes(name)) for name in ("status_sent", "status_delivered", "status_read")]
    question = store(fixture_bytes("text"))
    reaction = store(fixture_bytes("reaction"))
    assert [e.customer_messages for e in (*statuses, question, reaction)] == [False, False, False, True, True]

    assert webhook_events_drain() == 5

    order = list(WebhookEvent.objects.order_by("processed_at").values_list("pk", flat=True))
    assert order == [question.pk, reaction.pk, *(e.pk for e in statuses)]
    assert Message.objects.filter(direction=Message.Direction.INBOUND).count() == 2


def test_a_status_only_webhook_is_not_taken_for_customer_messages_though_its_field_is_messages(channel):
    from channels_app.services import webhook_event_receive

    raw = fixture_bytes("status_delivered")
    assert b'"field": "messages"' in raw or b'"field":"messages"' in raw
    event = webhook_event_receive(raw_body=raw, headers={}, signature_valid=True, channel=None)
    assert event.customer_messages is False


# --- rejected POSTs: a bounded record, rate-limited per source --------------------------------


def _unsigned(client, raw: bytes, source: str):
    return client.post("/webhooks/whatsapp/", data=raw, content_type="application/json", REMOTE_ADDR=source)


def test_a_rejected_post_is_recorded_by_size_headers_and_a_short_prefix_not_its_body(client):
    raw = b'{"object": "whatsapp_business_account", "padding": "' + b"A" * 3_000_000 + b'"}'
    response = _unsigned(client, raw, "198.51.100.7")
    assert response.status_code == 401
    event = WebhookEvent.objects.get()
    assert event.state == WebhookEvent.State.REJECTED
    assert bytes(event.body) == raw[:256]
    assert event.headers["Content-Type"] == "application/json"
    assert "198.51.100.7" in event.error and f"{len(raw):,} bytes" in event.error


def test_rejected_posts_beyond_a_sources_budget_get_429_and_are_counted_not_stored(client, settings):
    settings.WEBHOOK_REJECTIONS_BURST = 3
    settings.WEBHOOK_REJECTIONS_PER_MINUTE = 1
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        answers = [_unsigned(client, b"{}", "198.51.100.8").status_code for _ in range(5)]
        throttled = _unsigned(client, b"{}", "198.51.100.8")
        elsewhere = _unsigned(client, b"{}", "198.51.100.9")
    assert answers == [401, 401, 401, 429, 429]
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) >= 1
    assert throttled.json()["error"]["code"] == "too_many_rejected_webhooks"
    assert elsewhere.status_code == 401  # another source has its own budget
    assert WebhookEvent.objects.count() == 4

    with time_machine.travel(start + timedelta(minutes=2), tick=False):
        assert _unsigned(client, b"{}", "198.51.100.8").status_code == 401
    latest = WebhookEvent.objects.order_by("-id").first()
    assert "3 more rejected POSTs from 198.51.100.8 were refused unrecorded" in latest.error


# --- the emulator's public app secret ----------------------------------------------------------


def test_the_emulators_public_secret_does_not_verify_webhooks_for_a_real_channel(deliver, channel, settings):
    settings.META_APP_SECRET = settings.EMULATOR_META_APP_SECRET  # PLATFORM_ENV unset, no Meta app configured
    response = deliver("text", secret=settings.EMULATOR_META_APP_SECRET)
    assert response.status_code == 401
    assert WebhookEvent.objects.get().state == WebhookEvent.State.REJECTED
    assert not Message.objects.exists()


def test_the_emulators_public_secret_verifies_webhooks_for_a_sandbox_channel(deliver, channel, settings):
    channel.provider = channel.Provider.SANDBOX
    channel.save()
    settings.META_APP_SECRET = settings.EMULATOR_META_APP_SECRET
    assert deliver("text", secret=settings.EMULATOR_META_APP_SECRET).status_code == 200
    assert Message.objects.count() == 1


def test_a_real_channels_own_url_refuses_the_emulators_secret_even_as_its_app_secret(deliver, channel, settings):
    channel.app_secret = settings.EMULATOR_META_APP_SECRET
    channel.save()
    url = f"/webhooks/whatsapp/{channel.public_id}/"
    assert deliver("text", url=url, secret=settings.EMULATOR_META_APP_SECRET).status_code == 401
    assert not Message.objects.exists()
