"""Channel secrets: encrypted at rest, rotated with a command, never shown anywhere after entry."""

import logging

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from channels_app.models import Channel
from messaging_app.models import Message
from messaging_app.services.outbound import message_send
from tests.conftest import SANDBOX_APP_SECRET, SANDBOX_TOKEN, wait_until
from tests.factories import api_key_for, member
from workspaces_app.models import Role


def _stored(channel: Channel, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM channels_app_channel WHERE id = %s", [channel.pk])  # noqa: S608
        return cursor.fetchone()[0]


def test_no_page_api_response_or_log_line_shows_the_token_or_app_secret(sandbox, client, caplog):
    caplog.set_level(logging.DEBUG)
    channel = sandbox.channel
    owner = member(channel.workspace, Role.OWNER, is_superuser=True)
    client.force_login(owner)
    # A failing call too: errors are where secrets usually leak.
    sandbox.emulator.revoke_token(SANDBOX_TOKEN)
    message_send(conversation=sandbox.conversation, message_type="text", content={"body": "x"}, sender="api")

    slug, cid = channel.workspace.slug, channel.public_id
    pages = [
        reverse("channel_list", args=[slug]),
        reverse("channel_detail", args=[slug, cid]),
        reverse("channel_live_status", args=[slug, cid]),
        f"/w/{slug}/channels/{cid}/sandbox/",
        reverse("admin:channels_app_channel_changelist"),
        reverse("admin:channels_app_channel_change", args=[channel.pk]),
        reverse("admin:channels_app_webhookevent_changelist"),
    ]
    bodies = []
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        bodies.append(response.content.decode())
    headers = {"Authorization": f"Bearer {api_key_for(channel.workspace)}"}
    bodies.append(client.get("/api/v1/channels/", headers=headers).content.decode())
    bodies.append(client.get(f"/api/v1/channels/{cid}/", headers=headers).content.decode())
    logs = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)

    for secret in (SANDBOX_TOKEN, SANDBOX_APP_SECRET):
        assert secret not in logs
        for url, body in zip(pages + ["api list", "api detail"], bodies, strict=True):
            assert secret not in body, f"{secret!r} shown on {url}"
        assert secret not in _stored(channel, "access_token") + _stored(channel, "app_secret")


def test_rotating_the_key_re_encrypts_and_the_channel_still_sends(sandbox, settings):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    before = _stored(sandbox.channel, "access_token")
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]

    call_command("rotate_encryption_keys")

    settings.FIELD_ENCRYPTION_KEYS = [new_key]  # the old key is gone
    after = _stored(sandbox.channel, "access_token")
    assert after != before
    channel = Channel.objects.get(pk=sandbox.channel.pk)
    assert channel.access_token == SANDBOX_TOKEN
    sent = message_send(
        conversation=sandbox.conversation, message_type="text", content={"body": "Still here"}, sender="api"
    )
    sandbox.emulator.drain()
    assert wait_until(lambda: Message.objects.filter(pk=sent.pk, status__in=["sent", "delivered", "read"]).first())


@pytest.mark.django_db
def test_a_secret_encrypted_with_a_removed_key_fails_loudly_not_silently(settings):
    from django.core.exceptions import ImproperlyConfigured

    from tests.factories import ChannelFactory

    channel = ChannelFactory(access_token="EAAG-old")
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(ImproperlyConfigured, match="rotation"):
        Channel.objects.get(pk=channel.pk)


@pytest.mark.django_db
def test_rotation_re_encrypts_totp_seeds_so_the_old_key_can_go(settings):
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP

    from tests.factories import UserFactory

    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    totp = TOTP.activate(UserFactory(), "JBSWY3DPEHPK3PXPJBSWY3DP")
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    call_command("rotate_encryption_keys")
    settings.FIELD_ENCRYPTION_KEYS = [new_key]  # the old key is gone
    from allauth.mfa.adapter import get_adapter

    stored = Authenticator.objects.get(pk=totp.instance.pk).data["secret"]
    assert get_adapter().decrypt(stored) == "JBSWY3DPEHPK3PXPJBSWY3DP"
