"""A loopback HTTP proxy between the platform and the emulator that can reset connections.

Graph's answer can be lost two ways the emulator itself cannot play: the connection is reset before the
request reaches Graph, or after Graph processed it. `reset_next(before=True|False)` arms that for the next
request; every other request is passed through unchanged (one upstream connection per request).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections import deque


class ResettingProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._plan: deque[bool] = deque()  # True: reset before forwarding; False: after Graph answered
        self._lock = threading.Lock()
        self.resets = 0
        self._in_flight = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._stopping = False
        self._thread = threading.Thread(target=self._accept, name="resetting-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ResettingProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping = True
        with contextlib.suppress(OSError):
            self._server.close()
        self._thread.join(5)

    def wait_idle(self, timeout: float = 30) -> None:
        """Wait for requests still held upstream (a hanging Graph call whose client already gave up)."""
        deadline = time.monotonic() + timeout
        while self._in_flight and time.monotonic() < deadline:
            time.sleep(0.05)

    def reset_next(self, *, before: bool) -> None:
        with self._lock:
            self._plan.append(before)

    def _accept(self) -> None:
        while not self._stopping:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        buffered = b""
        try:
            while True:
                request, buffered = _read_request(client, buffered)
                if request is None:
                    return
                with self._lock:
                    reset_before = self._plan.popleft() if self._plan else None
                if reset_before is True:
                    self._reset(client)
                    return
                response = self._forward(request)
                if reset_before is False:
                    self._reset(client)
                    return
                client.sendall(response)
        except OSError:
            return
        finally:
            with contextlib.suppress(OSError):
                client.close()

    def _reset(self, client: socket.socket) -> None:
        # SO_LINGER with a zero timeout: close() sends a RST instead of a FIN.
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()
        with self._lock:
            self.resets += 1

    def _forward(self, request: bytes) -> bytes:
        head, _, body = request.partition(b"\r\n\r\n")
        lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"connection:")]
        request = b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n" + body
        with self._lock:
            self._in_flight += 1
        try:
            with socket.create_connection(("127.0.0.1", self.upstream_port), timeout=30) as upstream:
                upstream.sendall(request)
                chunks = []
                while chunk := upstream.recv(65536):
                    chunks.append(chunk)
            return b"".join(chunks)
        finally:
            with self._lock:
                self._in_flight -= 1


def _read_request(client: socket.socket, buffered: bytes) -> tuple[bytes | None, bytes]:
    """One whole request (head and Content-Length body) and what was read beyond it; None at EOF."""
    while b"\r\n\r\n" not in buffered:
        chunk = client.recv(65536)
        if not chunk:
            return None, b""
        buffered += chunk
    head, _, rest = buffered.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        chunk = client.recv(65536)
        if not chunk:
            return None, b""
        rest += chunk
    return head + b"\r\n\r\n" + rest[:length], rest[length:]
