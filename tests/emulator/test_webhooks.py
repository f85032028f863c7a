"""Webhooks really flow: the emulator runs on the live server, a loopback receiver plays the platform.

Deliveries are signed over the exact (escaped-unicode) bytes, sent after the request that caused
them, retried until the receiver answers 200, and can be duplicated, reordered, batched or failed.
"""

import hashlib
import hmac
import time

import pytest
import requests

from cloudapi_emulator.dispatcher import _claim
from cloudapi_emulator.models import WebhookDelivery
from tests.conftest import wait_until

SECRET = "loopback-app-secret"
TOKEN = "loopback-access-token"


@pytest.fixture
def shop(emulator, webhook_receiver):
    return emulator.provision(webhook_receiver.url, app_secret=SECRET, access_token=TOKEN)


@pytest.fixture
def sheena(emulator, shop):
    customer = emulator.customer(shop, name="Sheena Nelson", phone="+16505551234")
    emulator.customer_says(shop, customer, "text", {"body": "Hi!"})
    return customer


def send(emulator, number, message: dict, timeout: float = 10):
    return requests.post(
        f"{emulator.versioned_graph_url}/{number.phone_number_id}/messages",
        json={"messaging_product": "whatsapp", "to": "+16505551234", **message},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=timeout,
    )


def statuses_of(receiver, wamid: str) -> list[str]:
    return [s["status"] for s in receiver.statuses() if s["id"] == wamid]


def test_a_customer_message_arrives_signed_over_the_exact_escaped_bytes(emulator, shop, webhook_receiver):
    customer = emulator.customer(shop, name="João Gómez", phone="+5511987654321")

    wamid = emulator.customer_says(shop, customer, "text", {"body": "Olá! Quanto custa? 👍"})
    emulator.drain()

    [hook] = webhook_receiver.received
    expected = "sha256=" + hmac.new(SECRET.encode(), hook.body, hashlib.sha256).hexdigest()
    assert hook.headers["X-Hub-Signature-256"] == expected
    assert hook.headers["Content-Type"] == "application/json"
    assert hook.body.isascii()
    assert b"Ol\\u00e1" in hook.body
    value = hook.json()["entry"][0]["changes"][0]["value"]
    assert value["messages"][0]["id"] == wamid
    assert value["messages"][0]["text"]["body"] == "Olá! Quanto custa? 👍"
    assert value["contacts"][0]["profile"]["name"] == "João Gómez"
    assert value["contacts"][0]["wa_id"] == "5511987654321"


def test_a_send_returns_before_its_status_webhooks_are_delivered(emulator, shop, sheena, webhook_receiver):
    emulator.drain()
    emulator.webhook_mode(shop, status_delays={"sent": 0.5, "delivered": 0.6, "read": 0.7})

    response = send(emulator, shop, {"type": "text", "text": {"body": "Hello"}})
    wamid = response.json()["messages"][0]["id"]

    assert statuses_of(webhook_receiver, wamid) == []
    wait_until(lambda: statuses_of(webhook_receiver, wamid) == ["sent", "delivered", "read"])


def test_a_send_is_followed_by_sent_delivered_read_each_its_own_post(emulator, shop, sheena, webhook_receiver):
    wamid = send(emulator, shop, {"type": "text", "text": {"body": "Hello"}}).json()["messages"][0]["id"]
    emulator.drain()

    assert statuses_of(webhook_receiver, wamid) == ["sent", "delivered", "read"]
    posts = [p for p in webhook_receiver.payloads() if "statuses" in p["entry"][0]["changes"][0]["value"]]
    assert len(posts) == 3
    [message] = emulator.business_messages(shop, sheena)
    assert message.statuses_emitted == ["sent", "delivered", "read"]


def test_deliveries_are_retried_until_the_platform_answers_200(emulator, shop, webhook_receiver):
    webhook_receiver.responses[:] = [500, 503]
    customer = emulator.customer(shop)

    emulator.customer_says(shop, customer, "text", {"body": "are you there?"})
    emulator.drain()

    assert len(webhook_receiver.attempts) == 3
    assert len(webhook_receiver.received) == 1
    row = emulator.deliveries(shop)[0]
    assert (row.state, row.attempts, row.last_status_code) == ("delivered", 3, 200)


