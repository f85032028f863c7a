"""What one customer may cost: model-call limits per conversation and per customer, and the prompt's token budget.

Over the Cloud API emulator (the sandbox: Sheena writes to Lucky Shrub), with the agent "Fern" on a loopback
OpenAI-compatible server that records every request, so what is asserted is what reached the model.
"""

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from agents_app.models import AgentRun
from agents_app.prompt_budget import BYTES_PER_TOKEN
from messaging_app.models import Conversation, Message
from tests.agents.llm_servers import openai_server  # noqa: F401
from tests.conftest import wait_until


@pytest.fixture
def fern(model_fern):
    return model_fern


def _say(sandbox, message_type: str, content: dict) -> None:
    sandbox.emulator.customer_says(sandbox.number, sandbox.customer, message_type, content)
    sandbox.emulator.drain()


def _turn(sandbox, body: str) -> AgentRun:
    """The customer writes and the agent's turn for it finishes."""
    before = AgentRun.objects.count()
    _say(sandbox, "text", {"body": body})
    return wait_until(lambda: (run := AgentRun.objects.order_by("pk")[before:].first()) and run.finished_at and run)


def _calls_made(sandbox, agent, *, calls: int, hours_ago: float) -> None:
    """An earlier turn in the sandbox conversation that made `calls` model calls `hours_ago` hours ago."""
    run = AgentRun.objects.create(
        workspace=sandbox.channel.workspace,
        agent=agent,
        conversation=sandbox.conversation,
        provider="openai",
        status=AgentRun.Status.ANSWERED,
        model_calls=calls,
    )
    AgentRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - timedelta(hours=hours_ago))


def _all_handled() -> bool:
    return not Message.objects.filter(direction="in", handled_at__isnull=True).exists()


def _agent_texts() -> list[str]:
    return [m.content["body"] for m in Message.objects.filter(sender="agent", message_type="text").order_by("pk")]


def _wire_bytes(request: dict) -> int:
    """What a request gave the model, in UTF-8 bytes: every message's text and the tools offered."""
    texts = [m["content"] if isinstance(m["content"], str) else json.dumps(m["content"]) for m in request["messages"]]
    tools = [json.dumps(t) for t in request.get("tools", [])]
    return sum(len(text.encode()) for text in texts + tools)


def test_past_the_hourly_limit_the_customer_gets_one_notice_and_a_teammate_and_the_run_says_which_limit(
    sandbox,
    fern,
    openai_server,  # noqa: F811
):
    fern.model_calls_per_conversation_hour = 2
    fern.save()
    for n in (1, 2):
        openai_server.reply_text(f"Answer {n} 🌿")
        assert _turn(sandbox, f"Question {n}").status == AgentRun.Status.ANSWERED

    held = _turn(sandbox, "Question 3")

    assert len(openai_server.requests) == 2
    assert held.status == AgentRun.Status.HANDED_OFF and held.model_calls == 0
    assert "model-call limit" in held.error and "2 per conversation per hour" in held.error
    assert _agent_texts()[-1] == fern.fallback_message
    conversation = Conversation.objects.get(pk=sandbox.conversation.pk)
    assert conversation.state == Conversation.State.WAITING_HUMAN
    assert "model-call limit" in conversation.handoff_reason

    # Writing on reaches the teammate, not the model, and brings no notice per message.
    replies = len(_agent_texts())
    for body in ("hello??", "answer me", "now!"):
        _say(sandbox, "text", {"body": body})
    wait_until(_all_handled)
    assert len(openai_server.requests) == 2
    assert len(_agent_texts()) == replies
    assert AgentRun.objects.count() == 3


def test_every_request_to_the_model_counts_toward_the_limit_tool_rounds_included(
    sandbox,
    fern,
    openai_server,  # noqa: F811
):
    fern.model_calls_per_conversation_hour = 2
    fern.save()
    openai_server.reply_tool_call("send_list", {"text": "Which plant?", "options": ["Fern", "Monstera"]})
    first = _turn(sandbox, "Which plants do you have?")
    assert first.model_calls == 1
    openai_server.fail(503, "overloaded")  # retried once: two requests in this turn
    openai_server.reply_text("Ferns like shade 🌿")
    assert _turn(sandbox, "Fern").model_calls == 2

    held = _turn(sandbox, "And a Monstera?")

    assert len(openai_server.requests) == 3
    assert "3 calls in this conversation in the last hour" in held.error


