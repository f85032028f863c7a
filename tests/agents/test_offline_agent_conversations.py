"""The offline agent in a conversation: follow-ups, the customer's language, small talk, files, document
passages, paraphrases. End to end through the emulator, like test_knowledge_agent.py."""

import pytest

from agents_app.knowledge import knowledge_search
from agents_app.models import KnowledgeEntry
from messaging_app.models import Conversation, Message
from tests.conftest import wait_until
from tests.factories import AgentFactory

CANADA = (
    "Yes! We ship to Canada in 3–5 business days with Canada Post. "
    "Shipping is free on orders over $50, otherwise it's a flat $12."
)
HOURS = "Our Austin greenhouse is open Monday to Saturday 9am–6pm. Online orders are taken around the clock."
RETURNS = "You can return any plant within 30 days of delivery: print the prepaid label from your order email."
CANCEL = "Go to Settings → Billing → Cancel plan. Your account stays active until the end of the paid period."
CATALOGUE = (
    "Spring catalogue 2026\n\n"
    "Boston fern. Lush and pet-safe, perfect for bathrooms. Small $12, medium $24, large $39.\n\n"
    "Bird's nest fern. Wavy bright green fronds, happy in low light. Small $16, medium $32.\n\n"
    "Snake plant. Almost indestructible and happy in low light. Small $18, medium $34."
)
JPEG = b"\xff\xd8\xff\xe0" + bytes(600)


@pytest.fixture
def shop_agent(sandbox):
    agent = AgentFactory(workspace=sandbox.channel.workspace, name="Shrubby", debounce_seconds=0)
    for title, body in (
        ("Do you ship to Canada?", CANADA),
        ("Opening hours of the greenhouse", HOURS),
        ("How do returns work?", RETURNS),
    ):
        KnowledgeEntry.objects.create(agent=agent, title=title, body=body)
    Conversation.objects.filter(pk=sandbox.conversation.pk).update(assigned_agent=agent, state="agent")
    sandbox.channel.agent = agent
    sandbox.channel.save()
    return agent


def _say(sandbox, message_type="text", content=None, **kw):
    sandbox.emulator.customer_says(sandbox.number, sandbox.customer, message_type, content, **kw)
    sandbox.emulator.drain()


def _replies_after(mark: int) -> list[Message]:
    return list(Message.objects.filter(sender="agent", pk__gt=mark).order_by("pk"))


def _mark() -> int:
    return Message.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def _shown(message: Message) -> str:
    content = message.content
    if message.message_type == "text":
        return content["body"]
    return content["body"]["text"]


def _turn(sandbox, body: str) -> list[Message]:
    """The customer writes `body`; the agent's messages in answer, once its turn has finished."""
    mark = _mark()
    _say(sandbox, "text", {"body": body})
    wait_until(lambda: Message.objects.filter(direction="in", pk__gt=mark, handled_at__isnull=False).exists())
    return _replies_after(mark)


def test_a_follow_up_is_answered_from_the_previous_question(sandbox, shop_agent):
    first = _turn(sandbox, "Do you ship to Canada?")
    assert [_shown(m) for m in first] == [CANADA]
    follow_up = _turn(sandbox, "how much is it?")
    assert [_shown(m) for m in follow_up] == [CANADA]


def test_a_question_in_a_language_the_knowledge_lacks_goes_to_a_person_said_in_that_language(sandbox, shop_agent):
    replies = _turn(sandbox, "Hola, ¿hacen envíos a Canadá?")
    assert [_shown(m) for m in replies] == [
        "No puedo responder a eso en español, así que te paso con una persona del equipo 🙋 "
        "Te responderá aquí en breve."
    ]
    conversation = Conversation.objects.get(pk=sandbox.conversation.pk)
    assert conversation.state == "waiting_human"


def test_thanks_and_goodbye_get_a_polite_reply_and_never_an_answer(sandbox, shop_agent):
    _turn(sandbox, "Do you ship to Canada?")
    thanks = _turn(sandbox, "ok thanks so much 🙏")
    assert [(m.message_type, _shown(m)) for m in thanks] == [
        ("text", "You're welcome, Sheena! 😊 Is there anything else I can help with?")
    ]
    bye = _turn(sandbox, "bye")
    assert [_shown(m) for m in bye] == ["Bye, Sheena! 👋 Have a lovely day."]


def test_a_captioned_photo_is_acknowledged_before_its_caption_is_answered(sandbox, shop_agent):
    mark = _mark()
    _say(sandbox, "image", {"data": JPEG, "mime_type": "image/jpeg", "caption": "can I return this one?"})
    wait_until(lambda: Message.objects.filter(direction="in", pk__gt=mark, handled_at__isnull=False).exists())
    replies = [_shown(m) for m in _replies_after(mark)]
    assert replies[0] == "Thanks for the photo, Sheena! 📎 I can't open it myself."
    assert RETURNS in replies[1:]


