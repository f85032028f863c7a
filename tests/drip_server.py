"""A loopback HTTP server that answers one byte at a time: the slow-drip peer of the timeout specs.

Every byte arrives well within any per-read timeout, so only a total deadline ends the call.
`DripServer(head_first=True)` sends the status line and headers at once and drips the body (a
webhook receiver that says 200 and then stalls); otherwise the status line itself drips.

    with DripServer() as server:
        requests.get(server.url + "/anything", timeout=1)   # would take len(answer) × interval seconds
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BODY = b'{"id": "1", "messages": [{"id": "wamid.1"}], "text": "' + b"x" * 200 + b'"}'


class DripServer:
    def __init__(self, *, head_first: bool = False, interval: float = 0.1):
        self.head_first = head_first
        self.interval = interval
        self.requests = 0
        self._stopping = threading.Event()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def address(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"{host}:{port}"

    def __enter__(self) -> DripServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                server.requests += 1
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                head = (
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(BODY)}\r\nConnection: close\r\n\r\n".encode()
                )
                try:
                    if server.head_first:
                        self.wfile.write(head)
                        self.wfile.flush()
                    for byte in BODY if server.head_first else head + BODY:
                        if server._stopping.wait(server.interval):
                            return
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                except OSError:
                    pass  # the client gave up: what the specs expect

            do_GET = do_POST = _answer  # noqa: N815 (http.server's naming)

            def log_message(self, *args) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()


def elapsed(started: float) -> float:
    return time.monotonic() - started
