"""Races Meta really produces: duplicate deliveries at once, statuses in any order, statuses before the send's answer.

Run on PostgreSQL in CI (real row locks and unique constraints under concurrency).
"""

import itertools
import json
import threading

import pytest
from django.db import connection
from django.test import Client

from messaging_app.models import Message, StatusReceipt
from messaging_app.services.outbound import message_wamid_record
from tests.factories import conversation_with, outbound_message
from tests.messaging.conftest import CUSTOMER_BSUID, OUTBOUND_WAMID, fixture_bytes, fixture_now, signature

STATUS_FIXTURES = ["status_sent", "status_delivered", "status_read", "status_failed"]


def _post(raw: bytes) -> int:
    response = Client().post(
        "/webhooks/whatsapp/",
        data=raw,
        content_type="application/json",
        headers={"X-Hub-Signature-256": signature(raw)},
    )
    return response.status_code


def _concurrently(count: int, work) -> list:
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = work()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_deliveries_of_one_post_store_one_message_and_one_agent_turn(channel, agent):
    channel.agent = agent
    channel.save()
    raw = fixture_now("text")

    statuses = _concurrently(20, lambda: _post(raw))

    assert statuses == [200] * 20
    assert Message.objects.filter(direction=Message.Direction.INBOUND).count() == 1
    inbound = Message.objects.get(direction=Message.Direction.INBOUND)
    assert inbound.handled_at is not None
    # One downstream reaction: the agent took exactly one turn for it.
    from agents_app.models import AgentRun

    run = AgentRun.objects.get()
    assert run.trigger_message_ids == [inbound.pk]
    replies = Message.objects.filter(direction=Message.Direction.OUTBOUND, sender=Message.Sender.AGENT)
    assert replies.count() >= 1


def _status_body(name: str, wamid: str) -> bytes:
    body = json.loads(fixture_bytes(name))
    body["entry"][0]["changes"][0]["value"]["statuses"][0]["id"] = wamid
    return json.dumps(body).encode()


def _fixture_time(name: str):
    from datetime import UTC, datetime

    status = json.loads(fixture_bytes(name))["entry"][0]["changes"][0]["value"]["statuses"][0]
    return datetime.fromtimestamp(int(status["timestamp"]), tz=UTC)


@pytest.mark.django_db
def test_all_24_arrival_orders_of_sent_delivered_read_failed_end_in_the_same_state(channel, deliver):
    """Documented final state: failed (terminal, wins), with every stage's own timestamp kept."""
    conversation = conversation_with(channel, user_id=CUSTOMER_BSUID)
    outcomes = set()
    for n, order in enumerate(itertools.permutations(STATUS_FIXTURES)):
        wamid = f"wamid.order-{n}"
        message = outbound_message(conversation, wamid=wamid)
        for name in order:
            deliver(_status_body(name, wamid))
        message.refresh_from_db()
        outcomes.add(
            (
                message.status,
                message.sent_at,
                message.delivered_at,
                message.read_at,
                message.failed_at,
                message.error_code,
            )
        )
    assert len(outcomes) == 1
    status, sent_at, delivered_at, read_at, failed_at, code = outcomes.pop()
    assert status == Message.Status.FAILED and code == 131049
    assert sent_at == _fixture_time("status_sent")
    assert delivered_at == _fixture_time("status_delivered")
    assert read_at == _fixture_time("status_read")
    assert failed_at == _fixture_time("status_failed")


@pytest.mark.django_db
@pytest.mark.parametrize("order", list(itertools.permutations(["status_sent", "status_delivered", "status_read"])))
def test_without_a_failure_every_order_ends_read_with_every_timestamp(channel, deliver, order):
    message = outbound_message(conversation_with(channel, user_id=CUSTOMER_BSUID), wamid=OUTBOUND_WAMID)
    for name in order:
        deliver(name)
    message.refresh_from_db()
    assert message.status == Message.Status.READ
    assert (message.sent_at, message.delivered_at, message.read_at) == tuple(
        _fixture_time(n) for n in ("status_sent", "status_delivered", "status_read")
    )


@pytest.mark.django_db
def test_read_without_delivered_implies_delivered_at_the_same_moment(channel, deliver):
    message = outbound_message(conversation_with(channel, user_id=CUSTOMER_BSUID), wamid=OUTBOUND_WAMID)
    deliver("status_read")
    message.refresh_from_db()
    assert message.status == Message.Status.READ
    assert message.delivered_at == message.read_at == _fixture_time("status_read")


@pytest.mark.django_db
def test_a_status_that_arrives_before_the_send_answer_is_applied_when_the_wamid_is_stored(channel, deliver):
    message = outbound_message(conversation_with(channel, user_id=CUSTOMER_BSUID), wamid=None, status="sending")
    deliver("status_delivered")
    assert StatusReceipt.objects.get().message is None
    message.refresh_from_db()
    assert message.status == Message.Status.SENDING

    message_wamid_record(message_id=message.pk, wamid=OUTBOUND_WAMID)

    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED
    assert message.delivered_at == _fixture_time("status_delivered")
    assert StatusReceipt.objects.get().message == message


@pytest.mark.django_db(transaction=True)
def test_concurrent_statuses_for_one_message_fold_to_the_same_final_state(channel):
    message = outbound_message(conversation_with(channel, user_id=CUSTOMER_BSUID), wamid=OUTBOUND_WAMID)
    bodies = [fixture_bytes(name) for name in ("status_sent", "status_delivered", "status_read")] * 3

    queue = iter(bodies)
    lock = threading.Lock()

    def post_next() -> int:
        with lock:
            raw = next(queue)
        return _post(raw)

    results = _concurrently(len(bodies), post_next)

    assert results == [200] * len(bodies)
    message.refresh_from_db()
    assert message.status == Message.Status.READ
    assert StatusReceipt.objects.filter(wamid=OUTBOUND_WAMID).count() == 3
