import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest

from channels_app.whatsapp.webhooks import (
    FieldEvent,
    InboundMessage,
    StatusUpdate,
    UnknownItem,
    UserPreference,
    ValueErrors,
    signature_valid,
    status_rank,
    webhook_items,
)

APP_SECRET = "0123456789abcdef0123456789abcdef"
WABA_ID = "102290129340398"
PHONE_NUMBER_ID = "106540352242922"
SHEENA = {
    "profile": {"name": "Sheena Nelson"},
    "wa_id": "16505551234",
    "user_id": "US.13491208655302741918",
    "parent_user_id": "US.ENT.11815799212886844830",
}


def sign(raw: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def messages_body(*, messages=None, statuses=None, errors=None, contacts=(SHEENA,), waba_id=WABA_ID):
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
    }
    if contacts is not None:
        value["contacts"] = list(contacts)
    for key, items in (("messages", messages), ("statuses", statuses), ("errors", errors)):
        if items is not None:
            value[key] = items
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": waba_id, "changes": [{"field": "messages", "value": value}]}],
    }


def field_body(field, value, *, time=1751247548):
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "time": time, "changes": [{"field": field, "value": value}]}],
    }


def only(body):
    items = webhook_items(body)
    assert len(items) == 1, items
    return items[0]


# --- signature ------------------------------------------------------------------------------


def test_it_accepts_a_body_signed_with_the_app_secret():
    raw = json.dumps(messages_body(messages=[])).encode()
    assert signature_valid(raw, sign(raw), APP_SECRET)


def test_it_checks_the_exact_bytes_meta_sent_with_escaped_unicode():
    raw = b'{"text":{"body":"\\u00e4\\u00f6\\u00e5"}}'  # how Meta escapes äöå
    header = sign(raw)
    assert signature_valid(raw, header, APP_SECRET)
    reserialised = json.dumps(json.loads(raw), ensure_ascii=False).encode()
    assert not signature_valid(reserialised, header, APP_SECRET)


def test_it_checks_raw_utf8_bytes_as_well():
    raw = '{"text":{"body":"äöå 🙂"}}'.encode()
    assert signature_valid(raw, sign(raw), APP_SECRET)
    assert not signature_valid(raw.replace("ä".encode(), b"a"), sign(raw), APP_SECRET)


def test_an_uppercase_hex_digest_is_accepted():
    raw = b"{}"
    assert signature_valid(raw, "sha256=" + sign(raw)[7:].upper(), APP_SECRET)


@pytest.mark.parametrize(
    "header",
    [None, "", "sha256=", "sha1=abc", "sha256=zz", "sha256=" + "0" * 64, "garbage", "sha256=" + "é" * 64],
)
def test_it_rejects_a_missing_or_garbled_signature(header):
    assert not signature_valid(b"{}", header, APP_SECRET)


def test_it_rejects_everything_when_the_secret_is_empty():
    raw = b"{}"
    assert not signature_valid(raw, sign(raw, ""), "")


def test_it_rejects_a_body_signed_with_another_secret():
    raw = b"{}"
    assert not signature_valid(raw, sign(raw, "another secret"), APP_SECRET)


# --- inbound messages of §2 -----------------------------------------------------------------


