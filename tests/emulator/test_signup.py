"""The stand-in Embedded Signup popup at /emulator/signup/: the consent page, and what the page that
answers its form hands to static/cloudapi_emulator/signup.js to post to the opener.

The cast: the platform's registered Meta app, a tester filling the popup, and the platform page
at ORIGIN that opened it.
"""

import json
import re
from html.parser import HTMLParser

import pytest
from django.test import Client

from cloudapi_emulator import services
from cloudapi_emulator.models import OAuthCode, PhoneNumber, Signup
from cloudapi_emulator.services.signup import CANCEL_STEPS, SIMULATIONS

APP_ID = "5731794616896507"
APP_SECRET = "platform-app-secret"
ORIGIN = "http://localhost:8000"


@pytest.fixture
def platform_app(db):
    app = services.app_register(app_id=APP_ID, app_secret=APP_SECRET, callback_url="https://platform.example/wh/")
    app.name = "Lucky Agents"
    app.save()
    return app


class _Elements(HTMLParser):
    """Every start tag's attributes by id, and form inputs by name (values unescaped, as a browser reads them)."""

    def __init__(self):
        super().__init__()
        self.by_id: dict[str, dict[str, str]] = {}
        self.inputs: dict[str, dict[str, str]] = {}
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        self.tags.append((tag, attributes))
        if "id" in attributes:
            self.by_id[attributes["id"]] = attributes
        if tag in {"input", "select"} and "name" in attributes and attributes.get("type") != "radio":
            self.inputs[attributes["name"]] = attributes


def elements(response) -> _Elements:
    parser = _Elements()
    parser.feed(response.content.decode())
    return parser


def open_popup(client, app_id: str = APP_ID, origin: str = ORIGIN, config_id: str = "1234567890"):
    return client.get("/emulator/signup/", {"app_id": app_id, "config_id": config_id, "origin": origin})


def submit(client, simulate: str = "FINISH", display: str = "+1 555 019 0001", **extra):
    form = {
        "app_id": APP_ID,
        "config_id": "1234567890",
        "origin": ORIGIN,
        "business_name": "Lucky Shrub",
        "display_phone_number": display,
        "verified_name": "Lucky Shrub",
        "simulate": simulate,
        "current_step": "PHONE_NUMBER_SETUP",
        "action": "continue",
        **extra,
    }
    return client.post("/emulator/signup/", form)


def posted(response) -> tuple[str, dict, dict, str]:
    """What signup.js posts: the session-info string, it parsed, the FB.login stand-in, and the target origin."""
    result = elements(response).by_id["signup-result"]
    return (
        result["data-session-info"],
        json.loads(result["data-session-info"]),
        json.loads(result["data-login"]),
        result["data-origin"],
    )


def test_the_popup_asks_to_connect_the_business_to_the_app(client, platform_app):
    response = open_popup(client)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Connect your WhatsApp Business Account to Lucky Agents" in page
    found = elements(response)
    assert re.fullmatch(r"\+1 555 01\d \d{4}", found.inputs["display_phone_number"]["value"])
    assert found.inputs["business_name"]["value"] and found.inputs["verified_name"]["value"]
    assert found.inputs["origin"]["value"] == ORIGIN
    assert found.inputs["csrfmiddlewaretoken"]["value"]
    radios = {attrs["value"] for tag, attrs in found.tags if attrs.get("name") == "simulate"}
    assert radios == set(SIMULATIONS)
    steps = re.findall(r'<option value="([A-Z_]+)"', page)
    assert steps == list(CANCEL_STEPS)
    buttons = {attrs["value"] for tag, attrs in found.tags if tag == "button"}
    assert buttons == {"continue", "cancel"}


def test_the_popup_runs_only_its_own_static_script_and_keeps_its_opener(client, platform_app):
    response = open_popup(client)

    scripts = [attrs for tag, attrs in elements(response).tags if tag == "script"]
    assert scripts == [{"src": "/static/cloudapi_emulator/signup.js"}]
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert response["Cross-Origin-Opener-Policy"] == "unsafe-none"