def test_the_daily_limit_holds_a_customer_who_spread_their_calls_over_the_day(
    sandbox,
    fern,
    openai_server,  # noqa: F811
):
    fern.model_calls_per_contact_day = 3
    fern.save()
    _calls_made(sandbox, fern, calls=3, hours_ago=5)

    held = _turn(sandbox, "Me again")

    assert not openai_server.requests
    assert held.status == AgentRun.Status.HANDED_OFF
    assert "3 calls for this customer in the last 24 hours" in held.error
    assert "3 per customer per day" in held.error


def test_the_daily_limit_forgets_calls_older_than_a_day(sandbox, fern, openai_server):  # noqa: F811
    fern.model_calls_per_contact_day = 3
    fern.save()
    _calls_made(sandbox, fern, calls=3, hours_ago=25)
    openai_server.reply_text("Welcome back 🌿")

    assert _turn(sandbox, "Hello again").status == AgentRun.Status.ANSWERED
    assert len(openai_server.requests) == 1


def test_a_long_conversation_reaches_the_model_within_the_budget_newest_first(
    sandbox,
    fern,
    openai_server,  # noqa: F811
):
    fern.prompt_token_budget = 2000
    fern.save()
    # The loopback model echoes each question, so every turn adds about 1,600 bytes to the history.
    for n in range(1, 6):
        # WhatsApp stamps a customer's message in whole seconds and the history is ordered by those stamps: a
        # question sent in the same second as the previous reply would sort before it (see the closing note).
        time.sleep(1.01 - time.time() % 1.0)
        _turn(sandbox, f"question-{n} " + "tell me about ferns " * 40)

    request = openai_server.last.json
    wire = json.dumps(request["messages"], ensure_ascii=False)
    assert _wire_bytes(request) <= fern.prompt_token_budget * BYTES_PER_TOKEN
    assert "question-5" in request["messages"][-1]["content"]
    assert request["messages"][-1]["content"].count("tell me about ferns") == 40  # the newest message whole
    assert "question-1" not in wire and "question-2" not in wire  # the oldest left out
    assert AgentRun.objects.order_by("pk").last().prompt[-1]["content"] == request["messages"][-1]["content"]


def test_a_documents_text_is_given_in_full_once_and_only_its_start_in_later_turns(
    sandbox,
    fern,
    openai_server,  # noqa: F811
):
    fern.prompt_token_budget = 8000
    fern.save()
    price_list = "Price list. " + "".join(f"Plant {n}: {n + 10} euros. " for n in range(400)) + "LAST-LINE"
    openai_server.reply_text("Thanks, I have your price list 🌿")
    _say(sandbox, "document", {"data": price_list.encode(), "mime_type": "text/plain", "filename": "prices.txt"})
    wait_until(lambda: AgentRun.objects.filter(status="answered").first())
    assert "LAST-LINE" in json.dumps(openai_server.last.json["messages"])

    openai_server.reply_text("Yes, we deliver 🚚")
    _turn(sandbox, "Do you deliver?")

    later = json.dumps(openai_server.last.json["messages"], ensure_ascii=False)
    assert "Price list. Plant 0: 10 euros." in later
    assert "LAST-LINE" not in later
    assert "not repeated" in later


def test_the_newest_message_is_cut_to_the_budget_rather_than_sent_whole(
    sandbox,
    fern,
    openai_server,  # noqa: F811
):
    fern.prompt_token_budget = 1000
    fern.save()
    openai_server.reply_text("That is a lot of text!")

    _turn(sandbox, "START " + "word " * 5000)

    request = openai_server.last.json
    assert _wire_bytes(request) <= fern.prompt_token_budget * BYTES_PER_TOKEN
    assert request["messages"][-1]["content"].startswith("START word")
    assert "left out to fit the prompt budget" in request["messages"][-1]["content"]
