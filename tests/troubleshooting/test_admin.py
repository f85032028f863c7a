"""The admin: every model registered and readable, secrets never on a page, and the troubleshooting actions.

Cast: a superuser; Lucky Shrub's owner (staff, scoped to Lucky Shrub); Globex's rows next door.
"""

import json
from datetime import time, timedelta

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from agents_app.admin import AgentAdminForm
from agents_app.models import AgentRun, KnowledgeEntry, ModelPrice, WorkspaceModelBudget
from agents_app.tools import http_tool_create
from channels_app.models import Channel, ChannelSetupEvent, MessageTemplate, TemplateSync, WebhookEvent
from channels_app.services import webhook_event_finish, webhook_event_receive
from messaging_app.models import (
    BusinessHours,
    BusinessHoursRange,
    ClosedDate,
    Contact,
    ConversationRating,
    IdempotencyKey,
    MediaUpload,
    Message,
    StatusReceipt,
)
from tests.factories import (
    AgentFactory,
    ChannelFactory,
    UserFactory,
    WorkspaceFactory,
    api_key_for,
    conversation_with,
    member,
    outbound_message,
)
from workspaces_app.models import FileDeletion, Invitation, Role

pytestmark = pytest.mark.django_db

SECRETS = {
    "access_token": "EAAG-SECRET-ACCESS-TOKEN-11",
    "app_secret": "SECRET-APP-SECRET-22",
    "verify_token": "SECRET-VERIFY-TOKEN-33",
    "llm_key": "sk-SECRET-LLM-KEY-44",
    "tool_header": "Bearer SECRET-TOOL-HEADER-55",
    "signature": "sha256=5ec12e75164a7e0a4d4f06b1cafef00d",
}
MY_APPS = ("workspaces_app", "channels_app", "messaging_app", "agents_app")
PAYLOAD = {
    "object": "whatsapp_business_account",
    "entry": [{"id": "1", "changes": [{"field": "messages", "value": {"metadata": {"phone_number_id": "999"}}}]}],
}


@pytest.fixture
def world(settings):
    """One of every row, with a secret in every secret field."""
    settings.AGENT_TOOL_ALLOWED_HOSTS = []
    shop = WorkspaceFactory(name="Lucky Shrub", slug="lucky-shrub")
    owner = member(shop, Role.OWNER, email="owner@luckyshrub.test", is_staff=True)
    Invitation.objects.create(
        workspace=shop, email="new@luckyshrub.test", token_hash="f" * 64, expires_at=timezone.now() + timedelta(days=7)
    )
    api_key_for(shop)
    FileDeletion.objects.create(workspace=shop, path="whatsapp-media/1/2026/01/erased.png", reason="erasure")
    agent = AgentFactory(workspace=shop, name="Fern", provider="openai", api_key=SECRETS["llm_key"])
    KnowledgeEntry.objects.create(agent=agent, title="Opening hours", body="9 to 5")
    http_tool_create(
        agent=agent,
        name="order_status",
        description="Where an order is.",
        url_template="https://shop.example/orders",
        headers={"Authorization": SECRETS["tool_header"]},
    )
    channel = ChannelFactory(
        workspace=shop,
        name="Support line",
        waba_id="102290129340398",
        access_token=SECRETS["access_token"],
        app_secret=SECRETS["app_secret"],
        verify_token=SECRETS["verify_token"],
        agent=agent,
    )
    ChannelSetupEvent.objects.create(channel=channel, step="subscribe", ok=True, message="Webhooks subscribed.")
    conversation = conversation_with(channel, name="Sheena Nelson", agent=agent)
    contact = conversation.contact
    Contact.objects.filter(pk=contact.pk).update(tags=["vip"], attributes={"plan": "gold"})
    failed = outbound_message(conversation, wamid="wamid.FAILED1", status=Message.Status.FAILED, body="Back in stock!")
    Message.objects.filter(pk=failed.pk).update(
        error_code=131016, error_title="Service unavailable", failed_at=timezone.now()
    )
    StatusReceipt.objects.create(
        channel=channel,
        wamid="wamid.FAILED1",
        status="failed",
        timestamp=timezone.now(),
        message=failed,
        errors=[{"code": 131016, "title": "Service unavailable"}],
    )
    MediaUpload.objects.create(channel=channel, sha256="a" * 64, media_id="1234", mime_type="image/png", size=10)
    ConversationRating.objects.create(workspace=shop, conversation=conversation, score=5)
    IdempotencyKey.objects.create(workspace=shop, key="order-1001-shipped", fingerprint="0" * 64, message=failed)
    AgentRun.objects.create(
        workspace=shop,
        agent=agent,
        conversation=conversation,
        status=AgentRun.Status.FAILED,
        provider="openai",
        prompt=[{"role": "system", "content": "Be helpful."}],
        tool_calls=[{"name": "order_status", "arguments": {}, "result": {"ok": False, "error": "timed out"}}],
        error="The model timed out.",
    )
    ModelPrice.objects.create(provider="openai", model_prefix="gpt-4o-mini", input_per_million=1, output_per_million=2)
    WorkspaceModelBudget.objects.create(workspace=shop, monthly_budget=50)
    event = webhook_event_receive(
        raw_body=json.dumps(PAYLOAD).encode(),
        headers={"X-Hub-Signature-256": SECRETS["signature"], "Content-Type": "application/json"},
        signature_valid=True,
        channel=channel,
    )
    event.attempts = 1
    webhook_event_finish(event=event, error="InboundMessage: LookupError: no channel has phone_number_id 999")
    MessageTemplate.objects.create(workspace=shop, waba_id=channel.waba_id, name="order_update", language="en_US")
    TemplateSync.objects.create(
        workspace=shop, channel=channel, waba_id=channel.waba_id, trigger="periodic", state="succeeded"
    )
    hours = BusinessHours.objects.create(channel=channel, enabled=True, timezone="Europe/London")
    BusinessHoursRange.objects.create(hours=hours, weekday=0, start=time(9), end=time(17))
    ClosedDate.objects.create(hours=hours, date=timezone.localdate(), label="Holiday")
    Group.objects.create(name="Support")

    globex = WorkspaceFactory(name="Globex", slug="globex")
    foreign = conversation_with(ChannelFactory(workspace=globex, name="Globex line"), name="Gina Globex")
    return {
        "shop": shop,
        "owner": owner,
        "channel": channel,
        "contact": contact,
        "failed": failed,
        "event": event,
        "agent": agent,
        "foreign_contact": foreign.contact,
    }


