"""Templates mirrored from Meta: every page, on connect, on Sync now, on schedule, on webhooks.

Cast: the owner of Lucky Shrub, whose sandbox channel is wired to the emulator over real HTTP.
"""

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from channels_app import tasks
from channels_app.models import Channel, MessageTemplate, TemplateSync
from channels_app.services.templates import templates_sync
from cloudapi_emulator.services.templates import template_add
from cloudapi_emulator.services.webhooks import waba_webhook_enqueue
from tests.conftest import SANDBOX_TOKEN, wait_until
from tests.factories import WorkspaceFactory, api_key_for, member
from tests.templates.conftest import ORDER_READY, seed
from workspaces_app.models import Role


def test_a_sync_reads_every_page_of_metas_list(sandbox):
    for i in range(7):
        seed(sandbox, f"order_update_{i}")
    counts = templates_sync(channel=sandbox.channel, since=timezone.now(), page_size=3)  # 3 pages
    assert counts == {"created": 7, "updated": 0, "removed": 0}
    templates = MessageTemplate.objects.filter(workspace=sandbox.channel.workspace).order_by("name")
    assert [t.name for t in templates] == [f"order_update_{i}" for i in range(7)]
    first = templates[0]
    assert first.status == "APPROVED" and first.category == "UTILITY" and first.meta_id
    assert first.components == ORDER_READY and first.synced_at is not None


def test_a_second_sync_updates_in_place_and_keeps_templates_meta_dropped_as_deleted(sandbox, owner_client):
    kept = seed(sandbox, "order_update")
    dropped = seed(sandbox, "spring_sale", category="MARKETING")
    templates_sync(channel=sandbox.channel, since=timezone.now())
    dropped.status = "DELETED"
    dropped.save()
    kept.status = "PAUSED"
    kept.save()

    counts = templates_sync(channel=sandbox.channel, since=timezone.now(), page_size=1)
    assert counts == {"created": 0, "updated": 1, "removed": 1}
    assert MessageTemplate.objects.get(name="order_update").status == "PAUSED"
    assert MessageTemplate.objects.get(name="spring_sale").status == "DELETED"  # history kept, not removed
    page = owner_client.get(reverse("template_list", args=["lucky-shrub"])).content.decode()
    assert "order_update" in page and "spring_sale" not in page
    deleted = owner_client.get(reverse("template_list", args=["lucky-shrub"]) + "?status=DELETED").content.decode()
    assert "spring_sale" in deleted


def test_sync_now_runs_the_sync_and_says_what_it_found(sandbox, owner_client):
    seed(sandbox, "order_update")
    seed(sandbox, "order_update", language="es")
    response = owner_client.post(
        reverse("template_sync", args=["lucky-shrub"]), {"channel": str(sandbox.channel.public_id)}, follow=True
    )
    page = response.content.decode()
    assert "Templates synced from" in page and "2 new, 0 changed, 0 no longer on WhatsApp" in page
    assert MessageTemplate.objects.filter(name="order_update").count() == 2
    sync = TemplateSync.objects.get()
    assert (sync.state, sync.trigger, sync.created_count) == ("succeeded", "manual", 2)


def test_sync_now_shows_a_clear_error_when_meta_refuses_the_token(sandbox, owner_client):
    sandbox.emulator.revoke_token(SANDBOX_TOKEN)
    response = owner_client.post(
        reverse("template_sync", args=["lucky-shrub"]), {"channel": str(sandbox.channel.public_id)}, follow=True
    )
    page = response.content.decode()
    assert "The sync failed" in page and "refused" in page and "reconnect the channel" in page
    assert TemplateSync.objects.get().state == "failed"
    assert Channel.objects.get(pk=sandbox.channel.pk).status == Channel.Status.NEEDS_RECONNECTION


