"""What model turns cost: priced from the admin's price table, capped per month, cheaper with Anthropic's cache.

Over the Cloud API emulator (the sandbox: Sheena writes to Lucky Shrub), with the agent on a loopback model
server that records every request, so what is asserted is what reached the model and what the run recorded.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from agents_app.models import Agent, AgentRun, ModelPrice, WorkspaceModelBudget
from agents_app.providers.base import ChatMessage
from agents_app.providers.registry import provider_for
from audit_app.models import AuditEntry
from messaging_app.models import Conversation, Message
from tests.agents.llm_servers import FakeAnthropicServer, FakeOpenAIServer, openai_server  # noqa: F401
from tests.conftest import wait_until
from tests.factories import member
from workspaces_app.models import Role


class CachingAnthropicServer(FakeAnthropicServer):
    """The loopback Messages API, reporting part of each prompt as read from (and written to) the cache."""

    cache_read = 0
    cache_write = 0

    def answer(self, request, step):
        status, headers, payload = super().answer(request, step)
        if status == 200:
            payload["usage"].update(
                cache_read_input_tokens=self.cache_read, cache_creation_input_tokens=self.cache_write
            )
        return status, headers, payload


class CachingOpenAIServer(FakeOpenAIServer):
    """The loopback chat-completions API, counting part of each prompt as read from OpenAI's automatic cache."""

    cached = 0

    def answer(self, request, step):
        status, headers, payload = super().answer(request, step)
        if status == 200:
            payload["usage"]["prompt_tokens_details"] = {"cached_tokens": self.cached}
        return status, headers, payload


@pytest.fixture
def caching_anthropic_server():
    with CachingAnthropicServer() as server:
        yield server


def _assign(sandbox, agent: Agent) -> Agent:
    Conversation.objects.filter(pk=sandbox.conversation.pk).update(assigned_agent=agent, state="agent")
    return agent


def _turn(sandbox, body: str) -> AgentRun:
    """The customer writes and the agent's turn for it finishes."""
    before = AgentRun.objects.count()
    sandbox.emulator.customer_says(sandbox.number, sandbox.customer, "text", {"body": body})
    sandbox.emulator.drain()
    return wait_until(lambda: (run := AgentRun.objects.order_by("pk")[before:].first()) and run.finished_at and run)


def _spent_earlier(sandbox, agent: Agent, *, cost: str, days_ago: float = 0) -> None:
    run = AgentRun.objects.create(
        workspace=sandbox.channel.workspace,
        agent=agent,
        conversation=sandbox.conversation,
        provider=agent.provider,
        model=agent.model,
        status=AgentRun.Status.ANSWERED,
        model_calls=1,
        input_tokens=1000,
        cost=Decimal(cost),
        cost_currency="USD",
    )
    AgentRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - timedelta(days=days_ago))


def test_a_model_turn_records_its_cost_from_the_price_table_longest_prefix_first(
    sandbox,
    model_fern,
    openai_server,  # noqa: F811
):
    ModelPrice.objects.create(provider="openai", model_prefix="test", input_per_million=9, output_per_million=9)
    ModelPrice.objects.create(
        provider="openai", model_prefix="test-model", input_per_million="0.15", output_per_million="0.60"
    )
    openai_server.reply_text("Ferns like shade 🌿", input_tokens=1000, output_tokens=200)

    run = _turn(sandbox, "Where do ferns grow?")

    assert (run.input_tokens, run.output_tokens) == (1000, 200)
    # 1000 × 0.15 / 1M + 200 × 0.60 / 1M
    assert run.cost == Decimal("0.000270") and run.cost_currency == "USD"


def test_a_turn_without_a_price_says_so_instead_of_a_made_up_cost(
    sandbox,
    model_fern,
    openai_server,  # noqa: F811
    client,
):
    openai_server.reply_text("Hello 👋", input_tokens=50, output_tokens=5)

    run = _turn(sandbox, "Hi")

    assert run.status == AgentRun.Status.ANSWERED and run.cost is None
    client.force_login(member(sandbox.channel.workspace, Role.OWNER))
    page = client.get(reverse("agent_detail", args=[sandbox.channel.workspace.slug, model_fern.public_id]))
    text = page.content.decode()
    assert "Model usage this month" in text and "no price set" in text