@pytest.fixture
def superuser(client):
    user = UserFactory(email="root@platform.test", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


def _admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _assert_no_secret(html: str, where: str) -> None:
    for name, secret in SECRETS.items():
        assert secret not in html, f"the {name} is on {where}"
    assert "5ec12e75164a7e0a" not in html, f"part of the webhook signature is on {where}"


def test_every_model_of_the_platforms_apps_is_registered_or_edited_inline(world):
    inline_models = {inline.model for model_admin in admin.site._registry.values() for inline in model_admin.inlines}
    for app in MY_APPS:
        for model in apps.get_app_config(app).get_models():
            assert model in admin.site._registry or model in inline_models, f"{model._meta.label} is not in the admin"
            assert model.objects.exists(), f"the world has no {model._meta.label} to open"


def test_every_registered_changelist_and_change_page_renders_without_a_secret(client, world, superuser):
    opened = []
    for model in list(admin.site._registry):
        changelist = client.get(_admin_url(model, "changelist"))
        assert changelist.status_code == 200, f"{model._meta.label} changelist: {changelist.status_code}"
        _assert_no_secret(changelist.content.decode(), f"the {model._meta.label} changelist")
        row = model.objects.order_by("pk").first()
        if row is None:
            continue
        change = client.get(_admin_url(model, "change", row.pk))
        assert change.status_code == 200, f"{model._meta.label} change page: {change.status_code}"
        _assert_no_secret(change.content.decode(), f"the {model._meta.label} change page")
        opened.append(model._meta.label)
    assert {"channels_app.Channel", "agents_app.Agent", "agents_app.HttpTool", "channels_app.WebhookEvent"} <= set(
        opened
    )


def test_a_webhooks_body_is_shown_pretty_printed_and_read_only_with_the_signature_masked(client, world, superuser):
    html = client.get(_admin_url(WebhookEvent, "change", world["event"].pk)).content.decode()
    assert "{\n  &quot;object&quot;: &quot;whatsapp_business_account&quot;," in html
    assert "sha256=•••• (masked" in html
    assert 'name="body"' not in html and 'name="headers"' not in html  # nothing to edit


def test_reprocess_action_processes_a_failed_webhook_once_its_cause_is_fixed(
    client, world, superuser, django_capture_on_commit_callbacks
):
    Channel.objects.filter(pk=world["channel"].pk).update(phone_number_id="999")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            _admin_url(WebhookEvent, "changelist"),
            {"action": "reprocess", "_selected_action": [world["event"].pk]},
        )
    world["event"].refresh_from_db()
    assert world["event"].state == WebhookEvent.State.PROCESSED and world["event"].error == ""


