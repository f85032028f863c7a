"""Delivery problems: failed messages grouped by WhatsApp's error code per channel, in plain words, with a
resend where resending can work.

The failures are real ones from the Cloud API emulator (the sandbox: Lucky Shrub's number and Sheena,
who just wrote): a number not on WhatsApp (131026), a customer outside the 24-hour window (131047) and
a passing server error (131000). Cast: the owner, Sam (answers chats), a viewer, an outsider.
"""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from channels_app.whatsapp.error_guide import error_advice
from channels_app.whatsapp.errors import PLAIN_REASONS
from messaging_app.models import Contact, Conversation, Message
from messaging_app.services.outbound import message_send
from tests.conftest import wait_until
from tests.factories import ChannelFactory, WorkspaceFactory, conversation_with, member, outbound_message
from workspaces_app.models import Role


@pytest.fixture(autouse=True)
def _fast_retries(settings):
    settings.WHATSAPP_RETRY_DELAY_SCALE = 0
    settings.GRAPH_MAX_RETRIES = 1
    settings.GRAPH_READ_TIMEOUT = 2.0


def _failed(message: Message) -> Message:
    return wait_until(lambda: Message.objects.filter(pk=message.pk, status=Message.Status.FAILED).first())


def _conversation(box, wa_id: str, name: str, *, last_inbound_at=None) -> Conversation:
    contact = Contact.objects.create(
        workspace=box.channel.workspace, channel=box.channel, wa_id=wa_id, profile_name=name
    )
    return Conversation.objects.create(
        workspace=box.channel.workspace,
        channel=box.channel,
        contact=contact,
        last_inbound_at=last_inbound_at or timezone.now() - timedelta(minutes=5),
    )


def _send(conversation, body: str) -> Message:
    return message_send(conversation=conversation, message_type="text", content={"body": body}, sender="api")


def _not_on_whatsapp(box, wa_id: str, name: str) -> Message:
    """131026: the emulator has no customer with this number."""
    return _failed(_send(_conversation(box, wa_id, name), f"Hello {name}"))


def _outside_the_window(box) -> Message:
    """131047: the platform believes the window is open, but this customer never wrote from this number."""
    box.emulator.customer(box.number, name="Quiet Quentin", phone="447700900999")
    return _failed(_send(_conversation(box, "447700900999", "Quiet Quentin", last_inbound_at=timezone.now()), "Hi"))


def _server_error(box) -> Message:
    """131000 twice: retried once, then failed."""
    box.emulator.fault(endpoint="messages", count=2, error_code=131000)
    return _failed(_send(box.conversation, "Your fern ships today 🌿"))


@pytest.fixture
def owner(client, sandbox):
    user = member(sandbox.channel.workspace, Role.OWNER)
    client.force_login(user)
    return user


def _page(client, **params):
    response = client.get(reverse("troubleshooting_delivery", args=["lucky-shrub"]), params)
    assert response.status_code == 200
    return response


def _resend(client, message: Message, follow: bool = True):
    return client.post(
        reverse("troubleshooting_message_resend", args=["lucky-shrub", message.public_id]), follow=follow
    )


def test_failures_are_grouped_by_code_per_channel_with_what_they_mean_and_what_to_do(client, sandbox, owner):
    first = _not_on_whatsapp(sandbox, "15550009999", "Nora Nowhere")
    second = _not_on_whatsapp(sandbox, "15550008888", "Ned Nobody")
    window = _outside_the_window(sandbox)
    passing = _server_error(sandbox)
    assert (first.error_code, second.error_code, window.error_code, passing.error_code) == (
        131026,
        131026,
        131047,
        131000,
    )

    response = _page(client)
    groups = {group["code"]: group for group in response.context["groups"]}
    assert {code: group["count"] for code, group in groups.items()} == {131026: 2, 131047: 1, 131000: 1}
    assert all(group["channel"] == sandbox.channel for group in groups.values())
    undeliverable = groups[131026]
    assert undeliverable["advice"].meaning == PLAIN_REASONS[131026]
    assert "Reach the customer another way" in undeliverable["advice"].fix
    assert [m.pk for m in undeliverable["messages"]] == [second.pk, first.pk]  # latest first
    assert "approved template" in groups[131047]["advice"].fix

    html = response.content.decode()
    assert PLAIN_REASONS[131026].split(":")[0] in html
    assert reverse("conversation_detail", args=["lucky-shrub", first.conversation_id]) in html
    resend_urls = [
        reverse("troubleshooting_message_resend", args=["lucky-shrub", m.public_id])
        for m in (first, second, window, passing)
    ]
    # Only the passing error offers a resend: the others would fail the same way (or need a template).
    assert [url in html for url in resend_urls] == [False, False, False, True]


