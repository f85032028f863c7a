"""Where webhooks go, as Meta routes them (reference §1.4): the number's override, then the WABA's
override, then the dashboard callback URL of the app subscribed to the WABA; a sandbox number falls
back to its own webhook URL, and an unsubscribed WABA gets nothing. Each is signed with the secret
of the app whose URL is used.

The cast: the platform's Meta app, a customer onboarded through the stand-in Embedded Signup
("the shop"), a second app that also serves the shop ("the partner"), and a sandbox number.
"""

import hashlib
import hmac
import json

import pytest
import requests
from django.test import Client

from cloudapi_emulator import services
from cloudapi_emulator.dispatcher import deliver_due
from cloudapi_emulator.models import App, PhoneNumber, WebhookDelivery
from tests.conftest import wait_until
from tests.emulator.conftest import Graph, outbox_payloads

APP_ID = "5731794616896507"
APP_SECRET = "platform-app-secret"
CALLBACK = "https://platform.example/webhooks/whatsapp/"
PARTNER_ID = "8800112233445566"
PARTNER_SECRET = "partner-app-secret"
PARTNER_CALLBACK = "https://partner.example/hooks/"


@pytest.fixture
def platform_app(db):
    return services.app_register(app_id=APP_ID, app_secret=APP_SECRET, callback_url=CALLBACK, verify_token="v")


@pytest.fixture
def partner_app(db):
    return services.app_register(app_id=PARTNER_ID, app_secret=PARTNER_SECRET, callback_url=PARTNER_CALLBACK)


def onboard(client, app_id: str, app_secret: str, **signup) -> tuple[Graph, PhoneNumber]:
    """Finish a signup for the app and exchange its code: the app's Graph client, and the number."""
    result = services.signup_finish(app_id=app_id, **signup)
    response = Graph(client, token="").get(
        "oauth/access_token", {"client_id": app_id, "client_secret": app_secret, "code": result.code}
    )
    return Graph(client, token=response.json()["access_token"]), PhoneNumber.objects.get(
        phone_number_id=result.phone_number_id
    )


@pytest.fixture
def onboarded(client, platform_app):
    return onboard(client, APP_ID, APP_SECRET, display_phone_number="+1 555 017 3881")


@pytest.fixture
def platform(onboarded) -> Graph:
    """Graph as the platform calls it, with the shop's business token."""
    return onboarded[0]


@pytest.fixture
def shop(onboarded) -> PhoneNumber:
    """The shop's number right after signup: nobody has subscribed to its WABA yet."""
    return onboarded[1]


def customer_writes(number) -> WebhookDelivery | None:
    customer = services.customer_get_or_create(number=number, name="Sheena Nelson", phone="+16505551234")
    services.customer_message_send(number=number, customer=customer, message_type="text", content={"body": "Hi"})
    return WebhookDelivery.objects.filter(number=number, field="messages").order_by("-id").first()


def test_an_unsubscribed_waba_gets_no_webhooks(shop):
    assert customer_writes(shop) is None


def test_messages_go_to_the_callback_url_of_the_app_subscribed_to_the_waba(platform, shop):
    platform.post(f"{shop.waba_id}/subscribed_apps")

    delivery = customer_writes(shop)

    assert delivery.url == CALLBACK
    assert delivery.app_secret == APP_SECRET
    assert json.loads(delivery.body)["entry"][0]["id"] == shop.waba_id


def test_a_waba_override_wins_over_the_apps_callback_url(platform, shop):
    platform.post(
        f"{shop.waba_id}/subscribed_apps", {"override_callback_uri": "https://tenant.example/hook", "verify_token": "t"}
    )

    delivery = customer_writes(shop)

    assert delivery.url == "https://tenant.example/hook"
    assert delivery.app_secret == APP_SECRET


def test_a_number_override_wins_over_the_waba_override(platform, shop):
    platform.post(
        f"{shop.waba_id}/subscribed_apps", {"override_callback_uri": "https://tenant.example/hook", "verify_token": "t"}
    )
    platform.post(shop.phone_number_id, {"webhook_configuration": {"override_callback_uri": "https://n.example/h"}})
    shop.refresh_from_db()

    delivery = customer_writes(shop)

    assert delivery.url == "https://n.example/h"
    assert delivery.app_secret == APP_SECRET


def test_removing_the_number_override_falls_back_to_the_waba_subscription(platform, shop):
    platform.post(f"{shop.waba_id}/subscribed_apps")
    platform.post(shop.phone_number_id, {"webhook_configuration": {"override_callback_uri": "https://n.example/h"}})
    platform.post(shop.phone_number_id, {"webhook_configuration": {"override_callback_uri": ""}})
    shop.refresh_from_db()

    assert customer_writes(shop).url == CALLBACK


def test_each_override_is_signed_with_the_secret_of_the_app_that_set_it(client, platform, shop, partner_app):
    # The same customer onboards onto a second provider's app: the same WABA and number.
    partner_graph, _ = onboard(client, PARTNER_ID, PARTNER_SECRET, display_phone_number="+1 555 017 3881")
    partner_graph.post(
        shop.phone_number_id, {"webhook_configuration": {"override_callback_uri": "https://partner.example/n"}}
    )
    shop.refresh_from_db()

    delivery = customer_writes(shop)

    assert delivery.url == "https://partner.example/n"
    assert delivery.app_secret == PARTNER_SECRET