INBOUND = [
    ("text", {"text": {"body": "Does it come in another color?"}}),
    (
        "image",
        {
            "image": {
                "caption": "Taj Mahal",
                "mime_type": "image/jpeg",
                "sha256": "SfInY0gG=",
                "id": "1003383421387256",
                "url": "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1",
            }
        },
    ),
    ("video", {"video": {"caption": "caption", "mime_type": "video/mp4", "sha256": "Jh+2=", "id": "765756756"}}),
    (
        "audio",
        {
            "audio": {
                "mime_type": "audio/ogg; codecs=opus",
                "sha256": "m04p=",
                "id": "1234567890987654321",
                "voice": True,
            }
        },
    ),
    (
        "document",
        {
            "document": {
                "caption": "my receipt",
                "filename": "receipt.pdf",
                "mime_type": "application/pdf",
                "sha256": "V5OP=",
                "id": "622684793477189",
            }
        },
    ),
    (
        "sticker",
        {"sticker": {"mime_type": "image/webp", "sha256": "Hcwy=", "id": "1234567890987654321", "animated": True}},
    ),
    (
        "location",
        {
            "location": {
                "latitude": 37.44221496582,
                "longitude": -122.16165924072,
                "name": "Philz Coffee",
                "address": "101 Forest Ave, Palo Alto, CA 94301",
                "url": "https://philzcoffee.com/",
            }
        },
    ),
    (
        "interactive",
        {
            "context": {"from": "15550783881", "id": "wamid.buttons"},
            "interactive": {"type": "button_reply", "button_reply": {"id": "cancel-button", "title": "Cancel"}},
        },
    ),
    (
        "interactive",
        {
            "context": {"from": "15550783881", "id": "wamid.list"},
            "interactive": {
                "type": "list_reply",
                "list_reply": {
                    "id": "priority_express",
                    "title": "Priority Mail Express",
                    "description": "Next Day to 2 Days",
                },
            },
        },
    ),
    (
        "interactive",
        {
            "context": {"from": "972123456789", "id": "wamid.gvw=="},
            "interactive": {
                "type": "nfm_reply",
                "nfm_reply": {"name": "flow", "body": "Sent", "response_json": '{"flow_token":"AQAA","cs_rating":"0"}'},
            },
        },
    ),
    (
        "button",
        {
            "context": {"from": "15550783881", "id": "wamid.template"},
            "button": {"payload": "Unsubscribe", "text": "Unsubscribe"},
        },
    ),
    ("reaction", {"reaction": {"message_id": "wamid.reacted", "emoji": "👍"}}),
    (
        "order",
        {
            "order": {
                "catalog_id": "194836987003835",
                "text": "",
                "product_items": [
                    {"product_retailer_id": "di9ozbzfi4", "quantity": 2, "item_price": 30, "currency": "USD"}
                ],
            }
        },
    ),
    ("revoke", {"revoke": {"original_message_id": "wamid.deleted"}}),
    ("edit", {"edit": {"original_message_id": "wamid.edited", "message": {"type": "text", "text": {"body": "new"}}}}),
]


@pytest.mark.parametrize("message_type, fields", INBOUND, ids=[f"{t}-{i}" for i, (t, _) in enumerate(INBOUND)])
def test_every_inbound_type_becomes_an_inbound_message_with_its_type_object_as_content(message_type, fields):
    raw = {"from": "16505551234", "id": "wamid.HBgLMTY1", "timestamp": "1749416383", "type": message_type, **fields}
    item = only(messages_body(messages=[raw]))
    assert isinstance(item, InboundMessage)
    assert item.message_type == message_type
    assert item.content == fields[message_type]
    assert item.wamid == "wamid.HBgLMTY1"
    assert item.timestamp == datetime(2025, 6, 8, 20, 59, 43, tzinfo=UTC)
    assert (item.waba_id, item.phone_number_id, item.display_phone_number) == (WABA_ID, PHONE_NUMBER_ID, "15550783881")
    assert item.from_phone == "16505551234"
    assert item.profile_name == "Sheena Nelson"
    assert item.from_user_id == "US.13491208655302741918"
    assert item.parent_user_id == "US.ENT.11815799212886844830"
    assert item.context == fields.get("context")
    assert item.raw == raw


def test_a_contacts_message_keeps_its_vcard_list():
    cards = [
        {
            "name": {"first_name": "Lucía", "last_name": "Gómez", "formatted_name": "Lucía Gómez"},
            "phones": [{"phone": "+1 (983) 555-2319", "wa_id": "19835552319", "type": "MOBILE"}],
        }
    ]
    raw = {"from": "16505551234", "id": "wamid.c", "timestamp": "1744344496", "type": "contacts", "contacts": cards}
    item = only(messages_body(messages=[raw]))
    assert item.content == {"contacts": cards}


def test_a_system_message_arrives_without_contacts():
    raw = {
        "from": "16505551234",
        "id": "wamid.sys",
        "timestamp": "1750269342",
        "type": "system",
        "system": {
            "body": "User Sheena Nelson changed from 16505551234 to 12195555358",
            "wa_id": "12195555358",
            "type": "user_changed_number",
        },
    }
    item = only(messages_body(messages=[raw], contacts=None))
    assert item.message_type == "system"
    assert item.content["type"] == "user_changed_number"
    assert item.profile_name is None


def test_an_unsupported_message_keeps_what_was_unsupported_and_its_errors():
    errors = [
        {
            "code": 131051,
            "title": "Message type unknown",
            "message": "Message type unknown",
            "error_data": {"details": "Message type is currently not supported."},
        }
    ]
    raw = {
        "from": "16505551234",
        "id": "wamid.u",
        "timestamp": "1750090702",
        "type": "unsupported",
        "errors": errors,
        "unsupported": {"type": "poll_update"},
    }
    item = only(messages_body(messages=[raw]))
    assert item.content == {"unsupported": {"type": "poll_update"}}
    assert item.errors == errors


