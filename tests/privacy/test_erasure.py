"""Erasure on request: nothing stored names the customer or repeats her words; counts stay; she can start afresh.

Cast: Sheena (a customer of Lucky Shrub) and Ade (another customer, untouched); Lucky Shrub's owner, admin,
agent and viewer; Globex's owner and API key (outsiders).
"""

import json
from datetime import timedelta

import pytest
from django.apps import apps
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from agents_app.models import AgentRun
from analytics_app.models import DailyChannelStats
from analytics_app.services.rollup import daily_stats_rollup, local_today
from audit_app.models import AuditEntry
from channels_app.models import WebhookEvent
from messaging_app.models import Contact, Conversation, Message
from messaging_app.services import privacy
from messaging_app.services.outbound import message_send
from outreach_app.models import CampaignRecipient, ScheduledMessage
from tests.agents.llm_servers import openai_server  # noqa: F401
from tests.conftest import wait_until
from tests.factories import ChannelFactory, WorkspaceFactory, api_key_for, member
from tests.privacy import world
from workspaces_app.models import FileDeletion, Role

# Every app that stores the platform's own rows (the emulator's fake Meta is not ours to erase).
SEARCHED_APPS = (
    "messaging_app",
    "agents_app",
    "channels_app",
    "outreach_app",
    "events_app",
    "analytics_app",
    "workspaces_app",
    "audit_app",
)


def leftovers(needles: list[str]) -> list[tuple]:
    models = [m for label in SEARCHED_APPS for m in apps.get_app_config(label).get_models()]
    return [
        (model, pk, field, needle)
        for model, pk, field, text in world.stored_texts(models)
        for needle in needles
        if needle in text
    ]


def figures(workspace) -> list[dict]:
    daily_stats_rollup(workspace=workspace, day=local_today(workspace))
    return list(DailyChannelStats.objects.filter(workspace=workspace).order_by("channel_id").values())


def _without_computed_at(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "computed_at"} for row in rows]


def erase_api(client, key: str, contact_id: int, confirm: str):
    return client.post(
        f"/api/v1/contacts/{contact_id}/erase/",
        {"confirm": confirm},
        content_type="application/json",
        headers={"Authorization": f"Bearer {key}"},
    )


def test_after_erasure_nothing_stored_names_sheena_or_repeats_her_words_and_counts_stay(
    sandbox,
    openai_server,  # noqa: F811
    echo_receiver,
    client,
):
    sheena = world.live_customer(sandbox, openai_server, echo_receiver)
    workspace = sandbox.channel.workspace
    before = figures(workspace)
    files = list(Message.objects.exclude(media_file="").values_list("media_file", flat=True))
    assert len(files) == 2 and all(default_storage.exists(name) for name in files)
    assert leftovers(sheena.needles)  # the search finds her before the erasure
    mentioning = [e.pk for e in WebhookEvent.objects.all() if world.PHONE.encode() in bytes(e.body)]
    assert mentioning

    response = erase_api(client, api_key_for(workspace), sheena.contact.pk, f"+{world.PHONE}")

    assert response.status_code == 200, response.content
    erased = response.json()["erased"]
    assert erased["messages"] == Message.objects.filter(contact=sheena.contact).count()
    assert erased["media_files"] == 2 and erased["agent_runs"] == 3 and erased["scheduled_messages"] == 1
    assert erased["webhook_bodies"] >= len(mentioning) and erased["events"] > 0
    assert leftovers(sheena.needles) == []
    assert not any(default_storage.exists(name) for name in files)
    assert not FileDeletion.objects.exists()

    # Rows stay, anonymous: the figures recomputed from them do not move.
    assert _without_computed_at(figures(workspace)) == _without_computed_at(before)
    assert Message.objects.filter(contact=sheena.contact).count() == erased["messages"]
    assert AgentRun.objects.filter(conversation=sheena.conversation).count() == 3
    assert CampaignRecipient.objects.get().contact_id == sheena.contact.pk
    assert not ScheduledMessage.objects.exists()

    for event in WebhookEvent.objects.filter(pk__in=mentioning):
        body = json.loads(bytes(event.body))
        assert body["redacted"]["reason"] == "contact_erased"
        assert body["object"] == "whatsapp_business_account"
        change = body["entry"][0]["changes"][0]
        assert change["field"] == "messages" and change["value"]["metadata"]["phone_number_id"]
        assert "X-Hub-Signature-256" not in event.headers

    tombstone = Contact.objects.get(pk=sheena.contact.pk)
    assert tombstone.wa_id is None and tombstone.user_id.startswith("erased-") and tombstone.blocked_at
    [entry] = AuditEntry.objects.filter(action="contact.erased")
    assert entry.actor_type == "api_key" and entry.changes["messages"] == erased["messages"]

    # She writes again: a new contact and conversation, nothing of the old ones.
    sandbox.emulator.customer_says(sandbox.number, sandbox.customer, "text", {"body": "Hello again!"})
    sandbox.emulator.drain()
    fresh = wait_until(lambda: Contact.objects.filter(channel=sandbox.channel, wa_id=world.PHONE).first())
    assert fresh.pk != sheena.contact.pk and fresh.profile_name == world.NAME
    conversation = Conversation.objects.get(contact=fresh)
    assert conversation.pk != sheena.conversation.pk
    assert [m.content.get("body") for m in conversation.messages.filter(direction="in")] == ["Hello again!"]


