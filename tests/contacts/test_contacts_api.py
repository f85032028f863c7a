"""/api/v1/contacts/: list and search a workspace's contacts, read one, PATCH its tags, attributes and block.

Cast: Lucky Shrub's API key; customers Sheena (VIP) and Priya (opted out); Globex's key and contact.
"""

import pytest

from messaging_app.models import Contact
from tests.factories import ChannelFactory, WorkspaceFactory, api_key_for, conversation_with

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    return WorkspaceFactory(name="Lucky Shrub", slug="lucky-shrub")


@pytest.fixture
def support(shop):
    return ChannelFactory(workspace=shop, name="Support line")


@pytest.fixture
def sheena(support):
    conversation = conversation_with(support, wa_id="16505551234", name="Sheena Nelson")
    Contact.objects.filter(pk=conversation.contact_id).update(tags=["vip"], attributes={"plan": "gold"})
    return Contact.objects.get(pk=conversation.contact_id)


@pytest.fixture
def priya(support):
    conversation = conversation_with(support, wa_id="447700900123", name="Priya Patel")
    Contact.objects.filter(pk=conversation.contact_id).update(
        marketing_opt_out=True, marketing_opt_out_source="keyword"
    )
    return Contact.objects.get(pk=conversation.contact_id)


@pytest.fixture
def api(client, shop):
    key = api_key_for(shop)

    class Api:
        def get(self, path, params=None):
            return client.get(f"/api/v1/{path}", params or {}, headers={"Authorization": f"Bearer {key}"})

        def patch(self, path, body):
            return client.patch(
                f"/api/v1/{path}", body, content_type="application/json", headers={"Authorization": f"Bearer {key}"}
            )

    return Api()


def _names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["profile_name"] for row in response.json()["results"]]


def test_the_list_searches_and_filters_the_workspaces_contacts(api, support, sheena, priya):
    assert sorted(_names(api.get("contacts/"))) == ["Priya Patel", "Sheena Nelson"]
    assert _names(api.get("contacts/", {"q": "sheena"})) == ["Sheena Nelson"]
    assert _names(api.get("contacts/", {"q": "900123"})) == ["Priya Patel"]
    assert _names(api.get("contacts/", {"tag": "vip"})) == ["Sheena Nelson"]
    assert _names(api.get("contacts/", {"opted_out": "true"})) == ["Priya Patel"]
    assert sorted(_names(api.get("contacts/", {"channel_id": str(support.public_id)}))) == [
        "Priya Patel",
        "Sheena Nelson",
    ]
    row = api.get("contacts/", {"q": "sheena"}).json()["results"][0]
    assert row["phone"] == "+16505551234" and row["channel_id"] == str(support.public_id)
    assert row["tags"] == ["vip"] and row["attributes"] == {"plan": "gold"} and row["blocked"] is False
    assert row["conversation_id"] == sheena.conversations.get().pk


def test_a_bad_filter_value_is_explained(api, sheena):
    response = api.get("contacts/", {"blocked": "maybe"})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "blocked"


def test_patch_adds_and_removes_tags_merges_attributes_and_blocks(api, sheena):
    response = api.patch(
        f"contacts/{sheena.pk}/",
        {"add_tags": ["wholesale"], "remove_tags": ["vip"], "attributes": {"city": "Leeds", "plan": None, "orders": 3}},
    )
    assert response.status_code == 200, response.content
    assert response.json()["tags"] == ["wholesale"]
    assert response.json()["attributes"] == {"city": "Leeds", "orders": 3}
    sheena.refresh_from_db()
    assert sheena.attributes == {"city": "Leeds", "orders": 3}

    blocked = api.patch(f"contacts/{sheena.pk}/", {"blocked": True}).json()
    assert blocked["blocked"] is True and blocked["blocked_at"]
    assert api.patch(f"contacts/{sheena.pk}/", {"tags": ["vip", "vip", " loyal "]}).json()["tags"] == ["vip", "loyal"]
    unblocked = api.get(f"contacts/{sheena.pk}/").json()
    assert unblocked["blocked"] is True  # tags alone do not unblock
    assert api.patch(f"contacts/{sheena.pk}/", {"blocked": False}).json()["blocked_at"] is None


def test_patch_refuses_a_malformed_attribute_and_changes_nothing(api, sheena):
    response = api.patch(f"contacts/{sheena.pk}/", {"add_tags": ["new"], "attributes": {"address": {"street": "x"}}})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["field"] == "attributes.address" and "text, a number or true/false" in error["message"]
    sheena.refresh_from_db()
    assert sheena.tags == ["vip"] and sheena.attributes == {"plan": "gold"}


def test_another_workspaces_contact_is_not_found(api, sheena):
    globex = WorkspaceFactory(name="Globex", slug="globex")
    foreign = conversation_with(ChannelFactory(workspace=globex), wa_id="15550001111", name="Gina Globex").contact
    assert api.get(f"contacts/{foreign.pk}/").status_code == 404
    assert api.patch(f"contacts/{foreign.pk}/", {"blocked": True}).status_code == 404
    assert "Gina Globex" not in _names(api.get("contacts/", {"q": "Gina"}))
    foreign.refresh_from_db()
    assert foreign.blocked_at is None


def test_the_list_pages_with_a_cursor(api, support, sheena):
    for n in range(3):
        conversation_with(support, wa_id=f"1555000{n:04d}", name=f"Customer {n}")
    first = api.get("contacts/", {"limit": 2}).json()
    assert len(first["results"]) == 2 and first["next"]
    second = api.get(first["next"].split("/api/v1/", 1)[1]).json()
    assert {r["id"] for r in first["results"]}.isdisjoint({r["id"] for r in second["results"]})
