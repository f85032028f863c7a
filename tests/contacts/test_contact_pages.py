"""The console's contact pages: find customers, tag them, record what the business knows, consent and blocks.

Cast: Lucky Shrub's owner and Sam (a teammate who answers chats), a viewer, and an outsider who owns
Globex. Customers: Sheena (a VIP on the support line), Oliver (a username-only customer on the sales
line) and Priya (opted out of marketing).
"""

import json

import pytest
from django.urls import reverse
from django.utils import timezone

from messaging_app.models import Contact, Message
from tests.factories import ChannelFactory, WorkspaceFactory, conversation_with, member, outbound_message
from workspaces_app.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    return WorkspaceFactory(name="Lucky Shrub", slug="lucky-shrub")


@pytest.fixture
def support(shop):
    return ChannelFactory(workspace=shop, name="Support line")


@pytest.fixture
def sales(shop):
    return ChannelFactory(workspace=shop, name="Sales line")


@pytest.fixture
def sheena(support):
    conversation = conversation_with(support, wa_id="16505551234", name="Sheena Nelson")
    Contact.objects.filter(pk=conversation.contact_id).update(tags=["vip", "newsletter"])
    return Contact.objects.get(pk=conversation.contact_id)


@pytest.fixture
def oliver(sales):
    conversation = conversation_with(sales, wa_id=None, user_id="US.1234567890", name="Oliver Brown")
    Contact.objects.filter(pk=conversation.contact_id).update(username="oliver.plants")
    return Contact.objects.get(pk=conversation.contact_id)


@pytest.fixture
def priya(support):
    conversation = conversation_with(support, wa_id="447700900123", name="Priya Patel")
    Contact.objects.filter(pk=conversation.contact_id).update(
        marketing_opt_out=True, marketing_opt_out_at=timezone.now(), marketing_opt_out_source="keyword"
    )
    return Contact.objects.get(pk=conversation.contact_id)


@pytest.fixture
def sam(client, shop):
    user = member(shop, Role.AGENT, email="sam@luckyshrub.test")
    client.force_login(user)
    return user


def _listed(client, **params) -> list[str]:
    response = client.get(reverse("contact_list", args=["lucky-shrub"]), params)
    assert response.status_code == 200
    return [str(contact) for contact in response.context["page"]]


def _url(name: str, contact: Contact) -> str:
    return reverse(name, args=["lucky-shrub", contact.pk])


def test_contacts_are_found_by_name_number_and_username(client, sam, sheena, oliver, priya):
    assert sorted(_listed(client)) == ["Oliver Brown", "Priya Patel", "Sheena Nelson"]
    assert _listed(client, q="sheena") == ["Sheena Nelson"]
    assert _listed(client, q="+44 7700 900123") == ["Priya Patel"]
    assert _listed(client, q="@oliver.plants") == ["Oliver Brown"]
    assert _listed(client, q="nobody") == []


def test_contacts_are_filtered_by_channel_tag_marketing_and_block(client, sam, sales, sheena, oliver, priya):
    Contact.objects.filter(pk=oliver.pk).update(blocked_at=timezone.now())
    assert _listed(client, channel=str(sales.public_id)) == ["Oliver Brown"]
    assert _listed(client, tag="vip") == ["Sheena Nelson"]
    assert _listed(client, tag="vi") == []  # a whole tag, not part of one
    assert _listed(client, marketing="opted_out") == ["Priya Patel"]
    assert _listed(client, blocked="yes") == ["Oliver Brown"]
    assert sorted(_listed(client, blocked="no")) == ["Priya Patel", "Sheena Nelson"]


def test_a_contact_page_shows_every_conversation_with_a_link_to_the_inbox(client, sam, sheena):
    conversation = sheena.conversations.get()
    outbound_message(conversation, body="Your fern ships today 🌿")
    page = client.get(_url("contact_detail", sheena)).content.decode()
    assert reverse("conversation_detail", args=["lucky-shrub", conversation.pk]) in page
    assert "Support line" in page and "vip" in page and "+16505551234" in page


def test_a_teammate_adds_and_removes_tags(client, sam, sheena):
    client.post(_url("contact_tags_update", sheena), {"tags": "wholesale,  repeat buyer , vip"})
    sheena.refresh_from_db()
    assert sheena.tags == ["vip", "newsletter", "wholesale", "repeat buyer"]
    client.post(_url("contact_tags_update", sheena), {"remove": "newsletter"})
    sheena.refresh_from_db()
    assert sheena.tags == ["vip", "wholesale", "repeat buyer"]


