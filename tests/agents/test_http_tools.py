"""An agent's HTTP tools: a shop's order-status service on loopback, called by the model mid-turn.

Cast: Lucky Shrub's agent "Fern" (the sandbox workspace), its order-status service on 127.0.0.1
(allow-listed per test, as an intranet API would be), and a stranger's address the guard refuses.
"""

import datetime
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
import requests
from django.db import connection
from django.urls import reverse

from agents_app.models import AgentRun, HttpTool
from agents_app.tools import agent_tool_specs, http_tool_create, http_tool_run, http_tool_validate
from messaging_app.models import Conversation, Message
from tests.agents.llm_servers import openai_server  # noqa: F401
from tests.conftest import wait_until
from tests.factories import AgentFactory, WorkspaceFactory, member
from whatsapp_platform.errors import InvalidInput
from workspaces_app.models import Role

SHOP_KEY = "Bearer shop-secret-7f3a9c"
ORDER_SCHEMA = {
    "type": "object",
    "properties": {"order_id": {"type": "string", "description": "The order number, e.g. A1001."}},
    "required": ["order_id"],
}


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self):
        return json.loads(self.body) if self.body else None


@dataclass
class OrderService:
    """The shop's order API: GET /orders/<id>; /slow, /flaky, /big and /moved behave as named."""

    received: list[Received] = field(default_factory=list)
    failures_left: int = 0  # /flaky answers 503 this many times
    redirect_to: str = ""  # where /moved points
    sni: list[str] = field(default_factory=list)
    httpd: ThreadingHTTPServer | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def answer(self, request: Received) -> tuple[int, dict, bytes]:
        path = urlsplit(request.path).path
        if path.startswith("/slow"):
            time.sleep(2)
        if path.startswith("/flaky") and self.failures_left:
            self.failures_left -= 1
            return 503, {"content-type": "text/plain"}, b"warming up"
        if path.startswith("/big"):
            return 200, {"content-type": "text/plain"}, b"x" * (200 * 1024)
        if path.startswith("/moved"):
            return 302, {"location": self.redirect_to}, b""
        if path.startswith("/orders/"):
            order_id = path.removeprefix("/orders/")
            if order_id == "A1001":
                body = {"order_id": "A1001", "status": "shipped", "shipped_on": "yesterday"}
                return 200, {"content-type": "application/json"}, json.dumps(body).encode()
            return 404, {"content-type": "application/json"}, b'{"error": "no such order"}'
        return 200, {"content-type": "application/json"}, json.dumps({"echo": request.json}).encode()

    def start(self, tls: ssl.SSLContext | None = None) -> "OrderService":
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self):
                length = int(self.headers.get("content-length") or 0)
                request = Received(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                )
                service.received.append(request)
                status, headers, body = service.answer(request)
                try:
                    self.send_response(status)
                    self.send_header("content-length", str(len(body)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the tool gave up (the timeout test)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle  # noqa: N815 (http.server's naming)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            tls.sni_callback = lambda _sock, name, _ctx: self.sni.append(name)
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def shop_service():
    service = OrderService().start()
    yield service
    service.stop()


@pytest.fixture
def allow_shop(settings, shop_service):
    settings.AGENT_TOOL_ALLOWED_HOSTS = [shop_service.address]


@pytest.fixture
def fern(db):
    return AgentFactory(workspace=WorkspaceFactory(name="Lucky Shrub"), name="Fern")


def order_status(agent, url: str, **kw) -> HttpTool:
    kw.setdefault("headers", {"Authorization": SHOP_KEY})
    return http_tool_create(
        agent=agent,
        name=kw.pop("name", "order_status"),
        description="Look up where a customer's order is.",
        url_template=url,
        parameters=kw.pop("parameters", ORDER_SCHEMA),
        **kw,
    )


def resolving(monkeypatch, host: str, *addresses: str) -> None:
    """`host` resolves to `addresses`; every other name resolves as usual."""
    real = socket.getaddrinfo

    def getaddrinfo(name, port, *args, **kwargs):
        if name != host:
            return real(name, port, *args, **kwargs)
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


# --- end to end through the emulator -------------------------------------------------------


def _fern_on_whatsapp(sandbox, llm) -> object:
    agent = AgentFactory(
        workspace=sandbox.channel.workspace,
        name="Fern",
        provider="openai",
        model="test-model",
        api_key="sk-test",
        base_url=llm.base_url,
        debounce_seconds=0,
    )
    Conversation.objects.filter(pk=sandbox.conversation.pk).update(assigned_agent=agent, state="agent")
    return agent


def _say(sandbox, body: str) -> None:
    sandbox.emulator.customer_says(sandbox.number, sandbox.customer, "text", {"body": body})
    sandbox.emulator.drain()


def _tool_results(llm) -> list[dict]:
    return [json.loads(m["content"]) for m in llm.last.json["messages"] if m["role"] == "tool"]


def test_the_agent_looks_up_an_order_and_the_customer_hears_it_shipped(
    sandbox,
    openai_server,  # noqa: F811
    shop_service,
    allow_shop,
):
    agent = _fern_on_whatsapp(sandbox, openai_server)
    order_status(agent, shop_service.url + "/orders/{order_id}")
    openai_server.reply_tool_call("order_status", {"order_id": "A1001"})
    openai_server.reply_text("Your order A1001 shipped yesterday 📦")

    _say(sandbox, "Where is my order A1001?")
    run = wait_until(lambda: AgentRun.objects.filter(status="answered").first())

    [call] = shop_service.received
    assert (call.method, call.path) == ("GET", "/orders/A1001")
    assert call.headers["authorization"] == SHOP_KEY
    offered = [t["function"]["name"] for t in openai_server.requests[0].json["tools"]]
    assert "order_status" in offered
    assert _tool_results(openai_server) == [
        {"ok": True, "status": 200, "body": {"order_id": "A1001", "status": "shipped", "shipped_on": "yesterday"}}
    ]
    sent = [m.content.get("body") for m in sandbox.emulator.business_messages(sandbox.number, sandbox.customer)]
    assert "Your order A1001 shipped yesterday 📦" in sent
    assert Message.objects.filter(sender="agent", sender_agent=agent).get().content["body"] == (
        "Your order A1001 shipped yesterday 📦"
    )
    [logged] = run.tool_calls
    assert logged["name"] == "order_status"
    assert logged["arguments"] == {"order_id": "A1001"}
    assert logged["result"]["ok"] is True and logged["result"]["body"]["status"] == "shipped"
    assert logged["duration_ms"] >= 0


def test_a_tool_pointing_at_127_0_0_1_without_the_allow_list_is_refused_and_the_model_is_told_why(
    sandbox,
    openai_server,  # noqa: F811
    shop_service,
):
    agent = _fern_on_whatsapp(sandbox, openai_server)
    order_status(agent, shop_service.url + "/orders/{order_id}")
    openai_server.reply_tool_call("order_status", {"order_id": "A1001"})
    openai_server.reply_text("Sorry, I can't look that up right now.")

    _say(sandbox, "Where is my order A1001?")
    run = wait_until(lambda: AgentRun.objects.filter(status="answered").first())

    assert shop_service.received == []
    refusal = {"ok": False, "error": "refused: 127.0.0.1 resolves to a private address"}
    assert _tool_results(openai_server) == [refusal]
    assert run.tool_calls[0]["result"] == refusal


def test_the_tools_headers_reach_the_service_but_never_the_run_the_admin_or_the_logs(
    sandbox,
    openai_server,  # noqa: F811
    shop_service,
    allow_shop,
    admin_client,
    caplog,
):
    caplog.set_level("DEBUG")
    agent = _fern_on_whatsapp(sandbox, openai_server)
    tool = order_status(agent, shop_service.url + "/orders/{order_id}")
    openai_server.reply_tool_calls([("order_status", {"order_id": "A1001"}), ("order_status", {"order_id": "B2"})])
    openai_server.reply_text("A1001 shipped yesterday; I can't find B2.")

    _say(sandbox, "Where are A1001 and B2?")
    run = wait_until(lambda: AgentRun.objects.filter(status="answered").first())
    assert [r.headers["authorization"] for r in shop_service.received] == [SHOP_KEY, SHOP_KEY]
    assert run.tool_calls[1]["result"]["status"] == 404  # a logged failure, too

    pages = [
        admin_client.get(reverse("admin:agents_app_httptool_changelist")),
        admin_client.get(reverse("admin:agents_app_httptool_change", args=[tool.pk])),
    ]
    assert all(page.status_code == 200 for page in pages)
    assert "Authorization" in pages[1].content.decode()  # the header's name is shown, its value is not
    with connection.cursor() as cursor:
        cursor.execute("SELECT headers FROM agents_app_httptool WHERE id = %s", [tool.pk])
        [stored] = cursor.fetchone()
    logs = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "http tool answered an error" in logs

    secret = SHOP_KEY.split()[1]
    assert secret not in json.dumps(run.tool_calls) + json.dumps(run.prompt) + run.output
    assert all(secret not in page.content.decode() for page in pages)
    assert secret not in logs
    assert secret not in stored  # encrypted at rest


# --- the SSRF guard ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    ["10.0.0.7", "169.254.169.254", "::1", "::ffff:10.0.0.7", "fd00::1", "100.64.0.1", "0.0.0.0", "224.0.0.1"],
)
def test_a_host_name_resolving_to_a_private_address_is_refused(fern, monkeypatch, address):
    resolving(monkeypatch, "orders.lucky-shrub.example", address)
    order_status(fern, "https://orders.lucky-shrub.example/orders/{order_id}")

    result = http_tool_run(agent=fern, name="order_status", arguments={"order_id": "A1001"})

    assert result == {"ok": False, "error": "refused: orders.lucky-shrub.example resolves to a private address"}


def test_one_private_address_among_public_ones_is_enough_to_refuse(fern, monkeypatch):
    resolving(monkeypatch, "orders.lucky-shrub.example", "93.184.215.14", "10.1.2.3")
    order_status(fern, "https://orders.lucky-shrub.example/orders/{order_id}")

    result = http_tool_run(agent=fern, name="order_status", arguments={"order_id": "A1001"})

    assert result["error"] == "refused: orders.lucky-shrub.example resolves to a private address"


def test_an_allow_listed_name_connects_to_the_address_it_was_vetted_at(fern, monkeypatch, settings, shop_service):
    # A rebinding DNS server would answer a second lookup differently; there is only one.
    port = shop_service.httpd.server_address[1]
    settings.AGENT_TOOL_ALLOWED_HOSTS = ["orders.internal"]
    lookups = []
    real = socket.getaddrinfo

    def getaddrinfo(name, *args, **kwargs):
        lookups.append(name)
        return real("127.0.0.1" if name == "orders.internal" else name, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    order_status(fern, f"http://orders.internal:{port}/orders/{{order_id}}")

    result = http_tool_run(agent=fern, name="order_status", arguments={"order_id": "A1001"})

    assert result["ok"] is True
    assert lookups.count("orders.internal") == 1
    assert shop_service.received[0].headers["host"] == f"orders.internal:{port}"


@pytest.fixture
def tls_for_shop_test(tmp_path):
    """A TLS context serving a self-signed certificate for shop.test, and the file that trusts it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "shop.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("shop.test")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    return context, str(tmp_path / "cert.pem")


def test_https_goes_to_the_vetted_address_with_the_right_sni_and_certificate_check(
    fern, monkeypatch, settings, tls_for_shop_test
):
    context, trusted = tls_for_shop_test
    service = OrderService().start(tls=context)
    try:
        port = service.httpd.server_address[1]
        settings.AGENT_TOOL_ALLOWED_HOSTS = ["shop.test", "imposter.test"]
        real = socket.getaddrinfo
        monkeypatch.setattr(
            socket, "getaddrinfo", lambda n, *a, **k: real("127.0.0.1" if n.endswith(".test") else n, *a, **k)
        )

        class TrustingSession(requests.Session):  # trusts the test certificate instead of the public CAs
            def __init__(self):
                super().__init__()
                self.verify = trusted

        monkeypatch.setattr("agents_app.tools.requests.Session", TrustingSession)
        order_status(fern, f"https://shop.test:{port}/orders/{{order_id}}")
        order_status(fern, f"https://imposter.test:{port}/orders/{{order_id}}", name="imposter")

        good = http_tool_run(agent=fern, name="order_status", arguments={"order_id": "A1001"})
        bad = http_tool_run(agent=fern, name="imposter", arguments={"order_id": "A1001"})
    finally:
        service.stop()

    assert good["ok"] is True and good["body"]["status"] == "shipped"
    assert service.sni[0] == "shop.test"
    assert service.received[0].headers["host"] == f"shop.test:{port}"
    assert bad["error"] == "Could not make a secure connection to imposter.test (TLS or certificate error)."
    assert len(service.received) == 1


def test_a_redirect_to_another_host_is_not_followed(fern, shop_service, allow_shop):
    shop_service.redirect_to = "https://collector.example/steal"
    order_status(fern, shop_service.url + "/moved/{order_id}")

    result = http_tool_run(agent=fern, name="order_status", arguments={"order_id": "A1001"})

    assert result["ok"] is False
    assert result["error"].startswith("refused: the service redirected to another host (collector.example)")


def test_a_redirect_on_the_same_host_is_followed(fern, shop_service, allow_shop):
    shop_service.redirect_to = "/orders/A1001"
    order_status(fern, shop_service.url + "/moved/{order_id}")

    result = http_tool_run(agent=fern, name="order_status", arguments={"order_id": "A1001"})

    assert result["ok"] is True and result["body"]["order_id"] == "A1001"
    assert [r.path for r in shop_service.received] == ["/moved/A1001", "/orders/A1001"]


# --- calling -------------------------------------------------------------------------------


def test_a_missing_required_argument_is_refused_before_any_request(fern, shop_service, allow_shop):
    order_status(fern, shop_service.url + "/orders/{order_id}")

    result = http_tool_run(agent=fern, name="order_status", arguments={})

    assert result == {"ok": False, "error": "Missing required argument 'order_id'."}
    assert shop_service.received == []


def test_an_argument_of_the_wrong_type_is_refused(fern, shop_service, allow_shop):
    schema = {"type": "object", "properties": {"quantity": {"type": "integer"}}, "required": ["quantity"]}
    order_status(fern, shop_service.url + "/stock", parameters=schema, method="POST")

    result = http_tool_run(agent=fern, name="order_status", arguments={"quantity": "three"})

    assert result == {"ok": False, "error": "Argument 'quantity' must be of type integer, not str."}
    assert shop_service.received == []


def test_placeholders_are_url_encoded_and_the_other_arguments_go_in_the_json_body(fern, shop_service, allow_shop):
    schema = {
        "type": "object",
        "properties": {
            "order_id": {"type": "string"},
            "note": {"type": "string"},
            "gift": {"type": "boolean"},
            "quantity": {"type": "integer"},
        },
        "required": ["order_id"],
    }
    order_status(fern, shop_service.url + "/notes/{order_id}", parameters=schema, method="POST")
    arguments = {"order_id": "A 10/01?x", "note": "Leave at the door 🚪", "gift": True, "quantity": 2, "extra": "x"}

    result = http_tool_run(agent=fern, name="order_status", arguments=arguments)

    assert result["ok"] is True
    [call] = shop_service.received
    assert (call.method, call.path) == ("POST", "/notes/A%2010%2F01%3Fx")
    assert call.json == {"note": "Leave at the door 🚪", "gift": True, "quantity": 2}  # undeclared "extra" dropped


def test_a_get_sends_the_other_arguments_in_the_query(fern, shop_service, allow_shop):
    schema = {"type": "object", "properties": {"postcode": {"type": "string"}, "express": {"type": "boolean"}}}
    order_status(fern, shop_service.url + "/delivery?country=uk", parameters=schema)

    http_tool_run(agent=fern, name="order_status", arguments={"postcode": "SW1A 1AA", "express": False})

    assert shop_service.received[0].path == "/delivery?country=uk&postcode=SW1A+1AA&express=false"


def test_a_slow_service_times_out(fern, shop_service, allow_shop):
    order_status(fern, shop_service.url + "/slow/{order_id}", timeout_seconds=1)

    started = time.monotonic()
    result = http_tool_run(agent=fern, name="order_status", arguments={"order_id": "A1001"})

    assert result["ok"] is False and "timed out" in result["error"]
    assert time.monotonic() - started < 1.9  # a timed-out GET is not retried


def test_a_get_that_meets_a_5xx_is_retried_once(fern, shop_service, allow_shop):
    shop_service.failures_left = 1
    order_status(fern, shop_service.url + "/flaky/{order_id}")

    result = http_tool_run(agent=fern, name="order_status", arguments={"order_id": "A1001"})

    assert result["ok"] is True
    assert len(shop_service.received) == 2


def test_a_post_that_meets_a_5xx_is_not_retried_and_the_model_sees_the_status(fern, shop_service, allow_shop):
    shop_service.failures_left = 2
    order_status(fern, shop_service.url + "/flaky/{order_id}", method="POST")

    result = http_tool_run(agent=fern, name="order_status", arguments={"order_id": "A1001"})

    assert result == {"ok": False, "error": "The service answered 503.", "status": 503, "body": "warming up"}
    assert len(shop_service.received) == 1


def test_a_get_that_cannot_connect_is_retried_once_then_fails(fern, settings):
    settings.AGENT_TOOL_ALLOWED_HOSTS = ["127.0.0.1:9"]
    order_status(fern, "http://127.0.0.1:9/orders/{order_id}")

    result = http_tool_run(agent=fern, name="order_status", arguments={"order_id": "A1001"})

    assert result == {"ok": False, "error": "Could not connect to 127.0.0.1."}


def test_an_answer_over_64_kb_is_cut(fern, shop_service, allow_shop):
    order_status(fern, shop_service.url + "/big/{order_id}")

    result = http_tool_run(agent=fern, name="order_status", arguments={"order_id": "A1001"})

    assert result["ok"] is True and result["truncated"] is True
    assert len(result["body"]) == 64 * 1024


def test_an_unknown_or_disabled_tool_is_unknown_to_the_model(fern, shop_service, allow_shop):
    order_status(fern, shop_service.url + "/orders/{order_id}", enabled=False)

    result = http_tool_run(agent=fern, name="order_status", arguments={"order_id": "A1001"})

    assert result == {"ok": False, "error": "Unknown tool 'order_status'."}
    assert agent_tool_specs(agent=fern) == []
    assert shop_service.received == []


def test_the_model_is_offered_the_enabled_tools_with_their_schemas(fern):
    order_status(fern, "https://shop.example/orders/{order_id}")
    order_status(fern, "https://shop.example/returns", name="start_return", enabled=False)

    [spec] = agent_tool_specs(agent=fern)

    assert (spec.name, spec.description, spec.parameters) == (
        "order_status",
        "Look up where a customer's order is.",
        ORDER_SCHEMA,
    )


# --- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Order", "1order", "order-status", "", "a" * 65, "send_list", "handoff_to_human"])
def test_a_bad_tool_name_is_refused(fern, name):
    with pytest.raises(InvalidInput) as refused:
        order_status(fern, "https://shop.example/orders/{order_id}", name=name)
    assert refused.value.field == "name"


def test_a_second_tool_of_the_same_name_is_refused(fern):
    order_status(fern, "https://shop.example/orders/{order_id}")
    with pytest.raises(InvalidInput, match="already has a tool named order_status"):
        order_status(fern, "https://shop.example/v2/orders/{order_id}")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://shop.example/orders/{order}", "{order}, which is not a parameter"),
        ("https://{order_id}.shop.example/", "not in the host"),
        ("https://shop.example/orders/{order_id", "unmatched"),
        ("ftp://shop.example/orders/{order_id}", "https://"),
        ("shop.example/orders/{order_id}", "https://"),
        ("https://user:pw@shop.example/orders/{order_id}", "credentials"),
        ("https://shop.example:99999/orders/{order_id}", "port"),
    ],
)
def test_a_bad_url_template_is_refused(fern, url, message):
    with pytest.raises(InvalidInput, match=message) as refused:
        order_status(fern, url)
    assert refused.value.field == "url_template"


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "array"},
        [],
        {"type": "object", "properties": ["order_id"]},
        {"type": "object", "properties": {"order_id": {"type": "date"}}},
        {"type": "object", "properties": {"order id": {"type": "string"}}},
        {"type": "object", "properties": {}, "required": ["order_id"]},
    ],
)
def test_a_parameters_schema_that_is_not_an_object_schema_is_refused(fern, schema):
    with pytest.raises(InvalidInput) as refused:
        order_status(fern, "https://shop.example/orders", parameters=schema)
    assert refused.value.field == "parameters"


@pytest.mark.parametrize(
    "headers", [["Authorization"], {"Bad Header": "x"}, {"Host": "evil.example"}, {"X-Key": 5}, {"X-Key": "a\r\nb"}]
)
def test_bad_headers_are_refused_without_repeating_the_value(fern, headers):
    with pytest.raises(InvalidInput) as refused:
        order_status(fern, "https://shop.example/orders/{order_id}", headers=headers)
    assert refused.value.field == "headers"
    assert "evil.example" not in refused.value.message and "a\r\nb" not in refused.value.message


@pytest.mark.parametrize("timeout", [0, 31])
def test_a_timeout_outside_1_to_30_seconds_is_refused(fern, timeout):
    with pytest.raises(InvalidInput) as refused:
        order_status(fern, "https://shop.example/orders/{order_id}", timeout_seconds=timeout)
    assert refused.value.field == "timeout_seconds"


def test_validate_accepts_a_well_formed_tool(fern):
    tool = HttpTool(
        agent=fern,
        name="order_status",
        description="Where an order is.",
        parameters=ORDER_SCHEMA,
        url_template="https://shop.example/orders/{order_id}?lang=en",
        headers=json.dumps({"Authorization": SHOP_KEY}),
    )
    http_tool_validate(tool=tool)  # no exception


# --- the admin -----------------------------------------------------------------------------


def test_the_admin_saves_a_tool_with_write_only_headers(fern, admin_client):
    form = {
        "agent": fern.pk,
        "name": "order_status",
        "description": "Where an order is.",
        "method": "GET",
        "url_template": "https://shop.example/orders/{order_id}",
        "parameters": json.dumps(ORDER_SCHEMA),
        "timeout_seconds": 10,
        "enabled": "on",
        "new_headers": json.dumps({"Authorization": SHOP_KEY}),
    }
    response = admin_client.post(reverse("admin:agents_app_httptool_add"), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    tool = HttpTool.objects.get(agent=fern, name="order_status")
    assert json.loads(tool.headers) == {"Authorization": SHOP_KEY}

    # Saving again with the headers box empty keeps them.
    change = reverse("admin:agents_app_httptool_change", args=[tool.pk])
    assert admin_client.post(change, {**form, "new_headers": "", "timeout_seconds": 5}).status_code == 302
    tool.refresh_from_db()
    assert tool.timeout_seconds == 5 and json.loads(tool.headers) == {"Authorization": SHOP_KEY}
    assert SHOP_KEY.split()[1] not in admin_client.get(change).content.decode()


def test_the_admin_shows_a_validation_error_and_not_the_headers_typed(fern, admin_client):
    response = admin_client.post(
        reverse("admin:agents_app_httptool_add"),
        {
            "agent": fern.pk,
            "name": "send_list",
            "description": "Where an order is.",
            "method": "GET",
            "url_template": "https://shop.example/orders",
            "parameters": json.dumps({"type": "object", "properties": {}}),
            "timeout_seconds": 10,
            "new_headers": json.dumps({"Authorization": SHOP_KEY}),
        },
    )
    body = response.content.decode()
    assert response.status_code == 200 and "send_list is a built-in tool" in body
    assert SHOP_KEY.split()[1] not in body
    assert not HttpTool.objects.exists()


def test_another_workspaces_owner_cannot_open_the_tool_in_the_admin(fern, client):
    tool = order_status(fern, "https://shop.example/orders/{order_id}")
    outsider = member(WorkspaceFactory(name="Globex"), Role.OWNER)
    client.force_login(outsider)

    assert client.get(reverse("admin:agents_app_httptool_change", args=[tool.pk])).status_code == 404
    assert "order_status" not in client.get(reverse("admin:agents_app_httptool_changelist")).content.decode()
