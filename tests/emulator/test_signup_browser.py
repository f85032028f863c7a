"""The stand-in Embedded Signup popup in a real browser: a platform page on another origin opens it
with window.open and hears the same `message` events it would hear from Meta's popup.

The opener is a loopback page on 127.0.0.1 that records every message it receives; the
emulator runs on the live server at localhost, so the two are different origins.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

import pytest

from cloudapi_emulator.models import OAuthCode, PhoneNumber

pytestmark = pytest.mark.browser

APP_ID = "5731794616896507"
OPENER_PAGE = """<!doctype html><html><body>
<button id="login">Login with Facebook</button>
<script>
window.received = [];
window.addEventListener("message", function (event) {
  window.received.push({origin: event.origin, data: event.data});
});
document.getElementById("login").addEventListener("click", function () {
  window.open(SIGNUP_URL + "&origin=" + encodeURIComponent(window.location.origin), "signup", "width=600,height=800");
});
</script></body></html>"""


@pytest.fixture
def opener_url(emulator):
    """The platform's channel page stand-in, on 127.0.0.1 (the emulator is on localhost)."""
    emulator.app_register(APP_ID, "platform-app-secret", "http://127.0.0.1:9/webhooks/whatsapp/")
    signup_url = f"{emulator.url}/emulator/signup/?" + urlencode({"app_id": APP_ID, "config_id": "987654321"})
    page = OPENER_PAGE.replace("SIGNUP_URL", json.dumps(signup_url)).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/channels/setup/"
    finally:
        server.shutdown()
        server.server_close()


def run_popup(browser, opener_url: str, act) -> tuple[list[dict], list[str]]:
    """Open the popup from the opener, let `act(popup)` answer it, and return what the opener heard."""
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(opener_url)
    with page.expect_popup() as popup_info:
        page.click("#login")
    popup = popup_info.value
    popup.on("pageerror", lambda exc: errors.append(str(exc)))
    popup.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    popup.on("response", lambda r: errors.append(r.url) if r.status >= 400 else None)
    popup.wait_for_selector("#signup-form", state="attached")
    act(popup)
    page.wait_for_function("window.received.length >= 2", timeout=10_000)
    return page.evaluate("window.received"), errors


def test_continue_posts_the_finish_string_then_the_code_object_and_closes(browser, opener_url, emulator):
    closed = []

    def finish(popup):
        popup.on("close", lambda _: closed.append(True))
        popup.fill("#id_display_phone_number", "+1 555 016 1234")
        popup.click("button[value=continue]")

    received, errors = run_popup(browser, opener_url, finish)

    number = PhoneNumber.objects.get(display_phone_number="+1 555 016 1234")
    assert errors == []
    assert [m["origin"] for m in received] == [emulator.url, emulator.url]
    assert isinstance(received[0]["data"], str)
    assert json.loads(received[0]["data"]) == {
        "type": "WA_EMBEDDED_SIGNUP",
        "event": "FINISH",
        "data": {
            "phone_number_id": number.phone_number_id,
            "waba_id": number.waba_id,
            "business_id": json.loads(received[0]["data"])["data"]["business_id"],
        },
    }
    assert received[1]["data"] == {"type": "EMULATOR_FB_LOGIN", "authResponse": {"code": OAuthCode.objects.get().code}}
    assert closed == [True]


def test_cancel_posts_the_chosen_step_and_no_code(browser, opener_url):
    def cancel(popup):
        popup.select_option("#id_current_step", "WABA_CREATION")
        popup.click("button[value=cancel]")

    received, errors = run_popup(browser, opener_url, cancel)

    assert errors == []
    assert json.loads(received[0]["data"]) == {
        "type": "WA_EMBEDDED_SIGNUP",
        "event": "CANCEL",
        "data": {"current_step": "WABA_CREATION"},
    }
    assert received[1]["data"] == {"type": "EMULATOR_FB_LOGIN", "authResponse": None}


def test_closing_the_popup_unanswered_tells_the_opener_there_is_no_login(browser, opener_url):
    page = browser.new_page()
    page.goto(opener_url)
    with page.expect_popup() as popup_info:
        page.click("#login")
    popup = popup_info.value
    popup.wait_for_selector("#signup-form", state="attached")

    popup.close(run_before_unload=True)  # the tester closes the window

    page.wait_for_function("window.received.length >= 1", timeout=10_000)
    assert page.evaluate("window.received.map(m => m.data)") == [{"type": "EMULATOR_FB_LOGIN", "authResponse": None}]
