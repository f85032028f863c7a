"""What a model agent is told, and how its answers reach WhatsApp, inspected at a loopback model server:
emulator customer → platform → loopback OpenAI-compatible server → WhatsApp messages."""

import json
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from agents_app.reply_shaping import answer_shape, bubbles_pack, distinct_titles
from messaging_app.models import Message
from tests.agents.llm_servers import openai_server  # noqa: F401
from tests.agents.test_http_tools import allow_shop, order_status, shop_service  # noqa: F401
from tests.conftest import wait_until

FOUR_OPTIONS = (
    "Happy to help you book! Which treatment would you like?\n"
    "1. Teeth cleaning appointment, 30 minutes\n"
    "2. Teeth cleaning appointment, 60 minutes\n"
    "3. Whitening\n"
    "4. Check-up with X-rays"
)


def _say(sandbox, message_type="text", content=None, **kw):
    # WhatsApp stamps customer messages in whole seconds and the history is ordered by those stamps: each message
    # goes in a new second, so none sorts before the reply to the one before it.
    time.sleep(1.01 - time.time() % 1.0)
    sandbox.emulator.customer_says(sandbox.number, sandbox.customer, message_type, content, **kw)
    sandbox.emulator.drain()


def _settled(sandbox) -> bool:
    return not Message.objects.filter(
        conversation=sandbox.conversation, direction="in", handled_at__isnull=True
    ).exists()


@pytest.fixture
def friday_night_in_london(sandbox):
    workspace = sandbox.channel.workspace
    workspace.timezone = "Europe/London"
    workspace.save()
    with time_machine.travel(datetime(2030, 1, 4, 21, 30, tzinfo=ZoneInfo("Europe/London")), tick=True):
        yield


def test_the_prompt_gives_the_date_and_time_the_customer_language_and_says_no_knowledge_was_found(
    sandbox,
    model_fern,
    openai_server,  # noqa: F811
    friday_night_in_london,
):
    openai_server.reply_text("¡Sí! Enviamos a Madrid.")
    _say(sandbox, content={"body": "Hola, ¿tienen envío a Madrid el próximo viernes?"})
    wait_until(lambda: openai_server.requests)
    system = openai_server.last.json["messages"][0]
    assert system["role"] == "system"
    assert "Friday 4 January 2030 (2030-01-04), 21:30, time zone Europe/London" in system["content"]
    assert "Reply in the language the customer writes in" in system["content"]
    assert "The customer's latest messages are in Spanish." in system["content"]
    assert "Relevant knowledge: none found for this message." in system["content"]
    assert "the platform sends the customer the handoff message itself" in system["content"]
    assert "angry or upset" in system["content"]


def test_a_model_answer_offering_four_options_arrives_as_a_list_with_distinct_titles(
    sandbox,
    model_fern,
    openai_server,  # noqa: F811
):
    openai_server.reply_text(FOUR_OPTIONS)
    _say(sandbox, content={"body": "I'd like to book something"})
    offer = wait_until(lambda: Message.objects.filter(sender="agent", message_type="interactive").first())
    assert not Message.objects.filter(sender="agent", message_type="text").exists()  # the question is the body
    assert offer.content["type"] == "list"
    assert offer.content["body"]["text"] == "Happy to help you book! Which treatment would you like?"
    rows = offer.content["action"]["sections"][0]["rows"]
    titles = [row["title"] for row in rows]
    assert len(titles) == 4 and len(set(titles)) == 4 and all(len(t) <= 24 for t in titles)
    assert "30 minutes" in titles[0] and "60 minutes" in titles[1]
    assert rows[0]["description"] == "Teeth cleaning appointment, 30 minutes"


def test_list_titles_cut_to_24_characters_stay_distinct():
    options = ["Appointment on Monday morning", "Appointment on Monday afternoon", "Appointment on Monday evening"]
    titles = distinct_titles(options, 24)
    assert len(set(titles)) == 3 and all(len(t) <= 24 for t in titles)
    assert [t.split()[-1] for t in titles] == ["morning", "afternoon", "evening"]


