"""A language-model agent end to end: emulator customer → platform → loopback LLM → WhatsApp replies."""

import io
import json

from agents_app.models import Agent, AgentRun
from messaging_app.models import Conversation, Message
from tests.agents.llm_servers import anthropic_server, openai_server  # noqa: F401
from tests.conftest import wait_until
from tests.factories import AgentFactory

LONG_ANSWER = (
    "Our Monstera deliciosa is a wonderful choice for a bright living room. It likes indirect light and a good "
    "drink once the top few centimetres of soil are dry, usually every week or so in summer. In winter, water "
    "less. Wipe the big leaves now and then so they can breathe, and give it a moss pole to climb. It grows "
    "quickly, so repot it every two years in spring with a chunky, well-draining mix. Keep it away from cold "
    "drafts and radiators. It is mildly toxic to cats and dogs, so keep it out of reach of pets. Misting helps "
    "in dry winter air, and yellow leaves usually mean too much water."
)


def _agent(sandbox, server, provider="openai", **kw) -> Agent:
    agent = AgentFactory(
        workspace=sandbox.channel.workspace,
        name="Fern",
        provider=provider,
        model="test-model",
        api_key="sk-test",
        base_url=server.base_url,
        debounce_seconds=0,
        **kw,
    )
    Conversation.objects.filter(pk=sandbox.conversation.pk).update(assigned_agent=agent, state="agent")
    return agent


def _say(sandbox, message_type="text", content=None, **kw):
    sandbox.emulator.customer_says(sandbox.number, sandbox.customer, message_type, content, **kw)
    sandbox.emulator.drain()


def test_an_answer_of_about_600_characters_arrives_as_three_messages_and_more_on_a_tap_never_cutting_a_sentence(
    sandbox,
    openai_server,  # noqa: F811
):
    agent = _agent(sandbox, openai_server)
    openai_server.reply_text(LONG_ANSWER)
    _say(sandbox, content={"body": "How do I care for a Monstera?"})
    more = wait_until(lambda: Message.objects.filter(sender="agent", message_type="interactive").first())
    first = list(Message.objects.filter(sender="agent").order_by("pk"))
    assert len(first) == 3 and first[-1] == more
    assert [b["reply"]["title"] for b in more.content["action"]["buttons"]] == ["More"]
    request = openai_server.last.json
    assert request["model"] == "test-model"
    assert any("Monstera" in json.dumps(m) for m in request["messages"])

    _say(
        sandbox, "interactive", {"type": "button_reply", "button_reply": more.content["action"]["buttons"][0]["reply"]}
    )
    wait_until(lambda: Message.objects.filter(sender="agent").count() > 3)
    wait_until(lambda: not Message.objects.filter(direction="in", handled_at__isnull=True).exists())
    assert len(openai_server.requests) == 1  # the rest was held, not asked for again
    bubbles = [
        m.content["body"] if m.message_type == "text" else m.content["body"]["text"]
        for m in Message.objects.filter(sender="agent").order_by("pk")
    ]
    assert " ".join(bubbles).split() == LONG_ANSWER.split()
    assert all(b.endswith((".", "!", "?")) for b in bubbles)  # whole sentences only: no orphan fragment
    assert all(len(b) <= agent.target_chars for b in bubbles)


def test_a_question_with_options_arrives_as_reply_buttons_and_a_tap_continues(sandbox, openai_server):  # noqa: F811
    _agent(sandbox, openai_server)
    openai_server.reply_tool_call("send_buttons", {"text": "Delivery or pick-up?", "buttons": ["Delivery", "Pick-up"]})
    _say(sandbox, content={"body": "I'd like to order a fern"})
    offer = wait_until(lambda: Message.objects.filter(sender="agent", message_type="interactive").first())
    titles = [b["reply"]["title"] for b in offer.content["action"]["buttons"]]
    assert titles == ["Delivery", "Pick-up"]

    openai_server.reply_text("Great, pick-up is ready tomorrow from 10am 🌿")
    button = offer.content["action"]["buttons"][1]["reply"]
    _say(sandbox, "interactive", {"type": "button_reply", "button_reply": button}, context_wamid=offer.wamid)
    wait_until(lambda: Message.objects.filter(sender="agent", message_type="text").first())
    assert "Pick-up" in json.dumps(openai_server.last.json["messages"], ensure_ascii=False)


