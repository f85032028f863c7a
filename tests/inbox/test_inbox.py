"""The inbox: who waits first, what staff see, and taking a conversation over, over the emulator.

The `sandbox` fixture is a real channel on the Cloud API emulator with a customer who just wrote
"Hi! Is the fern in stock? 🌿"; staff replies go over HTTP to the emulator's phone.
"""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from messaging_app.models import Conversation, ConversationRating, Message
from tests.conftest import wait_until
from tests.factories import AgentFactory, ChannelFactory, WorkspaceFactory, conversation_with, member
from workspaces_app.models import Role


@pytest.fixture
def staff(client, sandbox):
    user = member(sandbox.channel.workspace, Role.AGENT, email="sam@luckyshrub.test")
    client.force_login(user)
    client.user = user
    return client


def _inbox(client, **params):
    return client.get(reverse("inbox", args=["lucky-shrub"]), params)


def _conversation_url(name: str, conversation) -> str:
    return reverse(name, args=["lucky-shrub", conversation.pk])


def _phone_received(sandbox) -> list[dict]:
    """What the customer's phone received from the business, oldest first."""
    from cloudapi_emulator.models import Message as PhoneMessage

    received = PhoneMessage.objects.filter(
        number__phone_number_id=sandbox.number.phone_number_id, direction=PhoneMessage.Direction.OUTBOUND
    )
    return [m.content for m in received.order_by("created_at", "id")]


def test_conversations_waiting_for_a_human_come_first_with_how_long_they_waited(staff, sandbox):
    channel = sandbox.channel
    calm = conversation_with(channel, wa_id="447700900001", name="Calm Carl")
    Conversation.objects.filter(pk=calm.pk).update(last_message_at=timezone.now())
    long_wait = conversation_with(channel, wa_id="447700900002", name="Patient Pat")
    short_wait = conversation_with(channel, wa_id="447700900003", name="Quick Quinn")
    Conversation.objects.filter(pk=long_wait.pk).update(
        state="waiting_human", waiting_since=timezone.now() - timedelta(minutes=42)
    )
    Conversation.objects.filter(pk=short_wait.pk).update(
        state="waiting_human", waiting_since=timezone.now() - timedelta(minutes=3)
    )

    page = _inbox(staff)
    names = [str(c.contact) for c in page.context["page"]]
    assert names[:2] == ["Patient Pat", "Quick Quinn"]
    assert "waiting 42\xa0minutes" in page.content.decode()
    assert set(names) >= {"Calm Carl", "Sheena Nelson"}


def test_filters_and_search_by_name_number_and_message_text(staff, sandbox):
    other_channel = ChannelFactory(workspace=sandbox.channel.workspace, name="Support UK")
    conversation_with(other_channel, wa_id="447700900123", name="Ana Lima")
    names = lambda **params: [str(c.contact) for c in _inbox(staff, **params).context["page"]]  # noqa: E731

    assert names(q="Sheena") == ["Sheena Nelson"]
    assert names(q="+44 7700 900123") == ["Ana Lima"]
    assert names(q="fern in stock") == ["Sheena Nelson"]
    assert names(channel=str(other_channel.public_id)) == ["Ana Lima"]
    assert names(unread="on") == ["Sheena Nelson"]
    assert names(assignee="me") == []


def test_the_list_updates_only_when_something_changed(staff, sandbox):
    first = staff.get(reverse("inbox_list", args=["lucky-shrub"]))
    version = first.context["inbox_version"]
    assert staff.get(reverse("inbox_list", args=["lucky-shrub"]), {"v": version}).status_code == 204
    sandbox.emulator.customer_says(sandbox.number, sandbox.customer, "text", {"body": "Hello again"})
    sandbox.emulator.drain()
    wait_until(lambda: Message.objects.filter(content__body="Hello again").exists())
    assert staff.get(reverse("inbox_list", args=["lucky-shrub"]), {"v": version}).status_code == 200