def test_history_counts_turns_and_spells_out_taps_and_quoted_replies(sandbox, model_fern, openai_server):  # noqa: F811
    model_fern.history_messages = 2
    model_fern.save()
    openai_server.reply_text("Yes, we sell Boston ferns.")
    _say(sandbox, content={"body": "Do you sell ferns?"})
    wait_until(lambda: _settled(sandbox) and Message.objects.filter(sender="agent").exists())

    openai_server.reply_tool_call("send_buttons", {"text": "Delivery or pick-up?", "buttons": ["Delivery", "Pick-up"]})
    _say(sandbox, content={"body": "How do I get one?"})
    offer = wait_until(
        lambda: Message.objects.filter(sender="agent", message_type="interactive").exclude(wamid="").first()
    )

    openai_server.reply_text("Pick-up is ready tomorrow at 10am.")
    tap = offer.content["action"]["buttons"][1]["reply"]
    _say(sandbox, "interactive", {"type": "button_reply", "button_reply": tap}, context_wamid=offer.wamid)
    answer = wait_until(
        lambda: (
            Message.objects.filter(sender="agent", content__body="Pick-up is ready tomorrow at 10am.")
            .exclude(wamid="")
            .first()
        )
    )

    openai_server.reply_text("You're welcome!")
    _say(sandbox, content={"body": "Is that in the morning?"}, context_wamid=answer.wamid)
    wait_until(lambda: len(openai_server.requests) == 4)
    chat = openai_server.last.json["messages"][1:]
    said = json.dumps(chat, ensure_ascii=False)
    assert "Do you sell ferns?" not in said  # three turns ago: outside the two turns of history
    assert "How do I get one?" in said
    assert "Delivery or pick-up?\n[buttons: Delivery | Pick-up]" in [m["content"] for m in chat]
    assert "[tapped: Pick-up]" in [m["content"] for m in chat]
    assert chat[-1] == {
        "role": "user",
        "content": "[quoting: “Pick-up is ready tomorrow at 10am.”]\nIs that in the morning?",
    }


def test_a_sentence_longer_than_the_target_stays_whole_and_a_short_last_one_joins_its_neighbour():
    text = (
        "Pick-up orders are ready within two hours. We text you as soon as your order is packed and waiting at "
        "the counter, and the store will confirm. Thanks!"
    )
    bubbles = bubbles_pack(text, target=60)
    assert bubbles == [
        "Pick-up orders are ready within two hours.",
        "We text you as soon as your order is packed and waiting at the counter, and the store will confirm. Thanks!",
    ]


def test_what_a_tool_returned_in_an_earlier_turn_is_in_the_history_before_the_answer_it_served(
    sandbox,
    model_fern,
    openai_server,  # noqa: F811
    shop_service,  # noqa: F811
    allow_shop,  # noqa: F811
):
    order_status(model_fern, shop_service.url + "/orders/{order_id}")
    openai_server.reply_tool_call("order_status", {"order_id": "A1001"})
    openai_server.reply_text("Your order A1001 shipped yesterday 📦")
    _say(sandbox, content={"body": "Where is my order A1001?"})
    wait_until(lambda: _settled(sandbox) and Message.objects.filter(sender="agent").exists())

    openai_server.reply_text("Usually within two days.")
    _say(sandbox, content={"body": "When will it arrive?"})
    wait_until(lambda: len(openai_server.requests) == 3)
    contents = [m.get("content") for m in openai_server.last.json["messages"]]
    lookup = next(c for c in contents if c and c.startswith("[earlier lookup] order_status"))
    assert '{"order_id": "A1001"}' in lookup and '"status": "shipped"' in lookup
    assert contents.index(lookup) == contents.index("Your order A1001 shipped yesterday 📦") - 1


def test_a_list_that_offers_no_choice_stays_text():
    hours = "Here are our hours:\n1. Monday to Friday 9-17\n2. Saturday 10-14\nAnything else I can help with?"
    shown, held = answer_shape([("text", {"body": hours})], target=160, more_id="more:1")
    assert held == [] and [t for t, _ in shown] == ["text"]
    assert shown[0][1]["body"] == hours
