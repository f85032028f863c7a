"""Customers write to the business: every inbound type of reference §2, shaped as Meta sends it."""

import pytest

from cloudapi_emulator import services
from cloudapi_emulator.models import Customer, Message
from tests.emulator.conftest import outbox_payloads


def last_value(number) -> dict:
    return outbox_payloads(number)[-1]["entry"][0]["changes"][0]["value"]


def says(number, customer, message_type, content, **kw) -> dict:
    wamid = services.customer_message_send(
        number=number, customer=customer, message_type=message_type, content=content, **kw
    )
    message = last_value(number)["messages"][0]
    assert message["id"] == wamid
    assert message["type"] == message_type
    return message


@pytest.fixture
def pablo(shop):
    return services.customer_get_or_create(number=shop, name="Pablo Morales", phone="+1 650 555 9876")


def test_a_text_message_carries_from_user_id_contacts_and_a_string_timestamp(shop, pablo):
    message = says(shop, pablo, "text", {"body": "Does it come in another color?"})

    value = last_value(shop)
    assert message["from"] == "16505559876"
    assert message["from_user_id"] == pablo.bsuid
    assert message["text"] == {"body": "Does it come in another color?"}
    assert message["timestamp"].isdigit()
    assert value["contacts"] == [{"profile": {"name": "Pablo Morales"}, "wa_id": "16505559876", "user_id": pablo.bsuid}]
    assert value["messaging_product"] == "whatsapp"


def test_a_generated_bsuid_has_the_country_dot_digits_shape(pablo):
    country, _, digits = pablo.bsuid.partition(".")
    assert len(country) == 2 and country.isupper()
    assert digits.isdigit()


@pytest.mark.parametrize(
    ("message_type", "content", "expected"),
    [
        ("image", {"caption": "Taj Mahal"}, {"caption": "Taj Mahal", "mime_type": "image/jpeg"}),
        ("video", {"caption": "clip"}, {"caption": "clip", "mime_type": "video/mp4"}),
        ("audio", {"voice": True}, {"voice": True, "mime_type": "audio/ogg"}),
        ("audio", {"mime_type": "audio/mpeg"}, {"voice": False, "mime_type": "audio/mpeg"}),
        (
            "document",
            {"filename": "receipt.pdf", "caption": "my receipt"},
            {"filename": "receipt.pdf", "caption": "my receipt", "mime_type": "application/pdf"},
        ),
        ("sticker", {"animated": True}, {"animated": True, "mime_type": "image/webp"}),
    ],
    ids=["image", "video", "voice-note", "audio-file", "document", "sticker"],
)
def test_media_messages_carry_a_fetchable_media_id_and_sha256(shop, pablo, message_type, content, expected):
    message = says(shop, pablo, message_type, content)

    media = message[message_type]
    assert expected.items() <= media.items()
    assert media["id"].isdigit()
    assert media["sha256"]


def test_a_location_message_keeps_numbers_as_numbers(shop, pablo):
    location = {
        "latitude": 37.44221496582,
        "longitude": -122.16165924072,
        "name": "Philz Coffee",
        "address": "101 Forest Ave",
        "url": "https://philzcoffee.com/",
    }

    assert says(shop, pablo, "location", location)["location"] == location


def test_a_contacts_message_is_a_list(shop, pablo):
    contacts = [
        {
            "name": {"first_name": "Lucía", "formatted_name": "Lucía Gómez"},
            "phones": [{"phone": "+1 (983) 555-2319", "wa_id": "19835552319", "type": "MOBILE"}],
        }
    ]

    assert says(shop, pablo, "contacts", contacts)["contacts"] == contacts


def test_a_button_reply_quotes_the_business_message_tapped(shop, pablo):
    message = says(
        shop,
        pablo,
        "interactive",
        {"type": "button_reply", "button_reply": {"id": "cancel-button", "title": "Cancel"}},
        context_wamid="wamid.buttons",
    )

    assert message["context"] == {"from": "15550783881", "id": "wamid.buttons"}
    assert message["interactive"]["button_reply"] == {"id": "cancel-button", "title": "Cancel"}


def test_a_list_reply_quotes_the_list_message(shop, pablo):
    message = says(
        shop,
        pablo,
        "interactive",
        {
            "type": "list_reply",
            "list_reply": {
                "id": "priority_express",
                "title": "Priority Mail Express",
                "description": "Next Day to 2 Days",
            },
        },
        context_wamid="wamid.list",
    )

    assert message["context"]["id"] == "wamid.list"
    assert message["interactive"]["type"] == "list_reply"


def test_a_template_quick_reply_arrives_as_a_button_message(shop, pablo):
    message = says(
        shop, pablo, "button", {"payload": "Unsubscribe", "text": "Unsubscribe"}, context_wamid="wamid.template"
    )

    assert message["button"] == {"payload": "Unsubscribe", "text": "Unsubscribe"}


def test_a_reaction_and_an_unreaction(shop, pablo):
    reaction = says(shop, pablo, "reaction", {"message_id": "wamid.ours", "emoji": "👍"})
    unreaction = says(shop, pablo, "reaction", {"message_id": "wamid.ours"})

    assert reaction["reaction"] == {"message_id": "wamid.ours", "emoji": "👍"}
    assert unreaction["reaction"] == {"message_id": "wamid.ours", "emoji": ""}


def test_a_reply_to_a_business_message_has_context(shop, pablo):
    message = says(shop, pablo, "text", {"body": "Yes, that one"}, context_wamid="wamid.earlier")

    assert message["context"] == {"from": "15550783881", "id": "wamid.earlier"}


def test_a_username_only_customer_has_no_from_and_no_wa_id(shop):
    ana = services.customer_get_or_create(number=shop, name="Ana", username="@ana.b")

    message = says(shop, ana, "text", {"body": "hola"})

    contact = last_value(shop)["contacts"][0]
    assert "from" not in message
    assert message["from_user_id"] == ana.bsuid
    assert contact == {"profile": {"name": "Ana", "username": "@ana.b"}, "user_id": ana.bsuid}


def test_customers_are_found_again_by_phone_or_bsuid(shop, pablo):
    by_phone = services.customer_get_or_create(number=shop, name="Someone", phone="16505559876")
    by_bsuid = services.customer_get_or_create(number=shop, name="Someone", bsuid=pablo.bsuid)

    assert by_phone.pk == by_bsuid.pk == pablo.pk
    assert Customer.objects.count() == 1


def test_a_customer_message_opens_the_window_and_is_kept_for_the_chat(shop, pablo):
    services.customer_message_send(number=shop, customer=pablo, message_type="text", content={"body": "hi"})

    pablo.refresh_from_db()
    assert pablo.last_message_at is not None
    assert Message.objects.get(customer=pablo).direction == "inbound"


def test_an_unknown_inbound_type_is_refused(shop, pablo):
    with pytest.raises(services.CustomerMessageError):
        services.customer_message_send(number=shop, customer=pablo, message_type="hologram", content={})