def test_resending_after_a_passing_error_queues_a_new_copy_that_is_delivered_once(client, sandbox, owner):
    failed = _server_error(sandbox)
    response = _resend(client, failed)
    assert "queued to be sent again" in response.content.decode()

    copy = Message.objects.filter(direction="out", pk__gt=failed.pk).get()
    assert copy.content == {"body": "Your fern ships today 🌿"} and copy.sender == failed.sender
    copy = wait_until(lambda: Message.objects.filter(pk=copy.pk, status__in=["sent", "delivered", "read"]).first())
    failed.refresh_from_db()
    assert failed.status == Message.Status.FAILED  # the record of what happened stays

    again = _resend(client, failed).content.decode()
    assert "already resent" in again
    assert Message.objects.filter(direction="out", pk__gt=failed.pk).count() == 1


def test_no_resend_where_it_would_fail_the_same_way(client, sandbox, owner):
    undeliverable = _not_on_whatsapp(sandbox, "15550009999", "Nora Nowhere")
    window = _outside_the_window(sandbox)
    assert "Resending would fail the same way" in _resend(client, undeliverable).content.decode()
    assert "only accepts an approved template" in _resend(client, window).content.decode()
    assert not Message.objects.filter(direction="out", pk__gt=window.pk).exists()


@pytest.mark.django_db
def test_a_resend_is_a_new_queued_message_and_never_goes_to_a_blocked_contact(client):
    shop = WorkspaceFactory(name="Lucky Shrub", slug="lucky-shrub")
    conversation = conversation_with(ChannelFactory(workspace=shop), name="Sheena Nelson")
    failed = outbound_message(conversation, status=Message.Status.FAILED, body="Back in stock!")
    Message.objects.filter(pk=failed.pk).update(error_code=131016, error_title="Service unavailable")
    client.force_login(member(shop, Role.AGENT))

    _resend(client, failed)
    copy = Message.objects.exclude(pk=failed.pk).get()
    assert copy.status == Message.Status.QUEUED and copy.content == {"body": "Back in stock!"}
    assert copy.sender == Message.Sender.AGENT

    second = outbound_message(conversation, status=Message.Status.FAILED, body="Still there?")
    Message.objects.filter(pk=second.pk).update(error_code=131016)
    Contact.objects.filter(pk=conversation.contact_id).update(blocked_at=timezone.now())
    refused = _resend(client, second).content.decode()
    assert "is blocked" in refused
    assert Message.objects.count() == 3


@pytest.mark.django_db
def test_a_viewer_cannot_resend_and_an_outsider_gets_404(client):
    shop = WorkspaceFactory(name="Lucky Shrub", slug="lucky-shrub")
    conversation = conversation_with(ChannelFactory(workspace=shop))
    failed = outbound_message(conversation, status=Message.Status.FAILED)
    Message.objects.filter(pk=failed.pk).update(error_code=131016, failed_at=timezone.now())
    client.force_login(member(shop, Role.VIEWER))
    assert _page(client).context["groups"][0]["count"] == 1
    assert _resend(client, failed, follow=False).status_code == 403

    client.force_login(member(WorkspaceFactory(slug="globex"), Role.OWNER))
    assert client.get(reverse("troubleshooting_delivery", args=["lucky-shrub"])).status_code == 404
    assert _resend(client, failed, follow=False).status_code == 404
    assert client.post(reverse("troubleshooting_message_resend", args=["globex", failed.public_id])).status_code == 404
    assert Message.objects.count() == 1


def test_every_code_of_the_reference_table_has_a_meaning_and_a_fix_in_plain_words():
    from channels_app.whatsapp.errors import KNOWN_CODES

    for code in KNOWN_CODES:
        advice = error_advice(code)
        assert advice.meaning and not advice.meaning.startswith("WhatsApp error"), code
        assert advice.fix and "Meta's WhatsApp error reference" not in advice.fix, code
    assert error_advice(131047).resend == "template_only"
    assert error_advice(131026).resend_allowed is False and error_advice(131000).resend_allowed is True
    permission = error_advice(250)  # 200-299 share one entry
    assert permission.meaning == PLAIN_REASONS[200] and permission.fix == error_advice(200).fix
    unknown = error_advice(999999, "Brand new error")
    assert unknown.meaning == "WhatsApp error 999999: Brand new error" and unknown.resend_allowed is False
