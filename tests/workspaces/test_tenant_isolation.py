"""Every surface is scoped to the caller's workspaces; outsiders get 404, never 403.

Cast: the owner and a teammate of Acme; an outsider who owns Globex.
"""

import pytest
from django.urls import reverse

from tests.factories import AgentFactory, ChannelFactory, WorkspaceFactory, api_key_for, member
from workspaces_app.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme():
    return WorkspaceFactory(name="Acme", slug="acme")


@pytest.fixture
def globex():
    return WorkspaceFactory(name="Globex", slug="globex")


@pytest.fixture
def owner(acme):
    return member(acme, Role.OWNER)


@pytest.fixture
def outsider(globex):
    return member(globex, Role.OWNER)


CONSOLE_PAGES = [
    "workspace_overview",
    "channel_list",
    "agent_list",
    "inbox",
    "template_list",
    "analytics",
    "workspace_settings",
]


@pytest.mark.parametrize("page", CONSOLE_PAGES)
def test_a_member_sees_every_console_page_of_their_workspace(client, acme, owner, page):
    client.force_login(owner)
    response = client.get(reverse(page, args=[acme.slug]))
    assert response.status_code == 200
    assert "Acme" in response.content.decode()


@pytest.mark.parametrize("page", CONSOLE_PAGES)
def test_an_outsider_gets_404_on_every_console_page_of_another_workspace(client, acme, outsider, page):
    client.force_login(outsider)
    assert client.get(reverse(page, args=[acme.slug])).status_code == 404


def test_an_unknown_workspace_and_a_foreign_one_look_the_same(client, acme, outsider):
    client.force_login(outsider)
    foreign = client.get(reverse("workspace_overview", args=[acme.slug]))
    missing = client.get(reverse("workspace_overview", args=["no-such-shop"]))
    assert foreign.status_code == missing.status_code == 404


def test_the_console_lists_only_the_workspaces_own_channels(client, acme, globex, owner):
    ChannelFactory(workspace=acme, name="Acme Support")
    ChannelFactory(workspace=globex, name="Globex Sales")
    client.force_login(owner)
    body = client.get(reverse("channel_list", args=[acme.slug])).content.decode()
    assert "Acme Support" in body
    assert "Globex Sales" not in body


def test_the_workspace_switcher_shows_only_my_workspaces(client, acme, globex, owner):
    client.force_login(owner)
    body = client.get(reverse("workspace_overview", args=[acme.slug])).content.decode()
    assert reverse("workspace_overview", args=["globex"]) not in body


def test_a_teammate_cannot_revoke_another_workspaces_api_key(client, acme, globex, owner):
    from workspaces_app.services import api_key_create

    foreign_key = api_key_create(workspace=globex, name="Globex CRM").api_key
    client.force_login(owner)
    response = client.post(reverse("api_key_revoke", args=[acme.slug, foreign_key.public_id]))
    assert response.status_code == 404
    foreign_key.refresh_from_db()
    assert foreign_key.revoked_at is None


# --- API ---------------------------------------------------------------------------------


def test_an_api_key_lists_only_its_workspaces_channels_and_agents(client, acme, globex):
    ChannelFactory(workspace=acme, name="Acme Support")
    ChannelFactory(workspace=globex, name="Globex Sales")
    AgentFactory(workspace=acme, name="Acme Bot")
    AgentFactory(workspace=globex, name="Globex Bot")
    headers = {"Authorization": f"Bearer {api_key_for(acme)}"}

    channels = client.get("/api/v1/channels/", headers=headers).json()["results"]
    agents = client.get("/api/v1/agents/", headers=headers).json()["results"]

    assert [c["name"] for c in channels] == ["Acme Support"]
    assert [a["name"] for a in agents] == ["Acme Bot"]


def test_an_api_key_gets_404_for_another_workspaces_channel_and_agent(client, acme, globex):
    channel = ChannelFactory(workspace=globex)
    agent = AgentFactory(workspace=globex)
    headers = {"Authorization": f"Bearer {api_key_for(acme)}"}

    channel_response = client.get(f"/api/v1/channels/{channel.public_id}/", headers=headers)
    agent_response = client.get(f"/api/v1/agents/{agent.public_id}/", headers=headers)

    assert channel_response.status_code == agent_response.status_code == 404
    assert channel_response.json()["error"]["code"] == "not_found"


def test_an_api_key_reads_its_own_channel(client, acme):
    channel = ChannelFactory(workspace=acme, name="Acme Support")
    headers = {"Authorization": f"Bearer {api_key_for(acme)}"}
    response = client.get(f"/api/v1/channels/{channel.public_id}/", headers=headers)
    assert response.status_code == 200
    assert response.json()["name"] == "Acme Support"
    assert "access_token" not in response.json()


# --- Admin -------------------------------------------------------------------------------


def test_a_staff_owner_sees_only_their_workspaces_rows_in_the_admin(client, acme, globex, owner):
    ChannelFactory(workspace=acme, name="Acme Support")
    ChannelFactory(workspace=globex, name="Globex Sales")
    client.force_login(owner)
    body = client.get(reverse("admin:channels_app_channel_changelist")).content.decode()
    assert "Acme Support" in body
    assert "Globex Sales" not in body


def test_the_admin_answers_404_for_another_workspaces_row(client, acme, globex, owner):
    foreign = ChannelFactory(workspace=globex, name="Globex Sales")
    client.force_login(owner)
    assert client.get(reverse("admin:channels_app_channel_change", args=[foreign.pk])).status_code == 404
    assert client.get(reverse("admin:workspaces_app_workspace_change", args=[globex.pk])).status_code == 404


def test_the_admin_offers_only_my_workspaces_when_adding_an_agent(client, acme, globex, owner):
    client.force_login(owner)
    body = client.get(reverse("admin:agents_app_agent_add")).content.decode()
    assert ">Acme<" in body
    assert ">Globex<" not in body


def test_the_admin_refuses_to_save_a_row_into_another_workspace(client, acme, globex, owner):
    client.force_login(owner)
    response = client.post(
        reverse("admin:agents_app_agent_add"),
        {"workspace": globex.pk, "name": "Sneaky", "instructions": "x", "provider": "knowledge_base", "model": ""},
    )
    assert response.status_code == 200  # the form comes back with an error
    assert "Select a valid choice" in response.content.decode()
    assert not globex.agents.exists()


def test_a_viewer_may_look_but_not_change_in_the_admin(client, acme):
    viewer = member(acme, Role.VIEWER, is_staff=True)
    channel = ChannelFactory(workspace=acme)
    client.force_login(viewer)
    assert client.get(reverse("admin:channels_app_channel_changelist")).status_code == 200
    response = client.post(reverse("admin:channels_app_channel_change", args=[channel.pk]), {"name": "Renamed"})
    assert response.status_code == 403
