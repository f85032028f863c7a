import copy

import pytest

from channels_app.whatsapp.payloads import (
    MEDIA_RULES,
    PayloadInvalid,
    buttons_content,
    cta_url_content,
    list_content,
    location_content,
    mark_read_payload,
    media_check,
    media_content,
    message_payload,
    reaction_content,
    template_content,
    text_content,
)

CUSTOMER = "+16505551234"
BSUID = "US.13491208655302741918"


def send(message_type, content, **kw):
    if "recipient" not in kw:
        kw.setdefault("to", CUSTOMER)
    return message_payload(message_type=message_type, content=content, **kw)


def invalid(message_type, content, **kw) -> PayloadInvalid:
    with pytest.raises(PayloadInvalid) as caught:
        send(message_type, content, **kw)
    return caught.value


def buttons(*titles, body="Pick one"):
    return {
        "type": "button",
        "body": {"text": body},
        "action": {"buttons": [{"type": "reply", "reply": {"id": f"b{i}", "title": t}} for i, t in enumerate(titles)]},
    }


def a_list(rows_per_section=(1,), *, button="Options", body="Which one?", section_titles=True):
    sections = []
    n = 0
    for s, count in enumerate(rows_per_section):
        rows = []
        for _ in range(count):
            rows.append({"id": f"row{n}", "title": f"Row {n}"})
            n += 1
        section = {"rows": rows}
        if section_titles:
            section["title"] = f"Section {s}"
        sections.append(section)
    return {"type": "list", "body": {"text": body}, "action": {"button": button, "sections": sections}}


def cta(display_text="See dates", url="https://www.luckyshrub.com/dates", body="Tap below"):
    return {
        "type": "cta_url",
        "body": {"text": body},
        "action": {"name": "cta_url", "parameters": {"display_text": display_text, "url": url}},
    }


# --- the envelope ---------------------------------------------------------------------------


def test_a_text_message_is_wrapped_in_the_full_request_body():
    body = send("text", {"body": "Hello", "preview_url": False})
    assert body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+16505551234",
        "type": "text",
        "text": {"body": "Hello", "preview_url": False},
    }


def test_a_reply_and_callback_data_are_added_when_given():
    body = send("text", {"body": "Yes"}, reply_to_wamid="wamid.HBgabc", biz_opaque_callback_data="order-123")
    assert body["context"] == {"message_id": "wamid.HBgabc"}
    assert body["biz_opaque_callback_data"] == "order-123"


def test_the_payload_is_a_copy_so_later_edits_to_content_do_not_leak_in():
    content = {"body": "Hello"}
    body = send("text", content)
    content["body"] = "changed"
    assert body["text"]["body"] == "Hello"


@pytest.mark.parametrize(
    "raw, normalised",
    [
        ("+44 20 7946 0000", "+442079460000"),
        ("+1 (650) 555-1234", "+16505551234"),
        ("16505551234", "+16505551234"),
        ("0044 20 7946 0000", "+442079460000"),
    ],
)
def test_phone_numbers_are_normalised_to_plus_and_digits(raw, normalised):
    assert send("text", {"body": "hi"}, to=raw)["to"] == normalised


@pytest.mark.parametrize("raw", ["+1 650 CALL NOW", "", "12345", "+1234567890123456", "+44+20", "0207946000"])
def test_a_phone_number_with_letters_or_the_wrong_length_is_refused(raw):
    error = invalid("text", {"body": "hi"}, to=raw)
    assert error.field == "to"


def test_a_business_scoped_user_id_is_sent_as_recipient():
    body = message_payload(message_type="text", content={"body": "hi"}, recipient=BSUID)
    assert body["recipient"] == BSUID
    assert "to" not in body


@pytest.mark.parametrize("raw", ["13491208655302741918", "us.1349", "US.ENT.118", "US." + "1" * 129, "USA.123"])
def test_a_malformed_bsuid_is_refused(raw):
    with pytest.raises(PayloadInvalid) as caught:
        message_payload(message_type="text", content={"body": "hi"}, recipient=raw)
    assert caught.value.field == "recipient"


def test_exactly_one_of_to_or_recipient_is_required():
    with pytest.raises(PayloadInvalid):
        message_payload(message_type="text", content={"body": "hi"})
    with pytest.raises(PayloadInvalid):
        message_payload(message_type="text", content={"body": "hi"}, to=CUSTOMER, recipient=BSUID)