def test_the_agent_page_shows_this_months_tokens_and_cost_for_the_agent_and_the_workspace(
    sandbox,
    model_fern,
    openai_server,  # noqa: F811
    client,
):
    ModelPrice.objects.create(provider="openai", model_prefix="test-model", input_per_million=2, output_per_million=8)
    WorkspaceModelBudget.objects.create(workspace=sandbox.channel.workspace, monthly_budget=Decimal("10.00"))
    _spent_earlier(sandbox, model_fern, cost="5.000000", days_ago=40)  # an earlier month: not counted
    openai_server.reply_text("Ferns like shade 🌿", input_tokens=500_000, output_tokens=125_000)
    _turn(sandbox, "Where do ferns grow?")

    client.force_login(member(sandbox.channel.workspace, Role.OWNER))
    page = client.get(reverse("agent_detail", args=[sandbox.channel.workspace.slug, model_fern.public_id]))

    rows = {row.label: row for row in page.context["usage"]}
    assert rows["Fern"].input_tokens == 500_000 and rows["Fern"].output_tokens == 125_000
    assert rows["Fern"].costs == {"USD": Decimal("2.000000")}  # 0.5 × 2 + 0.125 × 8
    assert rows["All agents in this workspace"].costs == {"USD": Decimal("2.000000")}
    text = page.content.decode()
    assert "2.0000 USD" in text and "Workspace monthly budget: 10.00 USD." in text


def test_a_workspace_over_its_monthly_budget_hands_over_instead_of_calling_the_model(
    sandbox,
    model_fern,
    openai_server,  # noqa: F811
):
    WorkspaceModelBudget.objects.create(workspace=sandbox.channel.workspace, monthly_budget=Decimal("1.00"))
    _spent_earlier(sandbox, model_fern, cost="0.60")
    _spent_earlier(sandbox, model_fern, cost="0.40")

    held = _turn(sandbox, "Where do ferns grow?")

    assert openai_server.requests == []
    assert held.status == AgentRun.Status.HANDED_OFF and held.model_calls == 0 and held.cost == 0
    assert "workspace's monthly budget" in held.error and "1.00 USD" in held.error
    conversation = Conversation.objects.get(pk=sandbox.conversation.pk)
    assert conversation.state == Conversation.State.WAITING_HUMAN
    assert "monthly budget" in conversation.handoff_reason  # what staff see in the inbox
    assert Message.objects.filter(sender="agent").get().content["body"] == model_fern.fallback_message


def test_an_agents_own_budget_holds_it_back_and_last_months_spending_does_not_count(
    sandbox,
    model_fern,
    openai_server,  # noqa: F811
):
    model_fern.monthly_budget = Decimal("2.00")
    model_fern.save()
    _spent_earlier(sandbox, model_fern, cost="50.00", days_ago=40)
    _spent_earlier(sandbox, model_fern, cost="1.99")
    openai_server.reply_text("Ferns like shade 🌿")
    assert _turn(sandbox, "Where do ferns grow?").status == AgentRun.Status.ANSWERED

    _spent_earlier(sandbox, model_fern, cost="0.01")
    held = _turn(sandbox, "And monsteras?")

    assert len(openai_server.requests) == 1
    assert held.status == AgentRun.Status.HANDED_OFF and "agent's monthly budget" in held.error


def test_a_budget_of_zero_or_none_is_no_cap(
    sandbox,
    model_fern,
    openai_server,  # noqa: F811
):
    WorkspaceModelBudget.objects.create(workspace=sandbox.channel.workspace, monthly_budget=Decimal("0"))
    _spent_earlier(sandbox, model_fern, cost="100.00")
    openai_server.reply_text("Ferns like shade 🌿")

    assert _turn(sandbox, "Where do ferns grow?").status == AgentRun.Status.ANSWERED
    assert len(openai_server.requests) == 1


