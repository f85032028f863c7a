"""`total_deadline` for httpx (the transport under the LLM SDKs): a separate module so processes
that never call a model do not import httpx.

Each socket an SDK call reads or writes is handed to the active deadline (`deadlines.Deadline.watch`,
the same watchdog the requests sessions use), and no single read waits past the time left.
"""

from __future__ import annotations

from typing import Any

import httpcore2
import httpx2
from httpx2._utils import get_environment_proxies  # the helper the SDKs use for the same purpose

from whatsapp_platform.deadlines import active_deadline


class _DeadlineStream(httpcore2.NetworkStream):
    def __init__(self, inner: httpcore2.NetworkStream):
        self._inner = inner

    def _bounded(self, timeout: float | None) -> float | None:
        deadline = active_deadline()
        if deadline is None:
            return timeout
        deadline.watch(self._inner.get_extra_info("socket"))
        left = max(deadline.remaining(), 0.001)
        return left if timeout is None else min(timeout, left)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._bounded(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._bounded(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname: str | None = None, timeout: float | None = None):
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, self._bounded(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore2.NetworkBackend):
    def __init__(self, inner: httpcore2.NetworkBackend):
        self._inner = inner

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        deadline = active_deadline()
        if deadline is not None:
            left = max(deadline.remaining(), 0.001)
            timeout = left if timeout is None else min(timeout, left)
        return _DeadlineStream(self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        return _DeadlineStream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class DeadlineHTTPTransport(httpx2.HTTPTransport):
    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        # httpx builds its connection pool itself and offers no argument for the network backend;
        # httpcore's pool takes one, so it is wrapped in place (the versions are pinned).
        self._pool._network_backend = _DeadlineBackend(self._pool._network_backend)


# The SDKs' own default: many model calls at once share a client.
_LIMITS = httpx2.Limits(max_connections=1000, max_keepalive_connections=100)


def deadline_http_client(*, limits: httpx2.Limits = _LIMITS, **client_kwargs: Any) -> httpx2.Client:
    """An httpx client whose calls honour `total_deadline`, following redirects and taking proxies from
    the environment as the SDKs' own clients do."""
    client_kwargs.setdefault("follow_redirects", True)
    proxies = {
        pattern: None if url is None else DeadlineHTTPTransport(proxy=url, limits=limits)
        for pattern, url in get_environment_proxies().items()
    }
    return httpx2.Client(transport=DeadlineHTTPTransport(limits=limits), mounts=proxies, **client_kwargs)
