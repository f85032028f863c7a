"""Processing that scales out: several worker processes share one backlog, agents answer many customers at once.

Each spec runs the production topology (gunicorn and real Celery worker processes on throwaway PostgreSQL and
Redis servers, Graph at the emulator, the model at a loopback server) and asserts what customers and the
database see: one stored row per webhook, one turn per burst, one send per reply, replies in order, an agent's
cap on conversations answered at once, and one workspace's slow model not holding up another's.
"""

import time

import pytest

from agents_app.models import Agent, AgentRun
from channels_app.models import Channel
from messaging_app.models import Conversation, Message
from tests.agents.llm_servers import FakeOpenAIServer
from tests.conftest import wait_until
from tests.reliability import topology
from tests.reliability.invariants import invariants_check
from tests.reliability.meta import HttpPoster, captured_customer_message
from workspaces_app.models import Workspace

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]


def _second_worker(platform) -> None:
    platform.processes.start_worker("worker2")
    platform.processes.wait_worker()


def _agent(platform):
    return Agent.objects.using(platform.db).filter(pk=platform.seed["agent_id"])


def _graph_texts_by_customer(platform) -> dict[str, list[str]]:
    texts: dict[str, list[str]] = {}
    for body in platform.emulator.requests_received(platform.number):
        if body.get("type") == "text":
            texts.setdefault(body["to"].lstrip("+"), []).append(body["text"]["body"])
    return texts


def test_two_workers_sharing_a_backlog_store_answer_and_send_everything_exactly_once(platform):
    _second_worker(platform)
    bodies = []
    for i in range(20):
        customer = platform.customer(f"1650555{i:04d}", name=f"Customer {i}")
        bodies.append(captured_customer_message(platform.number, customer, f"Question {i}")[1])
    poster = HttpPoster(platform.processes.web_port)
    try:
        # Meta redelivers: every webhook arrives twice, so both workers meet the same events.
        for body in bodies + bodies:
            assert poster.post(platform.webhook_path, body, platform.meta.headers(body)) == 200
    finally:
        poster.close()

    platform.wait_at_rest()

    runs = AgentRun.objects.using(platform.db)
    assert runs.count() == 20
    assert set(runs.values_list("status", flat=True)) == {AgentRun.Status.ANSWERED}
    texts = _graph_texts_by_customer(platform)
    assert sorted(texts) == sorted(f"1650555{i:04d}" for i in range(20))
    assert all(replies == [f"echo: Question {int(to[-4:])}"] for to, replies in texts.items())
    invariants_check(using=platform.db, acknowledged=bodies, emulator_using="default")


def test_a_burst_from_one_customer_is_still_one_turn_with_two_workers(platform):
    _second_worker(platform)
    _agent(platform).update(debounce_seconds=1.0)
    sheena = platform.customer("16505550300", name="Sheena")
    for text in ("Hi", "I ordered a fern", "order 1234", "where is it?"):
        platform.emulator.customer_says(platform.number, sheena, "text", {"body": text})

    platform.wait_at_rest()

    run = AgentRun.objects.using(platform.db).get()
    inbound = Message.objects.using(platform.db).filter(direction=Message.Direction.INBOUND).order_by("timestamp", "pk")
    assert run.trigger_message_ids == [m.pk for m in inbound]
    assert len(_graph_texts_by_customer(platform)["16505550300"]) == 1
    invariants_check(using=platform.db, emulator_using="default")


def test_replies_of_many_conversations_answered_at_once_each_arrive_in_order(platform):
    _second_worker(platform)
    # Each answer is split into several WhatsApp messages: they must reach each customer in order.
    _agent(platform).update(target_chars=40, max_messages_per_turn=6)
    long_answer = " ".join(f"Part {n} of the answer to your question, in order." for n in range(1, 5))
    customers = [platform.customer(f"1650555{i:04d}", name=f"Customer {i}") for i in range(400, 412)]
    for _ in customers:
        platform.llm.reply_text(long_answer)
    for customer in customers:
        platform.emulator.customer_says(platform.number, customer, "text", {"body": "Tell me everything"})

    platform.wait_at_rest()

    texts = _graph_texts_by_customer(platform)
    assert len(texts) == len(customers)
    for replies in texts.values():
        numbers = [int(reply.split("Part ")[1].split()[0]) for reply in replies if "Part " in reply]
        assert len(replies) >= 2 and numbers == sorted(numbers), replies
    invariants_check(using=platform.db, emulator_using="default")


