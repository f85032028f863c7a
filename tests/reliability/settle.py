"""Waiting for the platform to come to rest before the invariants are checked."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from django.utils import timezone


def in_flight(using: str = "default", *, emulator_using: str | None = "default") -> str:
    """What is still moving ("" at rest): events to process, messages to handle or send, turns, webhooks."""
    from agents_app.models import AgentRun
    from channels_app.models import WebhookEvent
    from messaging_app.models import Message

    busy = []
    if emulator_using is not None:  # first: anything it still sends shows up in the platform's checks below
        from cloudapi_emulator.models import WebhookDelivery

        if WebhookDelivery.objects.using(emulator_using).filter(state=WebhookDelivery.State.PENDING).exists():
            busy.append("emulator webhooks pending")
    if WebhookEvent.objects.using(using).filter(state=WebhookEvent.State.PENDING).exists():
        busy.append("webhook events pending")
    inbound = Message.objects.using(using).filter(direction=Message.Direction.INBOUND)
    if inbound.filter(handled_at__isnull=True).exists() or inbound.filter(next_attempt_at__isnull=False).exists():
        busy.append("inbound messages not handled")
    outbound = Message.objects.using(using).filter(direction=Message.Direction.OUTBOUND)
    # A send paced minutes ahead (a recipient's pair rate limit) counts as visibly retrying, not as moving.
    paced = timezone.now() + timedelta(minutes=5)
    if outbound.filter(status__in=["queued", "sending", "unknown"]).exclude(next_attempt_at__gt=paced).exists():
        busy.append("outbound messages on their way")
    if AgentRun.objects.using(using).filter(status=AgentRun.Status.RUNNING).exists():
        busy.append("agent turns running")
    return ", ".join(busy)


def wait_at_rest(
    using: str = "default",
    *,
    timeout: float = 60,
    emulator_using: str | None = "default",
    sweep: Callable[[], None] | None = None,
    sweep_every: float = 1.0,
    diagnose: Callable[[], str] | None = None,
) -> None:
    """Poll until nothing is in flight, running `sweep` (the periodic sweepers) now and then meanwhile.
    `diagnose` adds to the failure message (the platform processes' logs, say).

    The checks are separate queries, so work can slip between two of them (a webhook answered just after
    the events were counted): rest must be seen twice in a row, half a second apart.
    """
    deadline = time.monotonic() + timeout
    next_sweep = time.monotonic()
    quiet_since = None
    while True:
        busy = in_flight(using, emulator_using=emulator_using)
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= 0.5:
            return
        if busy and time.monotonic() > deadline:
            details = f"\n{diagnose()}" if diagnose is not None else ""
            raise AssertionError(f"the platform did not come to rest within {timeout:.0f} s: {busy}{details}")
        if busy and sweep is not None and time.monotonic() >= next_sweep:
            sweep()
            next_sweep = time.monotonic() + sweep_every
        time.sleep(0.1)
