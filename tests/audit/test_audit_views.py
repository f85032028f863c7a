"""Reading the audit log: Settings → Audit log in the console and GET /api/v1/audit-log/.

Owners and admins read their workspace's entries, filtered by action, actor and date; people who answer
chats and viewers may not; outsiders and other workspaces' keys learn nothing.

Cast: Acme's owner, admin, agent and viewer; Globex's owner (the outsider); Acme's CRM key.
"""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit_app.models import AuditEntry
from audit_app.services import audit_record
from tests.factories import WorkspaceFactory, api_key_for, member
from workspaces_app.models import ApiKey, Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme():
    return WorkspaceFactory(name="Acme", slug="acme")


@pytest.fixture
def globex():
    return WorkspaceFactory(name="Globex", slug="globex")


@pytest.fixture
def owner(acme):
    return member(acme, Role.OWNER, email="owner@acme.test")


@pytest.fixture
def history(acme, globex, owner):
    """Acme's trail: a settings change, the owner's sign-in, a key's agent change; and one of Globex's."""
    key = ApiKey.objects.create(workspace=acme, name="CRM sync", prefix="crm00001", secret_hash="x")
    old = audit_record(action="workspace.settings_changed", actor=owner, target=acme, changes={"name": ["A", "Acme"]})
    audit_record(action="auth.signed_in", workspace=acme, actor=owner, target=owner)
    audit_record(action="agent.updated", actor=key, target=("agent", "a1", "Concierge"), workspace=acme)
    audit_record(action="channel.deleted", actor=owner, target=("channel", "c1", "Globex Sales"), workspace=globex)
    return {"key": key, "old": old}


def _console(client, **query):
    return client.get(reverse("audit_log", args=["acme"]), query)


def _listed(response) -> list[str]:
    """The actions shown, newest first (each row names its action in <code>)."""
    body = response.content.decode()
    return [chunk.split("</code>")[0] for chunk in body.split('<div class="muted small"><code>')[1:]]


# --- the console -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN])
def test_owners_and_admins_read_their_workspaces_log_newest_first(client, acme, history, role):
    client.force_login(member(acme, role) if role != Role.OWNER else acme.memberships.get().user)
    response = _console(client)
    assert response.status_code == 200
    assert _listed(response) == ["agent.updated", "auth.signed_in", "workspace.settings_changed"]
    body = response.content.decode()
    assert "API key CRM sync (wap_crm00001_…)" in body and "Globex Sales" not in body


@pytest.mark.parametrize("role", [Role.AGENT, Role.VIEWER])
def test_people_who_answer_chats_and_viewers_may_not_read_the_log(client, acme, history, role):
    client.force_login(member(acme, role))
    assert _console(client).status_code == 403
    settings_page = client.get(reverse("workspace_settings", args=["acme"])).content.decode()
    assert 'data-testid="audit-log-link"' not in settings_page


def test_an_outsider_gets_404_and_an_anonymous_visitor_the_sign_in_page(client, globex, history):
    client.force_login(member(globex, Role.OWNER))
    assert _console(client).status_code == 404
    client.logout()
    response = _console(client)
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))


def test_the_settings_page_links_owners_to_the_log(client, acme, owner):
    client.force_login(owner)
    page = client.get(reverse("workspace_settings", args=["acme"])).content.decode()
    assert f'href="{reverse("audit_log", args=["acme"])}"' in page


def test_the_console_filters_by_action_group_actor_and_day(client, acme, owner, history):
    client.force_login(owner)
    assert _listed(_console(client, action="auth.signed_in")) == ["auth.signed_in"]
    assert _listed(_console(client, action="agent.")) == ["agent.updated"]
    assert _listed(_console(client, actor="owner@acme.test")) == ["auth.signed_in", "workspace.settings_changed"]
    assert _listed(_console(client, actor=f"api_key:{history['key'].public_id}")) == ["agent.updated"]
    today = timezone.localdate()
    assert len(_listed(_console(client, date_from=today.isoformat(), date_to=today.isoformat()))) == 3
    assert _listed(_console(client, date_to=(today - timedelta(days=1)).isoformat())) == []
    assert _listed(_console(client, actor="someone-else@x.test")) == _listed(_console(client))  # not a choice: ignored


def test_the_console_pages_through_a_long_log(client, acme, owner):
    for n in range(55):
        audit_record(action="api_key.created", workspace=acme, actor=owner, target=("apikey", n, f"key {n}"))
    client.force_login(owner)
    first = _console(client)
    assert len(_listed(first)) == 50 and "key 54" in first.content.decode()
    older = first.content.decode().split('data-testid="older"')[0].rsplit('href="', 1)[1].split('"')[0]
    second = client.get(reverse("audit_log", args=["acme"]) + older.replace("&amp;", "&"))
    assert len(_listed(second)) == 5 and "key 0<" in second.content.decode()


