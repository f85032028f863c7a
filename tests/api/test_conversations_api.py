"""Conversations and sends over the API, with Idempotency-Key, against the Cloud API emulator."""

import json
import threading
import uuid

import requests
from django.urls import reverse

from cloudapi_emulator.models import Message as PhoneMessage
from messaging_app.models import Conversation, Message
from tests.conftest import wait_until
from tests.factories import AgentFactory, WorkspaceFactory, api_key_for, member
from workspaces_app.models import Role


def _graph_sends(sandbox) -> int:
    """Messages the emulated number sent to customers: each is one Graph send call."""
    return PhoneMessage.objects.filter(
        number__phone_number_id=sandbox.number.phone_number_id, direction=PhoneMessage.Direction.OUTBOUND
    ).count()


def _headers(sandbox, **extra) -> dict:
    return {"Authorization": f"Bearer {api_key_for(sandbox.channel.workspace)}", **extra}


def _messages_url(sandbox) -> str:
    return sandbox.emulator.url + reverse("api_conversation_messages", args=[sandbox.conversation.pk])


def test_sequential_repeats_with_one_key_send_once_and_return_the_first_message(sandbox):
    headers = _headers(sandbox, **{"Idempotency-Key": str(uuid.uuid4())})
    body = {"type": "text", "content": {"body": "Your order #1042 has shipped 📦"}}
    first = requests.post(_messages_url(sandbox), json=body, headers=headers, timeout=10)
    assert first.status_code == 201, first.text
    wait_until(lambda: _graph_sends(sandbox) == 1)
    for _ in range(3):
        again = requests.post(_messages_url(sandbox), json=body, headers=headers, timeout=10)
        assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert Message.objects.filter(direction="out").count() == 1
    assert _graph_sends(sandbox) == 1

    changed = requests.post(
        _messages_url(sandbox), json={**body, "content": {"body": "Something else"}}, headers=headers, timeout=10
    )
    assert changed.status_code == 422
    assert changed.json()["error"]["code"] == "idempotency_key_reused"
    assert "different request body" in changed.json()["error"]["message"]


def test_concurrent_repeats_with_one_key_produce_one_send(sandbox):
    headers = _headers(sandbox, **{"Idempotency-Key": "order-1042-shipped"})
    body = {"type": "text", "content": {"body": "Shipped! 📦"}}
    answers: list[requests.Response] = []

    def post():
        answers.append(requests.post(_messages_url(sandbox), json=body, headers=headers, timeout=20))

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [200] * 7 + [201], [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    wait_until(lambda: _graph_sends(sandbox) == 1)
    assert Message.objects.filter(direction="out").count() == 1


def test_whatsapp_limit_errors_pass_through_word_for_word_and_nothing_is_queued(sandbox):
    answer = requests.post(
        _messages_url(sandbox),
        json={"type": "text", "content": {"body": "x" * 4097}},
        headers=_headers(sandbox),
        timeout=10,
    )
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "whatsapp_limit" and "4096" in error["message"]
    assert not Message.objects.filter(direction="out").exists()


def test_a_template_to_a_new_number_starts_a_conversation_and_free_form_is_refused(sandbox):
    url = sandbox.emulator.url + reverse("api_message_send")
    refused = requests.post(
        url,
        json={
            "channel_id": str(sandbox.channel.public_id),
            "to": "+44 7700 900123",
            "type": "text",
            "content": {"body": "Hello!"},
        },
        headers=_headers(sandbox),
        timeout=10,
    )
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "window_closed"
    bad_number = requests.post(
        url,
        json={
            "channel_id": str(sandbox.channel.public_id),
            "to": "not a number",
            "type": "text",
            "content": {"body": "Hello!"},
        },
        headers=_headers(sandbox),
        timeout=10,
    )
    assert bad_number.status_code == 400 and bad_number.json()["error"]["field"] == "to"


def test_list_filter_and_act_on_conversations(sandbox, client):
    workspace = sandbox.channel.workspace
    teammate = member(workspace, Role.AGENT, email="sam@luckyshrub.test")
    agent = AgentFactory(workspace=workspace, name="Shrubby")
    Conversation.objects.filter(pk=sandbox.conversation.pk).update(assigned_agent=agent)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_key_for(workspace)}"}

    listed = client.get(reverse("api_conversation_list"), {"q": "fern in stock"}, **auth).json()
    assert [c["contact"]["profile_name"] for c in listed["results"]] == ["Sheena Nelson"]
    assert listed["results"][0]["window_open"] is True
    assert client.get(reverse("api_conversation_list"), {"state": "closed"}, **auth).json()["results"] == []
    bad = client.get(reverse("api_conversation_list"), {"updated_after": "yesterday"}, **auth)
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "updated_after"

    pk = sandbox.conversation.pk
    taken = client.post(
        reverse("api_conversation_take_over", args=[pk]),
        json.dumps({"user_id": teammate.pk}),
        content_type="application/json",
        **auth,
    ).json()
    assert taken["state"] == "human" and taken["assigned_user"] == "sam@luckyshrub.test"
    back = client.post(reverse("api_conversation_hand_back", args=[pk]), **auth).json()
    assert back["state"] == "agent"
    closed = client.post(reverse("api_conversation_close", args=[pk]), **auth).json()
    assert closed["state"] == "closed" and closed["closed_at"]
    again = client.post(reverse("api_conversation_close", args=[pk]), **auth)
    assert again.status_code == 409

    messages = client.get(reverse("api_conversation_messages", args=[pk]), **auth).json()["results"]
    assert messages[0]["content"]["body"] == "Hi! Is the fern in stock? 🌿"

    outsider = {"HTTP_AUTHORIZATION": f"Bearer {api_key_for(WorkspaceFactory(slug='elsewhere'))}"}
    assert client.get(reverse("api_conversation_detail", args=[pk]), **outsider).status_code == 404
