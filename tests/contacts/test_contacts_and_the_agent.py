"""What the business knows of a customer reaches the agent; tools can add to it; a block silences everything.

Over the Cloud API emulator (the sandbox: Sheena writes to Lucky Shrub), with the agent "Fern" on a
loopback OpenAI-compatible server and the shop's CRM on loopback.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse

from agents_app.models import AgentRun
from agents_app.tools import http_tool_create
from messaging_app.models import Contact, Conversation, Message
from tests.agents.llm_servers import openai_server  # noqa: F401
from tests.conftest import wait_until
from tests.factories import AgentFactory, api_key_for, member
from workspaces_app.models import Role


class CrmService:
    """The shop's CRM: GET /customers answers `self.answer` as JSON."""

    def __init__(self) -> None:
        self.answer: dict = {}
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                body = json.dumps(service.answer).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.httpd.server_address[1]}"


@pytest.fixture
def crm(settings):
    service = CrmService()
    settings.AGENT_TOOL_ALLOWED_HOSTS = [service.address]
    yield service
    service.httpd.shutdown()
    service.httpd.server_close()


@pytest.fixture
def fern(sandbox, openai_server):  # noqa: F811
    agent = AgentFactory(
        workspace=sandbox.channel.workspace,
        name="Fern",
        provider="openai",
        model="test-model",
        api_key="sk-test",
        base_url=openai_server.base_url,
        debounce_seconds=0,
    )
    Conversation.objects.filter(pk=sandbox.conversation.pk).update(assigned_agent=agent, state="agent")
    return agent


def _say(sandbox, body: str) -> None:
    sandbox.emulator.customer_says(sandbox.number, sandbox.customer, "text", {"body": body})
    sandbox.emulator.drain()


def _runs(n: int) -> list[AgentRun]:
    return wait_until(
        lambda: (runs := list(AgentRun.objects.order_by("pk"))) and len(runs) >= n and runs[n - 1].finished_at and runs
    )


def _phone_received(sandbox) -> list[str]:
    return [m.content.get("body") for m in sandbox.emulator.business_messages(sandbox.number, sandbox.customer)]


def _system_prompt(run: AgentRun) -> str:
    assert run.prompt[0]["role"] == "system"
    return run.prompt[0]["content"]


def test_tags_and_attributes_set_through_the_api_reach_the_agents_prompt(client, sandbox, fern, openai_server):  # noqa: F811
    contact = sandbox.conversation.contact
    key = api_key_for(sandbox.channel.workspace)
    response = client.patch(
        f"/api/v1/contacts/{contact.pk}/",
        {"add_tags": ["vip"], "attributes": {"plan": "gold", "city": "Leeds", "orders": 12}},
        content_type="application/json",
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 200, response.content
    openai_server.reply_text("Hi Sheena! 🌿")

    _say(sandbox, "Do you deliver to my city?")
    [run] = _runs(1)

    system = _system_prompt(run)
    assert '"tags": ["vip"]' in system
    assert '"attributes": {"city": "Leeds", "orders": 12, "plan": "gold"}' in system
    # The same prompt went over the wire to the model.
    assert openai_server.last.json["messages"][0]["content"] == system


def test_a_tools_answer_updates_the_customer_and_the_next_turn_knows_it(sandbox, fern, openai_server, crm):  # noqa: F811
    http_tool_create(
        agent=fern,
        name="crm_lookup",
        description="Look the customer up in the shop's CRM.",
        url_template=f"http://{crm.address}/customers",
    )
    crm.answer = {
        "found": True,
        "set_contact_attributes": {"plan": "gold", "orders": 12},
        "add_contact_tags": ["vip"],
    }
    openai_server.reply_tool_call("crm_lookup", {})
    openai_server.reply_text("Welcome back! 🌿")
    _say(sandbox, "Hi, it's Sheena")
    [first] = _runs(1)

    [call] = first.tool_calls
    assert call["result"]["contact_updated"] == {
        "attributes_set": ["orders", "plan"],
        "attributes_removed": [],
        "tags_added": ["vip"],
        "tags_removed": [],
    }
    contact = Contact.objects.get(pk=sandbox.conversation.contact_id)
    assert contact.attributes == {"plan": "gold", "orders": 12} and contact.tags == ["vip"]

    openai_server.reply_text("Your gold plan ships free 🚚")
    _say(sandbox, "Is shipping free for me?")
    second = _runs(2)[1]
    assert '"plan": "gold"' in _system_prompt(second) and '"tags": ["vip"]' in _system_prompt(second)


def test_a_malformed_update_in_a_tools_answer_changes_nothing_and_the_run_says_why(
    sandbox,
    fern,
    openai_server,  # noqa: F811
    crm,
):
    http_tool_create(agent=fern, name="crm_lookup", description="CRM.", url_template=f"http://{crm.address}/customers")
    crm.answer = {"set_contact_attributes": {"plan": "gold", "delivery address": "1 Fern St"}}
    openai_server.reply_tool_call("crm_lookup", {})
    openai_server.reply_text("Hello!")
    _say(sandbox, "Hi")
    [run] = _runs(1)

    result = run.tool_calls[0]["result"]
    assert result["ok"] is True and "contact_updated" not in result
    assert "delivery address" in result["contact_update_error"]
    assert Contact.objects.get(pk=sandbox.conversation.contact_id).attributes == {}


def test_a_blocked_contact_gets_no_agent_reply_until_unblocked(client, sandbox, fern, openai_server):  # noqa: F811
    owner = member(sandbox.channel.workspace, Role.OWNER)
    client.force_login(owner)
    contact = sandbox.conversation.contact
    block_url = reverse("contact_block_update", args=[sandbox.channel.workspace.slug, contact.pk])
    client.post(block_url, {"action": "block"})
    sent_before = len(_phone_received(sandbox))

    _say(sandbox, "Are you there?")
    kept = wait_until(lambda: Message.objects.filter(content__body="Are you there?", handled_at__isnull=False).first())
    assert kept.direction == Message.Direction.INBOUND  # their messages are still kept
    assert not AgentRun.objects.exists()
    assert openai_server.requests == []
    assert len(_phone_received(sandbox)) == sent_before

    client.post(block_url, {"action": "unblock"})
    openai_server.reply_text("Yes! How can I help? 🌿")
    _say(sandbox, "Hello again")
    [run] = _runs(1)
    assert run.status == AgentRun.Status.ANSWERED
    wait_until(lambda: "Yes! How can I help? 🌿" in _phone_received(sandbox))