def test_an_unknown_message_type_is_refused():
    assert invalid("poll", {"question": "?"}).field == "type"


def test_a_reaction_cannot_be_sent_as_a_reply():
    error = invalid("reaction", {"message_id": "wamid.x", "emoji": "👍"}, reply_to_wamid="wamid.y")
    assert error.field == "context.message_id"


def test_callback_data_over_512_characters_is_refused():
    error = invalid("text", {"body": "hi"}, biz_opaque_callback_data="x" * 513)
    assert error.limit == 512


# --- valid payloads for every type ------------------------------------------------------------


@pytest.mark.parametrize(
    "message_type, content",
    [
        ("text", {"preview_url": True, "body": "Here's the link: https://www.meta.com/quest/quest-3/"}),
        ("image", {"id": "1479537139650973", "caption": "The best succulent ever?"}),
        ("image", {"link": "https://example.com/a.jpg"}),
        ("video", {"link": "https://example.com/a.mp4", "caption": "A succulent eclipse!"}),
        ("audio", {"id": "1013859600285441", "voice": True}),
        ("document", {"id": "1376223850470843", "filename": "order_abc123.pdf", "caption": "Your order (PDF)"}),
        ("sticker", {"id": "798882015472548"}),
        (
            "location",
            {
                "latitude": "37.44216251868683",
                "longitude": "-122.16153582049394",
                "name": "Philz Coffee",
                "address": "101 Forest Ave, Palo Alto, CA 94301",
            },
        ),
        ("location", {"latitude": -90, "longitude": 180.0}),
        (
            "contacts",
            [
                {
                    "name": {"formatted_name": "John Smith", "first_name": "John"},
                    "phones": [{"phone": "+1 (650) 555-1234", "type": "WORK", "wa_id": "16505551234"}],
                    "birthday": "1990-04-01",
                }
            ],
        ),
        (
            "interactive",
            {
                "type": "button",
                "header": {"type": "image", "image": {"id": "2762702990552401"}},
                "body": {"text": "Hi Pablo! Your workshop is at 9am tomorrow."},
                "footer": {"text": "Lucky Shrub"},
                "action": {
                    "buttons": [
                        {"type": "reply", "reply": {"id": "change-button", "title": "Change"}},
                        {"type": "reply", "reply": {"id": "cancel-button", "title": "Cancel"}},
                    ]
                },
            },
        ),
        (
            "interactive",
            {
                "type": "list",
                "header": {"type": "text", "text": "Choose Shipping Option"},
                "body": {"text": "Which shipping option do you prefer?"},
                "footer": {"text": "Lucky Shrub"},
                "action": {
                    "button": "Shipping Options",
                    "sections": [
                        {
                            "title": "I want it ASAP!",
                            "rows": [
                                {
                                    "id": "priority_express",
                                    "title": "Priority Mail Express",
                                    "description": "Next Day to 2 Days",
                                }
                            ],
                        }
                    ],
                },
            },
        ),
        (
            "interactive",
            {
                "type": "cta_url",
                "header": {"type": "image", "image": {"link": "https://www.luckyshrub.com/banner.png"}},
                "body": {"text": "Tap the button below to see available dates."},
                "action": {
                    "name": "cta_url",
                    "parameters": {
                        "display_text": "See Dates",
                        "url": "https://www.luckyshrub.com?clickID=kqDGWd24Q5TRwoEQ",
                    },
                },
                "footer": {"text": "Dates subject to change."},
            },
        ),
        (
            "template",
            {
                "name": "order_confirmation",
                "language": {"code": "en_US"},
                "components": [
                    {
                        "type": "header",
                        "parameters": [{"type": "image", "image": {"link": "https://example.com/h.jpg"}}],
                    },
                    {
                        "type": "body",
                        "parameters": [
                            {"type": "text", "text": "Jessica"},
                            {
                                "type": "currency",
                                "currency": {"fallback_value": "$100.99", "code": "USD", "amount_1000": 100990},
                            },
                            {"type": "date_time", "date_time": {"fallback_value": "February 25, 1977"}},
                        ],
                    },
                    {
                        "type": "button",
                        "sub_type": "quick_reply",
                        "index": "0",
                        "parameters": [{"type": "payload", "payload": "ORDER_DETAILS_CLICKED"}],
                    },
                    {
                        "type": "button",
                        "sub_type": "url",
                        "index": "1",
                        "parameters": [{"type": "text", "text": "product-details-123"}],
                    },
                ],
            },
        ),
        (
            "template",
            {
                "name": "welcome",
                "language": {"code": "en", "policy": "deterministic"},
                "components": [
                    {"type": "body", "parameters": [{"type": "text", "parameter_name": "first_name", "text": "Pablo"}]}
                ],
            },
        ),
        ("reaction", {"message_id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA", "emoji": "😀"}),
        ("reaction", {"message_id": "wamid.HBgL", "emoji": ""}),
    ],
)
def test_every_message_type_has_a_valid_payload(message_type, content):
    body = send(message_type, copy.deepcopy(content))
    assert body["type"] == message_type
    assert body[message_type] == content


