"""Sending approved templates with their parameters, over real HTTP to the emulator.

Nothing reaches Meta that Meta would refuse for its parameters: a wrong count or format, an
unsynced or unapproved template is refused before any row is written or any request is made.
Cast: the owner of Lucky Shrub and Sheena, a customer who wrote to its sandbox number.
"""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from channels_app.models import MessageTemplate
from channels_app.services.templates import templates_sync
from messaging_app.errors import MessageRejected
from messaging_app.models import Contact, Conversation, Message
from messaging_app.services.outbound import message_send
from tests.conftest import wait_until
from tests.factories import api_key_for
from tests.templates.conftest import ORDER_READY_NAMED, seed

HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def _fast_retries(settings):
    settings.WHATSAPP_RETRY_DELAY_SCALE = 0


@pytest.fixture
def synced(sandbox):
    """order_ready (positional) and order_ready_named (named) approved at Meta and synced here."""
    seed(sandbox, "order_ready")
    seed(sandbox, "order_ready_named", components=ORDER_READY_NAMED, parameter_format="named")
    seed(sandbox, "spring_sale", status="PENDING")
    templates_sync(channel=sandbox.channel, since=timezone.now())
    return {t.name: t for t in MessageTemplate.objects.all()}


def sent_requests(box) -> list[dict]:
    return [r for r in box.emulator.requests_received(box.number.phone_number_id) if r.get("type") == "template"]


def chat_html(client, box) -> str:
    url = f"/w/lucky-shrub/channels/{box.channel.public_id}/sandbox/customers/{box.customer.pk}/chat/"
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def delivered(message: Message) -> Message:
    return wait_until(lambda: Message.objects.filter(pk=message.pk, status__in=["delivered", "read"]).first())


