"""Total deadlines for outbound HTTP calls: the whole exchange, not each read.

requests' and httpx's timeouts bound each socket operation, so a server that answers one byte at a
time holds a call for as long as it likes. Every outbound call (Graph, model providers, HTTP tools,
event webhooks, media downloads) runs inside `total_deadline(seconds)`:

    try:
        with total_deadline(10) as deadline:
            response = session.post(url, timeout=deadline.timeouts(3, 10))
            body = response.content
    except DeadlineExceeded: ...

While a deadline is active, requests sessions built with `DeadlineAdapter` register each socket they
use with it, and a single watchdog thread shuts those sockets down when it passes; the blocked read
returns at once. (The httpx transport in `deadlines_httpx` bounds each read by the time left instead.)
Leaving the block after the deadline passed raises `DeadlineExceeded`, even if the code inside caught
the error the cut caused, or read a body the cut made look complete: an overrun is never a success.
"""

from __future__ import annotations

import contextvars
import heapq
import itertools
import socket
import threading
import time
import weakref
from types import TracebackType

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

# Guards socket ownership and expiry together, so a socket handed to another call (a pooled
# connection) is never cut by the deadline of the call that used it before.
_LOCK = threading.Lock()
_OWNERS: weakref.WeakKeyDictionary[socket.socket, Deadline] = weakref.WeakKeyDictionary()
_ACTIVE: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar("outbound_deadline", default=None)


class DeadlineExceeded(Exception):
    """The call did not finish within its total deadline; whatever it received is incomplete."""

    def __init__(self, seconds: float):
        super().__init__(f"no complete answer within {seconds:g} s")
        self.seconds = seconds


class Deadline:
    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expires_at = time.monotonic() + seconds
        self.expired = False
        self._finished = False
        self._sockets: list[socket.socket] = []
        self._watched = False

    def remaining(self) -> float:
        return self.expires_at - time.monotonic()

    def timeouts(self, connect: float, read: float) -> tuple[float, float]:
        """(connect, read) per-operation timeouts, neither longer than the time left."""
        left = max(self.remaining(), 0.001)
        return min(connect, left), min(read, left)

    def passed(self) -> bool:
        return self.expired or self.remaining() <= 0

    def watch(self, sock: socket.socket | None) -> None:
        """Cut `sock` when this deadline passes (at once if it already has)."""
        if sock is None:
            return
        with _LOCK:
            if self._finished:
                return
            _OWNERS[sock] = self
            if self.expired:
                _cut(sock)
                return
            self._sockets.append(sock)
            if not self._watched:
                self._watched = True
                _WATCHDOG.add(self)

    def _expire(self) -> None:
        with _LOCK:
            if self._finished:
                return
            self.expired = True
            for sock in self._sockets:
                if _OWNERS.get(sock) is self:
                    _cut(sock)

    def _finish(self) -> None:
        with _LOCK:
            self._finished = True
            self._sockets.clear()


def _cut(sock: socket.socket) -> None:
    # The plain socket's shutdown, also for an SSLSocket (whose own shutdown would drop its TLS state
    # under the reading thread): the blocked recv returns end-of-file.
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


class total_deadline:  # noqa: N801 (used as a context manager, like contextlib's)
    """The block's outbound calls must finish within `seconds`, or leaving it raises DeadlineExceeded.

    Nested inside a deadline that ends no later, the block shares the outer deadline.
    """

    def __init__(self, seconds: float):
        self._seconds = seconds
        self._deadline: Deadline | None = None
        self._token: contextvars.Token | None = None

    def __enter__(self) -> Deadline:
        outer = _ACTIVE.get()
        if outer is not None and outer.remaining() <= self._seconds:
            return outer
        self._deadline = Deadline(self._seconds)
        self._token = _ACTIVE.set(self._deadline)
        return self._deadline

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        deadline = self._deadline
        if deadline is None:
            return False
        _ACTIVE.reset(self._token)
        deadline._finish()
        if deadline.passed() and (exc is None or isinstance(exc, Exception)):
            raise DeadlineExceeded(deadline.seconds) from exc
        return False


def active_deadline() -> Deadline | None:
    return _ACTIVE.get()


class _Watchdog:
    """One thread for the whole process: sleeps until the nearest deadline, then cuts its sockets."""

    def __init__(self) -> None:
        self._wake = threading.Condition()
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, deadline: Deadline) -> None:
        with self._wake:
            heapq.heappush(self._heap, (deadline.expires_at, next(self._order), deadline))
            # Checked on every add: a forked worker inherits the attribute but not the thread.
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="outbound-deadlines", daemon=True)
                self._thread.start()
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._heap:
                    self._wake.wait()
                expires_at, _, deadline = self._heap[0]
                wait = expires_at - time.monotonic()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                heapq.heappop(self._heap)
            deadline._expire()


_WATCHDOG = _Watchdog()


def _watch_active(connection: HTTPConnection) -> None:
    deadline = _ACTIVE.get()
    if deadline is not None:
        deadline.watch(connection.sock)


class _DeadlineHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _watch_active(self)

    def request(self, *args, **kwargs) -> None:
        _watch_active(self)  # a pooled connection, already open
        super().request(*args, **kwargs)


class _DeadlineHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _watch_active(self)

    def request(self, *args, **kwargs) -> None:
        _watch_active(self)
        super().request(*args, **kwargs)


class _DeadlineHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class _DeadlineHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


_POOL_CLASSES = {"http": _DeadlineHTTPConnectionPool, "https": _DeadlineHTTPSConnectionPool}


class DeadlineAdapter(HTTPAdapter):
    """A requests adapter whose connections are cut when the active `total_deadline` passes."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOL_CLASSES

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _POOL_CLASSES
        return manager


def deadline_session() -> requests.Session:
    """A requests session whose calls inside a `total_deadline` are cut when it passes."""
    session = requests.Session()
    adapter = DeadlineAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
