"""The Graph client against a loopback HTTP server standing in for graph.facebook.com."""

import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from channels_app.whatsapp.client import GraphClient, graph_client_for, wamid_from_response
from channels_app.whatsapp.errors import (
    AUTH,
    PAIR_RATE_LIMIT,
    PERMANENT,
    RETRYABLE,
    GraphError,
    GraphOutcomeUnknown,
    GraphUnavailable,
    MediaTooLarge,
    MediaUrlExpired,
)
from channels_app.whatsapp.payloads import PayloadInvalid, message_payload, text_content

TOKEN = "EAAtest-token-never-logged"
PHONE_NUMBER_ID = "106540352242922"
WABA_ID = "524126980791429"

DROP = "drop"  # close the connection after reading the request, without answering


class Recorded:
    def __init__(self, method, path, query, headers, body):
        self.method, self.path, self.query, self.headers, self.body = method, path, query, headers, body

    def json(self):
        return json.loads(self.body)


class FakeGraph:
    """Answers each (method, path) from a script: (status, body[, headers]), DROP, or a function of the request."""

    def __init__(self):
        self.requests: list[Recorded] = []
        self.routes: dict[tuple[str, str], list] = {}
        self.delay = 0.0
        graph = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def handle_one(self, method):
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Recorded(method, parts.path, parse_qs(parts.query), dict(self.headers), body)
                graph.requests.append(request)
                script = graph.routes.get((method, parts.path)) or [
                    (404, {"error": {"message": "no route", "code": 803}})
                ]
                answer = script.pop(0) if len(script) > 1 else script[0]
                if callable(answer):
                    answer = answer(request)
                if graph.delay:
                    time.sleep(graph.delay)
                if answer == DROP:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                status, payload, *rest = answer
                headers = rest[0] if rest else {}
                raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    if "Content-Type" not in headers:
                        self.send_header("Content-Type", "application/json")
                    if "Content-Length" not in headers and not headers.get("omit-length"):
                        self.send_header("Content-Length", str(len(raw)))
                    for name, value in headers.items():
                        if name != "omit-length":
                            self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(raw)
                except OSError:
                    pass  # the client gave up waiting

            def do_GET(self):
                self.handle_one("GET")

            def do_POST(self):
                self.handle_one("POST")

            def do_DELETE(self):
                self.handle_one("DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def on(self, method, path, *answers):
        self.routes[(method, path)] = list(answers)

    def client(self, **kw) -> GraphClient:
        kw.setdefault("read_timeout", 2.0)
        kw.setdefault("retry_base", 0.001)
        return GraphClient(base_url=self.url, version="v25.0", access_token=TOKEN, **kw)


@pytest.fixture
def graph():
    fake = FakeGraph()
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def a_text_payload():
    return message_payload(message_type="text", content=text_content("Hello"), to="+16505551234")


SENT = {
    "messaging_product": "whatsapp",
    "contacts": [{"input": "+16505551234", "wa_id": "16505551234"}],
    "messages": [{"id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI"}],
}


# --- sending ---------------------------------------------------------------------------------


def test_a_send_posts_the_payload_with_the_bearer_token_and_returns_the_wamid(graph):
    graph.on("POST", f"/v25.0/{PHONE_NUMBER_ID}/messages", (200, SENT))
    resp = graph.client().message_send(PHONE_NUMBER_ID, a_text_payload())
    assert wamid_from_response(resp) == "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI"
    [request] = graph.requests
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.json() == a_text_payload()


def test_a_graph_error_envelope_is_raised_classified(graph):
    envelope = {
        "error": {
            "message": "(#131047) Re-engagement message",
            "type": "OAuthException",
            "code": 131047,
            "error_data": {
                "messaging_product": "whatsapp",
                "details": "Message failed to send because more than 24 hours have passed",
            },
            "fbtrace_id": "AbCdEf",
        }
    }
    graph.on("POST", f"/v25.0/{PHONE_NUMBER_ID}/messages", (400, envelope))
    with pytest.raises(GraphError) as caught:
        graph.client().message_send(PHONE_NUMBER_ID, a_text_payload())
    error = caught.value
    assert (error.http_status, error.code, error.kind, error.fbtrace_id) == (400, 131047, PERMANENT, "AbCdEf")
    assert "24 hours" in str(error)


@pytest.mark.parametrize("code, kind", [(131056, PAIR_RATE_LIMIT), (190, AUTH), (130429, RETRYABLE)])
def test_errors_are_classified_by_code(graph, code, kind):
    graph.on("POST", f"/v25.0/{PHONE_NUMBER_ID}/messages", (400, {"error": {"message": "x", "code": code}}))
    with pytest.raises(GraphError) as caught:
        graph.client().message_send(PHONE_NUMBER_ID, a_text_payload())
    assert caught.value.kind == kind


def test_a_5xx_html_page_is_retryable_and_a_post_is_not_retried_by_the_client(graph):
    graph.on(
        "POST", f"/v25.0/{PHONE_NUMBER_ID}/messages", (502, b"<html>Bad Gateway</html>", {"Content-Type": "text/html"})
    )
    with pytest.raises(GraphError) as caught:
        graph.client().message_send(PHONE_NUMBER_ID, a_text_payload())
    assert caught.value.kind == RETRYABLE
    assert caught.value.code is None
    assert len(graph.requests) == 1


def test_a_read_timeout_on_a_post_means_the_outcome_is_unknown(graph):
    graph.on("POST", f"/v25.0/{PHONE_NUMBER_ID}/messages", (200, SENT))
    graph.delay = 1.0
    with pytest.raises(GraphOutcomeUnknown):
        graph.client(read_timeout=0.2).message_send(PHONE_NUMBER_ID, a_text_payload())
    assert len(graph.requests) == 1


def test_a_connection_dropped_after_sending_means_the_outcome_is_unknown(graph):
    graph.on("POST", f"/v25.0/{PHONE_NUMBER_ID}/messages", DROP)
    with pytest.raises(GraphOutcomeUnknown):
        graph.client().message_send(PHONE_NUMBER_ID, a_text_payload())


def test_a_refused_connection_means_graph_is_unavailable_and_safe_to_retry():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = GraphClient(base_url=f"http://127.0.0.1:{port}", version="v25.0", access_token=TOKEN)
    with pytest.raises(GraphUnavailable) as caught:
        client.message_send(PHONE_NUMBER_ID, a_text_payload())
    assert caught.value.kind == RETRYABLE


def test_a_2xx_without_a_message_id_is_an_unknown_outcome(graph):
    graph.on("POST", f"/v25.0/{PHONE_NUMBER_ID}/messages", (200, {"messaging_product": "whatsapp"}))
    resp = graph.client().message_send(PHONE_NUMBER_ID, a_text_payload())
    with pytest.raises(GraphOutcomeUnknown):
        wamid_from_response(resp)


def test_a_2xx_that_is_not_json_on_a_post_is_an_unknown_outcome(graph):
    graph.on("POST", f"/v25.0/{PHONE_NUMBER_ID}/messages", (200, b"<html>ok</html>", {"Content-Type": "text/html"}))
    with pytest.raises(GraphOutcomeUnknown):
        graph.client().message_send(PHONE_NUMBER_ID, a_text_payload())


def test_failures_are_logged_without_the_token(graph, caplog):
    graph.on("POST", f"/v25.0/{PHONE_NUMBER_ID}/messages", (401, {"error": {"message": "bad token", "code": 190}}))
    with caplog.at_level(logging.INFO, logger="channels_app.whatsapp.client"), pytest.raises(GraphError):
        graph.client().message_send(PHONE_NUMBER_ID, a_text_payload())
    assert "code=190" in caplog.text
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(graph.client())


def test_mark_read_posts_the_read_receipt_with_typing(graph):
    graph.on("POST", f"/v25.0/{PHONE_NUMBER_ID}/messages", (200, {"success": True}))
    graph.client().message_mark_read(PHONE_NUMBER_ID, "wamid.in", typing=True)
    assert graph.requests[0].json() == {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": "wamid.in",
        "typing_indicator": {"type": "text"},
    }


# --- retries of idempotent calls ---------------------------------------------------------------


def test_a_get_is_retried_after_a_server_error(graph):
    graph.on(
        "GET",
        f"/v25.0/{PHONE_NUMBER_ID}",
        (503, b"<html>unavailable</html>", {"Content-Type": "text/html"}),
        (200, {"id": PHONE_NUMBER_ID, "quality_rating": "GREEN"}),
    )
    info = graph.client().phone_number_get(PHONE_NUMBER_ID, fields=["quality_rating", "status"])
    assert info["quality_rating"] == "GREEN"
    assert len(graph.requests) == 2
    assert graph.requests[0].query == {"fields": ["quality_rating,status"]}


def test_a_get_is_retried_after_a_read_timeout(graph):
    answers = iter([1.0, 0.0])

    def slow_then_fast(request):
        graph.delay = next(answers, 0.0)
        return (200, {"data": [{"name": "app"}]})

    graph.on("GET", f"/v25.0/{WABA_ID}/subscribed_apps", slow_then_fast)
    apps = graph.client(read_timeout=0.3).subscribed_apps_list(WABA_ID)
    assert apps == [{"name": "app"}]
    assert len(graph.requests) == 2


def test_a_get_gives_up_after_max_get_retries(graph):
    graph.on(
        "GET",
        f"/v25.0/{WABA_ID}/subscribed_apps",
        (500, {"error": {"message": "(#2) Service temporarily unavailable", "code": 2}}),
    )
    with pytest.raises(GraphError) as caught:
        graph.client(max_get_retries=2).subscribed_apps_list(WABA_ID)
    assert caught.value.code == 2
    assert len(graph.requests) == 3


def test_a_permanent_get_error_is_not_retried(graph):
    graph.on("GET", f"/v25.0/{WABA_ID}/subscribed_apps", (403, {"error": {"message": "denied", "code": 200}}))
    with pytest.raises(GraphError) as caught:
        graph.client().subscribed_apps_list(WABA_ID)
    assert caught.value.kind == AUTH
    assert len(graph.requests) == 1


# --- media -----------------------------------------------------------------------------------


def test_media_upload_sends_a_multipart_form_and_returns_the_id(graph):
    graph.on("POST", f"/v25.0/{PHONE_NUMBER_ID}/media", (200, {"id": "1037543291543636"}))
    media_id = graph.client().media_upload(
        PHONE_NUMBER_ID, content=b"%PDF-1.4 fake", mime_type="application/pdf", filename="receipt.pdf"
    )
    assert media_id == "1037543291543636"
    request = graph.requests[0]
    assert request.headers["Content-Type"].startswith("multipart/form-data")
    assert b'name="messaging_product"\r\n\r\nwhatsapp' in request.body
    assert b'name="type"\r\n\r\napplication/pdf' in request.body
    assert b'filename="receipt.pdf"' in request.body
    assert b"%PDF-1.4 fake" in request.body


def test_media_info_returns_the_file_size_as_an_int(graph):
    graph.on(
        "GET",
        "/v25.0/2621233374848975",
        (
            200,
            {
                "messaging_product": "whatsapp",
                "url": f"{graph.url}/media/abc",
                "mime_type": "image/jpeg",
                "sha256": "hash",
                "file_size": "303833",
                "id": "2621233374848975",
            },
        ),
    )
    info = graph.client().media_info("2621233374848975", phone_number_id=PHONE_NUMBER_ID)
    assert info["file_size"] == 303833
    assert graph.requests[0].query == {"phone_number_id": [PHONE_NUMBER_ID]}


def test_media_download_returns_the_bytes_and_content_type_with_the_token(graph):
    graph.on("GET", "/media/abc", (200, b"\xff\xd8jpeg-bytes", {"Content-Type": "image/jpeg"}))
    content, content_type = graph.client().media_download(f"{graph.url}/media/abc?mid=1", max_bytes=1000)
    assert (content, content_type) == (b"\xff\xd8jpeg-bytes", "image/jpeg")
    assert graph.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_an_expired_media_url_raises_media_url_expired_without_retrying(graph):
    graph.on("GET", "/media/old", (404, b"Not Found", {"Content-Type": "text/plain"}))
    with pytest.raises(MediaUrlExpired):
        graph.client().media_download(f"{graph.url}/media/old", max_bytes=1000)
    assert len(graph.requests) == 1


def test_a_download_over_the_limit_is_refused_by_its_declared_length(graph):
    graph.on("GET", "/media/big", (200, b"x" * 5000, {"Content-Type": "video/mp4"}))
    with pytest.raises(MediaTooLarge):
        graph.client().media_download(f"{graph.url}/media/big", max_bytes=4999)


def test_a_download_over_the_limit_is_refused_while_streaming_when_no_length_is_declared(graph):
    graph.on("GET", "/media/big", (200, b"x" * 200_000, {"Content-Type": "video/mp4", "omit-length": True}))
    with pytest.raises(MediaTooLarge):
        graph.client().media_download(f"{graph.url}/media/big", max_bytes=100_000)


def test_media_delete_sends_a_delete(graph):
    graph.on("DELETE", "/v25.0/1037543291543636", (200, {"success": True}))
    graph.client().media_delete("1037543291543636")
    assert graph.requests[0].method == "DELETE"


# --- templates -------------------------------------------------------------------------------


def test_templates_all_follows_the_after_cursor_across_three_pages(graph):
    pages = {
        None: ([{"name": "a"}, {"name": "b"}], "c1", True),
        "c1": ([{"name": "c"}], "c2", True),
        "c2": ([{"name": "d"}], "c3", False),  # last page: a cursor but no `next`
    }

    def page(request):
        after = request.query.get("after", [None])[0]
        data, cursor, has_next = pages[after]
        paging = {"cursors": {"before": "b", "after": cursor}}
        if has_next:
            paging["next"] = f"{graph.url}/v25.0/{WABA_ID}/message_templates?after={cursor}"
        return (200, {"data": data, "paging": paging})

    graph.on("GET", f"/v25.0/{WABA_ID}/message_templates", page)
    templates = graph.client().templates_all(WABA_ID)
    assert [t["name"] for t in templates] == ["a", "b", "c", "d"]
    assert [r.query.get("after") for r in graph.requests] == [None, ["c1"], ["c2"]]


def test_template_create_checks_the_name_before_calling_graph(graph):
    with pytest.raises(PayloadInvalid):
        graph.client().template_create(WABA_ID, {"name": "Order Update", "language": "en_US", "category": "utility"})
    assert graph.requests == []
    graph.on(
        "POST", f"/v25.0/{WABA_ID}/message_templates", (200, {"id": "1", "status": "PENDING", "category": "UTILITY"})
    )
    resp = graph.client().template_create(
        WABA_ID, {"name": "order_update", "language": "en_US", "category": "utility", "components": []}
    )
    assert resp["status"] == "PENDING"


def test_template_delete_names_the_template_and_optionally_its_id(graph):
    graph.on("DELETE", f"/v25.0/{WABA_ID}/message_templates", (200, {"success": True}))
    graph.client().template_delete(WABA_ID, name="order_update", hsm_id="1387372356726668")
    assert graph.requests[0].query == {"name": ["order_update"], "hsm_id": ["1387372356726668"]}


# --- onboarding ------------------------------------------------------------------------------


def test_the_code_exchange_uses_the_app_secret_and_not_the_bearer_token(graph):
    graph.on("GET", "/v25.0/oauth/access_token", (200, {"access_token": "BISU", "token_type": "bearer"}))
    resp = graph.client().oauth_code_exchange(app_id="123", app_secret="s3cret", code="AQB")
    assert resp["access_token"] == "BISU"
    request = graph.requests[0]
    assert "Authorization" not in request.headers
    assert request.query == {"client_id": ["123"], "client_secret": ["s3cret"], "code": ["AQB"]}


def test_debug_token_returns_the_data_object(graph):
    graph.on("GET", "/v25.0/debug_token", (200, {"data": {"is_valid": True, "expires_at": 0}}))
    data = graph.client().debug_token(input_token="BISU", app_id="123", app_secret="s3cret")
    assert data == {"is_valid": True, "expires_at": 0}
    assert graph.requests[0].query["access_token"] == ["123|s3cret"]


def test_phone_numbers_list_returns_every_number(graph):
    graph.on(
        "GET",
        f"/v25.0/{WABA_ID}/phone_numbers",
        (
            200,
            {
                "data": [
                    {
                        "verified_name": "Lucky Shrub",
                        "display_phone_number": "+1 555-078-3881",
                        "id": PHONE_NUMBER_ID,
                        "quality_rating": "GREEN",
                    }
                ]
            },
        ),
    )
    assert graph.client().phone_numbers_list(WABA_ID)[0]["id"] == PHONE_NUMBER_ID


def test_register_checks_the_pin_locally_then_posts_it(graph):
    with pytest.raises(PayloadInvalid) as caught:
        graph.client().phone_number_register(PHONE_NUMBER_ID, pin="12345")
    assert caught.value.field == "pin"
    assert graph.requests == []
    graph.on("POST", f"/v25.0/{PHONE_NUMBER_ID}/register", (200, {"success": True}))
    graph.client().phone_number_register(PHONE_NUMBER_ID, pin="123456")
    assert graph.requests[0].json() == {"messaging_product": "whatsapp", "pin": "123456"}


def test_subscribing_with_an_override_sends_the_callback_and_verify_token(graph):
    graph.on("POST", f"/v25.0/{WABA_ID}/subscribed_apps", (200, {"success": True}))
    client = graph.client()
    client.subscribed_apps_add(WABA_ID)
    client.subscribed_apps_add(WABA_ID, override_callback_uri="https://hooks.example.com/wa/1", verify_token="vt")
    assert [r.json() for r in graph.requests] == [
        {},
        {"override_callback_uri": "https://hooks.example.com/wa/1", "verify_token": "vt"},
    ]
    with pytest.raises(PayloadInvalid):
        client.subscribed_apps_add(WABA_ID, override_callback_uri="https://x.example/" + "a" * 200, verify_token="vt")


def test_unsubscribing_sends_a_delete(graph):
    graph.on("DELETE", f"/v25.0/{WABA_ID}/subscribed_apps", (200, {"success": True}))
    graph_client_for(base_url=graph.url, version="v25.0", access_token=TOKEN).subscribed_apps_remove(WABA_ID)
    assert graph.requests[0].method == "DELETE"
