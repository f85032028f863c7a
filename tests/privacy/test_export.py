"""A customer's data on request: one zip with contact.json and their files, from the console, the API or a command.

Cast: Sheena (a customer of Lucky Shrub); Lucky Shrub's owner, admin, agent (answers chats) and viewer;
Globex's owner and API key (outsiders).
"""

import io
import json
import zipfile

import pytest
from django.core.management import call_command
from django.urls import reverse

from agents_app.models import AgentRun
from audit_app.models import AuditEntry
from messaging_app.models import Message, StatusReceipt
from tests.agents.llm_servers import openai_server  # noqa: F401
from tests.factories import ChannelFactory, WorkspaceFactory, api_key_for, member
from tests.privacy import world
from workspaces_app.models import Role


def _archive(content: bytes) -> tuple[dict, dict[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    return json.loads(files.pop("contact.json")), files


def _api_get(client, key: str, path: str):
    return client.get(f"/api/v1/{path}", headers={"Authorization": f"Bearer {key}"})


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_the_api_archive_holds_every_message_status_run_tool_call_and_file(
    sandbox,
    openai_server,  # noqa: F811
    echo_receiver,
    client,
):
    sheena = world.live_customer(sandbox, openai_server, echo_receiver)
    key = api_key_for(sandbox.channel.workspace)

    response = _api_get(client, key, f"contacts/{sheena.contact.pk}/export/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == f'attachment; filename="contact-{sheena.contact.pk}.zip"'
    document, media = _archive(_body(response))
    assert document["contact"]["wa_id"] == world.PHONE and document["contact"]["profile_name"] == world.NAME
    [conversation] = document["conversations"]

    stored = Message.objects.filter(contact=sheena.contact)
    assert {m["id"] for m in conversation["messages"]} == {str(m.public_id) for m in stored}
    by_type = {m["type"]: m for m in conversation["messages"] if m["direction"] == "in"}
    texts = {m["content"]["body"] for m in conversation["messages"] if m["type"] == "text" and m["direction"] == "in"}
    assert texts == {"Hi! Is the fern in stock? 🌿", world.TEXT}
    assert by_type["audio"]["transcript"] == world.TRANSCRIPT
    assert by_type["image"]["content"]["caption"] == world.CAPTION

    exported_statuses = sum(len(m["statuses"]) for m in conversation["messages"])
    assert exported_statuses == StatusReceipt.objects.filter(message__contact=sheena.contact).count() > 0

    runs = AgentRun.objects.filter(conversation=sheena.conversation)
    assert len(conversation["agent_runs"]) == runs.count() == 3
    tool_calls = [call for run in conversation["agent_runs"] for call in run["tool_calls"]]
    assert [c["name"] for c in tool_calls] == ["send_buttons"]
    assert tool_calls[0]["arguments"]["text"] == world.BUTTONS_TEXT

    assert conversation["ratings"][0]["comment"] == world.RATING_COMMENT
    assert document["campaigns"][0]["parameters"] == {"first_name": "Sheena"}
    assert document["scheduled_messages"][0]["content"] == {"body": world.SCHEDULED_TEXT}
    assert {e["type"] for e in document["events"]} >= {"message.received", "message.sent"}
    assert all(e["data"]["contact"]["wa_id"] == world.PHONE for e in document["events"] if "contact" in e["data"])

    with_files = stored.exclude(media_file="")
    assert with_files.count() == 2
    for message in with_files:
        path = by_type[message.message_type]["media"]["archive_path"]
        assert path == f"media/{message.public_id}{'.png' if message.message_type == 'image' else '.ogg'}"
        with message.media_file.open("rb") as handle:
            assert media[path] == handle.read()
    assert set(media) == {by_type[t]["media"]["archive_path"] for t in ("image", "audio")}

    [entry] = AuditEntry.objects.filter(action="contact.exported")
    assert entry.actor_type == "api_key" and entry.target_label == f"Contact #{sheena.contact.pk}"
    assert world.PHONE not in json.dumps(entry.changes) + entry.target_label


@pytest.fixture
def shop():
    return WorkspaceFactory(name="Lucky Shrub", slug="lucky-shrub")


@pytest.fixture
def sheena(db, shop):
    return world.stored_customer(ChannelFactory(workspace=shop, name="Support line"))


@pytest.mark.django_db
def test_console_api_and_command_produce_the_same_archive(client, shop, sheena, tmp_path):
    client.force_login(member(shop, Role.ADMIN))
    console = client.get(reverse("contact_archive", args=[shop.slug, sheena.contact.pk]))
    assert console.status_code == 200 and console["Content-Type"] == "application/zip"
    api = _api_get(client, api_key_for(shop), f"contacts/{sheena.contact.pk}/export/")
    output = tmp_path / "sheena.zip"
    call_command("contact_export", workspace=shop.slug, contact=f"+{world.PHONE}", output=str(output))

    archives = [_archive(_body(console)), _archive(_body(api)), _archive(output.read_bytes())]
    for document, _media in archives:
        document.pop("exported_at")
    assert archives[0] == archives[1] == archives[2]
    document, media = archives[0]
    assert len(media) == 2 and sorted(len(data) for data in media.values()) == sorted(
        [len(world.OGG), len(world.png())]
    )
    assert document["conversations"][0]["agent_runs"][0]["tool_calls"][0]["name"] == "send_buttons"
    assert client.get(reverse("contact_export", args=[shop.slug, sheena.contact.pk])).status_code == 200  # JSON only
    exports = AuditEntry.objects.filter(action="contact.exported").order_by("pk")
    assert [(e.actor_type, e.changes["format"]) for e in exports] == [
        ("user", "zip"),
        ("api_key", "zip"),
        ("system", "zip"),
        ("user", "json"),
    ]


@pytest.mark.django_db
def test_the_owner_downloads_the_archive_from_the_contact_page(client, shop, sheena):
    client.force_login(member(shop, Role.OWNER))
    page = client.get(reverse("contact_detail", args=[shop.slug, sheena.contact.pk]))
    link = reverse("contact_archive", args=[shop.slug, sheena.contact.pk])
    assert link in page.content.decode()
    assert client.get(link).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.AGENT, Role.VIEWER])
def test_agents_and_viewers_cannot_export(client, shop, sheena, role):
    client.force_login(member(shop, role))
    page = client.get(reverse("contact_detail", args=[shop.slug, sheena.contact.pk]))
    assert reverse("contact_archive", args=[shop.slug, sheena.contact.pk]) not in page.content.decode()
    assert client.get(reverse("contact_archive", args=[shop.slug, sheena.contact.pk])).status_code == 403
    assert client.get(reverse("contact_export", args=[shop.slug, sheena.contact.pk])).status_code == 403
    assert not AuditEntry.objects.filter(action="contact.exported").exists()


@pytest.mark.django_db
def test_an_outsider_gets_404_from_the_console_and_the_api(client, shop, sheena):
    globex = WorkspaceFactory(name="Globex", slug="globex")
    client.force_login(member(globex, Role.OWNER))
    assert client.get(reverse("contact_archive", args=[shop.slug, sheena.contact.pk])).status_code == 404
    assert client.get(reverse("contact_archive", args=[globex.slug, sheena.contact.pk])).status_code == 404
    assert _api_get(client, api_key_for(globex), f"contacts/{sheena.contact.pk}/export/").status_code == 404


@pytest.mark.django_db
def test_a_file_missing_from_storage_is_listed_instead_of_failing_the_export(client, shop, sheena):
    photo = Message.objects.get(contact=sheena.contact, message_type="image")
    photo.media_file.storage.delete(photo.media_file.name)

    response = _api_get(client, api_key_for(shop), f"contacts/{sheena.contact.pk}/export/")

    document, media = _archive(_body(response))
    assert document["media_missing"] == [str(photo.public_id)]
    assert list(media) == [f"media/{Message.objects.get(contact=sheena.contact, message_type='audio').public_id}.ogg"]


@pytest.mark.django_db
def test_the_command_refuses_a_number_shared_by_two_channels(shop, sheena, tmp_path):
    world.stored_customer(ChannelFactory(workspace=shop, name="Sales line"))
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="2 channels"):
        call_command("contact_export", workspace=shop.slug, contact=f"+{world.PHONE}", output=str(tmp_path / "x.zip"))
    assert not (tmp_path / "x.zip").exists()