def test_an_agent_never_answers_more_conversations_at_once_than_its_cap_and_the_others_wait_their_turn(platform):
    _second_worker(platform)
    _agent(platform).update(max_concurrent_turns=2)
    platform.llm.each_delay = 1.0
    customers = [platform.customer(f"1650555{i:04d}", name=f"Customer {i}") for i in range(500, 507)]
    for customer in customers:
        platform.emulator.customer_says(platform.number, customer, "text", {"body": f"Hello from {customer.phone}"})

    platform.wait_at_rest()

    assert platform.llm.peak_in_flight == 2  # two workers × four threads could have run all seven at once
    assert len(platform.llm.requests) == 7
    texts = _graph_texts_by_customer(platform)
    assert sorted(texts) == sorted(c.phone for c in customers)
    assert not Conversation.objects.using(platform.db).filter(turn_waiting_since__isnull=False).exists()
    invariants_check(using=platform.db, emulator_using="default")


def test_a_slow_model_in_one_workspace_does_not_hold_up_another_workspaces_replies(platform, emulator):
    with FakeOpenAIServer() as quick_model:
        quick_number = _second_number(platform, emulator, quick_model)
        # The slow workspace's model takes 12 s; its agent may answer 2 conversations at once (the worker has
        # 4 threads): five of its customers write first and fill what it may use.
        _agent(platform).update(max_concurrent_turns=2, debounce_seconds=0)
        platform.llm.each_delay = 12.0
        for i in range(5):
            platform.emulator.customer_says(
                platform.number, platform.customer(f"1650555{600 + i:04d}"), "text", {"body": "Slow question"}
            )
        wait_until(lambda: platform.llm.in_flight == 2, timeout=30)
        asked = time.monotonic()
        customer = emulator.customer(quick_number, phone="16505550700")
        emulator.customer_says(quick_number, customer, "text", {"body": "Hi"})

        wait_until(lambda: _replied(emulator, quick_number), timeout=30)
        waited = time.monotonic() - asked
        assert platform.llm.in_flight == 2  # the slow model is still thinking
        assert waited < 6, f"the quick workspace's customer waited {waited:.1f} s behind the slow model"
        platform.llm.each_delay = 0.0
        platform.wait_at_rest()
    invariants_check(using=platform.db, emulator_using="default")


def _replied(emulator, number) -> bool:
    return any(body.get("type") == "text" for body in emulator.requests_received(number))


def _second_number(platform, emulator, model: FakeOpenAIServer):
    """Another workspace on the same platform: its own channel, number and agent (with a quick model)."""
    db = platform.db
    workspace = Workspace.objects.using(db).create(name="Quick shop", slug="quick-shop")
    agent = Agent.objects.using(db).create(
        workspace=workspace,
        name="Quick",
        instructions="Answer briefly.",
        provider=Agent.Provider.OPENAI_COMPATIBLE,
        model="fake-model",
        api_key="sk-quick",
        base_url=model.base_url,
        debounce_seconds=0,
    )
    channel = Channel.objects.using(db).create(
        workspace=workspace,
        name="Quick line",
        provider=Channel.Provider.SANDBOX,
        connection=Channel.Connection.SANDBOX,
        status=Channel.Status.ACTIVE,
        phone_number_id="109870000000002",
        waba_id="109870000000902",
        display_phone_number="+1 555 010 0988",
        access_token="quick-access-token",
        app_secret=topology.APP_SECRET,
        agent=agent,
    )
    number = emulator.provision(
        f"{platform.processes.url}/webhooks/whatsapp/{channel.public_id}/",
        app_secret=topology.APP_SECRET,
        access_token="quick-access-token",
        phone_number_id=channel.phone_number_id,
        waba_id=channel.waba_id,
        display_phone_number=channel.display_phone_number,
    )
    return number