def test_the_api_sends_positional_parameters_and_the_customer_reads_the_filled_in_text(sandbox, synced, owner_client):
    headers = {"Authorization": f"Bearer {api_key_for(sandbox.channel.workspace)}"}
    response = owner_client.post(
        f"/api/v1/templates/{synced['order_ready'].public_id}/send/",
        {"to": "+1 650-555-1234", "parameters": {"1": "Sheena", "2": "1042"}},
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 202, response.json()
    assert response.json()["status"] == "queued" and response.json()["to"] == "+16505551234"
    message = delivered(Message.objects.get(public_id=response.json()["message_id"]))
    assert message.sender == "template" and message.conversation == sandbox.conversation
    (request,) = sent_requests(sandbox)
    assert request["template"]["components"] == [
        {"type": "body", "parameters": [{"type": "text", "text": "Sheena"}, {"type": "text", "text": "1042"}]}
    ]
    assert "Hi Sheena, your order 1042 is ready for pick-up." in chat_html(owner_client, sandbox)


def test_the_console_sends_named_parameters_to_a_contact(sandbox, synced, owner_client):
    template = synced["order_ready_named"]
    page = owner_client.get(reverse("template_detail", args=["lucky-shrub", template.public_id])).content.decode()
    assert "Header {{order}}" in page and "Body {{first_name}}" in page  # the form is built from its placeholders
    contact = sandbox.conversation.contact
    response = owner_client.post(
        reverse("template_send", args=["lucky-shrub", template.public_id]),
        {"channel": str(sandbox.channel.public_id), "contact": contact.pk, "value_0": "#1042", "value_1": "Sheena"},
    )
    assert response.status_code == 302, response.context["send_form"].errors
    delivered(Message.objects.get(message_type="template"))
    (request,) = sent_requests(sandbox)
    body = request["template"]["components"][1]
    assert body["parameters"] == [
        {"type": "text", "text": "Sheena", "parameter_name": "first_name"},
        {"type": "text", "text": "#1042", "parameter_name": "order"},
    ]
    html = chat_html(owner_client, sandbox)
    assert "Order #1042 is ready" in html and "Hi Sheena, come and collect order #1042 today." in html


def test_the_console_sends_to_a_new_number_in_international_format(sandbox, synced, owner_client):
    sandbox.emulator.customer(sandbox.number, name="Zoë", phone="447700900123")
    response = owner_client.post(
        reverse("template_send", args=["lucky-shrub", synced["order_ready"].public_id]),
        {"channel": str(sandbox.channel.public_id), "to": "+44 7700 900123", "value_0": "Zoë", "value_1": "77"},
    )
    assert response.status_code == 302
    message = delivered(Message.objects.get(message_type="template"))
    assert message.contact.wa_id == "447700900123"


def test_a_wrong_parameter_count_is_refused_before_any_row_or_request(sandbox, synced):
    before = len(sandbox.emulator.requests_received(sandbox.number.phone_number_id))
    with pytest.raises(MessageRejected) as caught:
        message_send(
            conversation=sandbox.conversation,
            message_type="template",
            content={
                "name": "order_ready",
                "language": {"code": "en_US"},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": "Sheena"}]}],
            },
            sender="api",
        )
    assert caught.value.field == "template"
    assert "order_ready (en_US): The body takes 2 parameters ({{1}}, {{2}}); 1 given." in caught.value.message
    assert not Message.objects.filter(direction="outbound").exists()
    assert len(sandbox.emulator.requests_received(sandbox.number.phone_number_id)) == before


def test_positional_values_for_a_named_template_are_refused_naming_the_format(sandbox, synced):
    with pytest.raises(MessageRejected, match="every body parameter needs a parameter_name"):
        message_send(
            conversation=sandbox.conversation,
            message_type="template",
            content={
                "name": "order_ready_named",
                "language": {"code": "en_US"},
                "components": [
                    {"type": "header", "parameters": [{"type": "text", "text": "#1", "parameter_name": "order"}]},
                    {"type": "body", "parameters": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
                ],
            },
            sender="api",
        )
    assert not sent_requests(sandbox)


def test_a_template_never_synced_or_not_approved_is_refused_with_a_clear_message(sandbox, synced):
    seed(sandbox, "created_elsewhere")  # approved at Meta, but this platform has not synced it
    with pytest.raises(MessageRejected) as unsynced:
        message_send(
            conversation=sandbox.conversation,
            message_type="template",
            content={"name": "created_elsewhere", "language": {"code": "en_US"}},
            sender="api",
        )
    assert "created_elsewhere (en_US) is not among the synced templates" in unsynced.value.message
    assert "Approved: order_ready (en_US), order_ready_named (en_US)" in unsynced.value.message
    with pytest.raises(MessageRejected) as pending:
        message_send(
            conversation=sandbox.conversation,
            message_type="template",
            content={"name": "spring_sale", "language": {"code": "en_US"}},
            sender="api",
        )
    assert pending.value.field == "template"
    assert "spring_sale (en_US) is pending: WhatsApp sends only approved templates" in pending.value.message
    assert not sent_requests(sandbox) and not Message.objects.filter(direction="outbound").exists()


def test_the_api_names_missing_parameters_and_creates_no_contact(sandbox, synced, client):
    headers = {"Authorization": f"Bearer {api_key_for(sandbox.channel.workspace)}"}
    response = client.post(
        f"/api/v1/templates/{synced['order_ready'].public_id}/send/",
        {"to": "+447700900999", "parameters": {"1": "Sheena", "3": "x"}},
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "Unknown parameter 3: this template takes 1, 2."
    refused = client.post(
        f"/api/v1/templates/{synced['spring_sale'].public_id}/send/",
        {"to": "+447700900999", "parameters": {"1": "Sheena", "2": "1042"}},
        content_type="application/json",
        headers=headers,
    )
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "template"
    assert not Contact.objects.filter(wa_id="447700900999").exists()
    assert not sent_requests(sandbox)


def test_the_picker_offers_approved_templates_and_sends_into_a_closed_conversation(sandbox, synced, owner_client):
    Conversation.objects.filter(pk=sandbox.conversation.pk).update(last_inbound_at=timezone.now() - timedelta(days=2))
    picker = reverse("template_picker", args=["lucky-shrub"])
    listing = owner_client.get(picker, {"conversation": sandbox.conversation.pk}, headers=HTMX).content.decode()
    assert "order_ready (en_US)" in listing and "order_ready_named (en_US)" in listing
    assert "spring_sale" not in listing  # pending: not offered
    chosen = owner_client.get(
        picker, {"conversation": sandbox.conversation.pk, "template": synced["order_ready"].public_id}, headers=HTMX
    ).content.decode()
    assert 'name="value_0"' in chosen and 'name="value_1"' in chosen and 'name="to"' not in chosen
    response = owner_client.post(
        reverse("template_send", args=["lucky-shrub", synced["order_ready"].public_id]),
        {"conversation": sandbox.conversation.pk, "value_0": "Sheena", "value_1": "1042"},
        headers=HTMX,
    )
    assert response.status_code == 200 and "order_ready queued to +16505551234" in response.content.decode()
    message = delivered(Message.objects.get(message_type="template"))
    assert message.conversation_id == sandbox.conversation.pk and message.sender_user is not None


def test_the_picker_shows_what_is_missing_without_sending(sandbox, synced, owner_client):
    response = owner_client.post(
        reverse("template_send", args=["lucky-shrub", synced["order_ready"].public_id]),
        {"conversation": sandbox.conversation.pk, "value_0": "Sheena"},
        headers=HTMX,
    )
    assert response.status_code == 400 and "This field is required" in response.content.decode()
    assert not sent_requests(sandbox)


def test_an_authentication_template_needs_the_customers_phone_number(sandbox, synced):
    from tests.factories import conversation_with

    seed(
        sandbox,
        "login_code",
        category="AUTHENTICATION",
        components=[
            {"type": "BODY", "text": "Your login code is {{1}} for the shop.", "example": {"body_text": [["123456"]]}}
        ],
    )
    templates_sync(channel=sandbox.channel, since=timezone.now())
    bsuid_only = conversation_with(sandbox.channel, wa_id=None, user_id="US.13491208655302741918")
    with pytest.raises(MessageRejected, match="need the customer's phone number"):
        message_send(
            conversation=bsuid_only,
            message_type="template",
            content={
                "name": "login_code",
                "language": {"code": "en_US"},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": "123456"}]}],
            },
            sender="api",
        )


def test_the_picker_for_a_channel_asks_for_the_recipient_and_answers_in_place(sandbox, synced, owner_client):
    template = synced["order_ready"]
    chosen = owner_client.get(
        reverse("template_picker", args=["lucky-shrub"]),
        {"channel": str(sandbox.channel.public_id), "template": str(template.public_id)},
        headers=HTMX,
    ).content.decode()
    assert 'name="to"' in chosen and 'name="contact"' in chosen
    response = owner_client.post(
        reverse("template_send", args=["lucky-shrub", template.public_id]),
        {"channel": str(sandbox.channel.public_id), "to": "+16505551234", "value_0": "Sheena", "value_1": "1042"},
        headers=HTMX,
    )
    assert response.status_code == 200 and 'id="template-picker"' in response.content.decode()
    assert "order_ready queued to +16505551234" in response.content.decode()