def test_the_dispatcher_gives_up_after_the_configured_attempts(emulator, shop, webhook_receiver, settings):
    settings.WHATSAPP_EMULATOR_WEBHOOK_MAX_ATTEMPTS = 2
    webhook_receiver.responses[:] = [500] * 5
    customer = emulator.customer(shop)

    emulator.customer_says(shop, customer, "text", {"body": "anyone?"})
    emulator.drain()

    row = emulator.deliveries(shop)[0]
    assert (row.state, row.attempts, row.last_status_code) == ("failed", 2, 500)
    assert len(webhook_receiver.attempts) == 2


def test_a_delivery_is_claimed_by_one_dispatcher_only(emulator, shop):
    emulator.webhook_mode(shop, status_delays={"sent": 0, "delivered": 0, "read": 0})
    row = WebhookDelivery.objects.create(number=shop, url="http://127.0.0.1:9/", body="{}", due_at=shop.created_at)

    assert _claim(row.pk) is True
    assert _claim(row.pk) is False
    WebhookDelivery.objects.filter(pk=row.pk).update(state="delivered")


def test_duplicate_mode_delivers_every_status_twice(emulator, shop, sheena, webhook_receiver):
    emulator.webhook_mode(shop, duplicate=True)

    wamid = send(emulator, shop, {"type": "text", "text": {"body": "Hi"}}).json()["messages"][0]["id"]
    emulator.drain()

    assert statuses_of(webhook_receiver, wamid) == ["sent", "sent", "delivered", "delivered", "read", "read"]


def test_out_of_order_mode_delivers_read_first_with_truthful_timestamps(emulator, shop, sheena, webhook_receiver):
    emulator.webhook_mode(shop, out_of_order=True, status_delays={"sent": 0.01, "delivered": 1.01, "read": 2.01})

    wamid = send(emulator, shop, {"type": "text", "text": {"body": "Hi"}}).json()["messages"][0]["id"]
    emulator.drain()

    received = [s for s in webhook_receiver.statuses() if s["id"] == wamid]
    assert [s["status"] for s in received] == ["read", "delivered", "sent"]
    timestamps = {s["status"]: int(s["timestamp"]) for s in received}
    assert timestamps["sent"] < timestamps["delivered"] < timestamps["read"]


def test_batch_mode_puts_all_statuses_in_one_post(emulator, shop, sheena, webhook_receiver):
    emulator.drain()
    emulator.webhook_mode(shop, batch=True)

    wamid = send(emulator, shop, {"type": "text", "text": {"body": "Hi"}}).json()["messages"][0]["id"]
    emulator.drain()

    status_posts = [p for p in webhook_receiver.payloads() if "statuses" in p["entry"][0]["changes"][0]["value"]]
    assert len(status_posts) == 1
    assert [s["status"] for s in status_posts[0]["entry"][0]["changes"][0]["value"]["statuses"]] == [
        "sent",
        "delivered",
        "read",
    ]
    assert statuses_of(webhook_receiver, wamid) == ["sent", "delivered", "read"]


def test_skip_delivered_mode_goes_from_sent_to_read(emulator, shop, sheena, webhook_receiver):
    emulator.webhook_mode(shop, skip_delivered=True)

    wamid = send(emulator, shop, {"type": "text", "text": {"body": "Hi"}}).json()["messages"][0]["id"]
    emulator.drain()

    assert statuses_of(webhook_receiver, wamid) == ["sent", "read"]
    read = [s for s in webhook_receiver.statuses() if s["id"] == wamid][-1]
    assert read["pricing"]["category"] == "service"


