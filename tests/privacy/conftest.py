import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@pytest.fixture(autouse=True)
def _own_media_root(settings, tmp_path):
    # Each test's files in its own folder, so "gone from storage" means this test's files.
    settings.MEDIA_ROOT = str(tmp_path / "media")


@dataclass
class EchoReceiver:
    """A customer's event endpoint on loopback that answers 200 with the body it received, as some do."""

    url: str = ""
    bodies: list[bytes] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def echo_receiver(settings):
    box = EchoReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with box.lock:
                box.bodies.append(body)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    box.url = f"http://127.0.0.1:{port}/hooks"
    settings.EVENT_WEBHOOK_ALLOWED_HOSTS = [f"127.0.0.1:{port}"]
    try:
        yield box
    finally:
        server.shutdown()
        server.server_close()
