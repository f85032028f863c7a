"""After the stand-in Embedded Signup, the platform's server-side onboarding over HTTP, as with Meta
(reference §8): exchange the code, check the token with debug_token, read the number, subscribe the
app to the WABA, register the number with its PIN, then send.

The cast: the platform's registered app, and customers who sign up under each simulation.
"""

import time

import pytest
import requests

from cloudapi_emulator import clock

APP_ID = "5731794616896507"
APP_SECRET = "platform-app-secret"
SIXTY_DAYS = 60 * 24 * 3600


@pytest.fixture
def platform_app(emulator, webhook_receiver):
    return emulator.app_register(APP_ID, APP_SECRET, webhook_receiver.url, verify_token="verify-me")


@pytest.fixture(autouse=True)
def _real_clock():
    yield
    clock.reset()


class Platform:
    """The platform's server side, speaking HTTP to the emulator's Graph API."""

    def __init__(self, graph_url: str):
        self.graph_url = graph_url
        self.token = ""

    def get(self, path: str, **params):
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return requests.get(f"{self.graph_url}/{path}", params=params, headers=headers, timeout=10)

    def post(self, path: str, body: dict | None = None):
        headers = {"Authorization": f"Bearer {self.token}"}
        return requests.post(f"{self.graph_url}/{path}", json=body or {}, headers=headers, timeout=10)

    def exchange(self, code: str):
        response = self.get("oauth/access_token", client_id=APP_ID, client_secret=APP_SECRET, code=code)
        self.token = response.json().get("access_token", "")
        return response

    def debug(self) -> dict:
        return self.get("debug_token", input_token=self.token, access_token=f"{APP_ID}|{APP_SECRET}").json()["data"]

    def register(self, phone_number_id: str, pin: str):
        return self.post(f"{phone_number_id}/register", {"messaging_product": "whatsapp", "pin": pin})

    def send_text(self, phone_number_id: str, body: str = "Welcome!"):
        return self.post(
            f"{phone_number_id}/messages",
            {"messaging_product": "whatsapp", "to": "+16505551234", "type": "text", "text": {"body": body}},
        )


@pytest.fixture
def platform(emulator, platform_app) -> Platform:
    return Platform(emulator.versioned_graph_url)


def test_the_code_exchanges_for_a_business_token_that_lasts_sixty_days(emulator, platform):
    code, _, _ = emulator.signup(app_id=APP_ID)
    before = int(time.time())

    answer = platform.exchange(code).json()
    data = platform.debug()

    assert answer["token_type"] == "bearer"
    assert answer["expires_in"] == SIXTY_DAYS
    assert data["is_valid"] is True
    assert data["app_id"] == APP_ID
    assert before + SIXTY_DAYS - 5 <= data["expires_at"] <= int(time.time()) + SIXTY_DAYS + 5


def test_debug_token_shows_both_whatsapp_scopes_targeting_the_new_waba(emulator, platform):
    code, waba_id, _ = emulator.signup(app_id=APP_ID)
    platform.exchange(code)

    data = platform.debug()

    assert sorted(data["scopes"]) == ["whatsapp_business_management", "whatsapp_business_messaging"]
    assert {s["scope"]: s["target_ids"] for s in data["granular_scopes"]} == {
        "whatsapp_business_management": [waba_id],
        "whatsapp_business_messaging": [waba_id],
    }


def test_a_grant_without_messaging_shows_in_debug_token_and_sending_is_refused(emulator, platform):
    code, waba_id, phone_number_id = emulator.signup(app_id=APP_ID, simulate="NO_MESSAGING_SCOPE")
    platform.exchange(code)
    platform.register(phone_number_id, "654321")

    data = platform.debug()
    sent = platform.send_text(phone_number_id)

    assert data["scopes"] == ["whatsapp_business_management"]
    assert sent.status_code == 403
    assert sent.json()["error"]["code"] == 10


def test_a_grant_without_this_waba_shows_in_debug_token_and_the_waba_is_out_of_reach(emulator, platform):
    code, waba_id, _ = emulator.signup(app_id=APP_ID, simulate="WABA_NOT_IN_TARGETS")
    platform.exchange(code)

    management = next(s for s in platform.debug()["granular_scopes"] if s["scope"] == "whatsapp_business_management")
    subscribed = platform.post(f"{waba_id}/subscribed_apps")

    assert waba_id not in management["target_ids"]
    assert subscribed.json()["error"]["code"] == 100


