"""Embedded Signup and number setup: code exchange (30 s, single use), debug_token, phone numbers,
subscribed_apps with a callback override, register with its PIN and 72 h limit."""

import pytest

from cloudapi_emulator import clock, services
from cloudapi_emulator.models import PhoneNumber
from tests.emulator.conftest import SHOP_TOKEN, error_of

APP_ID = "5731794616896507"
APP_SECRET = "platform-app-secret"
BISU = "EAAG-business-integration-token"


@pytest.fixture
def code(shop):
    return services.oauth_code_issue(
        app_id=APP_ID,
        app_secret=APP_SECRET,
        access_token=BISU,
        waba_id=shop.waba_id,
        scopes=["whatsapp_business_management", "whatsapp_business_messaging", "business_management"],
    )


@pytest.fixture(autouse=True)
def _real_clock():
    yield
    clock.reset()


def exchange(graph, code: str, secret: str = APP_SECRET):
    return graph.get("oauth/access_token", {"client_id": APP_ID, "client_secret": secret, "code": code}, token="")


def test_a_fresh_code_exchanges_for_the_business_token(graph, code):
    response = exchange(graph, code)

    assert response.status_code == 200
    assert response.json()["access_token"] == BISU


def test_the_business_token_then_works_on_the_customers_waba(graph, code, shop):
    exchange(graph, code)

    response = graph.get(f"{shop.waba_id}/phone_numbers", token=BISU)

    assert response.status_code == 200
    assert response.json()["data"][0]["id"] == shop.phone_number_id


def test_a_code_expires_after_30_seconds(graph, code):
    clock.advance(31)

    response = exchange(graph, code)

    assert response.status_code == 400
    assert error_of(response)["code"] == 100
    assert "expired" in error_of(response)["error_data"]["details"]


def test_a_code_can_be_exchanged_only_once(graph, code):
    exchange(graph, code)

    again = exchange(graph, code)

    assert error_of(again)["code"] == 100
    assert "used" in error_of(again)["error_data"]["details"]


def test_a_wrong_client_secret_is_refused(graph, code):
    assert error_of(exchange(graph, code, secret="wrong"))["code"] == 1


def test_debug_token_reports_validity_expiry_and_granular_scopes(graph, code, shop):
    exchange(graph, code)

    data = graph.get("debug_token", {"input_token": BISU, "access_token": f"{APP_ID}|{APP_SECRET}"}, token="").json()[
        "data"
    ]

    assert data["is_valid"] is True
    assert data["expires_at"] == 0
    assert data["app_id"] == APP_ID
    assert "whatsapp_business_messaging" in data["scopes"]
    management = next(s for s in data["granular_scopes"] if s["scope"] == "whatsapp_business_management")
    assert management["target_ids"] == [shop.waba_id]


def test_debug_token_says_a_revoked_token_is_not_valid(graph, code):
    exchange(graph, code)
    services.token_revoke(BISU)

    data = graph.get("debug_token", {"input_token": BISU, "access_token": f"{APP_ID}|{APP_SECRET}"}, token="").json()

    assert data["data"]["is_valid"] is False


def test_debug_token_needs_the_app_token(graph, code):
    response = graph.get("debug_token", {"input_token": BISU, "access_token": f"{APP_ID}|wrong"}, token="")

    assert error_of(response)["code"] == 190


def test_the_waba_lists_its_phone_numbers(graph, shop):
    body = graph.get(f"{shop.waba_id}/phone_numbers").json()

    assert body["data"] == [
        {
            "verified_name": "Lucky Shrub",
            "code_verification_status": "VERIFIED",
            "display_phone_number": "+1 555 078 3881",
            "quality_rating": "GREEN",
            "id": shop.phone_number_id,
        }
    ]


def test_a_phone_number_answers_the_fields_asked_for(graph, shop):
    fields = (
        "display_phone_number,verified_name,quality_rating,code_verification_status,status,name_status,"
        "platform_type,throughput,account_mode,whatsapp_business_manager_messaging_limit"
    )

    body = graph.get(shop.phone_number_id, {"fields": fields}).json()

    assert body == {
        "display_phone_number": "+1 555 078 3881",
        "verified_name": "Lucky Shrub",
        "quality_rating": "GREEN",
        "code_verification_status": "VERIFIED",
        "status": "CONNECTED",
        "name_status": "APPROVED",
        "platform_type": "CLOUD_API",
        "throughput": {"level": "STANDARD"},
        "account_mode": "SANDBOX",
        "whatsapp_business_manager_messaging_limit": "TIER_250",
        "id": shop.phone_number_id,
    }


