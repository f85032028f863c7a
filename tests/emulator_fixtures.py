"""Pytest fixtures for the WhatsApp Cloud API emulator (registered from tests/conftest.py).

`emulator` (function scope) runs the emulator on pytest-django's `live_server` (so the test uses
the transactional database), points `settings.WHATSAPP_EMULATOR_GRAPH_URL` and
`settings.GRAPH_API_BASE_URL` at `<live server>/emulator/graph`, shrinks the status, review and
retry delays to milliseconds, and at teardown drains briefly, stops the webhook dispatcher and
clears faults, limits and the clock. It returns an `EmulatorHandle`:

    handle.url                  live server base URL, e.g. "http://localhost:51234"
    handle.graph_url            "<url>/emulator/graph" (append "/v25.0/…")
    handle.versioned_graph_url  "<graph_url>/<settings.GRAPH_API_VERSION>"
    handle.provision(webhook_url, app_secret="…", access_token="…", **kw) -> PhoneNumber
        kw: display_phone_number (default "+1 555 010 0001"; provisioning is idempotent by it, so
        pass another one for a second number), verified_name, phone_number_id, waba_id, app_id
        (the number has .phone_number_id, .waba_id, .display_phone_number, .access_token)
    handle.customer(number, name="…", phone=None, bsuid=None, username=None) -> Customer
        (phone defaults to 16505551234 unless a bsuid or username is given: username-only customers)
    handle.customer_says(number, customer, message_type, content, context_wamid=None) -> wamid
    handle.business_messages(number, customer) -> messages the business sent, with .status_events
    handle.requests_received(phone_number_id) -> list of accepted /messages bodies (dicts)
    handle.template(number, name, language="en_US", category="UTILITY", components=None,
                    parameter_format="positional", status="APPROVED") -> an approved template
    handle.fault(**kw)          services.fault_add (error_code, http_status, timeout_seconds,
                                accepted_despite_timeout, latency_ms, endpoint, count, details)
    handle.throughput_limit(number, mps) / handle.pair_rate_limit(number, per_seconds)
    handle.webhook_mode(number, duplicate=, out_of_order=, skip_delivered=, batch=, fail_code=, played=)
    handle.revoke_token(token) / handle.expire_media_urls() / handle.advance_clock(seconds)
    handle.oauth_code(app_id=, app_secret=, access_token=, waba_id=, scopes=None, expires_in=30) -> code
    handle.app_register(app_id, app_secret, callback_url, verify_token="") -> App
        (a Meta app with its dashboard callback URL: the webhooks of WABAs it subscribes to go there)
    handle.signup(app_id=, simulate="FINISH", display_phone_number=None, **kw) -> (code, waba_id, phone_number_id)
        (the stand-in Embedded Signup finished without a browser; kw: business_name, verified_name.
        phone_number_id is None for FINISH_ONLY_WABA; all three are None for USER_REPORTED_ERROR)
    handle.drain(timeout=10)    wait until every queued webhook was delivered (or given up)
    handle.deliveries(number=None) -> outbox rows, oldest first

`webhook_receiver` is a loopback HTTP server (`.url`) that records every POST (raw bytes and
headers) in `.attempts`, the ones it acknowledged in `.received`, and answers with the statuses
queued in `.responses` (200 once they run out), after `.delay_seconds`. `.statuses()` flattens
the `statuses[]` received.
"""

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.conf import settings

TEST_STATUS_DELAYS = {"sent": 0.01, "delivered": 0.03, "read": 0.05, "played": 0.07}


def _phone_number_id(number: Any) -> str:
    return number if isinstance(number, str) else number.phone_number_id


