"""Creating and connecting a channel by hand, configuring it, testing it, retiring it."""

import pytest
from django.urls import reverse

from channels_app.models import Channel, ChannelSetupEvent
from messaging_app.models import Message
from tests.conftest import wait_until
from tests.factories import AgentFactory, ChannelFactory, WorkspaceFactory, member
from workspaces_app.models import Role

TOKEN = "manual-token-for-tests"
SECRET = "manual-app-secret"


@pytest.fixture
def acme(db):
    return WorkspaceFactory(name="Acme", slug="acme")


@pytest.fixture
def owner_client(client, acme):
    client.force_login(member(acme, Role.OWNER))
    return client


def _url(name: str, channel: Channel) -> str:
    return reverse(name, args=[channel.workspace.slug, channel.public_id])


@pytest.mark.django_db
def test_an_owner_creates_a_channel_with_a_label_and_lands_on_its_configuration_page(owner_client, acme):
    response = owner_client.post(reverse("channel_create", args=["acme"]), {"name": "WhatsApp Support UK"})
    channel = Channel.objects.get(workspace=acme)
    assert response["Location"] == _url("channel_detail", channel)
    assert channel.status == Channel.Status.PENDING and channel.name == "WhatsApp Support UK"
    page = owner_client.get(response["Location"]).content.decode()
    assert "Login with Facebook" in page and "connect by hand" in page


@pytest.mark.django_db
def test_a_channel_needs_a_label(owner_client, acme):
    response = owner_client.post(reverse("channel_create", args=["acme"]), {"name": "  "})
    assert response.status_code == 400
    assert not Channel.objects.exists()


@pytest.mark.django_db
def test_an_agent_role_cannot_create_channels(client, acme):
    client.force_login(member(acme, Role.AGENT))
    assert client.post(reverse("channel_create", args=["acme"]), {"name": "X"}).status_code == 403


@pytest.mark.django_db
def test_another_workspaces_channel_page_is_404(client, acme):
    foreign = ChannelFactory(workspace=WorkspaceFactory())
    client.force_login(member(acme, Role.OWNER))
    url = reverse("channel_detail", args=["acme", foreign.public_id])
    assert client.get(url).status_code == 404


@pytest.fixture
def emulated_number(emulator):
    return emulator.provision(f"{emulator.url}/unused/", app_secret=SECRET, access_token=TOKEN)


def _manual(client, channel, **overrides):
    data = {
        "phone_number_id": "",
        "waba_id": "",
        "access_token": TOKEN,
        "app_secret": SECRET,
        "verify_token": "",
    }
    data.update(overrides)
    return client.post(_url("channel_manual_connect", channel), data)


def test_connecting_by_hand_checks_the_credentials_live_then_shows_the_webhook_url(emulator, emulated_number, client):
    workspace = WorkspaceFactory(slug="hand")
    client.force_login(member(workspace, Role.OWNER))
    channel = Channel.objects.create(workspace=workspace, name="Own app")
    response = _manual(
        client, channel, phone_number_id=emulated_number.phone_number_id, waba_id=emulated_number.waba_id
    )
    assert response.status_code == 302
    channel.refresh_from_db()
    assert channel.status == Channel.Status.ACTIVE and channel.connection == "manual"
    assert channel.display_phone_number == emulated_number.display_phone_number
    assert channel.verify_token  # generated
    page = client.get(_url("channel_detail", channel)).content.decode()
    assert f"/webhooks/whatsapp/{channel.public_id}/" in page
    assert "waiting for the first webhook" in page


@pytest.mark.parametrize(
    "overrides, field, words",
    [
        ({"access_token": "not-a-real-token"}, "access_token", "refused"),
        ({"phone_number_id": "12ab"}, "phone_number_id", "digits"),
        ({"waba_id": "999999999"}, "waba_id", "cannot read"),
        ({"app_secret": ""}, "app_secret", "required"),
    ],
)
def test_bad_manual_credentials_get_a_form_error_and_nothing_is_activated(
    emulator, emulated_number, client, overrides, field, words
):
    workspace = WorkspaceFactory(slug="hand")
    client.force_login(member(workspace, Role.OWNER))
    channel = Channel.objects.create(workspace=workspace, name="Own app")
    data = {"phone_number_id": emulated_number.phone_number_id, "waba_id": emulated_number.waba_id}
    data.update(overrides)
    response = _manual(client, channel, **data)
    assert response.status_code == 400
    form = response.context["manual_form"]
    assert field in form.errors, form.errors
    assert words in str(form.errors[field]).lower()
    channel.refresh_from_db()
    assert channel.status == Channel.Status.PENDING and channel.access_token == ""


def test_a_number_connected_in_another_workspace_is_not_revealed_to_wrong_credentials(
    emulator, emulated_number, client
):
    ChannelFactory(name="Globex secret line", phone_number_id=emulated_number.phone_number_id)
    workspace = WorkspaceFactory(slug="hand")
    client.force_login(member(workspace, Role.OWNER))
    channel = Channel.objects.create(workspace=workspace, name="Own app")
    response = _manual(
        client,
        channel,
        phone_number_id=emulated_number.phone_number_id,
        waba_id=emulated_number.waba_id,
        access_token="guessed-token",
    )
    assert response.status_code == 400
    errors = response.context["manual_form"].errors
    assert "refused" in str(errors["access_token"]).lower()
    page = response.content.decode()
    assert "Globex secret line" not in page and "already connected" not in page