def test_the_number_reports_each_level_of_its_webhook_configuration(platform, shop):
    platform.post(
        f"{shop.waba_id}/subscribed_apps", {"override_callback_uri": "https://w.example/h", "verify_token": "t"}
    )
    platform.post(shop.phone_number_id, {"webhook_configuration": {"override_callback_uri": "https://n.example/h"}})

    body = platform.get(shop.phone_number_id, {"fields": "webhook_configuration"}).json()

    assert body["webhook_configuration"] == {
        "phone_number": "https://n.example/h",
        "whatsapp_business_account": "https://w.example/h",
        "application": CALLBACK,
    }


def test_a_sandbox_number_keeps_sending_to_its_own_webhook_url(shop):
    sandbox = services.sandbox_number_provision(
        display_phone_number="+1 555 010 0001",
        verified_name="Sandbox",
        access_token="sandbox-token",
        app_secret="sandbox-secret",
        webhook_url="http://127.0.0.1:9/webhooks/whatsapp/sandbox/",
    )

    delivery = customer_writes(sandbox)

    assert delivery.url == "http://127.0.0.1:9/webhooks/whatsapp/sandbox/"
    assert delivery.app_secret == "sandbox-secret"


def test_a_subscribed_apps_callback_wins_over_a_sandbox_numbers_own_url(platform_app):
    sandbox = services.sandbox_number_provision(
        display_phone_number="+1 555 010 0001",
        verified_name="Sandbox",
        access_token="sandbox-token",
        app_secret="sandbox-secret",
        webhook_url="http://127.0.0.1:9/webhooks/whatsapp/sandbox/",
    )
    code = services.oauth_code_issue(
        app_id=APP_ID, app_secret=APP_SECRET, access_token="platform-token", waba_id=sandbox.waba_id
    )
    graph = Graph(Client(), token="platform-token")
    graph.get("oauth/access_token", {"client_id": APP_ID, "client_secret": APP_SECRET, "code": code}, token="")
    graph.post(f"{sandbox.waba_id}/subscribed_apps")

    delivery = customer_writes(sandbox)

    assert (delivery.url, delivery.app_secret) == (CALLBACK, APP_SECRET)


def test_template_webhooks_go_to_the_apps_callback_url_whatever_the_overrides(platform, shop, settings):
    settings.WHATSAPP_EMULATOR_TEMPLATE_REVIEW_SECONDS = 0
    platform.post(
        f"{shop.waba_id}/subscribed_apps", {"override_callback_uri": "https://w.example/h", "verify_token": "t"}
    )
    platform.post(shop.phone_number_id, {"webhook_configuration": {"override_callback_uri": "https://n.example/h"}})
    platform.post(
        f"{shop.waba_id}/message_templates",
        {
            "name": "order_ready",
            "language": "en_US",
            "category": "UTILITY",
            "components": [{"type": "BODY", "text": "Your order is ready."}],
        },
    )

    deliver_due()  # the review row is due at once

    row = WebhookDelivery.objects.get(kind="webhook", field="message_template_status_update")
    assert (row.url, row.app_secret) == (CALLBACK, APP_SECRET)
    assert outbox_payloads()[0]["entry"][0]["changes"][0]["value"]["event"] == "APPROVED"


def test_template_webhooks_of_an_unsubscribed_waba_go_nowhere(platform, shop, settings):
    settings.WHATSAPP_EMULATOR_TEMPLATE_REVIEW_SECONDS = 0
    platform.post(
        f"{shop.waba_id}/message_templates",
        {
            "name": "order_ready",
            "language": "en_US",
            "category": "UTILITY",
            "components": [{"type": "BODY", "text": "Hi"}],
        },
    )

    deliver_due()

    assert not WebhookDelivery.objects.filter(kind="webhook", field="message_template_status_update").exists()


def test_registering_an_app_again_updates_it_in_place(platform_app):
    again = services.app_register(
        app_id=APP_ID, app_secret="rotated-secret", callback_url="https://platform.example/v2/", verify_token="v2"
    )

    assert again.pk == platform_app.pk
    assert App.objects.filter(app_id=APP_ID).count() == 1
    assert (again.app_secret, again.callback_url, again.verify_token) == (
        "rotated-secret",
        "https://platform.example/v2/",
        "v2",
    )


def test_an_app_callback_must_be_an_http_url(db):
    with pytest.raises(ValueError):
        services.app_register(app_id=APP_ID, app_secret=APP_SECRET, callback_url="ftp://platform.example/")


def test_a_subscribed_apps_callback_receives_the_message_signed_with_the_app_secret(emulator, webhook_receiver):
    emulator.app_register(APP_ID, APP_SECRET, webhook_receiver.url)
    code, waba_id, phone_number_id = emulator.signup(app_id=APP_ID, display_phone_number="+1 555 017 4000")
    token = requests.get(
        f"{emulator.versioned_graph_url}/oauth/access_token",
        params={"client_id": APP_ID, "client_secret": APP_SECRET, "code": code},
        timeout=10,
    ).json()["access_token"]
    requests.post(
        f"{emulator.versioned_graph_url}/{waba_id}/subscribed_apps",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    number = PhoneNumber.objects.get(phone_number_id=phone_number_id)
    emulator.customer_says(number, emulator.customer(number), "text", {"body": "Olá"})

    [hook] = wait_until(lambda: webhook_receiver.received)
    expected = "sha256=" + hmac.new(APP_SECRET.encode(), hook.body, hashlib.sha256).hexdigest()
    assert hook.headers["X-Hub-Signature-256"] == expected
    assert hook.json()["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] == phone_number_id
