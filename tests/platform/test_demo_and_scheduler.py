import os
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from agents_app.models import Agent
from tests.factories import WorkspaceFactory
from workspaces_app.models import Invitation, Membership, Role, User, Workspace

pytestmark = pytest.mark.django_db


def _seed(capsys) -> str:
    call_command("seed_demo")
    return capsys.readouterr().out


def test_the_demo_seed_prints_a_login_that_works(client, capsys):
    out = _seed(capsys)
    password = out.split("password:")[1].split()[0]
    response = client.post("/accounts/login/", {"login": "owner@demo.shop", "password": password}, follow=True)
    assert response.redirect_chain[-1][0] == "/w/demo-shop/"
    assert "Demo Shop" in response.content.decode()


def test_the_demo_seed_is_idempotent_and_keeps_the_printed_password(capsys):
    first = _seed(capsys)
    second = _seed(capsys)
    assert Workspace.objects.filter(slug="demo-shop").count() == 1
    assert User.objects.filter(email="owner@demo.shop").count() == 1
    assert Membership.objects.get(user__email="owner@demo.shop").role == Role.OWNER
    assert Agent.objects.filter(workspace__slug="demo-shop").count() == 1
    assert first.split("password:")[1].split()[0] == second.split("password:")[1].split()[0]


def test_the_demo_agent_answers_offline_with_whatsapp_style_instructions(capsys):
    _seed(capsys)
    agent = Agent.objects.get(workspace__slug="demo-shop")
    assert agent.provider == Agent.Provider.KNOWLEDGE_BASE
    assert "WhatsApp" in agent.instructions and "Demo Shop" in agent.instructions


def test_the_in_process_scheduler_runs_every_periodic_job(capsys):
    workspace = WorkspaceFactory()
    stale = Invitation.objects.create(
        workspace=workspace, email="late@x.test", token_hash="c" * 64, expires_at=timezone.now() - timedelta(hours=1)
    )
    call_command("run_scheduler", once=True)
    stale.refresh_from_db()
    assert stale.state == Invitation.State.EXPIRED
    assert "workspaces.invitations_expire" in capsys.readouterr().out


def test_the_configured_services_are_the_ones_in_use_never_a_fallback():
    if os.environ.get("CI") == "true":
        assert os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"), ".ci/run must point at real services"
    expected_vendor = "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite"
    assert connection.vendor == expected_vendor
    expected_cache = "RedisCache" if os.environ.get("REDIS_URL") else "FileBasedCache"
    assert settings.CACHES["default"]["BACKEND"].endswith(expected_cache)


def test_the_demo_has_a_sandbox_channel_wired_to_the_emulator_with_the_agent_assigned(capsys):
    from channels_app.models import Channel
    from cloudapi_emulator.models import PhoneNumber

    _seed(capsys)
    out = _seed(capsys)  # twice: still one channel, one emulated number
    channel = Channel.objects.get(workspace__slug="demo-shop", provider=Channel.Provider.SANDBOX)
    assert channel.status == Channel.Status.ACTIVE
    assert channel.agent.name == "Assistant"
    number = PhoneNumber.objects.get(phone_number_id=channel.phone_number_id)
    assert number.webhook_url.endswith(f"/webhooks/whatsapp/{channel.public_id}/")
    assert number.access_token == channel.access_token
    assert "Sandbox channel" in out
