"""Loopback stand-ins for an OpenAI-compatible server and the Anthropic Messages API.

Real HTTP on 127.0.0.1 (a free port), so the SDKs run unchanged: point a provider's base_url at
`server.base_url`. Each server records what it received and answers from a script:

    server.reply_text("Hi!", input_tokens=12, output_tokens=3)
    server.reply_tool_call("send_buttons", {"text": "Size?", "buttons": ["S", "M"]})
    server.reply_tool_calls([("a", {...}), ("b", {...})], text="Let me check")   # parallel calls
    server.fail(429, "Slow down", headers={"retry-after": "2"})   # body: str message, dict or bytes (sent as is)
    server.delay(1.5)                                             # the next answer comes 1.5 s late

With the script empty, a server echoes: "echo: <the last user text>". `server.requests` lists
`RecordedRequest`s (path, headers with lower-case names, raw body, parsed `json`, and for multipart
uploads `fields` and `files`); `server.last` is the latest.

Fixtures `openai_server` and `anthropic_server` yield a running server; other test modules use them
with `from tests.agents.llm_servers import openai_server  # noqa: F401`. The classes work as context
managers too (`with FakeOpenAIServer() as server: ...`).
"""

from __future__ import annotations

import abc
import email.parser
import email.policy
import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any = None
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, UploadedFile] = field(default_factory=dict)


@dataclass
class UploadedFile:
    filename: str
    content_type: str
    data: bytes


@dataclass
class _Step:
    kind: str  # "text" | "tools" | "fail"
    text: str = ""
    calls: list[tuple[str, dict, str]] = field(default_factory=list)  # (name, arguments, id)
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    input_tokens: int | None = None
    output_tokens: int | None = None
    delay: float = 0.0


class _FakeLLMServer(abc.ABC):
    """The shared machinery; subclasses speak one API."""

    api_prefix = ""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._script: deque[_Step | float] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.each_delay = 0.0  # added to every answer: a model that always takes this long
        self.in_flight = 0
        self.peak_in_flight = 0  # the most requests it was answering at the same moment

    # --- scripting ---------------------------------------------------------------------------

    def reply_text(self, text: str, *, input_tokens: int | None = None, output_tokens: int | None = None) -> None:
        self._push(_Step("text", text=text, input_tokens=input_tokens, output_tokens=output_tokens))

    def reply_tool_call(self, name: str, arguments: dict, *, call_id: str | None = None, text: str = "") -> None:
        self.reply_tool_calls([(name, arguments)], text=text, call_ids=[call_id] if call_id else None)

    def reply_tool_calls(
        self, calls: list[tuple[str, dict]], *, text: str = "", call_ids: list[str] | None = None
    ) -> None:
        ids = call_ids or [self._new_call_id() for _ in calls]
        self._push(_Step("tools", text=text, calls=[(n, a, i) for (n, a), i in zip(calls, ids, strict=True)]))

    def fail(self, status: int, body: Any = None, *, headers: dict[str, str] | None = None) -> None:
        self._push(_Step("fail", status=status, body=body, headers=headers or {}))

    def delay(self, seconds: float) -> None:
        with self._lock:
            self._script.append(float(seconds))

    @property
    def last(self) -> RecordedRequest:
        assert self.requests, "the server has received no request"
        return self.requests[-1]

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._httpd is not None, "the server is not running"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        """What an agent's base_url would be set to."""
        return self.url + self.api_prefix

    def start(self) -> _FakeLLMServer:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=type(self).__name__, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping in a delay
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> _FakeLLMServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- the API -----------------------------------------------------------------------------

    @abc.abstractmethod
    def answer(self, request: RecordedRequest, step: _Step | None) -> tuple[int, dict[str, str], Any]:
        """The status, headers and JSON body this API answers `request` with (or with the scripted `step`)."""

    @abc.abstractmethod
    def error_body(self, status: int, message: str) -> dict:
        """This API's error envelope."""

    # --- internals ---------------------------------------------------------------------------

    def _push(self, step: _Step) -> None:
        with self._lock:
            self._script.append(step)

    def _next_step(self) -> _Step | None:
        """The next scripted answer, carrying the delays queued before it; None means "echo"."""
        delay = 0.0
        with self._lock:
            while self._script:
                item = self._script.popleft()
                if isinstance(item, float):
                    delay += item
                    continue
                item.delay += delay
                return item
        return _Step("echo", delay=delay) if delay else None

    @staticmethod
    def _new_call_id() -> str:
        return uuid.uuid4().hex[:24]

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length") or 0)
        body = handler.rfile.read(length) if length else b""
        request = RecordedRequest(
            method=handler.command,
            path=handler.path,
            headers={name.lower(): value for name, value in handler.headers.items()},
            body=body,
        )
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("application/json") and body:
            request.json = json.loads(body)
        elif content_type.startswith("multipart/form-data"):
            request.fields, request.files = _multipart_parse(content_type, body)
        with self._lock:
            self.requests.append(request)
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            self._answer(handler, request)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _answer(self, handler: BaseHTTPRequestHandler, request: RecordedRequest) -> None:
        step = self._next_step()
        delay = (step.delay if step is not None else 0.0) + self.each_delay
        if delay:
            self._stopping.wait(delay)
        if step is not None and step.kind == "echo":
            step = None
        if step is not None and step.kind == "fail":
            status, headers = step.status, step.headers
            payload = step.body if isinstance(step.body, dict | bytes) else self.error_body(status, step.body or "")
        else:
            status, headers, payload = self.answer(request, step)
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"content-type": "text/html" if isinstance(payload, bytes) else "application/json", **headers}
        try:
            handler.send_response(status)
            handler.send_header("content-length", str(len(data)))
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test); nobody is listening

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the SDKs' connection pools expect
            # Headers and body go out as two writes; without this, Nagle + delayed ACK add ~40 ms
            # to every answer on a reused connection.
            disable_nagle_algorithm = True

            def do_POST(self):  # noqa: N802 (http.server's naming)
                server._handle(self)

            def do_GET(self):  # noqa: N802
                server._handle(self)

            def log_message(self, *args):
                pass

        return Handler


