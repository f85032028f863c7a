"""Points 1 and 2: webhooks delivered many times over, all at once, and a customer's burst of messages.

Deliveries go through Django's test client from many threads at once (real row locks and unique
constraints on PostgreSQL in CI); a real worker thread processes them, and the agent answers through the
emulator, whose status webhooks come back in the meantime.
"""

import json
import random
import threading
import time

import pytest
from django.db import connection
from django.test import Client

from agents_app.models import Agent, AgentRun
from channels_app.models import WebhookEvent
from messaging_app.models import Conversation, Message
from tests.factories import conversation_with
from tests.reliability.invariants import invariants_check
from tests.reliability.meta import HttpPoster, captured_customer_message, new_wamid
from tests.reliability.settle import wait_at_rest

pytestmark = [pytest.mark.reliability, pytest.mark.celery_worker]

_RANK = {"accepted": 0, "sent": 1, "delivered": 2, "read": 3, "played": 4, "failed": 9}


def _deliver_all(line, bodies: list[bytes], *, threads: int = 12) -> list[int]:
    """POST every body, `threads` at a time, in the given order; the answers' statuses."""
    queue = iter(list(enumerate(bodies)))
    lock = threading.Lock()
    statuses = [0] * len(bodies)

    def worker() -> None:
        client = Client()
        try:
            while True:
                with lock:
                    item = next(queue, None)
                if item is None:
                    return
                index, body = item
                response = client.post(
                    line.webhook_path, data=body, content_type="application/json", headers=line.meta.headers(body)
                )
                statuses[index] = response.status_code
        finally:
            connection.close()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(300)
    return statuses


class StatusWatcher:
    """Samples outbound messages' statuses while the storm runs, to catch one going backwards."""

    def __init__(self, message_ids: list[int]) -> None:
        self.message_ids = message_ids
        self.regressions: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        last: dict[int, str] = {}
        try:
            while not self._stop.is_set():
                for pk, status in Message.objects.filter(pk__in=self.message_ids).values_list("pk", "status"):
                    if pk in last and _RANK[status] < _RANK[last[pk]]:
                        self.regressions.append(f"message {pk}: {last[pk]} -> {status}")
                    last[pk] = status
                self._stop.wait(0.02)
        finally:
            connection.close()


def test_a_hundred_messages_each_delivered_ten_times_at_once_with_statuses_are_stored_and_answered_once(
    line, celery_worker
):
    # 25 customers write 4 messages each; the emulator records them and hands their webhooks to the test.
    customers = [line.customer(f"1650555{n:04d}", name=f"Customer {n}") for n in range(25)]
    inbound = [
        captured_customer_message(line.number, customer, f"Question {i} from {customer.name}")
        for i in range(4)
        for customer in customers
    ]
    # 10 messages the business sent earlier (templates, so no window applies), each getting sent, delivered
    # and read; 3 of them also failed.
    sent_earlier = []
    for n in range(10):
        conversation = conversation_with(line.channel, wa_id=f"4477009{n:05d}", name=f"Earlier {n}")
        sent_earlier.append(
            Message.objects.create(
                workspace=conversation.workspace,
                channel=conversation.channel,
                conversation=conversation,
                contact=conversation.contact,
                direction=Message.Direction.OUTBOUND,
                message_type="template",
                content={"name": "order_update", "language": {"code": "en_US"}},
                wamid=new_wamid("earlier"),
                timestamp=conversation.created_at,
                sender=Message.Sender.TEMPLATE,
                status=Message.Status.ACCEPTED,
            )
        )
    statuses = [
        line.meta.status(wamid=m.wamid, status=s, wa_id=m.contact.wa_id, timestamp=time.time() + k)
        for m in sent_earlier
        for k, s in enumerate(("sent", "delivered", "read"))
    ] + [
        line.meta.status(wamid=m.wamid, status="failed", wa_id=m.contact.wa_id, error_code=131026)
        for m in sent_earlier[:3]
    ]
    storm = [body for _, body in inbound] * 10 + statuses * 10
    random.Random(20261124).shuffle(storm)

    with StatusWatcher([m.pk for m in sent_earlier]) as watcher:
        answers = _deliver_all(line, storm)
        assert answers == [200] * len(storm)
        wait_at_rest(timeout=120)

    assert watcher.regressions == []
    stored = Message.objects.filter(direction=Message.Direction.INBOUND)
    assert sorted(stored.values_list("wamid", flat=True)) == sorted(wamid for wamid, _ in inbound)
    assert Conversation.objects.filter(contact__wa_id__startswith="1650555").count() == 25
    for message in sent_earlier[:3]:
        message.refresh_from_db()
        assert (message.status, message.error_code) == ("failed", 131026)
    for message in sent_earlier[3:]:
        message.refresh_from_db()
        assert message.status == "read" and message.sent_at < message.delivered_at < message.read_at
    invariants_check(acknowledged=storm, emulator_using="default")


def test_a_burst_of_ten_messages_within_50_ms_is_one_conversation_in_order_and_one_debounced_turn(
    line, celery_worker, live_server
):
    Agent.objects.filter(pk=line.agent.pk).update(debounce_seconds=2.0)
    sheena = line.customer("16505551234", name="Sheena")
    burst = [captured_customer_message(line.number, sheena, f"part {i} of my question") for i in range(10)]
    port = int(live_server.url.rsplit(":", 1)[1])
    start = threading.Barrier(10)
    answers: list[int] = [0] * 10

    def send(i: int) -> None:
        poster = HttpPoster(port)
        try:
            start.wait(10)
            time.sleep(i * 0.005)  # ten messages over 45 ms, as fast as thumbs go
            body = burst[i][1]
            answers[i] = poster.post(line.webhook_path, body, line.meta.headers(body))
        finally:
            poster.close()

    senders = [threading.Thread(target=send, args=(i,)) for i in range(10)]
    began = time.monotonic()
    for thread in senders:
        thread.start()
    for thread in senders:
        thread.join(30)
    assert answers == [200] * 10
    assert time.monotonic() - began < 1.0  # the whole burst was in well before the debounce ended

    wait_at_rest(timeout=60)

    conversation = Conversation.objects.get()
    arrived = [
        json.loads(bytes(b))["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
        for b in WebhookEvent.objects.order_by("pk").values_list("body", flat=True)
        if b"part " in bytes(b)
    ]
    stored = list(conversation.messages.filter(direction=Message.Direction.INBOUND).order_by("timestamp", "pk"))
    assert [m.wamid for m in stored] == arrived  # stored in the order they arrived
    run = AgentRun.objects.get()  # one turn for the whole burst
    assert run.trigger_message_ids == [m.pk for m in stored]
    asked = [m["content"] for m in line.llm.last.json["messages"] if m["role"] == "user"]
    assert asked == [m.content["body"] for m in stored]  # the model read them in that order
    replies = Message.objects.filter(direction=Message.Direction.OUTBOUND)
    assert replies.count() == 1 and len(line.llm.requests) == 1
    invariants_check(acknowledged=[body for _, body in burst], emulator_using="default")
