"""Retention: contents older than the workspace's limit go every day, rows stay, and running it twice changes nothing.

Cast: Lucky Shrub (keeps message contents 30 days, webhook bodies 30 days), its owner, admin and viewer;
Sheena wrote 40 days ago, Ade yesterday.
"""

import json
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from agents_app.models import AgentRun
from analytics_app.models import DailyChannelStats
from analytics_app.services.rollup import daily_stats_rollup, local_today
from audit_app.models import AuditEntry
from channels_app.models import WebhookEvent
from messaging_app import tasks
from messaging_app.models import Message, StatusReceipt
from messaging_app.services import privacy
from tests.factories import ChannelFactory, WorkspaceFactory, member
from tests.privacy import world
from workspaces_app.models import Role, Workspace

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    return WorkspaceFactory(name="Lucky Shrub", slug="lucky-shrub", retention_days=30)


@pytest.fixture
def support(shop):
    return ChannelFactory(workspace=shop, name="Support line")


@pytest.fixture
def sheena(support):
    return world.stored_customer(support, days_ago=40)


@pytest.fixture
def ade(support):
    return world.stored_customer(support, phone="447700900123", name="Ade Bello", days_ago=1)


def _old_day_figures(shop) -> list[dict]:
    day = local_today(shop) - timedelta(days=40)
    daily_stats_rollup(workspace=shop, day=day)
    rows = DailyChannelStats.objects.filter(workspace=shop, day=day).values()
    return [{k: v for k, v in row.items() if k != "computed_at"} for row in rows]


def _bodies(events) -> list[dict]:
    return [json.loads(bytes(WebhookEvent.objects.get(pk=e.pk).body)) for e in events]


def test_older_messages_lose_their_content_and_files_and_newer_ones_keep_them(shop, sheena, ade):
    before = _old_day_figures(shop)
    assert before and before[0]["inbound"] == 3
    old_files = list(
        Message.objects.filter(contact=sheena.contact).exclude(media_file="").values_list("media_file", flat=True)
    )
    new_files = list(
        Message.objects.filter(contact=ade.contact).exclude(media_file="").values_list("media_file", flat=True)
    )

    tasks.retention_apply.delay()

    old = Message.objects.filter(contact=sheena.contact)
    assert old.count() == 4
    assert all(m.content == {} and not m.transcript and not m.media_file for m in old)
    assert sorted(old.values_list("message_type", flat=True)) == ["audio", "image", "interactive", "text"]
    assert old.get(direction="out").status == "delivered" and StatusReceipt.objects.filter(
        message__contact=sheena.contact
    )
    assert not any(default_storage.exists(name) for name in old_files)
    [old_run] = AgentRun.objects.filter(conversation=sheena.conversation)
    assert old_run.prompt == [] and old_run.tool_calls == [
        {"name": "send_buttons", "duration_ms": 1.5, "redacted": True}
    ]
    assert old_run.status == "answered" and old_run.response_ms == 900

    recent = Message.objects.filter(contact=ade.contact)
    assert recent.get(message_type="text").content == {"body": ade.text}
    assert recent.get(message_type="audio").transcript == ade.transcript
    assert all(default_storage.exists(name) for name in new_files)
    assert AgentRun.objects.get(conversation=ade.conversation).prompt[1]["content"] == ade.text

    assert _old_day_figures(shop) == before
    [entry] = AuditEntry.objects.filter(action="retention.applied", workspace=shop)
    assert entry.changes == {"messages": 4, "media_files": 2, "agent_runs": 1, "webhook_bodies": 2}
    assert entry.actor_type == "system"


def test_running_it_again_changes_nothing(shop, sheena, ade):
    first = privacy.workspace_retention_apply(workspace=shop)
    stamps = dict(Message.objects.values_list("pk", "updated_at"))
    bodies = dict(WebhookEvent.objects.values_list("pk", "body"))

    shop.refresh_from_db()
    second = privacy.workspace_retention_apply(workspace=shop)

    assert first["messages"] == 4 and first["webhook_bodies"] == 2
    assert second == {"messages": 0, "media_files": 0, "agent_runs": 0, "webhook_bodies": 0, "done": True}
    assert dict(Message.objects.values_list("pk", "updated_at")) == stamps
    assert {pk: bytes(b) for pk, b in WebhookEvent.objects.values_list("pk", "body")} == {
        pk: bytes(b) for pk, b in bodies.items()
    }
    assert AuditEntry.objects.filter(action="retention.applied").count() == 1


