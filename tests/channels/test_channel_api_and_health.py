"""The channel API, the hourly health check and the business profile, against the emulator."""

import io
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from channels_app.models import Channel
from channels_app.services.health import channel_health_check
from tests.conftest import SANDBOX_TOKEN
from tests.factories import AgentFactory, WorkspaceFactory, api_key_for, member
from workspaces_app.models import Role

TOKEN = "api-connect-token"
SECRET = "api-connect-secret"


def test_the_api_connects_a_channel_by_hand_and_returns_its_webhook_url(emulator, client):
    workspace = WorkspaceFactory()
    agent = AgentFactory(workspace=workspace)
    number = emulator.provision(f"{emulator.url}/unused/", app_secret=SECRET, access_token=TOKEN)
    headers = {"Authorization": f"Bearer {api_key_for(workspace)}"}
    response = client.post(
        "/api/v1/channels/",
        {
            "name": "CRM line",
            "phone_number_id": number.phone_number_id,
            "waba_id": number.waba_id,
            "access_token": TOKEN,
            "app_secret": SECRET,
            "agent_id": str(agent.public_id),
        },
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "active" and body["agent_id"] == str(agent.public_id)
    assert body["webhook_url"].endswith(f"/webhooks/whatsapp/{body['id']}/")
    assert TOKEN not in response.content.decode() and SECRET not in response.content.decode()


def test_the_api_reports_bad_credentials_with_the_field_and_keeps_nothing(emulator, client):
    workspace = WorkspaceFactory()
    number = emulator.provision(f"{emulator.url}/unused/", app_secret=SECRET, access_token=TOKEN)
    headers = {"Authorization": f"Bearer {api_key_for(workspace)}"}
    response = client.post(
        "/api/v1/channels/",
        {
            "name": "CRM line",
            "phone_number_id": number.phone_number_id,
            "waba_id": number.waba_id,
            "access_token": "wrong",
            "app_secret": SECRET,
        },
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "access_token"
    assert not Channel.objects.filter(workspace=workspace).exists()


def test_the_api_renames_assigns_deactivates_and_sends_a_test_message(sandbox, client):
    workspace = sandbox.channel.workspace
    agent = AgentFactory(workspace=workspace, name="Fern")
    headers = {"Authorization": f"Bearer {api_key_for(workspace)}"}
    url = f"/api/v1/channels/{sandbox.channel.public_id}/"

    patched = client.patch(
        url, {"name": "Renamed", "agent_id": str(agent.public_id)}, content_type="application/json", headers=headers
    )
    assert patched.status_code == 200 and patched.json()["name"] == "Renamed"

    sent = client.post(
        f"{url}test-message/",
        {"to": "+16505551234", "body": "API test"},
        content_type="application/json",
        headers=headers,
    )
    assert sent.status_code == 202 and sent.json()["status"] == "queued"

    closed = client.post(
        f"{url}test-message/", {"to": "+447700900999", "body": "Hi"}, content_type="application/json", headers=headers
    )
    assert closed.status_code == 422 and closed.json()["error"]["code"] == "window_closed"

    deactivated = client.post(f"{url}deactivate/", headers=headers)
    assert deactivated.json()["status"] == "disabled"


def test_an_agent_from_another_workspace_cannot_be_assigned_by_api(sandbox, client):
    other_agent = AgentFactory(workspace=WorkspaceFactory())
    headers = {"Authorization": f"Bearer {api_key_for(sandbox.channel.workspace)}"}
    response = client.patch(
        f"/api/v1/channels/{sandbox.channel.public_id}/",
        {"agent_id": str(other_agent.public_id)},
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 400 and response.json()["error"]["field"] == "agent_id"


def test_the_health_check_warns_a_week_before_the_token_expires(sandbox):
    Channel.objects.filter(pk=sandbox.channel.pk).update(token_expires_at=timezone.now() + timedelta(days=5))
    channel = channel_health_check(channel_id=sandbox.channel.pk)
    assert channel.status == Channel.Status.ACTIVE
    assert "expires on" in channel.attention_reason and channel.health_checked_at


def test_the_health_check_flags_an_expired_token_for_reconnection(sandbox):
    Channel.objects.filter(pk=sandbox.channel.pk).update(token_expires_at=timezone.now() - timedelta(minutes=1))
    channel = channel_health_check(channel_id=sandbox.channel.pk)
    assert channel.status == Channel.Status.NEEDS_RECONNECTION and "expired" in channel.status_reason


def test_the_health_check_flags_a_revoked_token(sandbox):
    sandbox.emulator.revoke_token(SANDBOX_TOKEN)
    channel = channel_health_check(channel_id=sandbox.channel.pk)
    assert channel.status == Channel.Status.NEEDS_RECONNECTION


def test_a_healthy_channel_has_no_attention_reason_and_the_console_shows_problems(sandbox, client):
    channel = channel_health_check(channel_id=sandbox.channel.pk)
    assert channel.attention_reason == ""
    Channel.objects.filter(pk=channel.pk).update(attention_reason="Quality rating is RED")
    client.force_login(member(channel.workspace, Role.OWNER))
    page = client.get(reverse("workspace_overview", args=[channel.workspace.slug])).content.decode()
    assert "needs attention" in page


def _png(size: int = 256) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (size, size), "green").save(out, format="PNG")
    return out.getvalue()


def test_the_business_profile_is_read_and_saved_through_graph(sandbox, client):
    client.force_login(member(sandbox.channel.workspace, Role.OWNER))
    url = reverse("channel_profile", args=[sandbox.channel.workspace.slug, sandbox.channel.public_id])
    assert client.get(url).status_code == 200
    photo = io.BytesIO(_png())
    photo.name = "logo.png"
    response = client.post(
        url,
        {
            "about": "Plants that thrive 🌿",
            "description": "Indoor plants, delivered.",
            "address": "1 Fern St",
            "email": "hello@luckyshrub.test",
            "website_1": "https://luckyshrub.test",
            "website_2": "",
            "vertical": "RETAIL",
            "photo": photo,
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    page = client.get(url).content.decode()
    assert "Plants that thrive" in page and "hello@luckyshrub.test" in page
    assert "profile photo" in page.lower()  # the photo now set on WhatsApp


def test_a_profile_over_metas_limits_is_refused_before_sending(sandbox, client):
    client.force_login(member(sandbox.channel.workspace, Role.OWNER))
    url = reverse("channel_profile", args=[sandbox.channel.workspace.slug, sandbox.channel.public_id])
    response = client.post(url, {"about": "x" * 140, "vertical": ""})
    assert response.status_code == 400
    assert "about" in response.context["form"].errors


def test_a_tiny_profile_photo_is_refused_with_the_minimum_size(sandbox, client):
    client.force_login(member(sandbox.channel.workspace, Role.OWNER))
    url = reverse("channel_profile", args=[sandbox.channel.workspace.slug, sandbox.channel.public_id])
    photo = io.BytesIO(_png(50))
    photo.name = "tiny.png"
    response = client.post(url, {"about": "Hi", "photo": photo})
    assert response.status_code == 400
    assert "192" in str(response.context["form"].errors)


def test_a_viewer_sees_the_profile_but_cannot_change_it(sandbox, client):
    client.force_login(member(sandbox.channel.workspace, Role.VIEWER))
    url = reverse("channel_profile", args=[sandbox.channel.workspace.slug, sandbox.channel.public_id])
    assert client.get(url).status_code == 200
    assert client.post(url, {"about": "Hacked"}).status_code == 403
