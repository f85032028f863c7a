"""The agent test console: chat with an agent in the browser, through the same runtime, and see its turns.

Graph URLs point at a closed port in every test, so these pass only if nothing tries WhatsApp.
"""

import io

import pytest
from django.urls import reverse
from PIL import Image

from agents_app.models import Agent, AgentRun, KnowledgeEntry
from channels_app.models import Channel
from messaging_app.models import Conversation, Message
from tests.agents.llm_servers import openai_server  # noqa: F401
from tests.factories import AgentFactory, ChannelFactory, WorkspaceFactory, api_key_for, member
from workspaces_app.models import Role

pytestmark = pytest.mark.django_db(transaction=True)

SHIPPING = "Yes! We ship to Canada in 5-7 business days 🇨🇦 Shipping is free over $50."


@pytest.fixture
def shop():
    return WorkspaceFactory(name="Lucky Shrub", slug="lucky-shrub")


@pytest.fixture
def fern(shop):
    agent = AgentFactory(workspace=shop, name="Fern", debounce_seconds=0)
    KnowledgeEntry.objects.create(agent=agent, title="Do you ship to Canada?", body=SHIPPING)
    KnowledgeEntry.objects.create(agent=agent, title="How do returns work?", body="Returns are free for 30 days.")
    return agent


@pytest.fixture
def tester(client, shop):
    user = member(shop, Role.AGENT, email="sam@luckyshrub.test")
    client.force_login(user)
    client.user = user
    return client


def _model_agent(shop, server) -> Agent:
    return AgentFactory(
        workspace=shop,
        name="Ivy",
        provider="openai",
        model="test-model",
        api_key="sk-test",
        base_url=server.base_url,
        debounce_seconds=0,
    )


def _url(name: str, agent: Agent) -> str:
    return reverse(name, args=[agent.workspace.slug, agent.public_id])


def _say(client, agent: Agent, body: str = "", **files):
    return client.post(_url("agent_test_send", agent), {"body": body, **files}, HTTP_HX_REQUEST="true")


def _agent_texts(agent: Agent) -> list[str]:
    return [
        m.content.get("body", "")
        for m in Message.objects.filter(channel__agent=agent, sender="agent", message_type="text").order_by("pk")
    ]


def test_a_question_typed_in_the_console_is_answered_by_the_agent_through_the_real_pipeline(tester, fern):
    page = tester.get(_url("agent_test_console", fern))
    assert page.status_code == 200
    assert "Test console" in page.content.decode()

    response = _say(tester, fern, "Do you ship to Canada?")
    assert response.status_code == 200 and response["HX-Trigger"] == "test-chat-changed"

    channel = Channel.objects.get(agent=fern, provider=Channel.Provider.TEST_CONSOLE)
    question = Message.objects.get(channel=channel, direction="in")
    assert question.content == {"body": "Do you ship to Canada?"} and question.handled_at is not None
    assert any("Canada" in text for text in _agent_texts(fern))
    answer = Message.objects.filter(channel=channel, sender="agent").first()
    assert answer.status == Message.Status.ACCEPTED and answer.wamid.startswith("wamid.console.")
    run = AgentRun.objects.get(conversation__channel=channel)
    assert run.status == AgentRun.Status.ANSWERED and run.response_ms is not None

    chat = tester.get(_url("agent_test_chat", fern)).content.decode()
    assert "Do you ship to Canada?" in chat and "5-7 business days" in chat
    assert 'id="test-side" hx-swap-oob="true"' in chat and "Answered" in chat
    assert "knowledge_search" in chat and run.tool_calls[0]["result"][0]["title"] == "Do you ship to Canada?"


def test_the_chat_partial_answers_204_until_something_changes(tester, fern):
    tester.get(_url("agent_test_console", fern))
    first = tester.get(_url("agent_test_chat", fern))
    version = first.context["chat_version"]
    assert tester.get(_url("agent_test_chat", fern), {"v": version}).status_code == 204
    _say(tester, fern, "How do returns work?")
    assert tester.get(_url("agent_test_chat", fern), {"v": version}).status_code == 200


def test_a_model_agent_shows_its_tool_calls_and_a_tapped_button_continues(
    tester,
    shop,
    openai_server,  # noqa: F811
):
    agent = _model_agent(shop, openai_server)
    openai_server.reply_tool_call("send_buttons", {"text": "Delivery or pick-up?", "buttons": ["Delivery", "Pick-up"]})
    _say(tester, agent, "I'd like a fern")

    offer = Message.objects.get(channel__agent=agent, sender="agent", message_type="interactive")
    side = tester.get(_url("agent_test_chat", agent)).content.decode()
    assert "send_buttons" in side and "Delivery or pick-up?" in side  # the call and its arguments
    assert "What the model was given" in side

    openai_server.reply_text("Pick-up is ready tomorrow from 10am 🌿")
    pick_up = offer.content["action"]["buttons"][1]["reply"]["id"]
    tapped = tester.post(
        _url("agent_test_tap", agent), {"wamid": offer.wamid, "choice": pick_up}, HTTP_HX_REQUEST="true"
    )
    assert tapped.status_code == 200
    reply = Message.objects.get(channel__agent=agent, direction="in", message_type="interactive")
    assert reply.content["button_reply"]["title"] == "Pick-up" and reply.reply_to == offer
    assert "Pick-up is ready tomorrow" in " ".join(_agent_texts(agent))
    assert "Pick-up" in str(openai_server.last.json["messages"])

    bogus = tester.post(_url("agent_test_tap", agent), {"wamid": offer.wamid, "choice": "nope"}, HTTP_HX_REQUEST="true")
    assert bogus.status_code == 400 and "no such button" in bogus.content.decode()