def test_opening_a_conversation_shows_its_bubbles_and_clears_unread(staff, sandbox):
    conversation = sandbox.conversation
    assert Conversation.objects.get(pk=conversation.pk).unread_count == 1
    page = staff.get(_conversation_url("conversation_detail", conversation))
    html = page.content.decode()
    assert page.status_code == 200 and "Is the fern in stock?" in html
    assert "window closes in" in html
    assert Conversation.objects.get(pk=conversation.pk).unread_count == 0


def test_a_teammate_reply_takes_over_pauses_the_agent_and_reaches_the_phone(staff, sandbox):
    agent = AgentFactory(workspace=sandbox.channel.workspace, name="Shrubby", debounce_seconds=0)
    Conversation.objects.filter(pk=sandbox.conversation.pk).update(assigned_agent=agent, state="agent")
    response = staff.post(
        _conversation_url("conversation_reply", sandbox.conversation),
        {"body": "Yes! We have 12 in stock 🌿", "buttons": "Reserve one | No thanks"},
    )
    assert response.status_code == 302
    reply = Message.objects.get(sender=Message.Sender.TEAMMATE)
    assert reply.sender_user == staff.user and reply.message_type == "interactive"
    conversation = Conversation.objects.get(pk=sandbox.conversation.pk)
    assert conversation.state == Conversation.State.HUMAN and conversation.assigned_user == staff.user
    wait_until(lambda: Message.objects.get(pk=reply.pk).wamid)
    sent = _phone_received(sandbox)[-1]
    assert sent["body"]["text"] == "Yes! We have 12 in stock 🌿"
    assert [b["reply"]["title"] for b in sent["action"]["buttons"]] == ["Reserve one", "No thanks"]

    # The agent stays quiet while a human has the conversation.
    sandbox.emulator.customer_says(sandbox.number, sandbox.customer, "text", {"body": "Great, thanks"})
    sandbox.emulator.drain()
    wait_until(lambda: Message.objects.filter(content__body="Great, thanks", handled_at__isnull=False).exists())
    assert not Message.objects.filter(sender=Message.Sender.AGENT).exists()

    staff.post(_conversation_url("conversation_action", sandbox.conversation), {"action": "hand_back"})
    assert Conversation.objects.get(pk=sandbox.conversation.pk).state == Conversation.State.AGENT


def test_a_bad_reply_gets_a_clear_error_and_nothing_is_sent(staff, sandbox):
    url = _conversation_url("conversation_reply", sandbox.conversation)
    too_many = staff.post(url, {"body": "Pick one", "buttons": "A | B | C | D"}, HTTP_HX_REQUEST="true")
    assert too_many.status_code == 400 and "at most 3 quick-reply buttons" in too_many.content.decode()
    empty = staff.post(url, {"body": "  "}, HTTP_HX_REQUEST="true")
    assert "Type a message or attach a file." in empty.content.decode()
    assert not Message.objects.filter(direction="out").exists()


def test_when_the_window_has_closed_the_composer_offers_templates_instead(staff, sandbox):
    Conversation.objects.filter(pk=sandbox.conversation.pk).update(last_inbound_at=timezone.now() - timedelta(hours=25))
    html = staff.get(_conversation_url("conversation_detail", sandbox.conversation)).content.decode()
    assert "only accepts an approved template" in html and "template-picker" in html
    refused = staff.post(
        _conversation_url("conversation_reply", sandbox.conversation), {"body": "Hello?"}, HTTP_HX_REQUEST="true"
    )
    assert refused.status_code == 400 and "24-hour customer-service window is closed" in refused.content.decode()


def test_assign_and_close_then_the_next_customer_message_reopens(staff, sandbox):
    colleague = member(sandbox.channel.workspace, Role.AGENT, email="ana@luckyshrub.test")
    url = _conversation_url("conversation_action", sandbox.conversation)
    staff.post(url, {"action": "assign", "assignee": colleague.pk})
    assert Conversation.objects.get(pk=sandbox.conversation.pk).assigned_user == colleague
    outsider = member(WorkspaceFactory(slug="elsewhere"), Role.OWNER)
    staff.post(url, {"action": "assign", "assignee": outsider.pk})
    assert Conversation.objects.get(pk=sandbox.conversation.pk).assigned_user == colleague

    staff.post(url, {"action": "close"})
    closed = Conversation.objects.get(pk=sandbox.conversation.pk)
    assert closed.state == Conversation.State.CLOSED and closed.closed_at is not None
    sandbox.emulator.customer_says(sandbox.number, sandbox.customer, "text", {"body": "One more question"})
    sandbox.emulator.drain()
    wait_until(lambda: Conversation.objects.get(pk=sandbox.conversation.pk).state != Conversation.State.CLOSED)


