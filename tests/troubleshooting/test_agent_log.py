"""The agent log: every turn of the workspace's agents, filtered to the slow ones or the ones that went wrong.

Real turns: Sheena writes to Lucky Shrub on the Cloud API emulator and the agent "Fern" answers from a
loopback OpenAI-compatible server — once quickly, once slowly, and once while the model is down.
"""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from agents_app import turns
from agents_app.models import AgentRun
from messaging_app.models import Conversation
from tests.agents.llm_servers import openai_server  # noqa: F401
from tests.conftest import wait_until
from tests.factories import AgentFactory, WorkspaceFactory, member
from workspaces_app.models import Role


@pytest.fixture
def runs(sandbox, openai_server, monkeypatch):  # noqa: F811
    """Three finished turns: answered quickly, answered slowly, failed (the model answered 500 twice)."""
    fern = AgentFactory(
        workspace=sandbox.channel.workspace,
        name="Fern",
        provider="openai",
        model="test-model",
        api_key="sk-test",
        base_url=openai_server.base_url,
        debounce_seconds=0,
    )
    Conversation.objects.filter(pk=sandbox.conversation.pk).update(assigned_agent=fern, state="agent")

    def turn(body: str) -> AgentRun:
        count = AgentRun.objects.count()
        sandbox.emulator.customer_says(sandbox.number, sandbox.customer, "text", {"body": body})
        sandbox.emulator.drain()
        return wait_until(
            lambda: AgentRun.objects.filter(finished_at__isnull=False).count() > count and AgentRun.objects.latest("pk")
        )

    # WhatsApp timestamps customer messages to the second and this machine is shared, so the threshold is set
    # per turn: far above what the quick turn can take, then below the slow turn's model delay alone.
    monkeypatch.setattr(turns, "SLOW_TURN_MS", 60_000)
    openai_server.reply_text("We have three ferns in stock 🌿", input_tokens=321, output_tokens=12)
    quick = turn("Is the fern in stock?")
    monkeypatch.setattr(turns, "SLOW_TURN_MS", 500)
    openai_server.delay(1.0)
    openai_server.reply_text("It ships in two days 📦")
    slow = turn("When would it ship?")
    monkeypatch.setattr(turns, "SLOW_TURN_MS", 60_000)
    openai_server.fail(500, "upstream exploded")
    openai_server.fail(500, "upstream exploded")
    failed = turn("And the price?")
    assert (quick.status, quick.slow) == ("answered", False)
    assert (slow.status, slow.slow) == ("answered", True)
    assert failed.status == "failed" and failed.error
    return {"quick": quick, "slow": slow, "failed": failed, "agent": fern}


@pytest.fixture
def teammate(client, sandbox):
    client.force_login(member(sandbox.channel.workspace, Role.AGENT))
    return client


def _log(client, **params) -> list[int]:
    response = client.get(reverse("troubleshooting_agent_runs", args=["lucky-shrub"]), params)
    assert response.status_code == 200
    return [run.pk for run in response.context["runs"]]


def test_the_log_lists_every_turn_newest_first_and_filters_slow_ones_errors_agents_results_and_dates(
    teammate, runs, sandbox
):
    quick, slow, failed = runs["quick"], runs["slow"], runs["failed"]
    assert _log(teammate) == [failed.pk, slow.pk, quick.pk]
    assert _log(teammate, slow="on") == [slow.pk]
    assert _log(teammate, errors="on") == [failed.pk]
    assert _log(teammate, status="answered") == [slow.pk, quick.pk]
    assert _log(teammate, agent=str(runs["agent"].public_id)) == [failed.pk, slow.pk, quick.pk]
    bramble = AgentFactory(workspace=sandbox.channel.workspace, name="Bramble")
    assert _log(teammate, agent=str(bramble.public_id)) == []
    today, yesterday = timezone.localdate(), timezone.localdate() - timedelta(days=1)
    assert len(_log(teammate, date_from=today.isoformat())) == 3
    assert _log(teammate, date_to=yesterday.isoformat()) == []
    assert _log(teammate, before=slow.pk) == [quick.pk]


def test_each_turn_shows_its_latency_tokens_tool_calls_and_error(teammate, runs):
    html = teammate.get(reverse("troubleshooting_agent_runs", args=["lucky-shrub"])).content.decode()
    quick, slow, failed = runs["quick"], runs["slow"], runs["failed"]
    assert 'class="run run-failed"' in html and 'class="run run-answered"' in html  # the shared run partial
    assert f"{quick.response_ms:.0f} ms" in html and "321→12 tokens" in html
    assert f"{slow.response_ms:.0f} ms" in html and ">slow</span>" in html
    assert failed.error.split(":")[0] in html
    assert reverse("conversation_detail", args=["lucky-shrub", quick.conversation_id]) in html


@pytest.mark.django_db
def test_an_outsider_gets_404(client):
    WorkspaceFactory(name="Lucky Shrub", slug="lucky-shrub")
    client.force_login(member(WorkspaceFactory(slug="globex"), Role.OWNER))
    assert client.get(reverse("troubleshooting_agent_runs", args=["lucky-shrub"])).status_code == 404
    assert client.get(reverse("troubleshooting", args=["lucky-shrub"])).status_code == 404