def test_a_forwarded_message_and_an_ad_referral_are_kept():
    referral = {
        "source_url": "https://fb.me/3cr4Wqqkv",
        "source_id": "120226305854810726",
        "source_type": "ad",
        "headline": "Chat with us",
        "media_type": "image",
        "ctwa_clid": "Aff-n8ZT",
    }
    raw = {
        "context": {"forwarded": True},
        "referral": referral,
        "from": "16505551234",
        "id": "wamid.r",
        "timestamp": "1750275992",
        "type": "text",
        "text": {"body": "Can I get more info about this?"},
    }
    item = only(messages_body(messages=[raw]))
    assert item.context == {"forwarded": True}
    assert item.referral == referral


def test_a_username_only_sender_has_a_bsuid_and_no_phone():
    contact = {"profile": {"name": "Ann", "username": "@ann"}, "user_id": "GB.998877665544"}
    raw = {
        "from_user_id": "GB.998877665544",
        "id": "wamid.bsuid",
        "timestamp": "1775000000",
        "type": "text",
        "text": {"body": "hi"},
    }
    item = only(messages_body(messages=[raw], contacts=[contact]))
    assert item.from_phone is None
    assert item.from_user_id == "GB.998877665544"
    assert item.username == "@ann"
    assert item.profile_name == "Ann"


def test_each_sender_in_a_batch_is_matched_to_their_own_contact():
    contacts = [{"profile": {"name": "Ann"}, "wa_id": "441111111111"}, {"profile": {"name": "Bo"}, "user_id": "US.222"}]
    messages = [
        {"from_user_id": "US.222", "id": "wamid.2", "timestamp": "1", "type": "text", "text": {"body": "b"}},
        {"from": "441111111111", "id": "wamid.1", "timestamp": "1", "type": "text", "text": {"body": "a"}},
    ]
    items = webhook_items(messages_body(messages=messages, contacts=contacts))
    assert [(i.wamid, i.profile_name) for i in items] == [("wamid.2", "Bo"), ("wamid.1", "Ann")]


def test_a_batch_of_entries_changes_messages_and_statuses_is_flattened_in_order():
    first = messages_body(
        messages=[
            {"from": "16505551234", "id": "wamid.a", "timestamp": "1", "type": "text", "text": {"body": "1"}},
            {"from": "16505551234", "id": "wamid.b", "timestamp": "2", "type": "text", "text": {"body": "2"}},
        ]
    )
    second = messages_body(
        statuses=[
            {"id": "wamid.out1", "status": "sent", "timestamp": "3", "recipient_id": "16505551234"},
            {"id": "wamid.out1", "status": "delivered", "timestamp": "4", "recipient_id": "16505551234"},
        ],
        waba_id="999",
    )
    template = field_body(
        "message_template_status_update",
        {
            "event": "APPROVED",
            "message_template_id": 1,
            "message_template_name": "hello",
            "message_template_language": "en",
            "reason": "NONE",
        },
    )
    entry = first["entry"][0]
    entry["changes"].append(second["entry"][0]["changes"][0])
    body = {"object": "whatsapp_business_account", "entry": [entry, second["entry"][0], template["entry"][0]]}
    items = webhook_items(body)
    assert [type(i).__name__ for i in items] == [
        "InboundMessage",
        "InboundMessage",
        "StatusUpdate",
        "StatusUpdate",
        "StatusUpdate",
        "StatusUpdate",
        "FieldEvent",
    ]
    assert [i.waba_id for i in items[4:6]] == ["999", "999"]


# --- statuses, value errors, preferences ---------------------------------------------------


def test_a_failed_status_carries_its_errors():
    errors = [
        {
            "code": 131049,
            "title": "This message was not delivered to maintain healthy ecosystem engagement.",
            "message": "...",
            "error_data": {"details": "In order to maintain a healthy ecosystem engagement."},
            "href": "/documentation/business-messaging/whatsapp/support/error-codes",
        }
    ]
    raw = {
        "id": "wamid.f",
        "status": "failed",
        "timestamp": "1751142888",
        "recipient_id": "16505551234",
        "errors": errors,
    }
    item = only(messages_body(statuses=[raw], contacts=None))
    assert isinstance(item, StatusUpdate)
    assert (item.status, item.recipient_phone, item.errors) == ("failed", "16505551234", errors)
    assert item.timestamp == datetime.fromtimestamp(1751142888, tz=UTC)


def test_a_sent_status_carries_pricing_conversation_and_callback_data():
    raw = {
        "id": "wamid.s",
        "status": "sent",
        "timestamp": "1750030073",
        "recipient_user_id": "US.1349",
        "biz_opaque_callback_data": "order-123",
        "conversation": {"id": "c1", "expiration_timestamp": "1750116473", "origin": {"type": "marketing"}},
        "pricing": {"billable": True, "pricing_model": "PMP", "type": "regular", "category": "marketing"},
    }
    item = only(messages_body(statuses=[raw]))
    assert item.recipient_phone is None
    assert item.recipient_user_id == "US.1349"
    assert item.biz_opaque_callback_data == "order-123"
    assert item.pricing["category"] == "marketing"
    assert item.conversation["origin"] == {"type": "marketing"}


