"""Configuring agents in the console and through the API."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from agents_app.models import Agent, KnowledgeEntry
from tests.factories import AgentFactory, WorkspaceFactory, api_key_for, member
from workspaces_app.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    return WorkspaceFactory(name="Lucky Shrub", slug="lucky-shrub")


@pytest.fixture
def owner(client, shop):
    client.force_login(member(shop, Role.OWNER))
    return client


def test_a_new_agent_starts_from_the_whatsapp_style_guide_and_an_example(owner, shop):
    response = owner.post(
        reverse("agent_create", args=["lucky-shrub"]),
        {"name": "Booker", "provider": "knowledge_base", "example": "appointments"},
    )
    agent = Agent.objects.get(workspace=shop, name="Booker")
    assert response["Location"] == reverse("agent_detail", args=["lucky-shrub", agent.public_id])
    assert "WhatsApp" in agent.instructions and "appointments" in agent.instructions
    assert "Lucky Shrub" in agent.instructions


def test_a_model_agent_needs_a_model_and_a_key_with_a_form_error_each(owner, shop):
    agent = AgentFactory(workspace=shop, name="Fern")
    url = reverse("agent_settings_update", args=["lucky-shrub", agent.public_id])
    base = {
        "name": "Fern",
        "instructions": "Be kind.",
        "temperature": 0.3,
        "max_output_tokens": 600,
        "request_timeout_seconds": 30,
        "target_chars": 160,
        "max_messages_per_turn": 6,
        "use_emoji": "on",
        "history_messages": 20,
        "debounce_seconds": 1.5,
        "max_concurrent_turns": 20,
        "model_calls_per_conversation_hour": 15,
        "model_calls_per_contact_day": 40,
        "prompt_token_budget": 8000,
        "handoff_keywords": "human",
        "fallback_message": "Sorry!",
        "base_url": "",
    }
    no_model = owner.post(url, {**base, "provider": "anthropic", "model": ""})
    assert no_model.status_code == 400 and "model" in no_model.context["settings_form"].errors
    no_key = owner.post(url, {**base, "provider": "anthropic", "model": "claude-x"})
    assert "api_key" in no_key.context["settings_form"].errors
    ok = owner.post(url, {**base, "provider": "anthropic", "model": "claude-x", "api_key": "sk-ant-secret"})
    assert ok.status_code == 302
    agent.refresh_from_db()
    assert agent.provider == "anthropic" and agent.api_key == "sk-ant-secret"
    page = owner.get(reverse("agent_detail", args=["lucky-shrub", agent.public_id])).content.decode()
    assert "sk-ant-secret" not in page and "set (hidden)" in page


def test_out_of_range_settings_are_refused_naming_the_field(owner, shop):
    agent = AgentFactory(workspace=shop, name="Fern")
    url = reverse("agent_settings_update", args=["lucky-shrub", agent.public_id])
    response = owner.post(
        url,
        {
            "name": "Fern",
            "instructions": "x",
            "provider": "knowledge_base",
            "model": "",
            "temperature": 5,
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
            "handoff_keywords": "",
            "fallback_message": "Sorry",
            "base_url": "",
        },
    )
    assert response.status_code == 400
    assert "temperature" in response.context["settings_form"].errors


def test_knowledge_is_added_uploaded_and_removed(owner, shop):
    agent = AgentFactory(workspace=shop)
    url = reverse("agent_knowledge_add", args=["lucky-shrub", agent.public_id])
    owner.post(url, {"title": "Do you deliver?", "body": "Yes, every weekday."})
    owner.post(url, {"document": SimpleUploadedFile("care.md", b"# Care\nWater weekly.")})
    bad = owner.post(url, {"document": SimpleUploadedFile("care.exe", b"MZ")})
    assert bad.status_code == 400
    assert set(agent.knowledge.values_list("kind", flat=True)) == {"faq", "document"}
    entry = agent.knowledge.get(kind="faq")
    owner.post(reverse("agent_knowledge_remove", args=["lucky-shrub", agent.public_id, entry.pk]))
    assert not KnowledgeEntry.objects.filter(pk=entry.pk).exists()


def test_an_outsider_gets_404_and_an_agent_role_cannot_change_settings(client, shop):
    agent = AgentFactory(workspace=shop)
    client.force_login(member(WorkspaceFactory(), Role.OWNER))
    assert client.get(reverse("agent_detail", args=["lucky-shrub", agent.public_id])).status_code == 404
    client.force_login(member(shop, Role.AGENT))
    assert client.get(reverse("agent_detail", args=["lucky-shrub", agent.public_id])).status_code == 200
    url = reverse("agent_knowledge_add", args=["lucky-shrub", agent.public_id])
    assert client.post(url, {"title": "x", "body": "y"}).status_code == 403


def test_the_api_creates_reads_updates_and_deletes_agents_with_a_write_only_key(client, shop):
    headers = {"Authorization": f"Bearer {api_key_for(shop)}"}
    created = client.post(
        "/api/v1/agents/",
        {
            "name": "Api bot",
            "provider": "openai",
            "model": "gpt-x",
            "api_key": "sk-live-secret",
            "example": "ecommerce",
        },
        content_type="application/json",
        headers=headers,
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["has_api_key"] is True and "sk-live-secret" not in created.content.decode()
    url = f"/api/v1/agents/{body['id']}/"
    patched = client.patch(url, {"target_chars": 200}, content_type="application/json", headers=headers)
    assert patched.json()["target_chars"] == 200
    bad = client.patch(url, {"temperature": 9}, content_type="application/json", headers=headers)
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "temperature"
    knowledge = client.post(
        f"{url}knowledge/", {"title": "Hours?", "body": "9 to 5."}, content_type="application/json", headers=headers
    )
    assert knowledge.status_code == 201
    assert client.delete(url, headers=headers).status_code == 204
    assert not Agent.objects.filter(name="Api bot").exists()


def test_the_api_does_not_show_another_workspaces_agent(client, shop):
    foreign = AgentFactory(workspace=WorkspaceFactory())
    headers = {"Authorization": f"Bearer {api_key_for(shop)}"}
    assert client.get(f"/api/v1/agents/{foreign.public_id}/", headers=headers).status_code == 404
    assert client.delete(f"/api/v1/agents/{foreign.public_id}/", headers=headers).status_code == 404


def test_the_api_manages_http_tools_with_write_only_headers_and_clear_errors(client, shop):
    agent = AgentFactory(workspace=shop)
    headers = {"Authorization": f"Bearer {api_key_for(shop)}"}
    url = f"/api/v1/agents/{agent.public_id}/tools/"
    tool = {
        "name": "order_status",
        "description": "Look up an order by its number.",
        "method": "GET",
        "url_template": "https://shop.example/api/orders/{order_id}",
        "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]},
        "headers": {"Authorization": "Bearer shop-secret-token"},
    }
    created = client.post(url, tool, content_type="application/json", headers=headers)
    assert created.status_code == 201, created.json()
    assert created.json()["header_names"] == ["Authorization"]
    assert "shop-secret-token" not in created.content.decode()
    listed = client.get(url, headers=headers)
    assert [t["name"] for t in listed.json()] == ["order_status"]
    assert "shop-secret-token" not in listed.content.decode()

    bad = client.post(url, {**tool, "name": "Order Status"}, content_type="application/json", headers=headers)
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "name"
    unknown = client.post(
        url,
        {**tool, "name": "lookup", "url_template": "https://shop.example/{missing}"},
        content_type="application/json",
        headers=headers,
    )
    assert unknown.status_code == 400 and unknown.json()["error"]["field"] == "url_template"

    tool_url = f"{url}{created.json()['id']}/"
    patched = client.patch(tool_url, {"enabled": False}, content_type="application/json", headers=headers)
    assert patched.json()["enabled"] is False and patched.json()["header_names"] == ["Authorization"]
    assert client.delete(tool_url, headers=headers).status_code == 204
    assert not agent.http_tools.exists()


def test_another_workspaces_agent_tools_are_404(client, shop):
    foreign = AgentFactory(workspace=WorkspaceFactory())
    headers = {"Authorization": f"Bearer {api_key_for(shop)}"}
    assert client.get(f"/api/v1/agents/{foreign.public_id}/tools/", headers=headers).status_code == 404


def test_tools_are_added_in_the_console_with_form_errors_and_headers_never_shown(owner, shop):
    agent = AgentFactory(workspace=shop)
    url = reverse("agent_tool_add", args=["lucky-shrub", agent.public_id])
    good = {
        "name": "order_status",
        "description": "Order lookup",
        "method": "GET",
        "url_template": "https://shop.example/api/orders/{order_id}",
        "parameters": '{"type": "object", "properties": {"order_id": {"type": "string"}}}',
        "headers": '{"Authorization": "Bearer console-secret"}',
        "timeout_seconds": 10,
    }
    bad = owner.post(url, {**good, "name": "Bad Name"})
    assert bad.status_code == 400 and "name" in bad.context["tool_form"].errors
    assert owner.post(url, good).status_code == 302
    page = owner.get(reverse("agent_detail", args=["lucky-shrub", agent.public_id])).content.decode()
    assert "order_status" in page and "console-secret" not in page
    tool = agent.http_tools.get()
    owner.post(reverse("agent_tool_remove", args=["lucky-shrub", agent.public_id, tool.pk]))
    assert not agent.http_tools.exists()


def test_a_new_agent_limits_what_one_customer_may_cost_by_default(client, shop):
    headers = {"Authorization": f"Bearer {api_key_for(shop)}"}
    created = client.post("/api/v1/agents/", {"name": "Api bot"}, content_type="application/json", headers=headers)
    body = created.json()
    assert body["model_calls_per_conversation_hour"] == 15
    assert body["model_calls_per_contact_day"] == 40
    assert body["prompt_token_budget"] == 8000


def test_the_model_cost_limits_are_set_through_the_api_and_the_console_and_refused_out_of_range(owner, client, shop):
    agent = AgentFactory(workspace=shop, name="Fern")
    headers = {"Authorization": f"Bearer {api_key_for(shop)}"}
    url = f"/api/v1/agents/{agent.public_id}/"
    changes = {"model_calls_per_conversation_hour": 5, "model_calls_per_contact_day": 12, "prompt_token_budget": 3000}
    patched = client.patch(url, changes, content_type="application/json", headers=headers)
    assert patched.status_code == 200 and {k: patched.json()[k] for k in changes} == changes
    for field, value in (
        ("model_calls_per_conversation_hour", 0),
        ("model_calls_per_contact_day", 0),
        ("prompt_token_budget", 200),
    ):
        bad = client.patch(url, {field: value}, content_type="application/json", headers=headers)
        assert bad.status_code == 400 and bad.json()["error"]["field"] == field, bad.json()

    page = owner.get(reverse("agent_detail", args=["lucky-shrub", agent.public_id])).content.decode()
    assert 'name="model_calls_per_conversation_hour" value="5"' in page
    assert 'name="prompt_token_budget" value="3000"' in page


def test_the_admin_refuses_a_model_call_limit_of_zero(admin_client, shop):
    agent = AgentFactory(workspace=shop, name="Fern")
    change = reverse("admin:agents_app_agent_change", args=[agent.pk])
    form = admin_client.get(change).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name in form.fields}
    data.update(workspace=shop.pk, use_emoji="on", window_closed_template_parameters="{}")
    response = admin_client.post(change, {**data, "model_calls_per_conversation_hour": 0})
    assert response.status_code == 200
    assert "model_calls_per_conversation_hour" in response.context["adminform"].form.errors
    agent.refresh_from_db()
    assert agent.model_calls_per_conversation_hour == 15
