"""The offline Knowledge base agent, end to end through the emulator: customers ask, it answers."""

import pytest

from agents_app.knowledge import knowledge_search
from agents_app.models import AgentRun, KnowledgeEntry
from messaging_app.models import Conversation, Message
from tests.conftest import wait_until
from tests.factories import AgentFactory

SHIPPING = "Yes! 🇨🇦 We ship to Canada in 3–5 business days. Shipping is free over $50."
LONG_RETURNS = (
    "You can return any plant within 30 days of delivery. Pack it in its original box if you still have it. "
    "Print the prepaid label from your order email and drop the parcel at any post office. "
    "Refunds reach your card within 5 business days after the parcel arrives at our greenhouse. "
    "Plants damaged in transit are replaced for free: send us a photo of the damage within 48 hours. "
    "Gift orders can be returned by the recipient with the gift receipt. Sale items are final. "
    "Questions about a return? Just write here and a teammate will help."
)


@pytest.fixture
def shop_agent(sandbox):
    agent = AgentFactory(workspace=sandbox.channel.workspace, name="Shrubby", debounce_seconds=0)
    KnowledgeEntry.objects.create(agent=agent, title="Do you ship to Canada?", body=SHIPPING)
    KnowledgeEntry.objects.create(agent=agent, title="How do returns work?", body=LONG_RETURNS)
    KnowledgeEntry.objects.create(
        agent=agent, title="Opening hours", body="We are open 9am to 6pm, Monday to Saturday."
    )
    Conversation.objects.filter(pk=sandbox.conversation.pk).update(assigned_agent=agent, state="agent")
    sandbox.channel.agent = agent
    sandbox.channel.save()
    return agent


def _agent_text_containing(fragment: str):
    for message in Message.objects.filter(sender="agent", message_type="text").order_by("pk"):
        if fragment in message.content.get("body", ""):
            return message
    return None


def customer_says(sandbox, body: str, **kw):
    sandbox.emulator.customer_says(sandbox.number, sandbox.customer, "text", {"body": body}, **kw)
    sandbox.emulator.drain()


def agent_texts(sandbox) -> list[str]:
    texts = []
    for message in sandbox.emulator.business_messages(sandbox.number, sandbox.customer):
        content = message.content
        texts.append(
            content.get("body") or (content.get("body") or {}).get("text") if isinstance(content, dict) else ""
        )
    return [t for t in texts if t]


def test_retrieval_finds_the_closest_entry(shop_agent):
    found = knowledge_search(agent=shop_agent, query="do you deliver to canada", limit=2)
    assert found and found[0].title == "Do you ship to Canada?"


def test_a_question_is_answered_from_the_closest_faq_entry(sandbox, shop_agent):
    customer_says(sandbox, "Do you ship to Canada?")
    reply = wait_until(lambda: _agent_text_containing("Canada"))
    assert "3–5 business days" in reply.content["body"]
    assert AgentRun.objects.filter(status="answered").exists()


def test_a_long_answer_arrives_as_several_short_messages_in_order(sandbox, shop_agent):
    customer_says(sandbox, "How do returns work?")
    run = wait_until(lambda: AgentRun.objects.filter(status="answered").first())
    wait_until(lambda: Message.objects.filter(sender="agent", status="read").count() >= 4)
    parts = list(Message.objects.filter(sender="agent", message_type="text").order_by("pk"))
    assert len(parts) >= 3
    assert all(len(p.content["body"]) <= shop_agent.target_chars + 40 for p in parts[:-1])
    sent = [
        b["text"]["body"] for b in sandbox.emulator.requests_received(sandbox.number.phone_number_id) if "text" in b
    ]
    assert " ".join(sent[-len(parts) :]).replace("  ", " ").startswith("You can return any plant")
    assert run.response_ms is not None and not run.slow