def test_the_new_number_reads_as_verified_pending_and_unregistered(emulator, platform):
    code, waba_id, phone_number_id = emulator.signup(
        app_id=APP_ID, display_phone_number="+1 555 018 2020", verified_name="Lucky Shrub"
    )
    platform.exchange(code)

    number = platform.get(
        phone_number_id, fields="display_phone_number,verified_name,status,name_status,code_verification_status"
    ).json()
    listed = platform.get(f"{waba_id}/phone_numbers").json()["data"]

    assert number == {
        "display_phone_number": "+1 555 018 2020",
        "verified_name": "Lucky Shrub",
        "status": "PENDING",
        "name_status": "APPROVED",
        "code_verification_status": "VERIFIED",
        "id": phone_number_id,
    }
    assert [n["id"] for n in listed] == [phone_number_id]


def test_a_name_under_review_reads_as_pending_review(emulator, platform):
    code, _, phone_number_id = emulator.signup(app_id=APP_ID, simulate="NAME_PENDING_REVIEW")
    platform.exchange(code)

    number = platform.get(phone_number_id, fields="verified_name,name_status,new_name_status").json()

    assert number["name_status"] == "PENDING_REVIEW"
    assert number["new_name_status"] == "NONE"


def test_the_waba_reads_with_the_business_name(emulator, platform):
    code, waba_id, _ = emulator.signup(app_id=APP_ID, business_name="Lucky Shrub Ltd")
    platform.exchange(code)

    assert platform.get(waba_id, fields="name").json() == {"id": waba_id, "name": "Lucky Shrub Ltd"}


def test_sending_before_register_is_133010(emulator, platform):
    code, _, phone_number_id = emulator.signup(app_id=APP_ID)
    platform.exchange(code)

    sent = platform.send_text(phone_number_id)

    assert sent.json()["error"]["code"] == 133010


def test_the_full_onboarding_ends_with_a_connected_number_that_sends_and_hears(emulator, platform, webhook_receiver):
    code, waba_id, phone_number_id = emulator.signup(app_id=APP_ID)
    platform.exchange(code)

    subscribed = platform.post(f"{waba_id}/subscribed_apps")
    registered = platform.register(phone_number_id, "246810")
    status = platform.get(phone_number_id, fields="status").json()["status"]
    sent = platform.send_text(phone_number_id)

    assert subscribed.json() == {"success": True}
    assert registered.json() == {"success": True}
    assert status == "CONNECTED"
    assert sent.status_code == 200, sent.content
    emulator.drain()
    assert any(payload["entry"][0]["id"] == waba_id for payload in webhook_receiver.payloads())


def test_a_number_with_two_step_verification_needs_its_pin_to_register(emulator, platform):
    code, waba_id, phone_number_id = emulator.signup(app_id=APP_ID, simulate="TWO_STEP_PIN_SET")
    platform.exchange(code)
    platform.post(f"{waba_id}/subscribed_apps")

    wrong = platform.register(phone_number_id, "000000")
    still = platform.get(phone_number_id, fields="status").json()["status"]
    right = platform.register(phone_number_id, "123456")
    after = platform.get(phone_number_id, fields="status").json()["status"]

    assert wrong.json()["error"]["code"] == 133005
    assert still == "PENDING"
    assert right.json() == {"success": True}
    assert after == "CONNECTED"


def test_a_coexistence_number_is_found_through_the_waba_and_is_already_connected(emulator, platform):
    code, waba_id, _ = emulator.signup(app_id=APP_ID, simulate="FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING")
    platform.exchange(code)

    [number] = platform.get(f"{waba_id}/phone_numbers", fields="status").json()["data"]

    assert number["status"] == "CONNECTED"


def test_a_waba_shared_alone_lists_no_numbers(emulator, platform):
    code, waba_id, _ = emulator.signup(app_id=APP_ID, simulate="FINISH_ONLY_WABA")
    platform.exchange(code)

    assert platform.get(f"{waba_id}/phone_numbers").json()["data"] == []


def test_the_business_token_expires_after_sixty_days(emulator, platform):
    code, _, phone_number_id = emulator.signup(app_id=APP_ID)
    platform.exchange(code)

    emulator.advance_clock(SIXTY_DAYS + 1)

    assert platform.get(phone_number_id).json()["error"]["code"] == 190
    assert platform.debug()["is_valid"] is False