def test_it_works_in_small_batches_and_a_run_cut_short_is_finished_by_the_next(shop, sheena, monkeypatch):
    monkeypatch.setattr(privacy.retention, "MESSAGE_BATCH", 3)
    monkeypatch.setattr(privacy.retention, "WEBHOOK_BATCH", 1)
    batches = []
    strip = privacy.retention.messages_strip
    monkeypatch.setattr(
        privacy.retention,
        "messages_strip",
        lambda messages, **kw: batches.append(messages.count()) or strip(messages, **kw),
    )

    cut_short = privacy.workspace_retention_apply(workspace=shop, deadline=0)  # time.monotonic() is past it

    assert cut_short["done"] is False and cut_short["messages"] == 0
    assert Message.objects.filter(contact=sheena.contact, content__body=sheena.text).exists()
    shop.refresh_from_db()
    assert shop.retention_content_through is None

    finished = privacy.workspace_retention_apply(workspace=shop)

    assert finished["done"] is True and finished["messages"] == 4 and finished["webhook_bodies"] == 2
    assert batches == [3, 1]  # each batch its own transaction
    shop.refresh_from_db()
    assert shop.retention_content_through and shop.retention_webhooks_through


def test_webhook_bodies_older_than_the_limit_are_redacted_and_newer_ones_kept(shop, support, sheena, ade):
    Workspace.objects.filter(pk=shop.pk).update(retention_days=None, webhook_body_retention_days=30)
    old_events = list(WebhookEvent.objects.filter(received_at__lt=timezone.now() - timedelta(days=30)))
    new_events = list(WebhookEvent.objects.filter(received_at__gte=timezone.now() - timedelta(days=30)))
    template = world._webhook(support, "template_status_approved.json", {}, received_days_ago=40)
    orphan = world._webhook(support, "text.json", {}, received_days_ago=40)
    WebhookEvent.objects.filter(pk=orphan.pk).update(workspace=None, channel=None)
    original_template = json.loads(bytes(template.body))

    totals = privacy.retention_apply_all()

    assert totals["webhook_bodies"] == 4
    for body in _bodies(old_events):
        assert body["redacted"]["reason"] == "retention" and body["object"] == "whatsapp_business_account"
        value = body["entry"][0]["changes"][0]["value"]
        assert value["metadata"]["phone_number_id"] == "106540352242922"
        assert value["contacts"] == [{"profile": {"name": ""}, "wa_id": "", "user_id": ""}]
        assert sheena.phone not in json.dumps(body) and sheena.text not in json.dumps(body)
    [message_body] = [b for b in _bodies(old_events) if "messages" in b["entry"][0]["changes"][0]["value"]]
    message = message_body["entry"][0]["changes"][0]["value"]["messages"][0]
    assert message["type"] == "text" and message["timestamp"] == "1764000012" and message["text"] == {"body": ""}
    assert _bodies([orphan])[0]["redacted"]["reason"] == "retention"
    [kept_template] = _bodies([template])
    assert kept_template["entry"] == original_template["entry"]  # about the business, not a customer
    assert all(ade.phone in json.dumps(body) for body in _bodies(new_events))
    # Message contents are kept: this workspace keeps them forever.
    assert Message.objects.filter(contact=sheena.contact, content__body=sheena.text).exists()


def test_nothing_is_removed_where_retention_is_off(shop, sheena):
    Workspace.objects.filter(pk=shop.pk).update(retention_days=None, webhook_body_retention_days=None)
    totals = privacy.retention_apply_all()
    assert totals["messages"] == totals["webhook_bodies"] == 0
    assert Message.objects.filter(contact=sheena.contact, transcript=sheena.transcript).exists()
    assert all(b"wamid" in bytes(e.body) and b"redacted" not in bytes(e.body) for e in WebhookEvent.objects.all())


def test_the_job_runs_every_day():
    assert settings.PERIODIC_JOBS["messaging.retention_apply"] == {"task": "messaging.retention_apply", "every": 86400}


def test_the_owner_sets_retention_on_the_settings_page(client, shop):
    client.force_login(member(shop, Role.OWNER))
    page = client.get(reverse("workspace_settings", args=[shop.slug]))
    assert reverse("workspace_retention_update", args=[shop.slug]) in page.content.decode()

    refused = client.post(reverse("workspace_retention_update", args=[shop.slug]), {"retention_days": "2"})
    assert refused.status_code == 400
    saved = client.post(
        reverse("workspace_retention_update", args=[shop.slug]),
        {"retention_days": "90", "webhook_body_retention_days": ""},
    )

    assert saved.status_code == 302
    shop.refresh_from_db()
    assert shop.retention_days == 90 and shop.webhook_body_retention_days is None
    entry = AuditEntry.objects.get(action="workspace.settings_changed")
    assert entry.changes == {"retention_days": [30, 90], "webhook_body_retention_days": [30, None]}


@pytest.mark.parametrize("role", [Role.ADMIN, Role.VIEWER])
def test_only_owners_change_retention(client, shop, role):
    client.force_login(member(shop, role))
    page = client.get(reverse("workspace_settings", args=[shop.slug]))
    assert 'data-testid="retention-summary"' in page.content.decode()
    response = client.post(reverse("workspace_retention_update", args=[shop.slug]), {"retention_days": "7"})
    assert response.status_code == 403
    shop.refresh_from_db()
    assert shop.retention_days == 30