def _multipart_parse(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, UploadedFile]]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"content-type: {content_type}\r\n\r\n".encode() + body
    )
    fields: dict[str, str] = {}
    files: dict[str, UploadedFile] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            files[name] = UploadedFile(filename=filename, content_type=part.get_content_type(), data=payload)
        else:
            fields[name] = payload.decode()
    return fields, files


def _words(text: str) -> int:
    return max(1, len(text.split()))


def _tokens_in(body: bytes) -> int:
    return max(1, len(body) // 4)  # about four bytes a token, close enough for a usage figure


class FakeOpenAIServer(_FakeLLMServer):
    """`POST /v1/chat/completions` and `POST /v1/audio/transcriptions`, as OpenAI answers them."""

    api_prefix = "/v1"

    def answer(self, request: RecordedRequest, step: _Step | None) -> tuple[int, dict[str, str], Any]:
        if request.path == "/v1/audio/transcriptions":
            upload = request.files.get("file")
            text = step.text if step else f"echo: {upload.filename if upload else 'no file'}"
            return 200, {}, {"text": text, "usage": {"type": "duration", "seconds": 3}}
        if request.path != "/v1/chat/completions":
            return 404, {}, self.error_body(404, f"Unknown request URL: POST {request.path}.")
        body = request.json or {}
        text = step.text if step else f"echo: {_last_user_text(body.get('messages') or [])}"
        message: dict[str, Any] = {"role": "assistant", "content": text or None, "refusal": None}
        finish_reason = "stop"
        if step and step.kind == "tools":
            finish_reason = "tool_calls"
            message["tool_calls"] = [
                {"id": f"call_{call_id}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
                for name, args, call_id in step.calls
            ]
        prompt_tokens = step.input_tokens if step and step.input_tokens is not None else _tokens_in(request.body)
        completion_tokens = step.output_tokens if step and step.output_tokens is not None else _words(text or "x")
        return (
            200,
            {"x-request-id": f"req_{uuid.uuid4().hex[:16]}"},
            {
                "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", ""),
                "system_fingerprint": "fp_loopback",
                "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            },
        )

    def error_body(self, status: int, message: str) -> dict:
        kinds = {
            401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided: sk-te***st."),
            404: ("invalid_request_error", "model_not_found", "The model does not exist."),
            429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests."),
        }
        fallback = ("server_error", None, "The server had an error processing your request.")
        if status < 500:
            fallback = ("invalid_request_error", None, "The request is invalid.")
        error_type, code, default = kinds.get(status, fallback)
        return {"error": {"message": message or default, "type": error_type, "param": None, "code": code}}


class FakeAnthropicServer(_FakeLLMServer):
    """`POST /v1/messages`, as Anthropic answers it."""

    def answer(self, request: RecordedRequest, step: _Step | None) -> tuple[int, dict[str, str], Any]:
        if request.path != "/v1/messages":
            return 404, {}, self.error_body(404, f"Not found: {request.path}")
        body = request.json or {}
        text = step.text if step else f"echo: {_last_user_text(body.get('messages') or [])}"
        content: list[dict] = [{"type": "text", "text": text}] if text else []
        stop_reason = "end_turn"
        if step and step.kind == "tools":
            stop_reason = "tool_use"
            content += [
                {"type": "tool_use", "id": f"toolu_{call_id}", "name": name, "input": args}
                for name, args, call_id in step.calls
            ]
        input_tokens = step.input_tokens if step and step.input_tokens is not None else _tokens_in(request.body)
        output_tokens = step.output_tokens if step and step.output_tokens is not None else _words(text or "x")
        return (
            200,
            {"request-id": f"req_{uuid.uuid4().hex[:24]}"},
            {
                "id": f"msg_{uuid.uuid4().hex[:24]}",
                "type": "message",
                "role": "assistant",
                "model": body.get("model", ""),
                "content": content,
                "stop_reason": stop_reason,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": input_tokens,
                    "output_tokens": output_tokens,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                },
            },
        )

    def error_body(self, status: int, message: str) -> dict:
        kinds = {
            400: ("invalid_request_error", "The request is invalid."),
            401: ("authentication_error", "invalid x-api-key"),
            403: ("permission_error", "Your API key does not have permission to use the specified resource."),
            404: ("not_found_error", "The requested resource could not be found."),
            429: ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit."),
            529: ("overloaded_error", "Overloaded"),
        }
        error_type, default = kinds.get(status, ("api_error", "Internal server error"))
        return {
            "type": "error",
            "error": {"type": error_type, "message": message or default},
            "request_id": f"req_{uuid.uuid4().hex[:24]}",
        }


def _last_user_text(messages: list[dict]) -> str:
    """The text of the last user turn, in either API's shape (string content or a list of parts)."""
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        texts = []
        for part in content or []:
            if part.get("type") == "text":
                texts.append(part.get("text", ""))
            elif part.get("type") == "tool_result" and isinstance(part.get("content"), str):
                texts.append(part["content"])
        return " ".join(texts)
    return ""


@pytest.fixture
def openai_server():
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def anthropic_server():
    with FakeAnthropicServer() as server:
        yield server