def test_a_teammate_sets_and_removes_attributes_and_a_bad_name_is_explained(client, sam, sheena):
    client.post(_url("contact_attributes_update", sheena), {"key": "plan", "value": "gold"})
    client.post(_url("contact_attributes_update", sheena), {"key": "city", "value": "Leeds"})
    client.post(_url("contact_attributes_update", sheena), {"remove": "city"})
    response = client.post(
        _url("contact_attributes_update", sheena), {"key": "last order", "value": "A1001"}, follow=True
    )
    sheena.refresh_from_db()
    assert sheena.attributes == {"plan": "gold"}
    assert "must start with a letter" in response.content.decode()


def test_staff_record_a_marketing_opt_out_with_staff_as_its_source_and_can_undo_it(client, sam, sheena):
    client.post(_url("contact_marketing_update", sheena), {"marketing": "opt_out"})
    sheena.refresh_from_db()
    assert sheena.marketing_opt_out is True
    assert sheena.marketing_opt_out_source == "staff" and sheena.marketing_opt_out_at is not None
    page = client.get(_url("contact_detail", sheena)).content.decode()
    assert "Opted out" in page and "how: staff" in page

    client.post(_url("contact_marketing_update", sheena), {"marketing": "opt_in"})
    sheena.refresh_from_db()
    assert sheena.marketing_opt_out is False and sheena.marketing_opt_out_source == ""


def test_blocking_refuses_every_send_with_a_clear_message_and_cancels_what_waited(client, sam, sheena):
    from messaging_app.services.outbound import message_send
    from whatsapp_platform.errors import Conflict

    conversation = sheena.conversations.get()
    waiting = outbound_message(conversation, status=Message.Status.QUEUED, body="Still in the outbox")
    client.post(_url("contact_block_update", sheena), {"action": "block"})
    sheena.refresh_from_db()
    assert sheena.blocked_at is not None

    with pytest.raises(Conflict) as refused:
        message_send(conversation=conversation, message_type="text", content={"body": "Hello?"}, sender="api")
    assert refused.value.code == "contact_blocked"
    assert "is blocked" in refused.value.message and "Unblock" in refused.value.message
    waiting.refresh_from_db()
    assert waiting.status == Message.Status.FAILED and waiting.error_title == "Contact blocked"

    client.post(_url("contact_block_update", sheena), {"action": "unblock"})
    sheena.refresh_from_db()
    assert sheena.blocked_at is None
    sent = message_send(conversation=conversation, message_type="text", content={"body": "Hello again"}, sender="api")
    assert sent.status == Message.Status.QUEUED


def test_the_owner_downloads_everything_stored_about_a_contact(client, shop, sheena):
    owner = member(shop, Role.OWNER)
    client.force_login(owner)
    outbound_message(sheena.conversations.get(), body="Your fern ships today 🌿")
    response = client.get(_url("contact_export", sheena))
    assert response["Content-Disposition"] == f'attachment; filename="contact-{sheena.pk}.json"'
    document = json.loads(response.content)
    assert document["contact"]["tags"] == ["vip", "newsletter"]
    assert document["conversations"][0]["messages"][0]["content"] == {"body": "Your fern ships today 🌿"}


def test_a_viewer_sees_contacts_but_cannot_change_them(client, shop, sheena):
    client.force_login(member(shop, Role.VIEWER))
    assert client.get(_url("contact_detail", sheena)).status_code == 200
    assert client.post(_url("contact_block_update", sheena), {"action": "block"}).status_code == 403
    assert client.post(_url("contact_tags_update", sheena), {"tags": "spam"}).status_code == 403
    sheena.refresh_from_db()
    assert sheena.blocked_at is None and "spam" not in sheena.tags


def test_an_outsider_gets_404_on_every_contact_page(client, sheena):
    globex = WorkspaceFactory(name="Globex", slug="globex")
    client.force_login(member(globex, Role.OWNER))
    assert client.get(reverse("contact_list", args=["lucky-shrub"])).status_code == 404
    for name in ("contact_detail", "contact_export"):
        assert client.get(_url(name, sheena)).status_code == 404
    for name in (
        "contact_tags_update",
        "contact_attributes_update",
        "contact_marketing_update",
        "contact_block_update",
    ):
        assert client.post(_url(name, sheena), {"tags": "x", "action": "block"}).status_code == 404
    # Nor through their own workspace's URL.
    assert client.get(reverse("contact_detail", args=["globex", sheena.pk])).status_code == 404
    sheena.refresh_from_db()
    assert sheena.blocked_at is None