# --- limits of §5.15, one case each -----------------------------------------------------------


def body_text_list(text):
    content = a_list()
    content["body"]["text"] = text
    return content


LIMITS = [
    # (name, message_type, content, field, limit)
    ("text body", "text", {"body": "x" * 4097}, "text.body", 4096),
    ("image caption", "image", {"id": "1", "caption": "x" * 1025}, "image.caption", 1024),
    ("video caption", "video", {"id": "1", "caption": "x" * 1025}, "video.caption", 1024),
    ("document caption", "document", {"id": "1", "caption": "x" * 1025}, "document.caption", 1024),
    ("button body", "interactive", buttons("Yes", body="x" * 1025), "interactive.body.text", 1024),
    ("cta body", "interactive", cta(body="x" * 1025), "interactive.body.text", 1024),
    ("list body", "interactive", body_text_list("x" * 1025), "interactive.body.text", 1024),
    (
        "header text",
        "interactive",
        buttons("Yes") | {"header": {"type": "text", "text": "x" * 61}},
        "interactive.header.text",
        60,
    ),
    ("footer text", "interactive", buttons("Yes") | {"footer": {"text": "x" * 61}}, "interactive.footer.text", 60),
    ("reply buttons count", "interactive", buttons("A", "B", "C", "D"), "interactive.action.buttons", 3),
    (
        "button id",
        "interactive",
        {
            "type": "button",
            "body": {"text": "b"},
            "action": {"buttons": [{"type": "reply", "reply": {"id": "i" * 257, "title": "Yes"}}]},
        },
        "interactive.action.buttons[0].reply.id",
        256,
    ),
    (
        "button title",
        "interactive",
        buttons("Yes", "Check my order status"),
        "interactive.action.buttons[1].reply.title",
        20,
    ),
    ("list button label", "interactive", a_list(button="x" * 21), "interactive.action.button", 20),
    ("list sections", "interactive", a_list((1,) * 11), "interactive.action.sections", 10),
    ("list rows in total", "interactive", a_list((5, 6)), "interactive.action.sections[1].rows", 10),
    (
        "row id",
        "interactive",
        {
            "type": "list",
            "body": {"text": "b"},
            "action": {"button": "Go", "sections": [{"title": "S", "rows": [{"id": "r" * 201, "title": "Row"}]}]},
        },
        "interactive.action.sections[0].rows[0].id",
        200,
    ),
    (
        "row title",
        "interactive",
        {
            "type": "list",
            "body": {"text": "b"},
            "action": {"button": "Go", "sections": [{"title": "S", "rows": [{"id": "r", "title": "t" * 25}]}]},
        },
        "interactive.action.sections[0].rows[0].title",
        24,
    ),
    (
        "row description",
        "interactive",
        {
            "type": "list",
            "body": {"text": "b"},
            "action": {
                "button": "Go",
                "sections": [{"title": "S", "rows": [{"id": "r", "title": "Row", "description": "d" * 73}]}],
            },
        },
        "interactive.action.sections[0].rows[0].description",
        72,
    ),
    (
        "section title",
        "interactive",
        {
            "type": "list",
            "body": {"text": "b"},
            "action": {"button": "Go", "sections": [{"title": "s" * 25, "rows": [{"id": "r", "title": "Row"}]}]},
        },
        "interactive.action.sections[0].title",
        24,
    ),
    ("cta display text", "interactive", cta(display_text="x" * 21), "interactive.action.parameters.display_text", 20),
    ("contacts count", "contacts", [{"name": {"formatted_name": f"P{i}"}} for i in range(6)], "contacts", 5),
    ("template name length", "template", {"name": "t" * 513, "language": {"code": "en"}}, "template.name", 512),
]