def test_with_valid_credentials_a_number_taken_elsewhere_is_refused_without_naming_that_channel(
    emulator, emulated_number, client
):
    ChannelFactory(name="Globex secret line", phone_number_id=emulated_number.phone_number_id)
    workspace = WorkspaceFactory(slug="hand")
    client.force_login(member(workspace, Role.OWNER))
    channel = Channel.objects.create(workspace=workspace, name="Own app")
    response = _manual(
        client, channel, phone_number_id=emulated_number.phone_number_id, waba_id=emulated_number.waba_id
    )
    assert response.status_code == 400
    error = str(response.context["manual_form"].errors["phone_number_id"])
    assert "another workspace" in error
    assert "Globex secret line" not in response.content.decode()
    channel.refresh_from_db()
    assert channel.status == Channel.Status.PENDING and channel.access_token == ""


def test_the_first_webhook_turns_the_indicator_green(emulator, client):
    workspace = WorkspaceFactory(slug="hand")
    client.force_login(member(workspace, Role.OWNER))
    channel = Channel.objects.create(workspace=workspace, name="Own app")
    number = emulator.provision(
        f"{emulator.url}/webhooks/whatsapp/{channel.public_id}/", app_secret=SECRET, access_token=TOKEN
    )
    _manual(client, channel, phone_number_id=number.phone_number_id, waba_id=number.waba_id)
    assert 'data-testid="webhook-waiting"' in client.get(_url("channel_live_status", channel)).content.decode()

    customer = emulator.customer(number, name="First Customer", phone="447700900321")
    emulator.customer_says(number, customer, "text", {"body": "hello?"})
    emulator.drain()

    live = client.get(_url("channel_live_status", channel)).content.decode()
    assert 'data-testid="webhook-seen"' in live
    channel.refresh_from_db()
    assert channel.webhook_subscribed and channel.last_webhook_at


@pytest.mark.django_db
def test_settings_assign_an_agent_of_the_same_workspace_only(owner_client, acme):
    channel = ChannelFactory(workspace=acme)
    mine = AgentFactory(workspace=acme, name="Mine")
    theirs = AgentFactory(workspace=WorkspaceFactory(), name="Theirs")
    bad = owner_client.post(_url("channel_settings_update", channel), {"name": "Renamed", "agent": theirs.pk})
    assert bad.status_code == 400
    ok = owner_client.post(_url("channel_settings_update", channel), {"name": "Renamed", "agent": mine.pk})
    assert ok.status_code == 302
    channel.refresh_from_db()
    assert (channel.name, channel.agent) == ("Renamed", mine)


@pytest.mark.django_db
def test_deactivating_keeps_history_and_stops_sends(owner_client, acme):
    from tests.factories import conversation_with, outbound_message

    channel = ChannelFactory(workspace=acme)
    message = outbound_message(conversation_with(channel), wamid="wamid.kept")
    owner_client.post(_url("channel_deactivate", channel))
    channel.refresh_from_db()
    assert channel.status == Channel.Status.DISABLED and channel.deactivated_at
    assert Message.objects.filter(pk=message.pk).exists()
    assert ChannelSetupEvent.objects.filter(channel=channel, step="deactivated").exists()


@pytest.mark.django_db
def test_deleting_needs_the_label_typed(owner_client, acme):
    channel = ChannelFactory(workspace=acme, name="Old line")
    owner_client.post(_url("channel_delete", channel), {"confirm": "old"})
    assert Channel.objects.filter(pk=channel.pk).exists()
    response = owner_client.post(_url("channel_delete", channel), {"confirm": "Old line"})
    assert response["Location"] == reverse("channel_list", args=["acme"])
    assert not Channel.objects.filter(pk=channel.pk).exists()


def test_a_test_message_to_a_customer_with_an_open_window_is_sent_and_its_ticks_turn_read(sandbox, client):
    client.force_login(member(sandbox.channel.workspace, Role.OWNER))
    response = client.post(
        _url("channel_test_message", sandbox.channel), {"to": "+1 650 555 1234", "body": "Testing 1, 2, 3 ✅"}
    )
    assert response.status_code == 302
    sandbox.emulator.drain()
    message = wait_until(lambda: Message.objects.filter(sender="teammate", status="read").first())
    assert message.content == {"body": "Testing 1, 2, 3 ✅"}
    live = client.get(_url("channel_live_status", sandbox.channel)).content.decode()
    assert 'data-status="read"' in live


@pytest.mark.django_db
def test_a_free_form_test_message_to_a_number_outside_the_window_asks_for_a_template(owner_client, acme):
    channel = ChannelFactory(workspace=acme)
    response = owner_client.post(_url("channel_test_message", channel), {"to": "+44 7700 900999", "body": "Hi"})
    assert response.status_code == 400
    assert "template" in str(response.context["test_form"].errors).lower()
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_a_test_message_to_a_malformed_number_is_refused(owner_client, acme):
    channel = ChannelFactory(workspace=acme)
    response = owner_client.post(_url("channel_test_message", channel), {"to": "call me maybe", "body": "Hi"})
    assert response.status_code == 400
    assert "to" in response.context["test_form"].errors