def test_resend_action_queues_a_new_copy_of_a_failed_message(client, world):
    client.force_login(world["owner"])  # scoped staff: Lucky Shrub's rows only
    response = client.post(
        _admin_url(Message, "changelist"), {"action": "resend", "_selected_action": [world["failed"].pk]}, follow=True
    )
    assert "1 message(s) queued again." in response.content.decode()
    copy = Message.objects.filter(pk__gt=world["failed"].pk, direction="out").get()
    assert copy.status == Message.Status.QUEUED and copy.content == {"body": "Back in stock!"}


def test_resync_action_requests_a_template_sync_for_the_channels_account(client, world, superuser):
    TemplateSync.objects.all().delete()
    client.post(
        _admin_url(Channel, "changelist"), {"action": "resync_templates", "_selected_action": [world["channel"].pk]}
    )
    sync = TemplateSync.objects.get()
    assert (sync.waba_id, sync.trigger, sync.state) == ("102290129340398", "manual", "pending")

    TemplateSync.objects.all().delete()
    template = MessageTemplate.objects.get()
    client.post(
        _admin_url(MessageTemplate, "changelist"), {"action": "resync_templates", "_selected_action": [template.pk]}
    )
    assert TemplateSync.objects.get().trigger == "manual"


def test_export_action_downloads_a_contacts_data_and_never_another_workspaces(client, world):
    client.force_login(world["owner"])
    response = client.post(
        _admin_url(Contact, "changelist"),
        {"action": "export_data", "_selected_action": [world["contact"].pk, world["foreign_contact"].pk]},
    )
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"].startswith('attachment; filename="contacts-')
    [document] = json.loads(response.content)["contacts"]
    assert document["contact"]["profile_name"] == "Sheena Nelson"
    assert document["contact"]["tags"] == ["vip"] and document["contact"]["attributes"] == {"plan": "gold"}
    [conversation] = document["conversations"]
    [message] = conversation["messages"]
    assert message["error"]["code"] == 131016 and message["statuses"][0]["status"] == "failed"
    assert conversation["agent_runs"][0]["error"] == "The model timed out."
    _assert_no_secret(response.content.decode(), "the export")


def test_block_action_blocks_and_the_scoped_admin_never_reaches_another_workspace(client, world):
    client.force_login(world["owner"])
    client.post(
        _admin_url(Contact, "changelist"),
        {"action": "block", "_selected_action": [world["contact"].pk, world["foreign_contact"].pk]},
    )
    world["contact"].refresh_from_db()
    world["foreign_contact"].refresh_from_db()
    assert world["contact"].blocked_at is not None and world["foreign_contact"].blocked_at is None
    assert client.get(_admin_url(Contact, "change", world["foreign_contact"].pk)).status_code == 404
    assert "Gina Globex" not in client.get(_admin_url(Contact, "changelist")).content.decode()


def test_an_agents_llm_key_is_write_only_in_the_admin(world):
    agent = world["agent"]
    fields = AgentAdminForm._meta.fields
    data = {}
    for name in fields:
        value = getattr(agent, f"{name}_id" if name == "workspace" else name)
        data[name] = json.dumps(value) if isinstance(value, dict | list) else value
    kept = AgentAdminForm(data=data, instance=agent)
    assert kept.is_valid(), kept.errors
    kept.save()
    agent.refresh_from_db()
    assert agent.api_key == SECRETS["llm_key"]

    replaced = AgentAdminForm(data={**data, "new_api_key": "sk-new-key"}, instance=agent)
    assert replaced.is_valid(), replaced.errors
    replaced.save()
    agent.refresh_from_db()
    assert agent.api_key == "sk-new-key"
    assert "sk-new-key" not in str(AgentAdminForm(instance=agent))
