"""Who may grant which role, on every surface (console, API, admin site), and what follows a demotion.

The cast: Acme's owner (Olive), Acme's admin (Adam), and Globex, another tenant with its owner (Gus).
"""

import pytest
from django.test import Client
from django.urls import reverse

from audit_app.models import AuditEntry
from tests.factories import ChannelFactory, WorkspaceFactory, api_key_for, conversation_with, member
from whatsapp_platform.errors import NotPermitted
from workspaces_app.models import ApiKey, Invitation, Membership, Role, User, Workspace
from workspaces_app.services import api_key_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme():
    return WorkspaceFactory(name="Acme", slug="acme")


@pytest.fixture
def olive(acme):
    return member(acme, Role.OWNER, email="olive@acme.test")


@pytest.fixture
def adam(acme, olive):
    return member(acme, Role.ADMIN, email="adam@acme.test")


@pytest.fixture
def gus():
    return member(WorkspaceFactory(name="Globex", slug="globex"), Role.OWNER, email="gus@globex.test")


def browser(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def bearer(key: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


# --- 1. one rule for handing out roles ---------------------------------------------------------------


def test_an_admin_cannot_invite_an_owner(acme, adam):
    response = browser(adam).post(reverse("invitation_create", args=["acme"]), {"email": "eve@x.test", "role": "owner"})
    assert response.status_code == 400
    assert not Invitation.objects.filter(email="eve@x.test").exists()


def test_an_admin_cannot_make_themselves_owner(acme, adam):
    mine = Membership.objects.get(user=adam)
    response = browser(adam).post(
        reverse("membership_update", args=["acme", mine.pk]), {"action": "role", "role": "owner"}, follow=True
    )
    assert "Only an owner can make someone owner" in response.content.decode()
    assert Membership.objects.get(user=adam).role == Role.ADMIN


def test_an_admin_cannot_remove_an_owner(acme, olive, adam):
    owners = Membership.objects.get(user=olive)
    browser(adam).post(reverse("membership_update", args=["acme", owners.pk]), {"action": "remove"})
    assert Membership.objects.filter(pk=owners.pk, role=Role.OWNER).exists()


def test_an_owner_can_invite_an_owner(acme, olive):
    browser(olive).post(reverse("invitation_create", args=["acme"]), {"email": "co@acme.test", "role": "owner"})
    assert Invitation.objects.get(email="co@acme.test").role == Role.OWNER


# --- 5. API keys carry a role, never above their creator's ----------------------------------------------


def test_an_admin_cannot_create_an_owner_key(acme, adam):
    response = browser(adam).post(reverse("api_key_create", args=["acme"]), {"name": "Mine", "role": "owner"})
    assert response.status_code == 400
    with pytest.raises(NotPermitted, match="Only an owner"):
        api_key_create(workspace=acme, name="Mine", role=Role.OWNER, created_by=adam)
    assert not ApiKey.objects.exists()


def test_an_admin_key_cannot_erase_a_contact_but_an_owner_key_can(client, acme, adam, olive):
    contact = conversation_with(ChannelFactory(workspace=acme), wa_id="16505550100", name="Sheena").contact
    admin_key = api_key_create(workspace=acme, name="Adam's", role=Role.ADMIN, created_by=adam).plaintext
    url = f"/api/v1/contacts/{contact.pk}/erase/"

    refused = client.post(url, {"confirm": "+16505550100"}, content_type="application/json", **bearer(admin_key))
    assert refused.status_code == 403
    assert "role Admin" in refused.json()["error"]["message"]
    contact.refresh_from_db()
    assert contact.profile_name == "Sheena"

    owner_key = api_key_create(workspace=acme, name="Olive's", role=Role.OWNER, created_by=olive).plaintext
    erased = client.post(url, {"confirm": "+16505550100"}, content_type="application/json", **bearer(owner_key))
    assert erased.status_code == 200


def test_a_viewer_key_reads_but_cannot_send(client, acme):
    key = api_key_for(acme, role=Role.VIEWER)
    assert client.get("/api/v1/conversations/", **bearer(key)).status_code == 200
    sent = client.post("/api/v1/messages/", {}, content_type="application/json", **bearer(key))
    assert sent.status_code == 403


# --- 6. keys and the admin's door follow the member -----------------------------------------------------


def test_removing_a_member_revokes_their_keys_and_closes_the_admin_to_them(client, acme, olive, adam):
    key = api_key_create(workspace=acme, name="Adam's export", role=Role.ADMIN, created_by=adam).plaintext
    assert User.objects.get(pk=adam.pk).is_staff

    browser(olive).post(
        reverse("membership_update", args=["acme", Membership.objects.get(user=adam).pk]), {"action": "remove"}
    )

    assert client.get("/api/v1/contacts/", **bearer(key)).status_code == 401
    assert not User.objects.get(pk=adam.pk).is_staff
    assert AuditEntry.objects.filter(action="api_key.revoked", workspace=acme).exists()


def test_demoting_a_member_lowers_their_keys_and_clears_staff(client, acme, olive, adam):
    key = api_key_create(workspace=acme, name="Adam's", role=Role.ADMIN, created_by=adam)
    pending = Invitation.objects.create(
        workspace=acme,
        email="x@acme.test",
        role=Role.ADMIN,
        token_hash="h",
        invited_by=adam,
        expires_at="2999-01-01T00:00Z",
    )

    browser(olive).post(
        reverse("membership_update", args=["acme", Membership.objects.get(user=adam).pk]),
        {"action": "role", "role": "viewer"},
    )

    assert ApiKey.objects.get(pk=key.api_key.pk).role == Role.VIEWER
    assert (
        client.post("/api/v1/messages/", {}, content_type="application/json", **bearer(key.plaintext)).status_code
        == 403
    )
    assert not User.objects.get(pk=adam.pk).is_staff
    assert Invitation.objects.get(pk=pending.pk).state == Invitation.State.REVOKED


# --- 2. the admin site follows the same rules and is audited ----------------------------------------------


def test_a_workspace_admin_cannot_delete_the_only_owner_in_the_admin(acme, olive, adam):
    owners = Membership.objects.get(user=olive)
    response = browser(adam).post(reverse("admin:workspaces_app_membership_delete", args=[owners.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert Membership.objects.filter(pk=owners.pk).exists()


def test_a_workspace_admin_cannot_change_owner_only_settings_in_the_admin(acme, adam):
    browser(adam).post(
        reverse("admin:workspaces_app_workspace_change", args=[acme.pk]),
        {
            "name": "Acme Ltd",
            "slug": "stolen",
            "require_mfa": "on",
            "retention_days": "7",
            "timezone": "UTC",
            "csat_question": acme.csat_question,
        },
    )
    acme.refresh_from_db()
    assert (acme.slug, acme.require_mfa, acme.retention_days) == ("acme", False, None)
    assert acme.name == "Acme Ltd"  # what the console lets an admin change, the admin site does too
    changed = AuditEntry.objects.get(action="workspace.settings_changed")
    assert changed.actor_user_id == adam.pk and changed.changes == {"name": ["Acme", "Acme Ltd"]}


def test_every_admin_site_write_is_in_the_audit_log(acme, olive):
    channel = ChannelFactory(workspace=acme, name="Support")
    page = browser(olive).get(reverse("admin:channels_app_channel_change", args=[channel.pk]))
    form = {k: v for k, v in page.context["adminform"].form.initial.items() if v is not None}
    form.update({"name": "Sales", "channelsetupevent_set-TOTAL_FORMS": "0", "channelsetupevent_set-INITIAL_FORMS": "0"})
    browser(olive).post(reverse("admin:channels_app_channel_change", args=[channel.pk]), form)

    channel.refresh_from_db()
    assert channel.name == "Sales"
    entry = AuditEntry.objects.get(action="admin.changed")
    assert (entry.workspace, entry.actor_user, entry.target_type) == (acme, olive, "channel")
    assert entry.changes["name"] == ["Support", "Sales"]


def test_only_a_superuser_deletes_a_workspace_and_its_admins_lose_the_admin(acme, olive, adam):
    root = User.objects.create_superuser("root@platform.test", "pw")
    browser(root).post(reverse("admin:workspaces_app_workspace_delete", args=[acme.pk]), {"post": "yes"})
    assert not Workspace.objects.filter(pk=acme.pk).exists()
    assert not User.objects.get(pk=adam.pk).is_staff


# --- 12. the admin names nothing of another tenant ---------------------------------------------------------


def test_an_admin_form_offers_and_names_no_other_tenants_people(acme, olive, gus):
    conversation = conversation_with(ChannelFactory(workspace=acme), wa_id="16505550101", name="Ana")
    url = reverse("admin:messaging_app_conversation_change", args=[conversation.pk])
    page = browser(olive).get(url)
    form = {k: v for k, v in page.context["adminform"].form.initial.items() if v is not None}
    form["assigned_user"] = str(gus.pk)

    response = browser(olive).post(url, form)

    assert "gus@globex.test" not in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.assigned_user_id is None


def test_an_admin_error_page_does_not_name_another_tenants_channel(acme, olive, gus):
    from channels_app.models import MessageTemplate
    from outreach_app.models import WelcomeTemplate

    channel = ChannelFactory(workspace=acme, name="Acme support")
    foreign = ChannelFactory(workspace=gus.memberships.get().workspace, name="Globex secret launch line")
    template = MessageTemplate.objects.create(
        workspace=acme, waba_id=channel.waba_id, name="hello", language="en_US", category="UTILITY", status="APPROVED"
    )
    welcome = WelcomeTemplate.objects.create(channel=channel, template=template)
    url = reverse("admin:outreach_app_welcometemplate_change", args=[welcome.pk])

    response = browser(olive).post(
        url, {"channel": str(foreign.pk), "template": str(template.pk), "parameter_values": "{}", "enabled": "on"}
    )

    assert response.status_code == 200  # the form, with its error
    assert "Globex secret launch line" not in response.content.decode()
    assert WelcomeTemplate.objects.get(pk=welcome.pk).channel_id == channel.pk


def test_the_admins_autocomplete_finds_no_other_tenants_channels(acme, olive, gus):
    ChannelFactory(workspace=gus.memberships.get().workspace, name="Globex secret launch line")
    response = browser(olive).get(
        reverse("admin:autocomplete"),
        {"app_label": "messaging_app", "model_name": "contact", "field_name": "channel", "term": "Globex"},
    )
    assert "Globex secret launch line" not in response.content.decode()
