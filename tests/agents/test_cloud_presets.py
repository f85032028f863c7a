"""Cloud presets for model agents: Azure OpenAI, Claude on Amazon Bedrock and on Google Vertex AI, Gemini.

Each preset is set on the agent's settings form or through the API, refused with a form error naming what is
missing, and answers a customer through a loopback server that speaks the cloud's URL scheme, so what is
asserted is the request as the SDK sends it there (path, API version, credentials header, body).
Not exercised here (no network, and their libraries are not installed): AWS SigV4 signing with access keys
(botocore) and Google Application Default Credentials (google-auth); the presets use a Bedrock API key and a
Vertex access token, which the SDKs send as given.
"""

import re

import pytest
from django.urls import reverse

from agents_app.models import Agent, AgentRun
from agents_app.providers.openai_compatible import GEMINI_BASE_URL
from agents_app.providers.registry import provider_for
from messaging_app.models import Conversation, Message
from tests.agents.llm_servers import FakeAnthropicServer, FakeOpenAIServer
from tests.conftest import wait_until
from tests.factories import AgentFactory, WorkspaceFactory, api_key_for, member
from workspaces_app.models import Role

AZURE_PATH = re.compile(r"^/openai/deployments/(?P<deployment>[^/]+)/chat/completions\?api-version=(?P<version>.+)$")
BEDROCK_PATH = re.compile(r"^/model/(?P<model>[^/]+)/invoke$")
VERTEX_PATH = re.compile(
    r"^/v1/projects/(?P<project>[^/]+)/locations/(?P<region>[^/]+)/publishers/anthropic/models/(?P<model>[^/:]+)"
    r":rawPredict$"
)


class _CloudPaths:
    """A loopback server that answers at a cloud's own path, as the plain API answers at its usual one."""

    cloud_path: re.Pattern
    plain_path: str

    def answer(self, request, step):
        if not self.cloud_path.match(request.path):
            return 404, {}, self.error_body(404, f"Not a {type(self).__name__} path: {request.path}")
        plain = type(request)(**{**request.__dict__, "path": self.plain_path})
        return super().answer(plain, step)


class FakeAzureServer(_CloudPaths, FakeOpenAIServer):
    cloud_path, plain_path, api_prefix = AZURE_PATH, "/v1/chat/completions", ""


class FakeBedrockServer(_CloudPaths, FakeAnthropicServer):
    cloud_path, plain_path = BEDROCK_PATH, "/v1/messages"


class FakeVertexServer(_CloudPaths, FakeAnthropicServer):
    cloud_path, plain_path, api_prefix = VERTEX_PATH, "/v1/messages", "/v1"


def _answered_by(sandbox, **settings) -> tuple[AgentRun, str]:
    agent = Agent.objects.create(
        workspace=sandbox.channel.workspace, name="Cloud", instructions="Be kind.", debounce_seconds=0, **settings
    )
    Conversation.objects.filter(pk=sandbox.conversation.pk).update(assigned_agent=agent, state="agent")
    sandbox.emulator.customer_says(sandbox.number, sandbox.customer, "text", {"body": "Do you sell ferns?"})
    sandbox.emulator.drain()
    run = wait_until(lambda: AgentRun.objects.filter(finished_at__isnull=False).first())
    reply = Message.objects.filter(sender="agent").first()
    return run, reply.content["body"] if reply else ""


def test_azure_openai_calls_the_deployment_with_its_api_version_and_key(sandbox):
    with FakeAzureServer() as azure:
        azure.reply_text("Yes, Boston ferns 🌿", input_tokens=40, output_tokens=6)
        run, reply = _answered_by(
            sandbox,
            provider="azure_openai",
            model="fern-gpt4o",
            api_key="azure-key-123",
            base_url=azure.url,
            api_version="2024-10-21",
        )
        request = azure.last

    assert reply == "Yes, Boston ferns 🌿" and run.status == AgentRun.Status.ANSWERED
    match = AZURE_PATH.match(request.path)
    assert match["deployment"] == "fern-gpt4o" and match["version"] == "2024-10-21"
    assert request.headers["api-key"] == "azure-key-123"
    assert run.input_tokens == 40


def test_claude_on_bedrock_is_called_in_its_region_with_the_bedrock_api_key(sandbox):
    with FakeBedrockServer() as bedrock:
        bedrock.reply_text("Yes, Boston ferns 🌿")
        run, reply = _answered_by(
            sandbox,
            provider="bedrock",
            model="anthropic.claude-test-v1",
            api_key="bedrock-api-key",
            region="eu-central-1",
            base_url=bedrock.url,
        )
        request = bedrock.last

    assert reply == "Yes, Boston ferns 🌿" and run.status == AgentRun.Status.ANSWERED
    assert BEDROCK_PATH.match(request.path)["model"] == "anthropic.claude-test-v1"
    assert request.headers["authorization"] == "Bearer bedrock-api-key"
    # Bedrock takes the model from the path and the API version from the body.
    assert request.json["anthropic_version"] and "model" not in request.json
    assert request.json["system"][0]["cache_control"] == {"type": "ephemeral"}