def test_four_options_for_buttons_arrive_as_a_list(sandbox, openai_server):  # noqa: F811
    _agent(sandbox, openai_server)
    openai_server.reply_tool_call("send_buttons", {"text": "Pick a size", "buttons": ["S", "M", "L", "XL"]})
    _say(sandbox, content={"body": "Sizes?"})
    offer = wait_until(lambda: Message.objects.filter(sender="agent", message_type="interactive").first())
    assert offer.content["type"] == "list" and offer.content["body"]["text"] == "Pick a size"
    assert [r["title"] for r in offer.content["action"]["sections"][0]["rows"]] == ["S", "M", "L", "XL"]


def test_more_than_ten_options_fall_back_to_a_numbered_text_list(sandbox, openai_server):  # noqa: F811
    _agent(sandbox, openai_server)
    sizes = [f"EU {n}" for n in range(36, 48)]
    openai_server.reply_tool_call("send_list", {"text": "Pick a shoe size", "options": sizes})
    _say(sandbox, content={"body": "Sizes?"})
    text = wait_until(lambda: Message.objects.filter(sender="agent", message_type="text").first())
    assert "1. EU 36" in text.content["body"] and "12. EU 47" in text.content["body"]


def test_asking_for_a_human_hands_off_without_calling_the_model_and_the_agent_stays_silent(
    sandbox,
    openai_server,  # noqa: F811
):
    _agent(sandbox, openai_server)
    _say(sandbox, content={"body": "I want to talk to a human"})
    wait_until(lambda: Conversation.objects.filter(pk=sandbox.conversation.pk, state="waiting_human").first())
    assert not openai_server.requests
    replies = Message.objects.filter(sender="agent").count()
    _say(sandbox, content={"body": "hello?"})
    wait_until(lambda: not Message.objects.filter(direction="in", handled_at__isnull=True).exists())
    assert Message.objects.filter(sender="agent").count() == replies


def test_the_handoff_tool_hands_the_conversation_to_humans(sandbox, openai_server):  # noqa: F811
    _agent(sandbox, openai_server)
    openai_server.reply_tool_call("handoff_to_human", {"reason": "Refund dispute", "summary": "Wants €40 back"})
    _say(sandbox, content={"body": "You overcharged me!"})
    run = wait_until(lambda: AgentRun.objects.filter(status="handed_off").first())
    assert run.tool_calls[0]["name"] == "handoff_to_human"
    assert Conversation.objects.get(pk=sandbox.conversation.pk).state == "waiting_human"


def test_an_image_reaches_the_model_as_image_input(sandbox, openai_server):  # noqa: F811
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), "green").save(out, format="PNG")
    _agent(sandbox, openai_server)
    openai_server.reply_text("That's a lovely green leaf 🌿")
    _say(sandbox, "image", {"data": out.getvalue(), "mime_type": "image/png", "caption": "What plant is this?"})
    wait_until(lambda: AgentRun.objects.filter(status="answered").first())
    parts = [p for m in openai_server.last.json["messages"] if isinstance(m.get("content"), list) for p in m["content"]]
    assert any(p.get("type") == "image_url" and p["image_url"]["url"].startswith("data:image/png") for p in parts)


def test_a_provider_failure_is_retried_once_then_the_fallback_is_sent_and_humans_take_over(
    sandbox,
    openai_server,  # noqa: F811
):
    agent = _agent(sandbox, openai_server)
    openai_server.fail(500, "upstream exploded")
    openai_server.fail(500, "upstream exploded")
    _say(sandbox, content={"body": "Hello?"})
    run = wait_until(lambda: AgentRun.objects.filter(status="failed").first())
    assert len(openai_server.requests) == 2
    fallback = Message.objects.filter(sender="agent").get()
    assert fallback.content["body"] == agent.fallback_message
    assert "Traceback" not in fallback.content["body"] and run.error
    assert Conversation.objects.get(pk=sandbox.conversation.pk).state == "waiting_human"


def test_an_anthropic_agent_answers_too(sandbox, anthropic_server):  # noqa: F811
    _agent(sandbox, anthropic_server, provider="anthropic")
    anthropic_server.reply_text("Hello from Claude 👋")
    _say(sandbox, content={"body": "Hi"})
    reply = wait_until(lambda: Message.objects.filter(sender="agent").first())
    assert reply.content["body"] == "Hello from Claude 👋"
    run = AgentRun.objects.get(status="answered")
    assert run.input_tokens > 0 and run.model_latency_ms is not None
