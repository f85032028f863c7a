"""Each security-relevant action leaves exactly one audit entry: who, what, on what, what changed (secrets
masked), and from where.

Cast: Acme's owner, working from 203.0.113.7 in Firefox; a teammate; the workspace's API key.
"""

import time

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY, format_hotp_value, hotp_value
from django.urls import reverse

from audit_app.models import AuditEntry
from audit_app.services import MASK, audit_record
from channels_app.models import Channel
from events_app import services as event_services
from tests.factories import PASSWORD, WorkspaceFactory, api_key_for, member
from workspaces_app.models import ApiKey, Invitation, Membership, Role, User

OWNER_IP = "203.0.113.7"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


@pytest.fixture
def acme(db):
    return WorkspaceFactory(name="Acme", slug="acme")


@pytest.fixture
def owner(acme):
    return member(acme, Role.OWNER, email="owner@acme.test")


@pytest.fixture
def browser(client):
    """The Django test client, as the owner's browser at the office."""
    client.defaults.update(REMOTE_ADDR=OWNER_IP, HTTP_USER_AGENT=FIREFOX)
    return client


@pytest.fixture
def owner_browser(browser, owner):
    browser.force_login(owner)  # Django's own login: records nothing (only allauth's sign-in is audited)
    return browser


@pytest.fixture
def api(client, acme):
    client.defaults.update(
        HTTP_AUTHORIZATION=f"Bearer {api_key_for(acme, name='CRM sync')}", REMOTE_ADDR="198.51.100.20"
    )
    return client


def only_entry(action: str, **filters) -> AuditEntry:
    entries = list(AuditEntry.objects.filter(action=action, **filters))
    assert len(entries) == 1, f"{len(entries)} entries for {action}: {entries}"
    return entries[0]


def assert_from_the_office(entry: AuditEntry) -> None:
    assert entry.ip_address == OWNER_IP
    assert entry.user_agent == FIREFOX
    assert len(entry.request_id) == 32


# --- sign-in ------------------------------------------------------------------------------


def test_a_sign_in_is_recorded_with_who_and_where_from(browser, acme, owner):
    response = browser.post(reverse("account_login"), {"login": "owner@acme.test", "password": PASSWORD})
    assert response.status_code == 302

    entry = only_entry("auth.signed_in")
    assert entry.workspace == acme
    assert (entry.actor_type, entry.actor_user, entry.actor_label) == ("user", owner, "owner@acme.test")
    assert (entry.target_type, entry.target_id, entry.target_label) == ("user", str(owner.pk), "owner@acme.test")
    assert_from_the_office(entry)
    assert AuditEntry.objects.count() == 1


def test_a_failed_sign_in_is_recorded_for_the_account_and_for_an_unknown_address(browser, acme, owner):
    browser.post(reverse("account_login"), {"login": "owner@acme.test", "password": "guess-1234"})
    browser.post(reverse("account_login"), {"login": "nobody@acme.test", "password": "guess-1234"})

    known = only_entry("auth.sign_in_failed", workspace=acme)
    assert (known.actor_type, known.actor_user, known.actor_label) == ("anonymous", None, "owner@acme.test")
    assert known.target_label == "owner@acme.test"
    assert_from_the_office(known)
    assert "guess-1234" not in str(known.changes)

    unknown = only_entry("auth.sign_in_failed", workspace=None)
    assert (unknown.actor_type, unknown.actor_label, unknown.target_label) == (
        "anonymous",
        "nobody@acme.test",
        "nobody@acme.test",
    )
    assert unknown.ip_address == OWNER_IP
    assert not AuditEntry.objects.filter(action="auth.signed_in").exists()


