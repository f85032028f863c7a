"""Customers asking for a person, in any words or language; and the ones who only mention one."""

import pytest

from agents_app.handoff_intent import handoff_intent, handoff_requested
from messaging_app.models import Conversation, Message
from tests.conftest import wait_until


@pytest.mark.parametrize(
    "text, language",
    [
        ("let me speak to a manager", "en"),
        ("Can I talk to a real person please?", "en"),
        ("transfer me to customer service", "en"),
        ("Is there someone I can talk to?", "en"),
        ("human please!!", "en"),
        ("Quiero hablar con una persona", "es"),
        ("¿Me pasas con un asesor?", "es"),
        ("Quero falar com um atendente", "pt"),
        ("Ich möchte mit einem Menschen sprechen", "de"),
        ("Je voudrais parler à quelqu'un", "fr"),
        ("Posso parlare con un operatore?", "it"),
        ("Ik wil met een medewerker spreken", "nl"),
        ("Are you a bot? I want to talk to a person", "en"),
    ],
)
def test_a_request_for_a_person_is_recognised_with_its_language(text, language):
    intent = handoff_intent(text)
    assert intent is not None and intent.language == language


@pytest.mark.parametrize(
    "text",
    [
        "I'm an agent for a logistics company, do you ship pallets?",
        "I am a travel agent booking for a client",
        "Soy gerente de una tienda y quiero 20 macetas",
        "are you a bot?",
        "Are you human?",
        "eres una persona real?",
        "I don't want to talk to a human, just tell me the price",
        "no quiero hablar con una persona",
        "ich will nicht mit einem Menschen sprechen",
        "je ne veux pas parler à quelqu'un",
        "My manager said I should order three",
        "How much is the human hair wig?",
    ],
)
def test_a_job_title_a_question_about_the_bot_or_a_refusal_is_no_request(text):
    assert not handoff_requested(text, keywords=["human", "agent", "person", "someone", "teammate", "operator"])


def test_the_business_handoff_keywords_count_when_they_are_the_whole_message():
    assert handoff_requested("reception please", keywords=["reception"])
    assert not handoff_requested("where is your reception desk in the building?", keywords=["reception"])


def _say(sandbox, body: str) -> None:
    sandbox.emulator.customer_says(sandbox.number, sandbox.customer, "text", {"body": body})
    sandbox.emulator.drain()


def test_a_spanish_customer_asking_for_a_person_is_handed_over_and_told_so_in_spanish(sandbox, shrubby):
    _say(sandbox, "Quiero hablar con una persona, por favor")
    waiting = wait_until(lambda: Conversation.objects.filter(pk=sandbox.conversation.pk, state="waiting_human").first())
    notice = Message.objects.filter(sender="agent", message_type="text").order_by("-pk").first()
    assert "Te paso con un compañero" in notice.content["body"]
    assert waiting.handoff_language == "es"
    assert "Quiero hablar con una persona" in waiting.handoff_reason


def test_an_agent_by_trade_asking_about_shipping_gets_an_answer_not_a_handoff(sandbox, shrubby):
    _say(sandbox, "I'm an agent for a logistics company. Do you ship to Canada?")
    wait_until(lambda: not Message.objects.filter(direction="in", handled_at__isnull=True).exists())
    wait_until(lambda: any("Canada" in m.content.get("body", "") for m in Message.objects.filter(sender="agent")))
    assert Conversation.objects.get(pk=sandbox.conversation.pk).state == "agent"
