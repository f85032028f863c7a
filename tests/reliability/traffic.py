"""Load for the outage tests: customers chatting through the emulator, and a prober POSTing webhooks itself.

The prober plays Meta's delivery side with its own records: every body it sends, the answer each attempt
got and when, and it sends again (after a pause) whatever was not acknowledged with a 2xx, until it is.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field

from django.db import connection

from tests.reliability.meta import HttpPoster, MetaSender, new_wamid


@dataclass
class Attempt:
    body: bytes
    status: int  # 0: no answer at all
    at: float  # time.monotonic() when the answer (or its absence) came


@dataclass
class Prober:
    """POSTs status webhooks (for sends the platform does not know yet) every `interval` seconds."""

    port: int
    path: str
    meta: MetaSender
    interval: float = 0.05
    attempts: list[Attempt] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="webhook-prober", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        poster = HttpPoster(self.port, timeout=10)
        unacknowledged: list[bytes] = []
        counter = itertools.count()
        try:
            while not self._stop.is_set():
                body = (
                    unacknowledged.pop(0)
                    if unacknowledged and next(counter) % 2
                    else self.meta.status(wamid=new_wamid("probe"), status="delivered", wa_id="16505559999")
                )
                status = poster.post(self.path, body, self.meta.headers(body))
                self.attempts.append(Attempt(body, status, time.monotonic()))
                if not 200 <= status < 300:
                    unacknowledged.append(body)  # Meta retries what it did not see acknowledged
                self._stop.wait(self.interval)
            while unacknowledged:  # the load is over: deliver what is still owed
                body = unacknowledged.pop(0)
                status = poster.post(self.path, body, self.meta.headers(body))
                self.attempts.append(Attempt(body, status, time.monotonic()))
                if not 200 <= status < 300:
                    unacknowledged.append(body)
                    time.sleep(0.2)
        finally:
            poster.close()

    def stop(self, timeout: float = 60) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            assert not self._thread.is_alive(), "the prober could not deliver its backlog"

    def acknowledged(self) -> list[bytes]:
        return [a.body for a in self.attempts if 200 <= a.status < 300]

    def between(self, start: float, end: float) -> list[Attempt]:
        return [a for a in self.attempts if start <= a.at <= end]


@dataclass
class Chatter:
    """Customers who each write now and then (through the emulator, which delivers and retries the webhooks)."""

    platform: object
    customers: int = 6
    interval: float = 0.25
    sent: list[str] = field(default_factory=list)  # wamids
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        people = [self.platform.customer(f"1650555{n:04d}", name=f"Customer {n}") for n in range(self.customers)]
        self._thread = threading.Thread(target=self._run, args=(people,), name="chatter", daemon=True)
        self._thread.start()

    def _run(self, people) -> None:
        try:
            for n in itertools.count():
                if self._stop.is_set():
                    return
                person = people[n % len(people)]
                wamid = self.platform.emulator.customer_says(
                    self.platform.number, person, "text", {"body": f"Question number {n}?"}
                )
                self.sent.append(wamid)
                self._stop.wait(self.interval)
        finally:
            connection.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