def test_value_level_errors_become_one_value_errors_item():
    errors = [
        {
            "code": 131000,
            "title": "Something went wrong",
            "message": "Something went wrong",
            "error_data": {"details": "Unsupported webhook payload"},
        }
    ]
    item = only(messages_body(errors=errors, contacts=None))
    assert isinstance(item, ValueErrors)
    assert (item.phone_number_id, item.errors) == (PHONE_NUMBER_ID, errors)


def test_a_marketing_preference_change_is_parsed():
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
        "user_preferences": [
            {
                "wa_id": "16505551234",
                "detail": "User requested to stop marketing messages",
                "category": "marketing_messages",
                "value": "stop",
                "timestamp": 1731705721,
            }
        ],
    }
    item = only(field_body("user_preferences", value))
    assert isinstance(item, UserPreference)
    assert (item.wa_id, item.category, item.value) == ("16505551234", "marketing_messages", "stop")
    assert item.timestamp == datetime.fromtimestamp(1731705721, tz=UTC)


# --- other fields of §4 ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, value",
    [
        (
            "message_template_status_update",
            {
                "event": "REJECTED",
                "message_template_id": 1689556908129835,
                "message_template_name": "abandoned_cart",
                "message_template_language": "en",
                "reason": "INVALID_FORMAT",
            },
        ),
        (
            "template_category_update",
            {
                "message_template_id": 278077987957091,
                "message_template_name": "welcome_template",
                "message_template_language": "en-US",
                "previous_category": "UTILITY",
                "new_category": "MARKETING",
            },
        ),
        (
            "message_template_quality_update",
            {
                "previous_quality_score": "GREEN",
                "new_quality_score": "YELLOW",
                "message_template_id": 806312974732579,
                "message_template_name": "welcome_template",
                "message_template_language": "en_US",
            },
        ),
        (
            "phone_number_quality_update",
            {
                "display_phone_number": "15550783881",
                "event": "THROUGHPUT_UPGRADE",
                "max_daily_conversations_per_business": "TIER_2K",
            },
        ),
        (
            "account_update",
            {
                "event": "PARTNER_APP_INSTALLED",
                "waba_info": {"waba_id": "1191624265890717", "owner_business_id": "2329417887457253"},
            },
        ),
    ],
)
def test_other_fields_become_field_events_with_their_value(field, value):
    item = only(field_body(field, value, time=1745337174))
    assert item == FieldEvent(
        field=field, waba_id=WABA_ID, time=datetime.fromtimestamp(1745337174, tz=UTC), value=value
    )


# --- shapes we do not know --------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [[], "text", None, {}, {"object": "whatsapp_business_account", "entry": "x"}, {"object": "page", "entry": []}],
)
def test_a_body_without_an_entry_list_gives_a_single_unknown_item(body):
    item = only(body)
    assert isinstance(item, UnknownItem)
    assert item.raw == body


def test_an_empty_entry_list_gives_nothing():
    assert webhook_items({"object": "whatsapp_business_account", "entry": []}) == []


def test_malformed_parts_become_unknown_items_without_losing_the_good_ones():
    good = {"from": "16505551234", "id": "wamid.ok", "timestamp": "1", "type": "text", "text": {"body": "fine"}}
    body = messages_body(messages=[good, "junk", {"type": "text"}], statuses=[{"status": "sent"}])
    body["entry"].append("not an entry")
    body["entry"].append(
        {
            "id": WABA_ID,
            "changes": [
                {"value": {}},
                {"field": "messages", "value": None},
                {"field": "messages", "value": {"metadata": {}}},
            ],
        }
    )
    items = webhook_items(body)
    assert isinstance(items[0], InboundMessage)
    assert all(isinstance(i, UnknownItem) for i in items[1:])
    assert len(items) == 8
    assert items[1].raw == "junk"


def test_a_garbage_timestamp_gives_no_time_rather_than_an_error():
    raw = {"from": "1", "id": "wamid.t", "timestamp": "yesterday", "type": "text", "text": {"body": "x"}}
    assert only(messages_body(messages=[raw])).timestamp is None


# --- status ordering -------------------------------------------------------------------------


def test_statuses_only_move_forward_and_failed_is_terminal():
    order = ["sent", "delivered", "read", "played", "failed"]
    assert [status_rank(s) for s in order] == sorted(status_rank(s) for s in order)
    assert status_rank("failed") == 100
    assert status_rank("deleted") == 0
    assert status_rank(None) == 0
