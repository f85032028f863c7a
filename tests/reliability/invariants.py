""" "Nothing lost": the invariants every reliability test ends on, written once.

Checked at rest, after the test let the platform settle:
- every webhook answered 2xx is in the database (the test passes the bodies it saw acknowledged), and no
  stored event is still waiting to be processed;
- every stored inbound message was handled, and no turn was left half-done;
- every outbound message ended accepted (or later), failed with a reason, or visibly retrying: queued with a
  next attempt scheduled, or `unknown` with its reason while it waits for a status webhook;
- at most one agent turn per inbound message, and no turn still marked running;
- statuses never regress: each message's status is the fold of every receipt stored for it;
- each inbound wamid is stored once;
- no free-form message went out while the customer-service window was closed;
- with the emulator's records: no message reached Graph twice unless it is flagged as a resend after an
  unknown outcome, and Graph saw no free-form message outside the window (131047).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from datetime import timedelta

from django.db.models import Count

WINDOW = timedelta(hours=24)
_STATUS_RANK = {"sent": 1, "delivered": 2, "read": 3, "played": 4}
_SETTLED = {"accepted", "sent", "delivered", "read", "played"}


def invariants_check(
    *, using: str = "default", acknowledged: Iterable[bytes] = (), emulator_using: str | None = None
) -> None:
    """Fail with every broken invariant listed (see the module docstring)."""
    violations = invariants_violations(using=using, acknowledged=acknowledged, emulator_using=emulator_using)
    assert not violations, "invariants broken:\n  " + "\n  ".join(violations)


def invariants_violations(
    *, using: str = "default", acknowledged: Iterable[bytes] = (), emulator_using: str | None = None
) -> list[str]:
    violations: list[str] = []
    violations += _webhooks(using, acknowledged)
    violations += _inbound(using)
    violations += _outbound(using)
    violations += _turns(using)
    violations += _statuses(using)
    violations += _window(using)
    if emulator_using is not None:
        violations += _graph(using, emulator_using)
    return violations


def _some(items, limit: int = 5) -> str:
    items = list(items)
    shown = ", ".join(str(i) for i in items[:limit])
    return shown + (f" (+{len(items) - limit} more)" if len(items) > limit else "")


def _webhooks(using: str, acknowledged: Iterable[bytes]) -> list[str]:
    from channels_app.models import WebhookEvent

    found = []
    wanted = {hashlib.sha256(bytes(body)).hexdigest() for body in acknowledged}
    if wanted:
        stored = {
            hashlib.sha256(bytes(body)).hexdigest()
            for body in WebhookEvent.objects.using(using).values_list("body", flat=True).iterator()
        }
        missing = wanted - stored
        if missing:
            found.append(f"{len(missing)} webhook(s) answered 2xx are not in the database")
    pending = list(
        WebhookEvent.objects.using(using).filter(state=WebhookEvent.State.PENDING).values_list("pk", flat=True)
    )
    if pending:
        found.append(f"{len(pending)} stored webhook event(s) never processed: ids {_some(pending)}")
    unexplained = list(
        WebhookEvent.objects.using(using).filter(state=WebhookEvent.State.FAILED, error="").values_list("pk", flat=True)
    )
    if unexplained:
        found.append(f"webhook event(s) failed without an error: ids {_some(unexplained)}")
    return found


def _inbound(using: str) -> list[str]:
    from messaging_app.models import Message

    found = []
    inbound = Message.objects.using(using).filter(direction=Message.Direction.INBOUND)
    unhandled = [
        f"{pk} ({kind} {wamid})"
        for pk, kind, wamid in inbound.filter(handled_at__isnull=True).values_list("pk", "message_type", "wamid")
    ]
    if unhandled:
        found.append(f"{len(unhandled)} inbound message(s) never handled: {_some(unhandled)}")
    # An inbound message's next_attempt_at is set until its handling (the agent's turn included) finished.
    unfinished = list(inbound.filter(next_attempt_at__isnull=False).values_list("pk", flat=True))
    if unfinished:
        found.append(f"{len(unfinished)} inbound message(s) whose handling never finished: ids {_some(unfinished)}")
    twice = list(
        inbound.exclude(wamid=None)
        .values("channel_id", "wamid")
        .annotate(copies=Count("pk"))
        .filter(copies__gt=1)
        .values_list("wamid", flat=True)
    )
    if twice:
        found.append(f"inbound wamid(s) stored more than once: {_some(twice)}")
    return found


def _outbound(using: str) -> list[str]:
    from messaging_app.models import Message

    found = []
    outbound = Message.objects.using(using).filter(direction=Message.Direction.OUTBOUND)
    for pk, status, code, title, details, next_attempt_at, attempts in outbound.exclude(
        status__in=_SETTLED
    ).values_list("pk", "status", "error_code", "error_title", "error_details", "next_attempt_at", "attempts"):
        if status == Message.Status.FAILED:
            if code is None and not title and not details:
                found.append(f"outbound message {pk} failed without a reason")
        elif status == Message.Status.QUEUED:
            if next_attempt_at is None or attempts == 0:
                found.append(f"outbound message {pk} is queued with no attempt made or scheduled (lost)")
        elif status == Message.Status.UNKNOWN:
            if next_attempt_at is None or not details:
                found.append(f"outbound message {pk} has an unknown outcome with no reason or resend time")
        else:
            found.append(f"outbound message {pk} is stuck in '{status}'")
    return found


def _turns(using: str) -> list[str]:
    from agents_app.models import AgentRun

    found = []
    running = list(AgentRun.objects.using(using).filter(status=AgentRun.Status.RUNNING).values_list("pk", flat=True))
    if running:
        found.append(f"{len(running)} agent turn(s) never finished: runs {_some(running)}")
    triggers = Counter()
    for ids in AgentRun.objects.using(using).values_list("trigger_message_ids", flat=True).iterator():
        triggers.update(set(ids or []))
    twice = [message_id for message_id, turns in triggers.items() if turns > 1]
    if twice:
        found.append(f"inbound message(s) answered by more than one agent turn: ids {_some(sorted(twice))}")
    return found


def _statuses(using: str) -> list[str]:
    from messaging_app.models import Message, StatusReceipt

    found = []
    receipts: dict[tuple[int, str], set[str]] = {}
    for channel_id, wamid, status in (
        StatusReceipt.objects.using(using).values_list("channel_id", "wamid", "status").iterator()
    ):
        receipts.setdefault((channel_id, wamid), set()).add(status)
    for pk, channel_id, wamid, status in (
        Message.objects.using(using)
        .filter(direction=Message.Direction.OUTBOUND)
        .exclude(wamid=None)
        .values_list("pk", "channel_id", "wamid", "status")
        .iterator()
    ):
        seen = receipts.get((channel_id, wamid))
        if not seen:
            continue
        if "failed" in seen:
            expected = "failed"
        else:
            ranked = [s for s in seen if s in _STATUS_RANK]
            if not ranked:
                continue
            expected = max(ranked, key=_STATUS_RANK.__getitem__)
        if status != expected:
            found.append(f"outbound message {pk} shows '{status}' but its receipts say '{expected}' (regressed)")
    return found


def _window(using: str) -> list[str]:
    """No free-form message was sent (reached Graph) unless the customer wrote within the 24 hours before."""
    from messaging_app.models import Message

    found = []
    inbound_times: dict[int, list] = {}
    for conversation_id, at in (
        Message.objects.using(using)
        .filter(direction=Message.Direction.INBOUND)
        .values_list("conversation_id", "timestamp")
        .iterator()
    ):
        inbound_times.setdefault(conversation_id, []).append(at)
    sent = (
        Message.objects.using(using)
        .filter(direction=Message.Direction.OUTBOUND)
        .exclude(message_type="template")
        .exclude(wamid=None)
        .values_list("pk", "conversation_id", "created_at")
    )
    for pk, conversation_id, created_at in sent.iterator():
        if not any(created_at - WINDOW <= at <= created_at for at in inbound_times.get(conversation_id, [])):
            found.append(f"free-form message {pk} was sent outside the 24-hour window")
    return found


def _graph(using: str, emulator_using: str) -> list[str]:
    """What the emulator (standing in for Meta) received, against what the platform recorded."""
    from cloudapi_emulator.models import Message as GraphMessage
    from cloudapi_emulator.models import SendRequest
    from messaging_app.models import Message

    found = []
    sends = Counter()
    for payload in SendRequest.objects.using(emulator_using).values_list("payload", flat=True).iterator():
        if payload.get("status") == "read":
            continue  # read receipts and typing indicators
        sends[payload.get("biz_opaque_callback_data", "")] += 1
    flagged = {
        str(public_id)
        for public_id in Message.objects.using(using)
        .filter(possible_duplicate=True)
        .values_list("public_id", flat=True)
    }
    for public_id, count in sends.items():
        if count > 1 and not (public_id in flagged and count == 2):
            found.append(f"message {public_id or '(no callback data)'} reached Graph {count} times")
    outside = GraphMessage.objects.using(emulator_using).filter(error_code=131047).count()
    if outside:
        found.append(f"Graph refused {outside} free-form message(s) sent outside the window (131047)")
    return found