def test_a_photo_sent_in_the_console_reaches_the_model_as_image_input_and_is_served_to_members_only(
    tester,
    shop,
    openai_server,  # noqa: F811
    client,
):
    agent = _model_agent(shop, openai_server)
    openai_server.reply_text("What a lovely monstera! 🌿")
    png = io.BytesIO()
    Image.new("RGB", (8, 8), "green").save(png, format="PNG")
    png.name = "plant.png"
    png.seek(0)
    _say(tester, agent, "Is this healthy?", file=png)

    photo = Message.objects.get(channel__agent=agent, direction="in", message_type="image")
    assert photo.media_state == Message.MediaState.STORED and photo.content["caption"] == "Is this healthy?"
    sent_to_model = str(openai_server.last.json["messages"])
    assert "image_url" in sent_to_model and "data:image/png;base64," in sent_to_model

    media_url = reverse("message_media", args=[shop.slug, photo.public_id])
    assert media_url in tester.get(_url("agent_test_chat", agent)).content.decode()
    served = tester.get(media_url)
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert served["X-Content-Type-Options"] == "nosniff"

    tester.logout()
    tester.force_login(member(WorkspaceFactory(slug="elsewhere"), Role.OWNER))
    assert tester.get(media_url).status_code == 404


def test_asking_for_a_human_hands_off_silences_the_agent_and_staff_can_hand_back(tester, fern):
    _say(tester, fern, "I want to talk to a human")
    conversation = Conversation.objects.get(channel__agent=fern)
    assert conversation.state == Conversation.State.WAITING_HUMAN
    told = len(_agent_texts(fern))
    assert "Handed to a human" in tester.get(_url("agent_test_chat", fern)).content.decode()

    _say(tester, fern, "Hello?")
    assert len(_agent_texts(fern)) == told  # silent while a human has it

    tester.post(_url("agent_test_hand_back", fern))
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.AGENT
    _say(tester, fern, "Do you ship to Canada?")
    assert any("Canada" in text for text in _agent_texts(fern)[told:])


def test_a_new_chat_starts_empty_and_each_tester_has_their_own(tester, fern, shop, client):
    _say(tester, fern, "Do you ship to Canada?")
    other = member(shop, Role.ADMIN, email="ana@luckyshrub.test")
    tester.force_login(other)
    assert "5-7 business days" not in tester.get(_url("agent_test_chat", fern)).content.decode()

    tester.force_login(tester.user)
    tester.post(_url("agent_test_reset", fern))
    assert not Message.objects.filter(channel__agent=fern).exists()
    assert not AgentRun.objects.filter(agent=fern).exists()


def test_an_empty_message_gets_a_form_error(tester, fern):
    response = _say(tester, fern, "   ")
    assert response.status_code == 400 and "Type a message or attach a file." in response.content.decode()
    assert not Message.objects.filter(channel__agent=fern).exists()


def test_viewers_and_outsiders_cannot_use_it(client, fern, shop):
    client.force_login(member(shop, Role.VIEWER))
    assert client.get(_url("agent_test_console", fern)).status_code == 403
    client.force_login(member(WorkspaceFactory(slug="elsewhere"), Role.OWNER))
    assert client.get(_url("agent_test_console", fern)).status_code == 404
    assert client.post(_url("agent_test_send", fern), {"body": "hi"}).status_code == 404


def test_test_consoles_are_not_whatsapp_channels_anywhere(tester, fern, shop):
    ChannelFactory(workspace=shop, name="Support UK", agent=fern)
    _say(tester, fern, "Do you ship to Canada?")
    console = Channel.objects.get(provider=Channel.Provider.TEST_CONSOLE)

    assert "Test console" not in tester.get(reverse("channel_list", args=[shop.slug])).content.decode()
    assert tester.get(reverse("channel_detail", args=[shop.slug, console.public_id])).status_code == 404
    agents_page = tester.get(reverse("agent_list", args=[shop.slug]))
    assert [a.channel_count for a in agents_page.context["agents"]] == [1]
    key = api_key_for(shop)
    listed = tester.get(reverse("api_channel_list"), HTTP_AUTHORIZATION=f"Bearer {key}").json()
    assert [c["name"] for c in listed["results"]] == ["Support UK"]


def test_deleting_the_agent_removes_its_test_console(tester, fern, shop):
    _say(tester, fern, "Do you ship to Canada?")
    key = api_key_for(shop)
    deleted = tester.delete(reverse("api_agent_detail", args=[fern.public_id]), HTTP_AUTHORIZATION=f"Bearer {key}")
    assert deleted.status_code == 204
    assert not Channel.objects.filter(provider=Channel.Provider.TEST_CONSOLE).exists()