@dataclass
class EmulatorHandle:
    url: str
    graph_url: str

    @property
    def versioned_graph_url(self) -> str:
        return f"{self.graph_url}/{settings.GRAPH_API_VERSION}"

    def provision(
        self,
        webhook_url: str,
        app_secret: str = "emulator-test-app-secret",
        access_token: str = "emulator-test-access-token",
        **kw: Any,
    ):
        from cloudapi_emulator.services import sandbox_number_provision

        kw.setdefault("display_phone_number", "+1 555 010 0001")
        kw.setdefault("verified_name", "Emulated Shop")
        return sandbox_number_provision(webhook_url=webhook_url, app_secret=app_secret, access_token=access_token, **kw)

    def customer(self, number, name: str = "Sheena Nelson", phone: str | None = None, **kw: Any):
        from cloudapi_emulator.services import customer_get_or_create

        if phone is None and not kw.get("bsuid") and not kw.get("username"):
            phone = "16505551234"
        return customer_get_or_create(number=number, name=name, phone=phone, **kw)

    def customer_says(self, number, customer, message_type: str, content: Any, context_wamid: str | None = None):
        from cloudapi_emulator.services import customer_message_send

        return customer_message_send(
            number=number, customer=customer, message_type=message_type, content=content, context_wamid=context_wamid
        )

    def business_messages(self, number, customer) -> list:
        from cloudapi_emulator.services import business_messages_for

        return list(business_messages_for(number=number, customer=customer))

    def requests_received(self, phone_number_id) -> list[dict]:
        from cloudapi_emulator.services import requests_received

        return requests_received(_phone_number_id(phone_number_id))

    def template(self, number, name: str, **kw: Any):
        from cloudapi_emulator.services import template_add

        return template_add(waba_id=number.waba_id, name=name, **kw)

    def fault(self, **kw: Any):
        from cloudapi_emulator.services import fault_add

        if "number" in kw:
            kw["phone_number_id"] = _phone_number_id(kw.pop("number"))
        return fault_add(**kw)

    def throughput_limit(self, number, mps: int | None) -> None:
        from cloudapi_emulator.services import throughput_limit_set

        throughput_limit_set(_phone_number_id(number), mps)

    def pair_rate_limit(self, number, per_seconds: float | None) -> None:
        from cloudapi_emulator.services import pair_rate_limit_set

        pair_rate_limit_set(_phone_number_id(number), per_seconds)

    def webhook_mode(self, number, **kw: Any):
        from cloudapi_emulator.services import webhook_mode_set

        return webhook_mode_set(number, **kw)

    def revoke_token(self, token: str) -> None:
        from cloudapi_emulator.services import token_revoke

        token_revoke(token)

    def expire_media_urls(self) -> int:
        from cloudapi_emulator.services import media_urls_expire

        return media_urls_expire()

    def advance_clock(self, seconds: float) -> None:
        from cloudapi_emulator.services import clock_advance

        clock_advance(seconds)

    def oauth_code(self, **kw: Any) -> str:
        from cloudapi_emulator.services import oauth_code_issue

        return oauth_code_issue(**kw)

    def app_register(self, app_id: str, app_secret: str, callback_url: str, verify_token: str = ""):
        from cloudapi_emulator.services import app_register

        return app_register(app_id=app_id, app_secret=app_secret, callback_url=callback_url, verify_token=verify_token)

    def signup(
        self, *, app_id: str, simulate: str = "FINISH", display_phone_number: str | None = None, **kw: Any
    ) -> tuple[str | None, str | None, str | None]:
        from cloudapi_emulator.services import signup_finish

        result = signup_finish(app_id=app_id, simulate=simulate, display_phone_number=display_phone_number, **kw)
        return result.code, result.waba_id, result.phone_number_id

    def drain(self, timeout: float = 10) -> None:
        from cloudapi_emulator.services import deliveries_drain

        deliveries_drain(timeout)

    def deliveries(self, number=None) -> list:
        from cloudapi_emulator.models import WebhookDelivery

        rows = WebhookDelivery.objects.filter(kind=WebhookDelivery.Kind.WEBHOOK).order_by("id")
        if number is not None:
            rows = rows.filter(number=number)
        return list(rows)


@pytest.fixture
def emulator(live_server, settings):
    from cloudapi_emulator.services import deliveries_drain, dispatcher_stop, faults_clear

    graph_url = live_server.url + "/emulator/graph"
    settings.WHATSAPP_EMULATOR_GRAPH_URL = graph_url
    settings.GRAPH_API_BASE_URL = graph_url
    settings.WHATSAPP_EMULATOR_STATUS_DELAYS = TEST_STATUS_DELAYS
    settings.WHATSAPP_EMULATOR_TEMPLATE_REVIEW_SECONDS = 0.05
    settings.WHATSAPP_EMULATOR_WEBHOOK_RETRY_BASE_SECONDS = 0.05
    settings.WHATSAPP_EMULATOR_WEBHOOK_TIMEOUT_SECONDS = 5
    handle = EmulatorHandle(url=live_server.url, graph_url=graph_url)
    try:
        yield handle
    finally:
        try:
            deliveries_drain(timeout=1)
        except TimeoutError:
            pass  # a test that left a failing receiver behind; its retries do not matter any more
        dispatcher_stop()
        faults_clear()


@dataclass
class ReceivedWebhook:
    body: bytes
    headers: dict[str, str]
    path: str

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """Records POSTs; answers with queued statuses (then 200)."""

    url: str = ""
    received: list[ReceivedWebhook] = field(default_factory=list)  # the POSTs answered 200
    attempts: list[ReceivedWebhook] = field(default_factory=list)  # every POST, whatever the answer
    responses: list[int] = field(default_factory=list)
    delay_seconds: float = 0.0  # how long the "platform" takes to answer
    lock: threading.Lock = field(default_factory=threading.Lock)

    def payloads(self) -> list[Any]:
        with self.lock:
            return [r.json() for r in self.received]

    def statuses(self) -> list[dict]:
        """Every `statuses[]` object received, in arrival order."""
        found = []
        for payload in self.payloads():
            for entry in payload.get("entry", []):
                for change in entry.get("changes", []):
                    found.extend(change.get("value", {}).get("statuses", []))
        return found


@pytest.fixture
def webhook_receiver():
    receiver = WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if receiver.delay_seconds:
                time.sleep(receiver.delay_seconds)
            hook = ReceivedWebhook(body=body, headers=dict(self.headers), path=self.path)
            with receiver.lock:
                status = receiver.responses.pop(0) if receiver.responses else 200
                receiver.attempts.append(hook)
                if status == 200:
                    receiver.received.append(hook)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/webhooks/whatsapp/test/"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
