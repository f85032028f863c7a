"""Point 3: a Celery worker killed with SIGKILL mid agent turn or mid send; restarted; the work completes once.

The worker is a real subprocess (prefork, as in the Procfile) on Redis and PostgreSQL, and SIGKILL goes to
its whole process group: nothing gets to clean up or acknowledge. The task it held is not redelivered
(Redis keeps an unacknowledged task for the visibility timeout, an hour), so recovery has to come from the
database and the sweepers.
"""

import json

import pytest

from agents_app.models import AgentRun
from cloudapi_emulator.models import Fault
from messaging_app.models import Conversation, Message
from tests.conftest import wait_until
from tests.reliability.invariants import invariants_check
from tests.reliability.topology import http_status

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]


def _restart_worker(platform) -> None:
    platform.processes.kill("worker")
    platform.processes.start_worker()
    platform.processes.wait_worker()


def _graph_texts(platform) -> list[str]:
    return [
        body["text"]["body"]
        for body in platform.emulator.requests_received(platform.number)
        if body.get("type") == "text"
    ]


def test_a_worker_killed_during_the_agents_model_call_answers_the_message_once_after_a_restart(platform):
    sheena = platform.customer("16505550101", name="Sheena")
    platform.llm.delay(4)  # the model takes its time: the worker dies while waiting for it
    platform.emulator.customer_says(platform.number, sheena, "text", {"body": "Where is my order?"})
    wait_until(lambda: platform.llm.requests, timeout=30)

    _restart_worker(platform)

    inbound = Message.objects.using(platform.db).get(direction=Message.Direction.INBOUND)
    assert AgentRun.objects.using(platform.db).get().status == AgentRun.Status.RUNNING  # the turn died half-way
    assert not Message.objects.using(platform.db).filter(direction=Message.Direction.OUTBOUND).exists()

    platform.wait_at_rest()

    run = AgentRun.objects.using(platform.db).get()  # the same turn, finished: not a second one
    assert run.status == AgentRun.Status.ANSWERED
    assert run.trigger_message_ids == [inbound.pk]
    reply = Message.objects.using(platform.db).get(direction=Message.Direction.OUTBOUND)
    assert reply.content["body"] == "echo: Where is my order?"
    assert _graph_texts(platform) == ["echo: Where is my order?"]  # the customer got one answer
    assert len(platform.llm.requests) == 2  # asked again after the restart
    invariants_check(using=platform.db, emulator_using="default")


def test_a_worker_killed_while_graph_holds_a_send_sends_it_once_after_a_restart(platform):
    sheena = platform.customer("16505550102", name="Sheena")
    platform.emulator.customer_says(platform.number, sheena, "text", {"body": "Hi, any news?"})
    platform.wait_at_rest()
    conversation = Conversation.objects.using(platform.db).get()
    slow = platform.emulator.fault(number=platform.number, endpoint="messages", latency_ms=4000)

    body = json.dumps({"type": "text", "content": {"body": "Your parcel left the warehouse."}}).encode()
    status = http_status(
        platform.processes.web_port,
        "POST",
        f"/api/v1/conversations/{conversation.pk}/messages/",
        body=body,
        headers={"Authorization": f"Bearer {platform.seed['api_key']}", "Content-Type": "application/json"},
    )
    assert status == 201
    wait_until(lambda: Fault.objects.get(pk=slow.pk).remaining == 0, timeout=30)  # Graph is holding the request

    _restart_worker(platform)

    platform.wait_at_rest()

    sent = Message.objects.using(platform.db).get(sender=Message.Sender.API)
    assert sent.status in ("sent", "delivered", "read")  # settled by its status webhooks, by callback data
    assert not sent.possible_duplicate
    assert _graph_texts(platform).count("Your parcel left the warehouse.") == 1
    invariants_check(using=platform.db, emulator_using="default")
