"""Audit entries are only ever added: the ORM, raw SQL on the configured database and the admin all refuse
to change or delete one. Entries outlive the people, keys and workspaces they mention.

Cast: Acme's owner (staff, as owners are), an entry recording their new API key, and a superuser.
"""

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from audit_app.models import AuditEntry, AuditEntryImmutable
from audit_app.services import SECRET_NAME, audit_record
from tests.factories import UserFactory, WorkspaceFactory, member
from whatsapp_platform.encryption import EncryptedTextField
from workspaces_app.models import Role
from workspaces_app.services import api_key_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme():
    return WorkspaceFactory(name="Acme", slug="acme")


@pytest.fixture
def owner(acme):
    return member(acme, Role.OWNER, email="owner@acme.test")


@pytest.fixture
def entry(acme, owner) -> AuditEntry:
    api_key_create(workspace=acme, name="CRM sync", created_by=owner)
    return AuditEntry.objects.get(action="api_key.created")


def _as_stored(entry: AuditEntry) -> dict:
    return AuditEntry.objects.filter(pk=entry.pk).values().get()


# --- the ORM ---------------------------------------------------------------------------------


def test_saving_a_changed_entry_is_refused(entry):
    stored = _as_stored(entry)
    entry.action = "api_key.revoked"
    with pytest.raises(AuditEntryImmutable):
        entry.save()
    assert _as_stored(entry) == stored


def test_deleting_an_entry_is_refused(entry):
    with pytest.raises(AuditEntryImmutable):
        entry.delete()
    with pytest.raises(AuditEntryImmutable):
        AuditEntry.objects.filter(pk=entry.pk).delete()
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_bulk_updates_are_refused(entry, acme):
    with pytest.raises(AuditEntryImmutable):
        AuditEntry.objects.filter(pk=entry.pk).update(action="api_key.revoked")
    with pytest.raises(AuditEntryImmutable):
        AuditEntry.objects.update(workspace=WorkspaceFactory())  # moving entries to another workspace
    assert AuditEntry.objects.get(pk=entry.pk).workspace == acme


# --- raw SQL on the configured database (the triggers of migration 0002) --------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_app_auditentry SET action = 'api_key.revoked'",
        """UPDATE audit_app_auditentry SET changes = '{"forged": true}'""",
        "UPDATE audit_app_auditentry SET ip_address = '192.0.2.1'",
        "UPDATE audit_app_auditentry SET created_at = '2000-01-01 00:00:00'",  # backdating
        "UPDATE audit_app_auditentry SET workspace_id = workspace_id + 1",  # a reference to another row
        "DELETE FROM audit_app_auditentry",
    ],
)
def test_raw_sql_cannot_change_or_delete_an_entry(entry, sql):
    stored = _as_stored(entry)
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert _as_stored(entry) == stored


def test_raw_sql_may_still_add_entries(entry):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_app_auditentry (action, actor_type, actor_label, target_type, target_id, target_label, "
            "changes, user_agent, request_id, created_at) "
            "VALUES ('auth.signed_in', 'system', 'system', '', '', '', '{}', '', '', CURRENT_TIMESTAMP)"
        )
    assert AuditEntry.objects.count() == 2


# --- what entries outlive ------------------------------------------------------------------------


def test_deleting_the_person_keeps_their_entries_with_the_address_they_had(entry, owner):
    owner.delete()
    kept = AuditEntry.objects.get(pk=entry.pk)
    assert (kept.actor_user, kept.actor_type, kept.actor_label) == (None, "user", "owner@acme.test")
    assert kept.action == "api_key.created"


def test_deleting_a_workspace_keeps_its_entries_without_a_workspace(entry, acme, owner):
    # No service deletes workspaces; a superuser may, in the admin. The record stays, unattached.
    acme.delete()
    kept = AuditEntry.objects.get(pk=entry.pk)
    assert (kept.workspace, kept.actor_user, kept.actor_label) == (None, owner, "owner@acme.test")
    assert (kept.target_type, kept.target_label) == ("apikey", entry.target_label)


def test_deleting_an_api_key_keeps_the_entries_it_made_with_its_name(acme):
    key = api_key_create(workspace=acme, name="Zapier").api_key
    made = audit_record(action="agent.created", actor=key, workspace=acme, target=("agent", "x", "Concierge"))
    key.delete()
    kept = AuditEntry.objects.get(pk=made.pk)
    assert (kept.actor_api_key, kept.actor_type) == (None, "api_key")
    assert kept.actor_label == f"API key Zapier (wap_{key.prefix}_…)"


# --- the admin ------------------------------------------------------------------------------------


def test_the_admin_shows_entries_but_offers_no_add_change_or_delete(client, entry, owner):
    client.force_login(owner)
    changelist = client.get(reverse("admin:audit_app_auditentry_changelist"))
    assert changelist.status_code == 200
    body = changelist.content.decode()
    assert "api_key.created" in body
    assert reverse("admin:audit_app_auditentry_add") not in body
    assert 'name="action"' not in body  # no bulk actions (delete_selected) offered

    detail = client.get(reverse("admin:audit_app_auditentry_change", args=[entry.pk]))
    assert detail.status_code == 200
    assert 'type="submit"' not in detail.content.decode().split('id="content-main"')[1]

    assert client.get(reverse("admin:audit_app_auditentry_add")).status_code == 403
    assert client.post(reverse("admin:audit_app_auditentry_change", args=[entry.pk]), {}).status_code == 403
    assert (
        client.post(reverse("admin:audit_app_auditentry_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    )
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_not_even_a_superuser_can_delete_an_entry_in_the_admin(client, entry):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert (
        client.post(reverse("admin:audit_app_auditentry_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    )
    response = client.post(
        reverse("admin:audit_app_auditentry_changelist"), {"action": "delete_selected", "_selected_action": [entry.pk]}
    )
    assert response.status_code in (200, 302)
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_the_admin_shows_a_workspaces_entries_to_its_owners_and_admins_only(client, acme, entry):
    viewer = member(acme, Role.VIEWER, is_staff=True)
    outsider = member(WorkspaceFactory(), Role.OWNER)
    for person in (viewer, outsider):
        client.force_login(person)
        assert client.get(reverse("admin:audit_app_auditentry_change", args=[entry.pk])).status_code in (403, 404)
        body = client.get(reverse("admin:audit_app_auditentry_changelist")).content.decode()
        assert "api_key.created" not in body


# --- secrets ---------------------------------------------------------------------------------------


def test_every_field_stored_encrypted_is_named_so_that_its_changes_are_masked():
    from django.apps import apps

    encrypted = [
        f"{model._meta.label}.{field.name}"
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedTextField)
    ]
    assert encrypted, "no encrypted field found: the check below would prove nothing"
    assert [name for name in encrypted if not SECRET_NAME.search(name.rsplit(".", 1)[1])] == []