def test_secrets_show_masked_and_changes_read_old_to_new(client, acme, owner):
    audit_record(
        action="agent.updated",
        workspace=acme,
        actor=owner,
        target=("agent", "a1", "Concierge"),
        changes={"api_key": ["sk-old", "sk-new"], "temperature": [0.3, 0.2]},
    )
    client.force_login(owner)
    body = _console(client).content.decode()
    assert "<strong>api key</strong>: •••• → ••••" in body
    assert "<strong>temperature</strong>: 0.3 → 0.2" in body
    assert "sk-old" not in body and "sk-new" not in body


# --- the API -------------------------------------------------------------------------------------


@pytest.fixture
def api(client, acme):
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {api_key_for(acme)}"
    return client


def test_the_api_lists_the_keys_workspace_entries_only(api, history):
    response = api.get("/api/v1/audit-log/")
    assert response.status_code == 200
    results = response.json()["results"]
    # Creating the key the test uses is recorded too (as the system: no request made it).
    assert [r["action"] for r in results] == [
        "agent.updated",
        "auth.signed_in",
        "workspace.settings_changed",
        "api_key.created",
    ]
    agent_change = results[0]
    assert agent_change["actor"] == {
        "type": "api_key",
        "label": "API key CRM sync (wap_crm00001_…)",
        "api_key_id": str(history["key"].public_id),
    }
    assert agent_change["target"] == {"type": "agent", "id": "a1", "label": "Concierge"}
    assert set(agent_change) == {
        "id",
        "action",
        "actor",
        "target",
        "changes",
        "ip_address",
        "user_agent",
        "request_id",
        "created_at",
    }
    assert "Globex Sales" not in response.content.decode()


def test_the_api_filters_by_action_actor_and_time(api, history):
    def actions(**query) -> list[str]:
        response = api.get("/api/v1/audit-log/", query)
        assert response.status_code == 200, response.content
        return [r["action"] for r in response.json()["results"]]

    assert actions(action="workspace.settings_changed") == ["workspace.settings_changed"]
    assert actions(action="auth.") == ["auth.signed_in"]
    assert actions(actor="OWNER@acme.test") == ["auth.signed_in", "workspace.settings_changed"]
    assert actions(actor=f"api_key:{history['key'].public_id}") == ["agent.updated"]
    assert actions(actor="system") == ["api_key.created"]
    assert actions(actor="api_key:not-a-uuid") == []
    now = timezone.now()
    assert len(actions(since=(now - timedelta(minutes=5)).isoformat())) == 4
    assert actions(until=(now - timedelta(minutes=5)).isoformat()) == []
    bad = api.get("/api/v1/audit-log/", {"since": "yesterday"})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "since"


def test_the_api_pages_with_a_cursor(api, acme, owner):
    for n in range(5):
        audit_record(action="api_key.created", workspace=acme, actor=owner, target=("apikey", n, f"key {n}"))
    first = api.get("/api/v1/audit-log/", {"limit": 4, "actor": "owner@acme.test"}).json()
    second = api.get(first["next"]).json()
    labels = [r["target"]["label"] for r in first["results"] + second["results"]]
    assert labels == ["key 4", "key 3", "key 2", "key 1", "key 0"]
    assert second["next"] is None


def test_the_api_is_read_only_and_needs_a_key(api, client, history):
    entry = history["old"]
    for method in ("post", "put", "patch", "delete"):
        assert getattr(api, method)("/api/v1/audit-log/", {}, content_type="application/json").status_code == 405
    assert AuditEntry.objects.filter(pk=entry.pk).exists()
    del client.defaults["HTTP_AUTHORIZATION"]
    response = client.get("/api/v1/audit-log/")
    assert response.status_code == 401 and response.json()["error"]["code"] == "missing_api_key"


def test_another_workspaces_key_sees_none_of_acmes_entries(client, globex, history):
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {api_key_for(globex)}"
    actions = [r["action"] for r in client.get("/api/v1/audit-log/").json()["results"]]
    assert actions == ["api_key.created", "channel.deleted"]


def test_the_schema_documents_the_audit_log(api):
    schema = api.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/audit-log/"]["get"]
    assert operation["summary"] == "Read the audit log"
    assert {p["name"] for p in operation["parameters"]} >= {"action", "actor", "since", "until", "cursor", "limit"}
    assert set(schema["paths"]["/api/v1/audit-log/"]) == {"get"}
