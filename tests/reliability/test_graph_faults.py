"""Point 6: Graph misbehaves (429s, 5xx, resets, hangs); retries stay bounded, and nothing reaches the customer
twice unless the platform recorded it as a resend after an unknown outcome.

One message per fault, each in its own conversation, sent through the outbox to a real worker thread. The
platform reaches the emulator through a proxy that can reset connections, before the request reaches Graph
or after Graph processed it.
"""

from dataclasses import dataclass

import pytest
from django.test import Client

from channels_app.models import Channel
from cloudapi_emulator.models import SendRequest
from cloudapi_emulator.services import faults_clear
from messaging_app.models import Conversation, Message
from messaging_app.services.outbound import message_send, outbox_sweep
from tests.reliability.invariants import invariants_check
from tests.reliability.meta import captured_customer_message
from tests.reliability.proxy import ResettingProxy
from tests.reliability.settle import wait_at_rest

pytestmark = [pytest.mark.reliability, pytest.mark.celery_worker]

SETTLED = ("accepted", "sent", "delivered", "read")


@dataclass
class Case:
    name: str
    faults: list[dict]  # emulator faults on /messages, taken in order
    resets: list[bool]  # proxy resets: True before Graph sees the request, False after it answered
    status: tuple[str, ...]
    attempts: int
    resent: bool = False


CASES = [
    Case("two 429s, then accepted", [{"error_code": 130429, "count": 2}], [], SETTLED, 3),
    Case("three bare 503s from a proxy", [{"http_status": 503, "count": 3}], [], SETTLED, 4),
    Case("a Graph 131000, once", [{"error_code": 131000}], [], SETTLED, 2),
    Case("5xx that never stops: gives up", [{"http_status": 500, "count": 50}], [], ("failed",), 4),
    Case("a permanent error: no retry", [{"error_code": 131026}], [], ("failed",), 1),
    Case("reset before Graph saw it", [], [True], SETTLED, 2, resent=True),
    Case("reset after Graph accepted it", [], [False], SETTLED, 1),
    Case(
        "hang past the read timeout, accepted meanwhile",
        [{"timeout_seconds": 3, "accepted_despite_timeout": True}],
        [],
        SETTLED,
        1,
    ),
    Case("hang past the read timeout, never accepted", [{"timeout_seconds": 3}], [], SETTLED, 2, resent=True),
]


@pytest.fixture
def proxied_line(line, live_server, settings):
    """The line's Graph calls pass through a proxy that can reset connections; retries and timers are short."""
    port = int(live_server.url.rsplit(":", 1)[1])
    proxy = ResettingProxy(port).start()
    settings.WHATSAPP_EMULATOR_GRAPH_URL = f"{proxy.url}/emulator/graph"
    settings.GRAPH_READ_TIMEOUT = 1.5
    settings.GRAPH_MAX_RETRIES = 3
    settings.WHATSAPP_RETRY_DELAY_SCALE = 0.01
    settings.WHATSAPP_SENDING_LEASE_SECONDS = 2
    settings.WHATSAPP_UNKNOWN_OUTCOME_GRACE_SECONDS = 2
    Channel.objects.filter(pk=line.channel.pk).update(agent=None)  # staff and the API write here; no agent
    line.proxy = proxy
    try:
        yield line
    finally:
        proxy.stop()


def _conversation_with_a_customer(line, n: int) -> Conversation:
    """A customer writes (the emulator opens their window) and the platform stores it."""
    customer = line.customer(f"1650555{n:04d}", name=f"Customer {n}")
    _, body = captured_customer_message(line.number, customer, "Hello?")
    response = Client().post(
        line.webhook_path, data=body, content_type="application/json", headers=line.meta.headers(body)
    )
    assert response.status_code == 200
    wait_at_rest(timeout=30)
    return Conversation.objects.get(contact__wa_id=customer.phone)


def _graph_copies(message: Message) -> int:
    return sum(
        1
        for payload in SendRequest.objects.values_list("payload", flat=True)
        if payload.get("biz_opaque_callback_data") == str(message.public_id)
    )


def test_graph_faults_are_retried_within_bounds_and_never_duplicate_a_message(proxied_line, celery_worker):
    line = proxied_line
    conversations = [_conversation_with_a_customer(line, n) for n in range(len(CASES))]
    outcomes = {}
    for case, conversation in zip(CASES, conversations, strict=True):
        for fault in case.faults:
            line.emulator.fault(number=line.number, endpoint="messages", **fault)
        for before in case.resets:
            line.proxy.reset_next(before=before)

        message = message_send(
            conversation=conversation, message_type="text", content={"body": case.name}, sender=Message.Sender.API
        )
        wait_at_rest(timeout=60, sweep=outbox_sweep)
        faults_clear()  # what a give-up left unused
        message.refresh_from_db()
        outcomes[case.name] = (message.status, message.attempts, message.possible_duplicate, _graph_copies(message))

    line.proxy.wait_idle()  # a hung call outlives its client's timeout; let it end before the database goes
    for case in CASES:
        status, attempts, resent, copies = outcomes[case.name]
        assert status in case.status, (case.name, outcomes[case.name])
        assert attempts == case.attempts, (case.name, outcomes[case.name])  # bounded: GRAPH_MAX_RETRIES + 1 at most
        assert resent == case.resent, (case.name, outcomes[case.name])
        assert copies == (0 if status == "failed" else 1), (case.name, outcomes[case.name])
    failed = Message.objects.filter(status="failed", direction="out")
    assert all(m.error_title or m.error_details for m in failed)
    assert line.proxy.resets == 2
    invariants_check(emulator_using="default")