@pytest.mark.parametrize("name, message_type, content, field, limit", LIMITS, ids=[row[0] for row in LIMITS])
def test_each_limit_is_enforced_and_named(name, message_type, content, field, limit):
    error = invalid(message_type, content)
    assert error.field == field
    assert error.limit == limit
    assert str(limit) in str(error)


@pytest.mark.parametrize("name, message_type, content, field, limit", LIMITS, ids=[row[0] for row in LIMITS])
def test_each_limit_is_inclusive(name, message_type, content, field, limit):
    """One character (or item) fewer than the failing case is accepted."""
    content = copy.deepcopy(content)
    fixes = {
        "text body": lambda c: c.update(body="x" * 4096),
        "image caption": lambda c: c.update(caption="x" * 1024),
        "video caption": lambda c: c.update(caption="x" * 1024),
        "document caption": lambda c: c.update(caption="x" * 1024),
        "button body": lambda c: c["body"].update(text="x" * 1024),
        "cta body": lambda c: c["body"].update(text="x" * 1024),
        "list body": lambda c: c["body"].update(text="x" * 1024),
        "header text": lambda c: c["header"].update(text="x" * 60),
        "footer text": lambda c: c["footer"].update(text="x" * 60),
        "reply buttons count": lambda c: c["action"]["buttons"].pop(),
        "button id": lambda c: c["action"]["buttons"][0]["reply"].update(id="i" * 256),
        "button title": lambda c: c["action"]["buttons"][1]["reply"].update(title="Check my order statu"),
        "list button label": lambda c: c["action"].update(button="x" * 20),
        "list sections": lambda c: c["action"]["sections"].pop(),
        "list rows in total": lambda c: c["action"]["sections"][1]["rows"].pop(),
        "row id": lambda c: c["action"]["sections"][0]["rows"][0].update(id="r" * 200),
        "row title": lambda c: c["action"]["sections"][0]["rows"][0].update(title="t" * 24),
        "row description": lambda c: c["action"]["sections"][0]["rows"][0].update(description="d" * 72),
        "section title": lambda c: c["action"]["sections"][0].update(title="s" * 24),
        "cta display text": lambda c: c["action"]["parameters"].update(display_text="x" * 20),
        "contacts count": lambda c: c.pop(),
        "template name length": lambda c: c.update(name="t" * 512),
    }
    fixes[name](content)
    send(message_type, content)


def test_a_button_title_over_20_characters_names_the_field_and_the_limit():
    error = invalid("interactive", buttons("Yes", "Check my order status"))
    assert error.field == "interactive.action.buttons[1].reply.title"
    assert error.limit == 20
    assert error.value == "Check my order status"
    assert error.code == 100
    assert str(error).startswith("button title 'Check my order status' is 21 characters; WhatsApp allows 20")


# --- other rules of §5 ------------------------------------------------------------------------


def test_a_missing_text_body_gets_the_missing_parameter_code():
    error = invalid("text", {"preview_url": True})
    assert (error.field, error.code) == ("text.body", 131008)


def test_a_misspelled_field_is_refused_rather_than_silently_dropped():
    error = invalid("image", {"id": "1", "captoin": "hi"})
    assert error.field == "image.captoin"


def test_button_titles_must_be_unique_within_a_message():
    error = invalid("interactive", buttons("Yes", "yes"))
    assert error.field == "interactive.action.buttons[1].reply.title"


def test_button_ids_may_not_start_or_end_with_a_space():
    content = buttons("Yes")
    content["action"]["buttons"][0]["reply"]["id"] = " yes"
    assert invalid("interactive", content).field == "interactive.action.buttons[0].reply.id"


def test_a_message_needs_at_least_one_button():
    assert invalid("interactive", buttons()).field == "interactive.action.buttons"


def test_section_titles_are_required_when_a_list_has_more_than_one_section():
    assert invalid("interactive", a_list((1, 1), section_titles=False)).field == "interactive.action.sections[0].title"
    send("interactive", a_list((1,), section_titles=False))


def test_row_titles_must_be_unique_across_sections():
    content = a_list((1, 1))
    content["action"]["sections"][1]["rows"][0]["title"] = "Row 0"
    assert invalid("interactive", content).field == "interactive.action.sections[1].rows[0].title"