def test_the_failure_that_locks_an_account_is_recorded_once(browser, acme, owner, settings):
    for _ in range(settings.ACCOUNT_LOGIN_FAILED_ATTEMPTS):
        browser.post(reverse("account_login"), {"login": "owner@acme.test", "password": "wrong-password"})
    # Locked: even the right password is refused, before any password is checked.
    locked = browser.post(reverse("account_login"), {"login": "owner@acme.test", "password": PASSWORD})
    assert "Too many failed login attempts" in locked.content.decode()

    assert AuditEntry.objects.filter(action="auth.sign_in_failed").count() == settings.ACCOUNT_LOGIN_FAILED_ATTEMPTS
    lockout = only_entry("auth.locked_out", workspace=acme)
    assert lockout.actor_label == "owner@acme.test" and lockout.target_id == str(owner.pk)
    assert lockout.ip_address == OWNER_IP


# --- two-factor ---------------------------------------------------------------------------


def test_adding_and_removing_an_authenticator_app_and_new_recovery_codes_are_recorded(
    browser, acme, owner, django_capture_on_commit_callbacks
):
    browser.post(reverse("account_login"), {"login": "owner@acme.test", "password": PASSWORD})
    browser.post(reverse("account_reauthenticate"), {"password": PASSWORD})  # allauth asks before any 2FA change
    browser.get(reverse("mfa_activate_totp"))
    code = format_hotp_value(hotp_value(browser.session[SECRET_SESSION_KEY], int(time.time()) // 30))
    with django_capture_on_commit_callbacks(execute=True):
        assert browser.post(reverse("mfa_activate_totp"), {"code": code}).status_code == 302
    assert Authenticator.objects.filter(user=owner, type="totp").exists()
    added = only_entry("mfa.authenticator_added", workspace=acme)
    assert added.actor_user == owner and added.changes == {"authenticator": [None, "totp"]}
    assert_from_the_office(added)

    with django_capture_on_commit_callbacks(execute=True):
        assert browser.post(reverse("mfa_generate_recovery_codes")).status_code == 302
    regenerated = only_entry("mfa.recovery_codes_regenerated", workspace=acme)
    assert regenerated.actor_user == owner and regenerated.target_id == str(owner.pk)

    with django_capture_on_commit_callbacks(execute=True):
        assert browser.post(reverse("mfa_deactivate_totp")).status_code == 302
    assert not Authenticator.objects.filter(user=owner).exists()
    removed = only_entry("mfa.authenticator_removed", workspace=acme)
    assert removed.changes == {"authenticator": ["totp", None]}
    assert AuditEntry.objects.filter(action__startswith="mfa.").count() == 3


# --- members ------------------------------------------------------------------------------


def test_an_invitation_its_acceptance_a_role_change_and_a_revocation_are_recorded(
    browser, acme, owner, django_capture_on_commit_callbacks
):
    browser.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        browser.post(reverse("invitation_create", args=["acme"]), {"email": "New.Person@acme.test", "role": "agent"})
    invitation = Invitation.objects.get(email="new.person@acme.test")
    created = only_entry("invitation.created")
    assert (created.workspace, created.actor_user, created.target_type) == (acme, owner, "invitation")
    assert (created.target_id, created.target_label) == (str(invitation.pk), "new.person@acme.test")
    assert created.changes == {"email": [None, "new.person@acme.test"], "role": [None, "agent"]}
    assert_from_the_office(created)

    newcomer = User.objects.create_user(email="new.person@acme.test", password=PASSWORD)
    token = _token_of_the_invitation_email()
    browser.force_login(newcomer)
    browser.get(reverse("invitation_accept", args=[token]))
    accepted = only_entry("invitation.accepted")
    assert (accepted.workspace, accepted.actor_user, accepted.target_id) == (acme, newcomer, str(invitation.pk))

    browser.force_login(owner)
    membership = Membership.objects.get(user=newcomer)
    browser.post(reverse("membership_update", args=["acme", membership.pk]), {"action": "role", "role": "admin"})
    changed = only_entry("member.role_changed")
    assert (changed.actor_user, changed.target_type, changed.target_label) == (owner, "user", "new.person@acme.test")
    assert changed.changes == {"role": ["agent", "admin"]}
    assert_from_the_office(changed)

    with django_capture_on_commit_callbacks(execute=True):
        browser.post(reverse("invitation_create", args=["acme"]), {"email": "maybe@acme.test", "role": "viewer"})
    pending = Invitation.objects.get(email="maybe@acme.test")
    browser.post(reverse("invitation_revoke", args=["acme", pending.pk]))
    browser.post(reverse("invitation_revoke", args=["acme", pending.pk]))  # already revoked: nothing happens
    revoked = only_entry("invitation.revoked")
    assert (revoked.actor_user, revoked.target_id, revoked.target_label) == (owner, str(pending.pk), "maybe@acme.test")


def _token_of_the_invitation_email() -> str:
    from django.core import mail

    link = next(word for word in mail.outbox[-1].body.split() if "/invitations/" in word)
    return link.rstrip("/").rsplit("/", 1)[-1]


# --- API keys -----------------------------------------------------------------------------


def test_creating_and_revoking_an_api_key_is_recorded_without_the_key(owner_browser, acme, owner):
    page = owner_browser.post(
        reverse("api_key_create", args=["acme"]), {"name": "Zapier", "role": "admin"}
    ).content.decode()
    key = ApiKey.objects.get(name="Zapier")
    created = only_entry("api_key.created")
    assert (created.workspace, created.actor_user, created.target_type) == (acme, owner, "apikey")
    assert created.target_id == str(key.public_id) and created.target_label == f"Zapier (wap_{key.prefix}_…)"
    assert_from_the_office(created)
    plaintext = page.split('data-testid="new-api-key">')[1].split("<")[0]
    assert plaintext.startswith("wap_") and plaintext not in str(AuditEntry.objects.values())

    owner_browser.post(reverse("api_key_revoke", args=["acme", key.public_id]))
    owner_browser.post(reverse("api_key_revoke", args=["acme", key.public_id]))  # already revoked
    revoked = only_entry("api_key.revoked")
    assert (revoked.actor_user, revoked.target_id) == (owner, str(key.public_id))


# --- channels (over the Cloud API emulator) ------------------------------------------------


def test_connecting_changing_the_credentials_of_and_deleting_a_channel_are_recorded(emulator, browser):
    workspace = WorkspaceFactory(name="Hand", slug="hand")
    owner = member(workspace, Role.OWNER, email="owner@hand.test")
    browser.force_login(owner)
    number = emulator.provision(f"{emulator.url}/unused/", app_secret="first-app-secret", access_token="first-token")
    emulator.provision(
        f"{emulator.url}/unused/", app_secret="first-app-secret", access_token="second-token", **_same_number(number)
    )
    browser.post(reverse("channel_create", args=["hand"]), {"name": "Support"})
    channel = Channel.objects.get(workspace=workspace)
    assert only_entry("channel.created").target_id == str(channel.public_id)

    def connect(token: str):
        return browser.post(
            reverse("channel_manual_connect", args=["hand", channel.public_id]),
            {
                "phone_number_id": number.phone_number_id,
                "waba_id": number.waba_id,
                "access_token": token,
                "app_secret": "first-app-secret",
                "verify_token": "",
            },
        )

    assert connect("first-token").status_code == 302
    connected = only_entry("channel.connected")
    assert (connected.workspace, connected.actor_user, connected.target_label) == (workspace, owner, "Support")
    assert connected.changes["access_token"] == ["", MASK]  # "" is "none set": only presence is ever shown
    assert connected.changes["app_secret"] == ["", MASK]
    assert connected.changes["verify_token"] == ["", MASK]
    assert connected.changes["phone_number_id"] == ["", number.phone_number_id]
    assert connected.changes["status"] == ["pending", "active"]
    assert "first-token" not in str(connected.changes) and "first-app-secret" not in str(connected.changes)
    assert_from_the_office(connected)

    assert connect("second-token").status_code == 302
    changed = only_entry("channel.credentials_changed")
    assert changed.changes["access_token"] == [MASK, MASK]
    assert "app_secret" not in changed.changes  # unchanged
    assert "second-token" not in str(changed.changes)

    deleted = browser.post(reverse("channel_delete", args=["hand", channel.public_id]), {"confirm": "Support"})
    assert deleted.status_code == 302 and not Channel.objects.filter(pk=channel.pk).exists()
    assert only_entry("channel.deactivated").changes == {"status": ["active", "disabled"]}
    gone = only_entry("channel.deleted")
    assert (gone.workspace, gone.actor_user, gone.target_id) == (workspace, owner, str(channel.public_id))
    assert_from_the_office(gone)


def _same_number(number) -> dict:
    """A second token for the same emulated number (provisioning is idempotent by display number)."""
    return {"display_phone_number": number.display_phone_number}


# --- agents and their tools (over the API) ----------------------------------------------------


def test_agent_and_tool_changes_over_the_api_are_recorded_with_the_api_key_as_actor(api, acme):
    key = ApiKey.objects.get(name="CRM sync")
    response = api.post(
        "/api/v1/agents/",
        {"name": "Concierge", "provider": "anthropic", "model": "claude-sonnet-4-5", "api_key": "sk-ant-secret"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    agent_id = response.json()["id"]
    created = only_entry("agent.created")
    assert (created.workspace, created.actor_type, created.actor_api_key) == (acme, "api_key", key)
    assert created.actor_label == f"API key CRM sync (wap_{key.prefix}_…)"
    assert (created.target_type, created.target_id, created.target_label) == ("agent", agent_id, "Concierge")
    assert created.changes["api_key"] == [None, MASK] and created.changes["name"] == [None, "Concierge"]
    assert created.ip_address == "198.51.100.20"

    api.patch(
        f"/api/v1/agents/{agent_id}/", {"temperature": 0.2, "api_key": "sk-ant-new"}, content_type="application/json"
    )
    updated = only_entry("agent.updated")
    assert updated.changes == {"temperature": [0.3, 0.2], "api_key": [MASK, MASK]}

    tool = api.post(
        f"/api/v1/agents/{agent_id}/tools/",
        {
            "name": "order_status",
            "description": "Looks up an order.",
            "url_template": "https://shop.example/orders/{order}",
            "parameters": {"type": "object", "properties": {"order": {"type": "string"}}, "required": ["order"]},
            "headers": {"Authorization": "Bearer shop-secret"},
        },
        content_type="application/json",
    )
    assert tool.status_code == 201, tool.content
    tool_id = tool.json()["id"]
    added = only_entry("agent.tool_added")
    assert (added.target_type, added.target_id, added.target_label) == ("httptool", str(tool_id), "order_status")
    assert added.changes["headers"] == [None, MASK] and "shop-secret" not in str(added.changes)

    assert api.delete(f"/api/v1/agents/{agent_id}/tools/{tool_id}/").status_code == 204
    removed = only_entry("agent.tool_removed")
    assert (removed.workspace, removed.actor_api_key, removed.target_id) == (acme, key, str(tool_id))

    assert api.delete(f"/api/v1/agents/{agent_id}/").status_code == 204
    deleted = only_entry("agent.deleted")
    assert (deleted.target_id, deleted.target_label, deleted.actor_api_key) == (agent_id, "Concierge", key)


# --- templates (over the Cloud API emulator) ---------------------------------------------------


def test_submitting_and_deleting_a_template_is_recorded(sandbox, browser):
    owner = member(sandbox.channel.workspace, Role.OWNER, email="owner@luckyshrub.example")
    browser.force_login(owner)
    form = {
        "channel": str(sandbox.channel.public_id),
        "name": "order_ready",
        "language": "en_US",
        "category": "utility",
        "body": "Hi {{1}}, your order {{2}} is ready for pick-up at our Covent Garden shop.",
        "example_1": "Sheena",
        "example_2": "1042",
    }
    response = browser.post(reverse("template_create", args=["lucky-shrub"]), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    from channels_app.models import MessageTemplate

    template = MessageTemplate.objects.get(name="order_ready")
    submitted = only_entry("template.submitted")
    assert (submitted.workspace, submitted.actor_user) == (sandbox.channel.workspace, owner)
    assert (submitted.target_type, submitted.target_id, submitted.target_label) == (
        "messagetemplate",
        str(template.public_id),
        "order_ready (en_US)",
    )
    assert submitted.changes == {"category": [None, "UTILITY"], "status": [None, template.status]}
    assert_from_the_office(submitted)

    browser.post(reverse("template_delete", args=["lucky-shrub", template.public_id]))
    deleted = only_entry("template.deleted")
    assert deleted.target_id == str(template.public_id) and deleted.changes["status"][1] == "DELETED"


# --- webhooks ---------------------------------------------------------------------------------


def test_rotating_a_webhook_secret_is_recorded_without_either_secret(owner_browser, acme, owner, settings):
    settings.EVENT_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1:9"]
    subscription, first_secret = event_services.subscription_create(
        workspace=acme, url="http://127.0.0.1:9/hooks", event_types=["message.received"]
    )
    response = owner_browser.post(reverse("webhook_rotate_secret", args=["acme", subscription.public_id]))
    assert response.status_code == 200
    subscription.refresh_from_db()

    rotated = only_entry("webhook.secret_rotated")
    assert (rotated.workspace, rotated.actor_user, rotated.target_type) == (acme, owner, "webhooksubscription")
    assert rotated.target_id == str(subscription.public_id) and rotated.target_label == "http://127.0.0.1:9/hooks"
    assert rotated.changes == {
        "secret": [MASK, MASK],
        "overlap_hours": [None, settings.EVENT_WEBHOOK_SECRET_OVERLAP_HOURS],
    }
    stored = str(AuditEntry.objects.values())
    assert first_secret not in stored and subscription.secret not in stored
    assert_from_the_office(rotated)
    created = only_entry("webhook.created")
    assert created.actor_type == "system" and created.changes["secret"] == [None, MASK]


# --- workspace settings -----------------------------------------------------------------------


def test_a_settings_change_is_recorded_field_by_field(owner_browser, acme, owner):
    owner_browser.post(
        reverse("workspace_settings_update", args=["acme"]),
        {"name": "Acme Ltd", "require_mfa": "on", "csat_question": acme.csat_question},
    )
    changed = only_entry("workspace.settings_changed")
    assert (changed.workspace, changed.actor_user, changed.target_type) == (acme, owner, "workspace")
    assert changed.changes["name"] == ["Acme", "Acme Ltd"]
    assert changed.changes["require_mfa"] == [False, True]
    assert_from_the_office(changed)


# --- where from, and never in the way ------------------------------------------------------------


@pytest.mark.parametrize(
    "trusted, expected",
    [(False, "10.0.0.5"), (True, "198.51.100.9")],
)
def test_the_forwarded_address_counts_only_when_the_proxy_is_trusted(owner_browser, settings, trusted, expected):
    settings.TRUST_X_FORWARDED_FOR = trusted
    owner_browser.post(
        reverse("api_key_create", args=["acme"]),
        {"name": "Zapier", "role": "admin"},
        REMOTE_ADDR="10.0.0.5",
        HTTP_X_FORWARDED_FOR="198.51.100.9, 10.0.0.1",
    )
    assert only_entry("api_key.created").ip_address == expected


def test_an_entry_that_cannot_be_written_never_breaks_the_action(acme, owner, caplog):
    from django.db import transaction

    with transaction.atomic():
        assert audit_record(action="api_key.created", workspace=acme, target=("apikey", "no label")) is None
        owner.first_name = "Still"
        owner.save()  # the caller's transaction is intact
    owner.refresh_from_db()
    assert owner.first_name == "Still"
    assert "audit entry not recorded" in caplog.text
    assert not AuditEntry.objects.exists()


def test_a_service_called_outside_any_request_is_recorded_as_the_system(acme):
    from workspaces_app.services import api_key_create

    api_key_create(workspace=acme, name="Nightly export")
    entry = only_entry("api_key.created")
    assert (entry.actor_type, entry.actor_label, entry.ip_address, entry.user_agent) == ("system", "system", None, "")