def test_two_popups_suggest_different_unused_numbers(client, platform_app):
    first = elements(open_popup(client)).inputs["display_phone_number"]["value"]
    submit(client, display=first)

    second = elements(open_popup(client)).inputs["display_phone_number"]["value"]

    assert second != first


def test_an_unregistered_app_gets_a_page_saying_so(client, db):
    response = open_popup(client, app_id="999")

    assert response.status_code == 404
    assert "App 999 is not registered with the emulator" in response.content.decode()


@pytest.mark.parametrize(
    "origin",
    ["", "*", "null", "javascript:alert(1)", "ftp://platform.test", "https://platform.test/path", "https://a b.test"],
)
def test_an_origin_that_is_not_scheme_host_port_is_refused(client, platform_app, origin):
    assert open_popup(client, origin=origin).status_code == 400


@pytest.mark.parametrize("origin", ["http://localhost:8000", "https://platform.example", "http://127.0.0.1:51234"])
def test_an_http_origin_with_or_without_a_port_is_accepted(client, platform_app, origin):
    assert open_popup(client, origin=origin).status_code == 200


def test_the_form_is_csrf_protected(platform_app):
    strict = Client(enforce_csrf_checks=True)

    response = submit(strict)

    assert response.status_code == 403
    assert not Signup.objects.exists()


def test_the_form_posts_with_the_token_the_page_carries(platform_app):
    strict = Client(enforce_csrf_checks=True)
    token = elements(open_popup(strict)).inputs["csrfmiddlewaretoken"]["value"]

    response = submit(strict, csrfmiddlewaretoken=token)

    assert response.status_code == 200


def test_finishing_posts_finish_with_the_ids_then_the_code(client, platform_app):
    response = submit(client)

    raw, session_info, login, origin = posted(response)
    number = PhoneNumber.objects.get(display_phone_number="+1 555 019 0001")
    signup = Signup.objects.get()
    assert origin == ORIGIN
    assert raw == json.dumps(session_info, separators=(",", ":"))  # a string, as JSON.stringify makes it
    assert session_info == {
        "type": "WA_EMBEDDED_SIGNUP",
        "event": "FINISH",
        "data": {
            "phone_number_id": number.phone_number_id,
            "waba_id": number.waba_id,
            "business_id": signup.business_id,
        },
    }
    assert login == {"type": "EMULATOR_FB_LOGIN", "authResponse": {"code": OAuthCode.objects.get().code}}
    assert response["Cache-Control"] == "no-store"


def test_the_finished_number_is_verified_but_not_yet_registered(client, platform_app):
    submit(client)

    number = PhoneNumber.objects.get(display_phone_number="+1 555 019 0001")
    assert number.registered_at is None
    assert (number.status, number.code_verification_status, number.name_status) == ("PENDING", "VERIFIED", "APPROVED")
    assert number.verified_name == "Lucky Shrub"
    assert number.app.app_id == APP_ID


def test_sharing_only_the_waba_posts_its_id_alone_and_creates_no_number(client, platform_app):
    _, session_info, login, _ = posted(submit(client, "FINISH_ONLY_WABA"))

    assert session_info == {
        "type": "WA_EMBEDDED_SIGNUP",
        "event": "FINISH_ONLY_WABA",
        "data": {"waba_id": Signup.objects.get().waba_id},
    }
    assert login["authResponse"]["code"]
    assert not PhoneNumber.objects.exists()


def test_coexistence_posts_only_the_waba_and_the_number_is_already_connected(client, platform_app):
    _, session_info, login, _ = posted(submit(client, "FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING"))

    number = PhoneNumber.objects.get()
    assert session_info == {
        "type": "WA_EMBEDDED_SIGNUP",
        "event": "FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING",
        "data": {"waba_id": number.waba_id},
    }
    assert login["authResponse"]["code"]
    assert number.status == "CONNECTED"
    assert number.registered_at is not None