def test_a_list_header_can_only_be_text():
    content = a_list() | {"header": {"type": "image", "image": {"id": "1"}}}
    assert invalid("interactive", content).field == "interactive.header.type"


def test_a_cta_url_must_be_http_or_https():
    assert invalid("interactive", cta(url="javascript:alert(1)")).field == "interactive.action.parameters.url"


def test_an_unsupported_interactive_type_is_refused():
    assert invalid("interactive", {"type": "flow", "body": {"text": "x"}}).field == "interactive.type"


@pytest.mark.parametrize(
    "content, field",
    [
        ({"id": "1", "link": "https://example.com/a.jpg"}, "image.id"),
        ({}, "image.id"),
        ({"link": "ftp://example.com/a.jpg"}, "image.link"),
        ({"link": "example.com/a.jpg"}, "image.link"),
        ({"id": "1", "filename": "a.jpg"}, "image.filename"),
        ({"id": "1", "voice": True}, "image.voice"),
    ],
)
def test_media_needs_exactly_one_http_source_and_only_its_own_fields(content, field):
    assert invalid("image", content).field == field


def test_audio_and_stickers_take_no_caption():
    assert invalid("audio", {"id": "1", "caption": "hi"}).field == "audio.caption"
    assert invalid("sticker", {"id": "1", "caption": "hi"}).field == "sticker.caption"


@pytest.mark.parametrize(
    "content, field",
    [
        ({"latitude": 91, "longitude": 0}, "location.latitude"),
        ({"latitude": 0, "longitude": -180.5}, "location.longitude"),
        ({"latitude": "north", "longitude": 0}, "location.latitude"),
        ({"latitude": True, "longitude": 0}, "location.latitude"),
        ({"latitude": float("nan"), "longitude": 0}, "location.latitude"),
        ({"longitude": 0}, "location.latitude"),
    ],
)
def test_location_coordinates_must_be_numbers_in_range(content, field):
    assert invalid("location", content).field == field


def test_contacts_content_may_be_stored_as_an_object_holding_the_list():
    cards = [{"name": {"formatted_name": "John Smith"}}]
    assert send("contacts", {"contacts": cards})["contacts"] == cards


def test_every_contact_needs_a_formatted_name():
    error = invalid("contacts", [{"name": {"first_name": "John"}}])
    assert error.field == "contacts[0].name.formatted_name"
    assert invalid("contacts", []).field == "contacts"


@pytest.mark.parametrize(
    "content, field",
    [
        ({"name": "Order_Confirmation", "language": {"code": "en"}}, "template.name"),
        ({"name": "order confirmation", "language": {"code": "en"}}, "template.name"),
        ({"name": "order"}, "template.language.code"),
        ({"name": "order", "language": {}}, "template.language.code"),
        (
            {"name": "order", "language": {"code": "en"}, "components": [{"type": "footer"}]},
            "template.components[0].type",
        ),
        (
            {
                "name": "order",
                "language": {"code": "en"},
                "components": [{"type": "button", "index": "0", "parameters": []}],
            },
            "template.components[0].sub_type",
        ),
        (
            {
                "name": "order",
                "language": {"code": "en"},
                "components": [{"type": "button", "sub_type": "url", "parameters": []}],
            },
            "template.components[0].index",
        ),
        (
            {
                "name": "order",
                "language": {"code": "en"},
                "components": [{"type": "body", "parameters": [{"type": "image", "image": {"id": "1"}}]}],
            },
            "template.components[0].parameters[0].type",
        ),
        (
            {
                "name": "order",
                "language": {"code": "en"},
                "components": [
                    {
                        "type": "header",
                        "parameters": [{"type": "image", "image": {"id": "1", "caption": "no captions on templates"}}],
                    }
                ],
            },
            "template.components[0].parameters[0].image.caption",
        ),
    ],
)
def test_templates_need_a_valid_name_a_language_and_well_formed_components(content, field):
    assert invalid("template", content).field == field


def test_a_reaction_needs_the_message_it_reacts_to():
    assert invalid("reaction", {"emoji": "👍"}).field == "reaction.message_id"
    assert invalid("reaction", {"message_id": "wamid.x", "emoji": "thumbs up"}).field == "reaction.emoji"