@pytest.fixture
def shop():
    return WorkspaceFactory(name="Lucky Shrub", slug="lucky-shrub")


@pytest.fixture
def support(shop):
    return ChannelFactory(workspace=shop, name="Support line")


@pytest.fixture
def sheena(db, support):
    return world.stored_customer(support)


@pytest.fixture
def ade(db, support):
    return world.stored_customer(support, phone="447700900123", name="Ade Bello")


def _url(name: str, shop, customer) -> str:
    return reverse(name, args=[shop.slug, customer.contact.pk])


@pytest.mark.django_db
def test_the_owner_erases_from_the_console_after_typing_the_number(client, shop, sheena, ade):
    client.force_login(member(shop, Role.OWNER))
    page = client.get(_url("contact_detail", shop, sheena))
    assert _url("contact_erase", shop, sheena) in page.content.decode()
    confirm = client.get(_url("contact_erase", shop, sheena))
    assert confirm.status_code == 200 and "What is erased, for good" in confirm.content.decode()

    wrong = client.post(_url("contact_erase", shop, sheena), {"confirm": "+447700900123"})
    assert wrong.status_code == 400 and "Type the contact&#x27;s phone number" in wrong.content.decode()
    assert Contact.objects.get(pk=sheena.contact.pk).wa_id == world.PHONE

    done = client.post(_url("contact_erase", shop, sheena), {"confirm": f"+{world.PHONE}"}, follow=True)

    assert done.status_code == 200 and "Contact erased" in done.content.decode()
    assert 'data-testid="erased"' in done.content.decode()
    assert _url("contact_archive", shop, sheena) not in done.content.decode()
    # The inbox still shows the conversation, as an erased contact's: rows, no words.
    chat = client.get(reverse("conversation_detail", args=[shop.slug, sheena.conversation.pk]))
    assert chat.status_code == 200 and sheena.text not in chat.content.decode()
    assert leftovers(sheena.needles) == []
    # Ade's rows are untouched.
    assert Contact.objects.get(pk=ade.contact.pk).profile_name == "Ade Bello"
    assert Message.objects.filter(contact=ade.contact, content__body=ade.text).exists()
    assert sum(b"447700900123" in bytes(e.body) for e in WebhookEvent.objects.all()) == 2
    assert AuditEntry.objects.get(action="contact.erased").actor_type == "user"


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.ADMIN, Role.AGENT, Role.VIEWER])
def test_only_owners_may_erase_from_the_console(client, shop, sheena, role):
    client.force_login(member(shop, role))
    assert _url("contact_erase", shop, sheena) not in client.get(_url("contact_detail", shop, sheena)).content.decode()
    assert client.get(_url("contact_erase", shop, sheena)).status_code == 403
    assert client.post(_url("contact_erase", shop, sheena), {"confirm": f"+{world.PHONE}"}).status_code == 403
    assert Contact.objects.get(pk=sheena.contact.pk).wa_id == world.PHONE


@pytest.mark.django_db
def test_an_outsider_gets_404_and_erases_nothing(client, shop, sheena):
    globex = WorkspaceFactory(name="Globex", slug="globex")
    client.force_login(member(globex, Role.OWNER))
    assert client.post(_url("contact_erase", shop, sheena), {"confirm": f"+{world.PHONE}"}).status_code == 404
    assert erase_api(client, api_key_for(globex), sheena.contact.pk, f"+{world.PHONE}").status_code == 404
    assert Contact.objects.get(pk=sheena.contact.pk).wa_id == world.PHONE


@pytest.mark.django_db
def test_the_api_wants_the_contacts_number_or_id_as_confirmation(client, shop, sheena):
    key = api_key_for(shop)
    refused = erase_api(client, key, sheena.contact.pk, "+447700900123")
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "confirm"
    assert Message.objects.filter(contact=sheena.contact, content__body=sheena.text).exists()

    assert erase_api(client, key, sheena.contact.pk, str(sheena.contact.pk)).status_code == 200
    again = erase_api(client, key, sheena.contact.pk, str(sheena.contact.pk))
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    assert AuditEntry.objects.filter(action="contact.erased").count() == 1