def test_claude_on_vertex_is_called_in_the_project_and_region_with_the_access_token(sandbox):
    with FakeVertexServer() as vertex:
        vertex.reply_text("Yes, Boston ferns 🌿")
        run, reply = _answered_by(
            sandbox,
            provider="vertex",
            model="claude-test",
            api_key="ya29.vertex-token",
            region="europe-west1",
            project_id="lucky-shrub-prod",
            base_url=vertex.base_url,
        )
        request = vertex.last

    assert reply == "Yes, Boston ferns 🌿" and run.status == AgentRun.Status.ANSWERED
    match = VERTEX_PATH.match(request.path)
    assert (match["project"], match["region"], match["model"]) == ("lucky-shrub-prod", "europe-west1", "claude-test")
    assert request.headers["authorization"] == "Bearer ya29.vertex-token"
    assert request.json["anthropic_version"] and "model" not in request.json


def test_gemini_speaks_the_openai_protocol_at_googles_endpoint_by_default(sandbox):
    assert provider_for(kind="gemini", model="gemini-2.5-flash", api_key="g-key").base_url == GEMINI_BASE_URL
    with FakeOpenAIServer() as gemini:
        gemini.reply_text("Yes, Boston ferns 🌿")
        run, reply = _answered_by(
            sandbox, provider="gemini", model="gemini-2.5-flash", api_key="g-key", base_url=gemini.base_url
        )
        request = gemini.last

    assert reply == "Yes, Boston ferns 🌿" and run.status == AgentRun.Status.ANSWERED
    assert request.path == "/v1/chat/completions" and request.headers["authorization"] == "Bearer g-key"
    assert request.json["model"] == "gemini-2.5-flash"


def test_the_default_endpoints_follow_the_region():
    bedrock = provider_for(kind="bedrock", model="m", api_key="k", region="ap-southeast-2")
    vertex = provider_for(kind="vertex", model="m", api_key="k", region="us-east5", project_id="my-project-1")
    assert bedrock.base_url == "https://bedrock-runtime.ap-southeast-2.amazonaws.com"
    assert vertex.base_url == "https://us-east5-aiplatform.googleapis.com/v1"


@pytest.mark.django_db
def test_each_preset_names_the_missing_setting_on_the_agent_form(client):
    shop = WorkspaceFactory(name="Lucky Shrub", slug="lucky-shrub")
    client.force_login(member(shop, Role.OWNER))
    agent = AgentFactory(workspace=shop, name="Fern")
    url = reverse("agent_settings_update", args=["lucky-shrub", agent.public_id])
    base = {
        "name": "Fern",
        "instructions": "Be kind.",
        "model": "fern-deployment",
        "api_key": "a-key",
        "temperature": 0.3,
        "max_output_tokens": 600,
        "request_timeout_seconds": 30,
        "target_chars": 160,
        "max_messages_per_turn": 6,
        "history_messages": 20,
        "debounce_seconds": 1.5,
        "max_concurrent_turns": 20,
        "model_calls_per_conversation_hour": 15,
        "model_calls_per_contact_day": 40,
        "prompt_token_budget": 8000,
        "handoff_keywords": "human",
        "fallback_message": "Sorry!",
    }
    azure = {**base, "provider": "azure_openai", "base_url": "https://lucky.openai.azure.com"}
    cases = [
        ({**azure, "base_url": ""}, "base_url", "endpoint"),
        (azure, "api_version", "API version"),
        ({**azure, "api_version": "v1"}, "api_version", "2024-10-21"),
        ({**base, "provider": "bedrock"}, "region", "AWS region"),
        ({**base, "provider": "bedrock", "region": "Frankfurt"}, "region", "not an AWS region"),
        ({**base, "provider": "vertex", "region": "europe-west1"}, "project_id", "project"),
        ({**base, "provider": "gemini", "api_key": ""}, "api_key", "Gemini"),
    ]
    for data, field, words in cases:
        response = client.post(url, data)
        assert response.status_code == 400, (data["provider"], field)
        errors = response.context["settings_form"].errors
        assert words in " ".join(errors.get(field, [])), (field, errors)

    saved = client.post(url, {**azure, "api_version": "2024-10-21"})
    assert saved.status_code == 302
    agent.refresh_from_db()
    assert (agent.provider, agent.api_version, agent.model) == ("azure_openai", "2024-10-21", "fern-deployment")


@pytest.mark.django_db
def test_the_api_sets_a_preset_and_refuses_one_missing_a_setting(client):
    shop = WorkspaceFactory(name="Lucky Shrub", slug="lucky-shrub")
    headers = {"Authorization": f"Bearer {api_key_for(shop)}"}
    agent = {"name": "Cloud bot", "provider": "vertex", "model": "claude-test", "api_key": "ya29.token"}

    refused = client.post(
        "/api/v1/agents/", {**agent, "region": "us-east5"}, content_type="application/json", headers=headers
    )
    created = client.post(
        "/api/v1/agents/",
        {**agent, "region": "us-east5", "project_id": "lucky-shrub-prod", "monthly_budget": "25.00"},
        content_type="application/json",
        headers=headers,
    )

    assert refused.status_code == 400 and refused.json()["error"]["field"] == "project_id"
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["provider"], body["region"], body["project_id"], body["monthly_budget"]) == (
        "vertex",
        "us-east5",
        "lucky-shrub-prod",
        "25.00",
    )
    assert "ya29.token" not in created.content.decode()