def test_anthropic_caches_the_system_prompt_and_tools_and_cached_tokens_are_priced(sandbox, caching_anthropic_server):
    agent = _assign(
        sandbox,
        Agent.objects.create(
            workspace=sandbox.channel.workspace,
            name="Claude",
            instructions="You are Lucky Shrub's plant expert.",
            provider="anthropic",
            model="claude-test-5",
            api_key="sk-ant-test",
            base_url=caching_anthropic_server.base_url,
            debounce_seconds=0,
        ),
    )
    ModelPrice.objects.create(
        provider="anthropic",
        model_prefix="claude-test",
        input_per_million=3,
        output_per_million=15,
        cached_input_per_million="0.30",
        cache_write_per_million="3.75",
    )
    caching_anthropic_server.cache_read, caching_anthropic_server.cache_write = 4000, 1000
    caching_anthropic_server.reply_text("Ferns like shade 🌿", input_tokens=100, output_tokens=20)

    run = _turn(sandbox, "Where do ferns grow?")

    body = caching_anthropic_server.last.json
    assert body["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert "plant expert" in body["system"][0]["text"]
    assert body["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert all("cache_control" not in tool for tool in body["tools"][:-1])
    assert (run.input_tokens, run.cache_read_tokens, run.cache_write_tokens, run.output_tokens) == (100, 4000, 1000, 20)
    # (100 × 3 + 4000 × 0.30 + 1000 × 3.75 + 20 × 15) / 1M
    assert run.cost == Decimal("0.005550") and run.cost_currency == "USD"
    assert agent.runs.get() == run


def test_the_price_table_is_edited_in_the_admin_and_each_change_is_audited(admin_client):
    response = admin_client.post(
        reverse("admin:agents_app_modelprice_add"),
        {
            "provider": "gemini",
            "model_prefix": "gemini-2.5-flash",
            "currency": "USD",
            "input_per_million": "0.30",
            "output_per_million": "2.50",
            "cached_input_per_million": "",
            "cache_write_per_million": "",
            "source": "https://ai.google.dev/gemini-api/docs/pricing",
        },
    )

    assert response.status_code == 302
    price = ModelPrice.objects.get()
    assert price.cached_input_per_million is None and price.output_per_million == Decimal("2.50")
    entry = AuditEntry.objects.get(action="admin.added")
    assert entry.changes["model_prefix"] == [None, "gemini-2.5-flash"]


def test_a_price_change_applies_to_later_turns_and_never_reprices_a_recorded_one(
    sandbox,
    model_fern,
    openai_server,  # noqa: F811
):
    price = ModelPrice.objects.create(
        provider="openai", model_prefix="test-model", input_per_million=1, output_per_million=1
    )
    openai_server.reply_text("One", input_tokens=1_000_000, output_tokens=0)
    first = _turn(sandbox, "Question one")
    price.input_per_million = 2
    price.save()
    openai_server.reply_text("Two", input_tokens=1_000_000, output_tokens=0)
    second = _turn(sandbox, "Question two")

    first.refresh_from_db()
    assert (first.cost, second.cost) == (Decimal("1.000000"), Decimal("2.000000"))


def test_openai_cached_prompt_tokens_are_counted_apart_from_the_rest_of_the_input():
    with CachingOpenAIServer() as server:
        server.cached = 1536
        server.reply_text("Ferns like shade 🌿", input_tokens=2000, output_tokens=10)
        provider = provider_for(kind="openai", model="gpt-test", api_key="sk-test", base_url=server.base_url)
        completion = provider.complete(
            system="You are Fern.",
            messages=[ChatMessage(role="user", content="Where do ferns grow?")],
            tools=[],
            temperature=0.3,
            max_output_tokens=100,
            timeout_seconds=5,
        )

    # OpenAI counts cached tokens inside prompt_tokens; the run keeps them apart so each is priced once.
    assert (completion.input_tokens, completion.cache_read_tokens, completion.cache_write_tokens) == (464, 1536, 0)