@pytest.mark.django_db
def test_the_command_erases_after_the_id_is_typed_or_with_yes(shop, sheena, ade, monkeypatch, capsys):
    monkeypatch.setattr("builtins.input", lambda prompt: "999")
    with pytest.raises(CommandError, match="Not confirmed"):
        call_command("contact_erase", workspace=shop.slug, contact=f"+{world.PHONE}")
    assert Contact.objects.get(pk=sheena.contact.pk).wa_id == world.PHONE

    monkeypatch.setattr("builtins.input", lambda prompt: str(sheena.contact.pk))
    call_command("contact_erase", workspace=shop.slug, contact=f"+{world.PHONE}")
    assert f"Contact {sheena.contact.pk} erased" in capsys.readouterr().out
    call_command("contact_erase", workspace=shop.slug, contact=str(ade.contact.pk), yes=True)

    assert leftovers(sheena.needles + ade.needles) == []
    assert AuditEntry.objects.filter(action="contact.erased", actor_type="system").count() == 2


@pytest.mark.django_db
def test_the_database_part_is_all_or_nothing(client, shop, sheena, monkeypatch):
    def broken(contact):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(privacy.erasure, "_campaign_reports_erase", broken)
    with pytest.raises(RuntimeError):
        privacy.contact_erase(contact=sheena.contact)

    assert Contact.objects.get(pk=sheena.contact.pk).profile_name == world.NAME
    assert Message.objects.filter(contact=sheena.contact, transcript=sheena.transcript).exists()
    assert ScheduledMessage.objects.exists() and not FileDeletion.objects.exists()
    assert all(default_storage.exists(m.media_file.name) for m in Message.objects.exclude(media_file=""))


@pytest.mark.django_db
def test_a_file_storage_refuses_to_delete_is_deleted_by_the_next_retention_run(
    shop, sheena, monkeypatch, django_capture_on_commit_callbacks
):
    files = list(Message.objects.exclude(media_file="").values_list("media_file", flat=True))
    storage_delete = type(default_storage._wrapped).delete

    def refusing(self, name):
        raise OSError("storage is down")

    monkeypatch.setattr(type(default_storage._wrapped), "delete", refusing)
    with django_capture_on_commit_callbacks(execute=True):  # the deletion runs after commit
        counts = privacy.contact_erase(contact=sheena.contact)

    assert counts["media_files"] == 2
    assert not Message.objects.filter(contact=sheena.contact).exclude(media_file="").exists()
    assert all(default_storage.exists(name) for name in files)
    assert sorted(FileDeletion.objects.values_list("path", flat=True)) == sorted(files)
    assert set(FileDeletion.objects.values_list("attempts", flat=True)) == {1}

    monkeypatch.setattr(type(default_storage._wrapped), "delete", storage_delete)
    privacy.retention_apply_all()

    assert not any(default_storage.exists(name) for name in files)
    assert not FileDeletion.objects.exists()


@pytest.mark.django_db
def test_no_erasure_while_the_agent_is_answering_the_contact(client, shop, sheena):
    Conversation.objects.filter(pk=sheena.conversation.pk).update(
        agent_turn_until=timezone.now() + timedelta(seconds=60)
    )
    response = erase_api(client, api_key_for(shop), sheena.contact.pk, f"+{world.PHONE}")
    assert response.status_code == 409 and "answering" in response.json()["error"]["message"]
    assert Message.objects.filter(contact=sheena.contact, content__body=sheena.text).exists()


@pytest.mark.django_db
def test_a_message_waiting_in_the_outbox_is_not_sent_to_an_erased_contact(
    shop, sheena, django_capture_on_commit_callbacks
):
    Conversation.objects.filter(pk=sheena.conversation.pk).update(last_inbound_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=False):  # the delivery task is not run: it stays queued
        queued = message_send(
            conversation=sheena.conversation, message_type="text", content={"body": "Your order shipped"}, sender="api"
        )
    assert Message.objects.get(pk=queued.pk).status == Message.Status.QUEUED

    counts = privacy.contact_erase(contact=sheena.contact)

    queued.refresh_from_db()
    assert counts["queued_messages_cancelled"] == 1
    assert queued.status == Message.Status.FAILED and queued.error_title == "Contact erased" and queued.content == {}
    with pytest.raises(Exception, match="blocked"):
        message_send(conversation=sheena.conversation, message_type="text", content={"body": "Hi"}, sender="api")


@pytest.mark.django_db
def test_what_reaches_an_erased_contact_afterwards_is_swept_by_the_daily_job(shop, sheena):
    privacy.contact_erase(contact=sheena.contact)
    # A media download or an agent turn already under way when the erasure ran writes afterwards.
    late = Message.objects.filter(contact=sheena.contact, message_type="image").get()
    late.media_file.save("late.png", world_png_file(), save=False)
    Message.objects.filter(pk=late.pk).update(media_file=late.media_file.name, transcript=sheena.transcript)
    AgentRun.objects.filter(conversation=sheena.conversation).update(output=sheena.text)

    totals = privacy.retention_apply_all()

    assert totals["erased_contacts_swept"] == 2
    assert leftovers(sheena.needles) == []
    assert not default_storage.exists(late.media_file.name)


def world_png_file():
    from django.core.files.base import ContentFile

    return ContentFile(world.png())
