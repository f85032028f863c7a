"""API keys: hashed at rest, shown once, revocable; every failure is a 401 that says what to do."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from tests.factories import WorkspaceFactory, api_key_for, member
from workspaces_app.models import ApiKey, Role
from workspaces_app.services import api_key_create, api_key_revoke

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme():
    return WorkspaceFactory(name="Acme", slug="acme")


def test_a_request_without_a_key_gets_401_saying_how_to_send_one(client):
    response = client.get("/api/v1/workspace/")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "missing_api_key"
    assert "Authorization: Bearer <key>" in error["message"]
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_wrong_key_gets_401(client, acme):
    real = api_key_for(acme)
    tampered = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
    response = client.get("/api/v1/workspace/", headers={"Authorization": f"Bearer {tampered}"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert "not valid" in response.json()["error"]["message"]


def test_a_malformed_key_gets_401_explaining_the_format(client):
    response = client.get("/api/v1/workspace/", headers={"Authorization": "Bearer sk-something-else"})
    assert response.status_code == 401
    assert "wap_" in response.json()["error"]["message"]


def test_a_non_bearer_scheme_gets_401(client, acme):
    response = client.get("/api/v1/workspace/", headers={"Authorization": f"Token {api_key_for(acme)}"})
    assert response.status_code == 401
    assert "Bearer" in response.json()["error"]["message"]


def test_a_revoked_key_gets_401_naming_the_key_and_when(client, acme):
    issued = api_key_create(workspace=acme, name="Old CRM")
    api_key_revoke(workspace=acme, public_id=issued.api_key.public_id)
    response = client.get("/api/v1/workspace/", headers={"Authorization": f"Bearer {issued.plaintext}"})
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "revoked_api_key"
    assert "Old CRM" in error["message"] and "revoked" in error["message"]


def test_a_valid_key_reaches_its_workspace_and_records_its_use(client, acme):
    issued = api_key_create(workspace=acme, name="CRM sync")
    response = client.get("/api/v1/workspace/", headers={"Authorization": f"Bearer {issued.plaintext}"})
    assert response.status_code == 200
    assert response.json()["slug"] == "acme"
    assert response.json()["api_key_name"] == "CRM sync"
    issued.api_key.refresh_from_db()
    assert issued.api_key.last_used_at is not None


def test_only_a_hash_of_the_key_is_stored(acme):
    issued = api_key_create(workspace=acme, name="CRM sync")
    secret = issued.plaintext.split("_", 2)[2]
    row = ApiKey.objects.get(pk=issued.api_key.pk)
    assert secret not in row.secret_hash
    assert issued.plaintext not in str(ApiKey.objects.filter(pk=row.pk).values().first())


def test_an_owner_creates_a_key_in_the_console_and_sees_it_once(client, acme):
    owner = member(acme, Role.OWNER)
    client.force_login(owner)
    response = client.post(reverse("api_key_create", args=[acme.slug]), {"name": "Zapier", "role": "admin"})
    body = response.content.decode()
    assert response.status_code == 200
    key = ApiKey.objects.get(workspace=acme, name="Zapier")
    assert f"wap_{key.prefix}_" in body
    again = client.get(reverse("workspace_settings", args=[acme.slug])).content.decode()
    assert f"wap_{key.prefix}_…" in again
    plaintext_start = body.split(f"wap_{key.prefix}_")[1][:10]
    assert plaintext_start not in again


def test_a_key_without_a_name_is_refused_with_a_form_error(client, acme):
    owner = member(acme, Role.OWNER)
    client.force_login(owner)
    response = client.post(reverse("api_key_create", args=[acme.slug]), {"name": "  "})
    assert response.status_code == 400
    assert "name" in response.content.decode().lower()
    assert not ApiKey.objects.filter(workspace=acme).exists()


def test_an_agent_role_cannot_create_keys(client, acme):
    teammate = member(acme, Role.AGENT)
    client.force_login(teammate)
    response = client.post(reverse("api_key_create", args=[acme.slug]), {"name": "Mine", "role": "agent"})
    assert response.status_code == 403
    assert not ApiKey.objects.exists()


def test_revoking_in_the_console_makes_the_key_fail(client, acme):
    owner = member(acme, Role.OWNER)
    issued = api_key_create(workspace=acme, name="CRM")
    client.force_login(owner)
    client.post(reverse("api_key_revoke", args=[acme.slug, issued.api_key.public_id]))
    client.logout()
    response = client.get("/api/v1/workspace/", headers={"Authorization": f"Bearer {issued.plaintext}"})
    assert response.status_code == 401


def test_the_management_command_prints_a_working_key(client, acme, capsys):
    call_command("create_api_key", workspace="acme", name="Deploy script")
    plaintext = capsys.readouterr().out.strip()
    response = client.get("/api/v1/workspace/", headers={"Authorization": f"Bearer {plaintext}"})
    assert response.status_code == 200


def test_the_management_command_names_the_existing_workspaces_on_a_typo(acme):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="acme"):
        call_command("create_api_key", workspace="acmee", name="Deploy")


def test_the_schema_and_docs_are_public_and_describe_the_api(client):
    schema = client.get("/api/v1/schema/", headers={"Accept": "application/vnd.oai.openapi+json"})
    assert schema.status_code == 200
    assert "/api/v1/channels/" in schema.content.decode()
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200


def test_list_endpoints_paginate_with_cursors(client, acme):
    from tests.factories import AgentFactory

    AgentFactory.create_batch(3, workspace=acme)
    headers = {"Authorization": f"Bearer {api_key_for(acme)}"}
    first = client.get("/api/v1/agents/?limit=2", headers=headers).json()
    assert len(first["results"]) == 2 and first["next"]
    second = client.get(first["next"], headers=headers).json()
    assert len(second["results"]) == 1
    ids = {a["id"] for a in first["results"]} | {a["id"] for a in second["results"]}
    assert len(ids) == 3