@pytest.mark.parametrize(
    "simulate, scopes, targets_this_waba",
    [
        ("NO_MESSAGING_SCOPE", ["whatsapp_business_management"], True),
        ("WABA_NOT_IN_TARGETS", ["whatsapp_business_management", "whatsapp_business_messaging"], False),
    ],
)
def test_a_narrower_grant_still_finishes_but_its_code_carries_less(
    client, platform_app, simulate, scopes, targets_this_waba
):
    _, session_info, login, _ = posted(submit(client, simulate))

    code = OAuthCode.objects.get(code=login["authResponse"]["code"])
    assert session_info["event"] == "FINISH"
    assert code.scopes == scopes
    assert (session_info["data"]["waba_id"] in code.target_ids) is targets_this_waba


def test_a_number_with_two_step_verification_keeps_pin_123456(client, platform_app):
    _, session_info, _, _ = posted(submit(client, "TWO_STEP_PIN_SET"))

    assert session_info["event"] == "FINISH"
    assert PhoneNumber.objects.get().two_step_pin == "123456"


def test_a_display_name_under_review_is_pending_review(client, platform_app):
    _, session_info, _, _ = posted(submit(client, "NAME_PENDING_REVIEW"))

    assert session_info["event"] == "FINISH"
    assert PhoneNumber.objects.get().name_status == "PENDING_REVIEW"


def test_a_user_reported_error_posts_cancel_with_the_error_and_no_code(client, platform_app):
    _, session_info, login, _ = posted(submit(client, "USER_REPORTED_ERROR"))

    assert session_info["type"] == "WA_EMBEDDED_SIGNUP"
    assert session_info["event"] == "CANCEL"
    assert set(session_info["data"]) == {"error_message", "error_code", "session_id", "timestamp"}
    assert session_info["data"]["error_message"]
    assert login == {"type": "EMULATOR_FB_LOGIN", "authResponse": None}
    assert not Signup.objects.exists() and not OAuthCode.objects.exists()


@pytest.mark.parametrize("step", CANCEL_STEPS)
def test_cancel_posts_the_step_the_tester_chose_and_no_code(client, platform_app, step):
    # Cancel ignores the rest of the form, even a half-typed number.
    _, session_info, login, origin = posted(submit(client, action="cancel", current_step=step, display_phone_number=""))

    assert session_info == {"type": "WA_EMBEDDED_SIGNUP", "event": "CANCEL", "data": {"current_step": step}}
    assert login == {"type": "EMULATOR_FB_LOGIN", "authResponse": None}
    assert origin == ORIGIN
    assert not Signup.objects.exists()


def test_signing_up_the_same_number_again_reuses_its_waba_and_number_with_a_new_code(client, platform_app):
    _, first, first_login, _ = posted(submit(client))
    _, again, again_login, _ = posted(submit(client, "NAME_PENDING_REVIEW"))

    assert again["data"] == first["data"]
    assert again_login["authResponse"]["code"] != first_login["authResponse"]["code"]
    assert PhoneNumber.objects.count() == 1
    assert PhoneNumber.objects.get().name_status == "PENDING_REVIEW"


def test_a_number_another_emulated_number_uses_is_refused_on_the_form(client, platform_app):
    services.sandbox_number_provision(
        display_phone_number="+1 555 019 0001",
        verified_name="Sandbox",
        access_token="t",
        app_secret="s",
        webhook_url="",
    )

    response = submit(client, display="+15550190001")

    assert response.status_code == 400
    assert "already in use" in response.content.decode()
    assert "signup-result" not in response.content.decode()


@pytest.mark.parametrize("display", ["12", "call me", "+1 555 019 0001 0001 0001"])
def test_a_malformed_number_is_refused_on_the_form(client, platform_app, display):
    response = submit(client, display=display)

    assert response.status_code == 400
    assert "international format" in response.content.decode()


def test_the_handle_signs_up_without_a_browser(emulator, platform_app):
    code, waba_id, phone_number_id = emulator.signup(app_id=APP_ID, display_phone_number="+1 555 019 0002")

    assert OAuthCode.objects.get(code=code).waba_id == waba_id
    assert PhoneNumber.objects.get(phone_number_id=phone_number_id).waba_id == waba_id


def test_the_handle_returns_no_number_when_only_the_waba_is_shared(emulator, platform_app):
    code, waba_id, phone_number_id = emulator.signup(app_id=APP_ID, simulate="FINISH_ONLY_WABA")

    assert code and waba_id
    assert phone_number_id is None