def test_fail_mode_fails_sends_with_the_chosen_code(emulator, shop, sheena, webhook_receiver):
    emulator.webhook_mode(shop, fail_code=131049)

    wamid = send(emulator, shop, {"type": "text", "text": {"body": "Hi"}}).json()["messages"][0]["id"]
    emulator.drain()

    [failed] = [s for s in webhook_receiver.statuses() if s["id"] == wamid]
    assert failed["status"] == "failed"
    assert failed["errors"][0]["code"] == 131049
    assert failed["errors"][0]["title"] == failed["errors"][0]["message"]


def test_a_voice_note_can_also_get_played(emulator, shop, sheena, webhook_receiver):
    emulator.webhook_mode(shop, played=True)

    wamid = send(emulator, shop, {"type": "audio", "audio": {"link": "https://x.test/v.ogg", "voice": True}}).json()[
        "messages"
    ][0]["id"]
    emulator.drain()

    assert statuses_of(webhook_receiver, wamid) == ["sent", "delivered", "read", "played"]


def test_an_unknown_recipient_gets_a_failed_webhook_131026(emulator, shop, webhook_receiver):
    response = send(emulator, shop, {"to": "+19995550000", "type": "text", "text": {"body": "Hi"}})
    emulator.drain()

    assert response.status_code == 200
    [failed] = webhook_receiver.statuses()
    assert (failed["status"], failed["errors"][0]["code"]) == ("failed", 131026)
    assert "contacts" not in webhook_receiver.payloads()[0]["entry"][0]["changes"][0]["value"]


def test_outside_the_24_hour_window_a_free_form_message_fails_131047(emulator, shop, sheena, webhook_receiver):
    emulator.drain()
    emulator.advance_clock(25 * 3600)

    wamid = send(emulator, shop, {"type": "text", "text": {"body": "Still there?"}}).json()["messages"][0]["id"]
    emulator.drain()

    [failed] = [s for s in webhook_receiver.statuses() if s["id"] == wamid]
    assert (failed["status"], failed["errors"][0]["code"]) == ("failed", 131047)


def test_a_lost_answer_still_accepts_the_message_and_its_statuses_flow(emulator, shop, sheena, webhook_receiver):
    emulator.fault(number=shop, timeout_seconds=1.0, accepted_despite_timeout=True)

    with pytest.raises(requests.Timeout):
        send(emulator, shop, {"type": "text", "text": {"body": "Did this go?"}}, timeout=0.3)

    [body] = emulator.requests_received(shop)
    assert body["text"]["body"] == "Did this go?"
    wamid = emulator.business_messages(shop, sheena)[0].wamid
    wait_until(lambda: statuses_of(webhook_receiver, wamid) == ["sent", "delivered", "read"])


def test_a_created_template_is_approved_by_webhook(emulator, shop, webhook_receiver):
    response = requests.post(
        f"{emulator.versioned_graph_url}/{shop.waba_id}/message_templates",
        json={
            "name": "welcome",
            "language": "en_US",
            "category": "MARKETING",
            "components": [{"type": "BODY", "text": "Welcome to the shop!"}],
        },
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )

    wait_until(lambda: webhook_receiver.received)
    emulator.drain()
    [hook] = webhook_receiver.payloads()
    change = hook["entry"][0]["changes"][0]
    assert change["field"] == "message_template_status_update"
    assert change["value"]["event"] == "APPROVED"
    assert change["value"]["message_template_id"] == int(response.json()["id"])
    assert isinstance(hook["entry"][0]["time"], int)


def test_the_fixture_points_the_platform_settings_at_the_emulator(emulator, settings):
    assert settings.GRAPH_API_BASE_URL == emulator.url + "/emulator/graph"
    assert settings.WHATSAPP_EMULATOR_GRAPH_URL == emulator.graph_url


def test_a_slow_platform_does_not_slow_the_graph_api(emulator, shop, sheena, webhook_receiver):
    emulator.drain()
    webhook_receiver.delay_seconds = 0.3
    started = time.monotonic()
    for _ in range(3):
        send(emulator, shop, {"type": "text", "text": {"body": "quick"}})

    assert time.monotonic() - started < 0.9  # nine status webhooks at 0.3 s each are still on their way
    emulator.drain()
    assert len(webhook_receiver.statuses()) == 9