def test_an_unknown_field_is_an_error(graph, shop):
    assert error_of(graph.get(shop.phone_number_id, {"fields": "colour"}))["code"] == 100


def test_subscribing_the_app_with_an_override_routes_message_webhooks_there(graph, shop, sheena):
    from cloudapi_emulator.services.webhooks import messages_callback_url

    subscribed = graph.post(
        f"{shop.waba_id}/subscribed_apps", {"override_callback_uri": "https://tenant.example/hook", "verify_token": "v"}
    )
    listed = graph.get(f"{shop.waba_id}/subscribed_apps").json()

    assert subscribed.json() == {"success": True}
    assert listed["data"][0]["override_callback_uri"] == "https://tenant.example/hook"
    assert listed["data"][0]["whatsapp_business_api_data"]["id"] == shop.app.app_id
    assert messages_callback_url(shop) == "https://tenant.example/hook"


def test_an_empty_subscription_and_an_unsubscription_succeed(graph, shop):
    assert graph.post(f"{shop.waba_id}/subscribed_apps").json() == {"success": True}
    assert len(graph.get(f"{shop.waba_id}/subscribed_apps").json()["data"]) == 1
    assert graph.delete(f"{shop.waba_id}/subscribed_apps").json() == {"success": True}
    assert graph.get(f"{shop.waba_id}/subscribed_apps").json()["data"] == []


def test_an_override_callback_uri_over_200_characters_is_refused(graph, shop):
    response = graph.post(
        f"{shop.waba_id}/subscribed_apps", {"override_callback_uri": "https://x.test/" + "a" * 190, "verify_token": "v"}
    )

    assert error_of(response)["code"] == 100


def register(graph, shop, pin):
    return graph.post(f"{shop.phone_number_id}/register", {"messaging_product": "whatsapp", "pin": pin})


def test_register_sets_the_two_step_pin(graph, shop):
    assert register(graph, shop, "123456").json() == {"success": True}
    assert PhoneNumber.objects.get(pk=shop.pk).two_step_pin == "123456"


@pytest.mark.parametrize("pin", ["12345", "1234567", "abcdef", 123456])
def test_the_pin_must_be_six_digits(graph, shop, pin):
    assert error_of(register(graph, shop, pin))["code"] == 100


def test_a_wrong_pin_for_a_number_with_two_step_verification_is_133005(graph, shop):
    services.number_two_step_pin_set(number=shop, pin="111111")

    wrong = register(graph, shop, "222222")
    right = register(graph, shop, "111111")

    assert error_of(wrong)["code"] == 133005
    assert right.status_code == 200


def test_more_than_ten_register_calls_in_72_hours_is_133016(graph, shop):
    answers = [register(graph, shop, "123456") for _ in range(11)]

    assert [a.status_code for a in answers[:10]] == [200] * 10
    assert error_of(answers[10])["code"] == 133016


def test_the_register_limit_lifts_after_72_hours(graph, shop):
    for _ in range(10):
        register(graph, shop, "123456")

    clock.advance(72 * 3600 + 1)

    assert register(graph, shop, "123456").status_code == 200


def test_a_phone_number_callback_override_takes_precedence(graph, shop):
    from cloudapi_emulator.services.webhooks import messages_callback_url

    graph.post(f"{shop.waba_id}/subscribed_apps", {"override_callback_uri": "https://waba.test/h", "verify_token": "v"})
    response = graph.post(
        shop.phone_number_id, {"webhook_configuration": {"override_callback_uri": "https://number.test/h"}}
    )

    shop.refresh_from_db()
    assert response.json() == {"success": True}
    assert messages_callback_url(shop) == "https://number.test/h"


def test_provisioning_is_idempotent_by_display_number(shop):
    again = services.sandbox_number_provision(
        display_phone_number="+1 555 078 3881",
        verified_name="Lucky Shrub",
        access_token="new-token",
        app_secret="new-secret",
        webhook_url="http://127.0.0.1:9/new/",
    )

    assert again.pk == shop.pk
    assert again.phone_number_id == shop.phone_number_id
    assert again.app.app_secret == "new-secret"
    assert again.webhook_url == "http://127.0.0.1:9/new/"


def test_the_old_token_keeps_working_after_reprovisioning(graph, shop):
    services.sandbox_number_provision(
        display_phone_number="+1 555 078 3881",
        verified_name="Lucky Shrub",
        access_token="new-token",
        app_secret="s",
        webhook_url="",
    )

    assert graph.get(shop.phone_number_id, token="new-token").status_code == 200
    assert graph.get(shop.phone_number_id, token=SHOP_TOKEN).status_code == 200