def test_when_unsure_it_offers_the_closest_answers_and_a_tap_continues(sandbox, shop_agent):
    KnowledgeEntry.objects.create(agent=shop_agent, title="Do you ship to Mexico?", body="Yes, in 7 days. 🇲🇽")
    customer_says(sandbox, "Do you ship abroad?")
    offer = wait_until(lambda: Message.objects.filter(sender="agent", message_type="interactive").first())
    options = offer.content.get("action", {})
    choices = options.get("buttons") or [row for s in options.get("sections", []) for row in s["rows"]]
    first = choices[0]
    reply = first.get("reply") or first
    kind = "button_reply" if "reply" in first else "list_reply"
    sandbox.emulator.customer_says(
        sandbox.number,
        sandbox.customer,
        "interactive",
        {"type": kind, kind: {"id": reply["id"], "title": reply["title"]}},
        context_wamid=offer.wamid,
    )
    sandbox.emulator.drain()
    assert wait_until(lambda: _agent_text_containing("Yes"))


def test_asking_for_a_human_hands_off_and_the_agent_then_stays_silent(sandbox, shop_agent):
    customer_says(sandbox, "I want to talk to a human")
    wait_until(lambda: Conversation.objects.filter(pk=sandbox.conversation.pk, state="waiting_human").first())
    replies_before = Message.objects.filter(sender="agent").count()
    assert replies_before >= 1
    customer_says(sandbox, "Hello? Anyone?")
    wait_until(
        lambda: (
            Message.objects.filter(direction="in", handled_at__isnull=False).count()
            == Message.objects.filter(direction="in").count()
        )
    )
    assert Message.objects.filter(sender="agent").count() == replies_before
    assert AgentRun.objects.filter(status="handed_off").count() == 1


def test_nothing_matching_offers_a_human(sandbox, shop_agent):
    customer_says(sandbox, "What is the airspeed velocity of an unladen swallow?")
    offer = wait_until(lambda: Message.objects.filter(sender="agent", message_type="interactive").first())
    assert "teammate" in offer.content["body"]["text"]


def test_outside_the_window_the_agent_never_tries(sandbox, shop_agent):
    from datetime import timedelta

    from django.utils import timezone

    from agents_app.replies import conversation_inbound_handle

    inbound = Message.objects.filter(direction="in").latest("pk")
    Message.objects.filter(pk=inbound.pk).update(handled_at=None)
    Conversation.objects.filter(pk=sandbox.conversation.pk).update(last_inbound_at=timezone.now() - timedelta(hours=25))
    before = Message.objects.filter(sender="agent").count()
    conversation_inbound_handle(conversation_id=sandbox.conversation.pk)
    assert Message.objects.filter(sender="agent").count() == before
    assert AgentRun.objects.filter(status="skipped").exists()


@pytest.mark.celery_worker
def test_three_quick_messages_become_one_turn(sandbox, shop_agent, celery_worker):
    from agents_app.models import Agent

    Agent.objects.filter(pk=shop_agent.pk).update(debounce_seconds=1.5)
    runs_before = AgentRun.objects.count()
    for body in ("Hi", "Do you ship to Canada?", "And how long does it take?"):
        sandbox.emulator.customer_says(sandbox.number, sandbox.customer, "text", {"body": body})
    sandbox.emulator.drain()
    wait_until(
        lambda: (
            Message.objects.filter(direction="in").count()
            == Message.objects.filter(direction="in", handled_at__isnull=False).count()
            and AgentRun.objects.count() > runs_before
        ),
        timeout=20,
    )
    new_runs = list(AgentRun.objects.order_by("pk"))[runs_before:]
    assert len(new_runs) == 1
    assert len(new_runs[0].trigger_message_ids) == 3


def test_the_team_is_emailed_when_a_customer_waits_for_a_human(sandbox, shop_agent):
    from django.core import mail

    from tests.factories import member
    from workspaces_app.models import Role

    workspace = sandbox.channel.workspace
    workspace.notify_handoff_by_email = True
    workspace.save()
    member(workspace, Role.AGENT, email="answerer@lucky.test")
    member(workspace, Role.VIEWER, email="watcher@lucky.test")
    customer_says(sandbox, "Can I talk to a person please")
    wait_until(lambda: Conversation.objects.filter(pk=sandbox.conversation.pk, state="waiting_human").first())
    email = wait_until(lambda: mail.outbox[0] if mail.outbox else None)
    assert "answerer@lucky.test" in email.to and "watcher@lucky.test" not in email.to
    assert "waiting for a human" in email.subject and "/inbox/" in email.body