def test_closing_asks_for_a_rating_and_the_tap_and_comment_are_stored_without_reopening(staff, sandbox):
    workspace = sandbox.channel.workspace
    workspace.csat_enabled = True
    workspace.save()
    staff.post(_conversation_url("conversation_action", sandbox.conversation), {"action": "close"})
    question = wait_until(
        lambda: Message.objects.filter(sender="system", message_type="interactive", wamid__isnull=False).first()
    )
    assert [b["reply"]["id"] for b in question.content["action"]["buttons"]] == ["csat:5", "csat:3", "csat:1"]

    great = question.content["action"]["buttons"][0]["reply"]
    sandbox.emulator.customer_says(
        sandbox.number,
        sandbox.customer,
        "interactive",
        {"type": "button_reply", "button_reply": great},
        context_wamid=question.wamid,
    )
    sandbox.emulator.drain()
    rating = wait_until(lambda: ConversationRating.objects.filter(score=5).first())
    sandbox.emulator.customer_says(sandbox.number, sandbox.customer, "text", {"body": "Fast and friendly!"})
    sandbox.emulator.drain()
    wait_until(lambda: ConversationRating.objects.get(pk=rating.pk).comment == "Fast and friendly!")
    assert Conversation.objects.get(pk=sandbox.conversation.pk).state == Conversation.State.CLOSED
    assert Message.objects.filter(sender="system", content__body__startswith="Thank you for your feedback").exists()


def test_viewers_read_but_cannot_reply_and_outsiders_get_404(client, sandbox):
    client.force_login(member(sandbox.channel.workspace, Role.VIEWER))
    page = client.get(_conversation_url("conversation_detail", sandbox.conversation))
    assert page.status_code == 200 and "Viewing only" in page.content.decode()
    assert client.post(_conversation_url("conversation_reply", sandbox.conversation), {"body": "hi"}).status_code == 403
    client.force_login(member(WorkspaceFactory(slug="elsewhere"), Role.OWNER))
    assert client.get(_conversation_url("conversation_detail", sandbox.conversation)).status_code == 404


def test_pages_keep_waiting_conversations_first_and_continue_with_the_rest(staff, sandbox):
    now = timezone.now()
    for n in range(60):
        conversation = conversation_with(sandbox.channel, wa_id=f"4477009{n:05d}", name=f"Customer {n:02d}")
        Conversation.objects.filter(pk=conversation.pk).update(last_message_at=now - timedelta(minutes=n))
    waiting = conversation_with(sandbox.channel, wa_id="447700999999", name="Waiting Wendy")
    Conversation.objects.filter(pk=waiting.pk).update(
        state="waiting_human", waiting_since=now - timedelta(hours=2), last_message_at=now - timedelta(days=3)
    )

    first = _inbox(staff).context["page"]
    assert len(first.items) == 50 and first.has_next
    # Both waiting for a human (Sheena's channel has no agent), the longest wait first.
    assert [str(c.contact) for c in first.items[:4]] == ["Waiting Wendy", "Sheena Nelson", "Customer 00", "Customer 01"]
    second = _inbox(staff, page=2).context["page"]
    names = [str(c.contact) for c in second.items]
    assert len(names) == 12 and not second.has_next  # 60 + Sheena + Wendy = 62 in all
    assert not {c.pk for c in first.items} & {c.pk for c in second.items}


def test_a_handoff_shows_why_the_agent_handed_over(staff, sandbox):
    from messaging_app.services.handoff import conversation_handoff

    conversation_handoff(conversation=sandbox.conversation, reason="The customer asked for a human.")
    html = staff.get(_conversation_url("conversation_detail", sandbox.conversation)).content.decode()
    assert "Handed over: The customer asked for a human." in html