# --- constructors ---------------------------------------------------------------------------


def test_constructors_build_contents_that_message_payload_accepts():
    contents = {
        "text": text_content("Hello", preview_url=True),
        "image": media_content("image", media_id="123", caption="Look"),
        "document": media_content("document", link="https://example.com/a.pdf", filename="a.pdf"),
        "audio": media_content("audio", media_id="9", voice=True),
        "location": location_content(51.5, -0.12, name="Office"),
        "reaction": reaction_content("wamid.x", "👍"),
        "template": template_content(
            "order_update", "en_US", [{"type": "body", "parameters": [{"type": "text", "text": "Ann"}]}]
        ),
    }
    for message_type, content in contents.items():
        assert send(message_type, content)[message_type] == content
    assert contents["text"] == {"body": "Hello", "preview_url": True}
    assert contents["template"]["language"] == {"code": "en_US"}


def test_buttons_content_builds_meta_reply_buttons():
    content = buttons_content("Confirm?", [("yes", "Yes"), ("no", "No")], header_text="Booking", footer="Thanks")
    assert content == {
        "type": "button",
        "body": {"text": "Confirm?"},
        "action": {
            "buttons": [
                {"type": "reply", "reply": {"id": "yes", "title": "Yes"}},
                {"type": "reply", "reply": {"id": "no", "title": "No"}},
            ]
        },
        "header": {"type": "text", "text": "Booking"},
        "footer": {"text": "Thanks"},
    }


def test_list_content_builds_sections_and_omits_missing_descriptions():
    rows = [("express", "Express", "Next day"), ("std", "Standard", None)]
    content = list_content("Pick", "Options", [("Fast", rows)])
    assert content["action"]["sections"][0]["rows"] == [
        {"id": "express", "title": "Express", "description": "Next day"},
        {"id": "std", "title": "Standard"},
    ]
    assert content["action"]["button"] == "Options"


def test_cta_url_content_builds_the_cta_action():
    content = cta_url_content("See dates", "Open", "https://example.com")
    assert content["action"] == {
        "name": "cta_url",
        "parameters": {"display_text": "Open", "url": "https://example.com"},
    }


def test_constructors_refuse_bad_input_where_it_is_written():
    with pytest.raises(PayloadInvalid):
        buttons_content("Pick", [("a", "Check my order status")])
    with pytest.raises(PayloadInvalid):
        media_content("image", media_id="1", link="https://example.com/a.jpg")
    with pytest.raises(PayloadInvalid):
        media_content("gif", media_id="1")


def test_mark_read_payload_optionally_shows_typing():
    assert mark_read_payload("wamid.x") == {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.x"}
    assert mark_read_payload("wamid.x", typing=True)["typing_indicator"] == {"type": "text"}


# --- media rules (§6) -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, mime_type, size",
    [
        ("image", "image/jpeg", 5_000_000),
        ("image", "image/png", 1),
        ("audio", "audio/ogg; codecs=opus", 1000),
        ("audio", "audio/mpeg", 16_000_000),
        ("video", "video/mp4", 1000),
        ("document", "application/pdf", 100_000_000),
        ("document", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", 1000),
        ("sticker", "image/webp", 100_000),
    ],
)
def test_accepted_media_passes(kind, mime_type, size):
    media_check(kind, mime_type, size)


def test_an_animated_sticker_may_be_up_to_500_kb():
    media_check("sticker", "image/webp", 500_000, animated=True)
    with pytest.raises(PayloadInvalid):
        media_check("sticker", "image/webp", 100_001)


@pytest.mark.parametrize(
    "kind, mime_type, size",
    [
        ("image", "image/gif", 10),
        ("image", "image/webp", 10),
        ("image", "image/jpeg", 5_000_001),
        ("audio", "audio/ogg", 10),
        ("video", "video/quicktime", 10),
        ("document", "application/zip", 10),
        ("sticker", "image/webp", 500_001),
        ("image", "image/png", 0),
    ],
)
def test_unsupported_or_oversized_media_gets_131053_naming_the_accepted_formats(kind, mime_type, size):
    with pytest.raises(PayloadInvalid) as caught:
        media_check(kind, mime_type, size, animated=kind == "sticker")
    assert caught.value.code == 131053
    if size in (10,):
        assert MEDIA_RULES[kind].mime_types[0] in str(caught.value)