def test_a_document_choice_sends_that_passage_and_not_the_whole_document(sandbox, shop_agent):
    KnowledgeEntry.objects.create(
        agent=shop_agent, kind=KnowledgeEntry.Kind.DOCUMENT, title="Spring catalogue 2026", body=CATALOGUE
    )
    offer = next(m for m in _turn(sandbox, "how much is a fern") if m.message_type == "interactive")
    action = offer.content["action"]
    kind = "button_reply" if "buttons" in action else "list_reply"
    choices = [b["reply"] for b in action.get("buttons", [])]
    choices += [row for section in action.get("sections", []) for row in section["rows"]]
    nest = next(choice for choice in choices if choice["title"].startswith("Bird's nest fern"))
    mark = _mark()
    sandbox.emulator.customer_says(
        sandbox.number,
        sandbox.customer,
        "interactive",
        {"type": kind, kind: {"id": nest["id"], "title": nest["title"]}},
        context_wamid=offer.wamid,
    )
    sandbox.emulator.drain()
    wait_until(lambda: Message.objects.filter(direction="in", pk__gt=mark, handled_at__isnull=False).exists())
    assert [_shown(m) for m in _replies_after(mark)] == [
        "Bird's nest fern. Wavy bright green fronds, happy in low light. Small $16, medium $32."
    ]


def test_retrieval_finds_a_paraphrase_that_shares_no_word_with_the_entry(shop_agent, settings):
    KnowledgeEntry.objects.create(agent=shop_agent, title="How do I cancel my subscription?", body=CANCEL)
    paraphrase = "I want to stop paying every month"
    found = knowledge_search(agent=shop_agent, query=paraphrase, limit=1)
    assert found[0].title == "How do I cancel my subscription?"
    settings.AGENT_KNOWLEDGE_EMBEDDINGS = False  # the words alone: nothing in common
    assert knowledge_search(agent=shop_agent, query=paraphrase, limit=1) == []


def test_a_document_is_cut_at_paragraphs_and_sentences_without_its_title_or_orphan_fragments(shop_agent):
    long_paragraph = " ".join(
        f"Order number {n} ships from our Austin greenhouse within two business days of payment." for n in range(12)
    )
    body = f"Shipping policy\n\n{long_paragraph} Our team will confirm.\n\nGift cards never expire."
    KnowledgeEntry.objects.create(
        agent=shop_agent, kind=KnowledgeEntry.Kind.DOCUMENT, title="Shipping policy", body=body
    )
    found = knowledge_search(agent=shop_agent, query="order number ships from the greenhouse", limit=10)
    passages = [p.text for p in found if p.title == "Shipping policy"]
    assert passages and all(not text.startswith("Shipping policy") for text in passages)
    assert all(text.endswith(".") and text[0].isupper() for text in passages)
    assert all(len(text) <= 600 + 80 for text in passages)
    assert not any(text == "Our team will confirm." for text in passages)
    assert any(text.endswith("Our team will confirm.") for text in passages)


def test_an_agent_with_no_knowledge_yet_says_so_and_offers_a_person(sandbox, shop_agent):
    KnowledgeEntry.objects.filter(agent=shop_agent).delete()
    replies = _turn(sandbox, "Do you ship to Canada?")
    assert [_shown(m) for m in replies] == [
        "Hi Sheena! 👋 I'm Shrubby from Lucky Shrub.",
        "I'm not sure I have the answer to that 🤔",
        "Would you like me to bring in a teammate?",
    ]
    assert Conversation.objects.get(pk=sandbox.conversation.pk).state == "agent"


def test_a_voice_note_it_cannot_hear_is_acknowledged_and_the_customer_asked_to_type(sandbox, shop_agent):
    mark = _mark()
    _say(sandbox, "audio", {"data": b"OggS\x00\x02" + bytes(200), "mime_type": "audio/ogg; codecs=opus", "voice": True})
    wait_until(lambda: Message.objects.filter(direction="in", pk__gt=mark, handled_at__isnull=False).exists())
    assert [_shown(m) for m in _replies_after(mark)] == [
        "Thanks for the voice note, Sheena! 📎",
        "I can't listen to voice notes myself: could you type your question?",
    ]


def test_a_document_sent_with_a_question_is_read_and_the_question_answered_with_it(sandbox, shop_agent):
    mark = _mark()
    order = b"Order 4411 for Sheena Nelson: 2 Boston ferns, shipping to Toronto, Canada."
    _say(
        sandbox, "document", {"data": order, "mime_type": "text/plain", "filename": "order.txt", "caption": "how much?"}
    )
    wait_until(lambda: Message.objects.filter(direction="in", pk__gt=mark, handled_at__isnull=False).exists())
    assert [_shown(m) for m in _replies_after(mark)] == ["Thanks for the document, Sheena! 📄 I've read it.", CANADA]