def test_the_schedule_syncs_every_account_with_an_active_number(sandbox):
    assert "channels.template_sync_all" in {job["task"] for job in settings.PERIODIC_JOBS.values()}
    seed(sandbox, "order_update")
    tasks.template_sync_all.delay()
    sync = TemplateSync.objects.get()
    assert (sync.state, sync.trigger) == ("succeeded", "periodic")
    assert MessageTemplate.objects.filter(name="order_update", status="APPROVED").exists()


def test_a_webhook_about_a_template_we_never_synced_triggers_a_sync_of_its_account(sandbox):
    template = seed(sandbox, "welcome_back")  # created in WhatsApp Manager, never synced here
    waba_webhook_enqueue(
        waba_id=sandbox.number.waba_id,
        field="message_template_quality_update",
        value={
            "previous_quality_score": "UNKNOWN",
            "new_quality_score": "GREEN",
            "message_template_id": int(template.template_id),
            "message_template_name": "welcome_back",
            "message_template_language": "en_US",
        },
    )
    sandbox.emulator.drain()
    stored = wait_until(lambda: MessageTemplate.objects.filter(name="welcome_back").exclude(components=[]).first())
    assert stored.quality == "GREEN" and stored.status == "APPROVED" and stored.components == ORDER_READY
    assert TemplateSync.objects.get().trigger == "webhook"


def test_a_stuck_sync_is_picked_up_by_the_sweeper(sandbox):
    seed(sandbox, "order_update")
    lost = TemplateSync.objects.create(
        workspace=sandbox.channel.workspace,
        channel=sandbox.channel,
        waba_id=sandbox.channel.waba_id,
        trigger="manual",
        state="running",
        started_at=timezone.now() - timezone.timedelta(hours=1),
        attempts=1,
    )
    assert tasks.template_syncs_sweep.delay() is not None
    lost.refresh_from_db()
    assert lost.state == "succeeded" and lost.attempts == 2
    assert MessageTemplate.objects.filter(name="order_update").exists()


def test_connecting_a_number_with_login_with_facebook_syncs_its_templates(emulator, client):
    import json

    emulator.app_register(
        settings.META_APP_ID,
        settings.META_APP_SECRET,
        f"{emulator.url}/webhooks/whatsapp/",
        verify_token=settings.WHATSAPP_VERIFY_TOKEN,
    )
    workspace = WorkspaceFactory(name="Fern & Co", slug="fern-co")
    client.force_login(member(workspace, Role.OWNER))
    channel = Channel.objects.create(workspace=workspace, name="WhatsApp Support")
    code, waba_id, phone_number_id = emulator.signup(app_id=settings.META_APP_ID)
    template_add(waba_id=waba_id, name="appointment_reminder", components=ORDER_READY)

    response = client.post(
        reverse("channel_embedded_signup", args=["fern-co", channel.public_id]),
        data=json.dumps({"event": "FINISH", "code": code, "waba_id": waba_id, "phone_number_id": phone_number_id}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.json()
    sync = TemplateSync.objects.get(channel=channel)
    assert (sync.trigger, sync.state) == ("connect", "succeeded")
    assert MessageTemplate.objects.get(workspace=workspace, waba_id=waba_id).name == "appointment_reminder"


def test_connecting_a_number_by_hand_syncs_its_templates(emulator, client):
    workspace = WorkspaceFactory(name="Fern & Co", slug="fern-co")
    number = emulator.provision(f"{emulator.url}/unused/", app_secret="own-app-secret", access_token="own-token")
    template_add(waba_id=number.waba_id, name="appointment_reminder", components=ORDER_READY)
    response = client.post(
        "/api/v1/channels/",
        {
            "name": "CRM line",
            "phone_number_id": number.phone_number_id,
            "waba_id": number.waba_id,
            "access_token": "own-token",
            "app_secret": "own-app-secret",
        },
        content_type="application/json",
        headers={"Authorization": f"Bearer {api_key_for(workspace)}"},
    )
    assert response.status_code == 201, response.json()
    assert TemplateSync.objects.get().trigger == "connect"
    assert MessageTemplate.objects.get(workspace=workspace).name == "appointment_reminder"
