import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]


@dataclass
class EventReceiver:
    """A customer's endpoint on loopback. Each POST takes the next planned answer: a status code, or
    ("sleep", seconds) to answer 200 only after that long; 200 once the plan is used up."""

    url: str = ""
    plan: list = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bodies(self) -> list[dict]:
        import json

        with self.lock:
            return [json.loads(r.body) for r in self.requests]


@pytest.fixture
def receiver(settings):
    box = EventReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with box.lock:
                box.requests.append(Received(body=body, headers={k.lower(): v for k, v in self.headers.items()}))
                answer = box.plan.pop(0) if box.plan else 200
            if isinstance(answer, tuple):
                time.sleep(answer[1])
                answer = 200
            reply = b'{"ok": true}' if answer < 300 else b"Internal error: the order service is down"
            try:
                self.send_response(answer)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the platform gave up waiting

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    box.url = f"http://127.0.0.1:{port}/hooks/whatsapp"
    settings.EVENT_WEBHOOK_ALLOWED_HOSTS = [f"127.0.0.1:{port}"]
    try:
        yield box
    finally:
        server.shutdown()
        server.server_close()
