"""Sending through `POST /<phone_number_id>/messages`: what is accepted, what Meta's codes refuse,
and the asynchronous failures (unknown recipient, closed window) that arrive as status webhooks."""

import io

import pytest

from cloudapi_emulator import clock, services
from cloudapi_emulator.models import Message, StatusEvent
from tests.emulator.conftest import error_of, outbox_payloads, outbox_statuses

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64 + b"\xff\xd9"


def upload(graph, number, content: bytes, mime: str, name: str = "file.bin") -> str:
    handle = io.BytesIO(content)
    handle.name = name
    response = graph.upload(
        f"{number.phone_number_id}/media", {"messaging_product": "whatsapp", "type": mime, "file": handle}
    )
    assert response.status_code == 200, response.content
    return response.json()["id"]


def test_a_text_message_is_accepted_with_a_fresh_wamid(graph, shop, sheena):
    first = graph.send(shop, {"to": "+16505551234", "type": "text", "text": {"body": "Hello"}})
    second = graph.send(shop, {"to": "+16505551234", "type": "text", "text": {"body": "Again"}})

    assert first.status_code == 200
    body = first.json()
    assert body["messaging_product"] == "whatsapp"
    assert body["contacts"] == [{"input": "+16505551234", "wa_id": "16505551234"}]
    assert body["messages"][0]["id"].startswith("wamid.")
    assert body["messages"][0]["id"] != second.json()["messages"][0]["id"]


@pytest.mark.parametrize(
    "message",
    [
        {"type": "text", "text": {"body": "Here's the link: https://example.com", "preview_url": True}},
        {"type": "image", "image": {"link": "https://example.com/a.jpg", "caption": "The best succulent?"}},
        {"type": "video", "video": {"link": "https://example.com/a.mp4", "caption": "An eclipse"}},
        {"type": "audio", "audio": {"link": "https://example.com/a.mp3"}},
        {"type": "document", "document": {"link": "http://example.com/a.pdf", "filename": "order.pdf"}},
        {"type": "sticker", "sticker": {"link": "https://example.com/s.webp"}},
        {
            "type": "location",
            "location": {"latitude": "37.44216", "longitude": "-122.16153", "name": "Philz", "address": "101 Forest"},
        },
        {
            "type": "contacts",
            "contacts": [
                {
                    "name": {"formatted_name": "John Smith", "first_name": "John"},
                    "phones": [{"phone": "+1 (650) 555-1234", "type": "WORK", "wa_id": "16505551234"}],
                }
            ],
        },
        {
            "type": "interactive",
            "interactive": {
                "type": "button",
                "header": {"type": "text", "text": "Workshop"},
                "body": {"text": "Your workshop is at 9am tomorrow."},
                "footer": {"text": "Lucky Shrub"},
                "action": {
                    "buttons": [
                        {"type": "reply", "reply": {"id": "change", "title": "Change"}},
                        {"type": "reply", "reply": {"id": "cancel", "title": "Cancel"}},
                    ]
                },
            },
        },
        {
            "type": "interactive",
            "interactive": {
                "type": "list",
                "header": {"type": "text", "text": "Choose Shipping Option"},
                "body": {"text": "Which shipping option do you prefer?"},
                "action": {
                    "button": "Shipping Options",
                    "sections": [
                        {
                            "title": "ASAP",
                            "rows": [
                                {"id": "priority_express", "title": "Priority Mail Express", "description": "Next Day"}
                            ],
                        }
                    ],
                },
            },
        },
        {
            "type": "interactive",
            "interactive": {
                "type": "cta_url",
                "header": {"type": "image", "image": {"link": "https://example.com/banner.png"}},
                "body": {"text": "Tap the button below to see available dates."},
                "action": {"name": "cta_url", "parameters": {"display_text": "See Dates", "url": "https://x.test"}},
            },
        },
        {"type": "text", "text": {"body": "Quoting you"}, "context": {"message_id": "wamid.quoted"}},
        {"type": "text", "text": {"body": "Tracked"}, "biz_opaque_callback_data": "order-123"},
    ],
    ids=[
        "text",
        "image",
        "video",
        "audio",
        "document",
        "sticker",
        "location",
        "contacts",
        "reply-buttons",
        "list",
        "cta-url",
        "contextual-reply",
        "biz-opaque-callback-data",
    ],
)
def test_each_message_type_is_accepted_and_recorded_as_sent(graph, shop, sheena, message):
    response = graph.send(shop, {"to": "+16505551234", **message})

    assert response.status_code == 200, response.content
    assert services.requests_received(shop.phone_number_id)[-1]["type"] == message["type"]


def test_a_reaction_is_accepted_and_only_gets_sent(graph, shop, sheena):
    inbound = Message.objects.get(customer=sheena, direction="inbound")

    response = graph.send(
        shop,
        {"to": "16505551234", "type": "reaction", "reaction": {"message_id": inbound.wamid, "emoji": "\U0001f600"}},
    )

    assert response.status_code == 200
    assert [s["status"] for s in outbox_statuses(shop)] == ["sent"]


def test_uploaded_media_can_be_sent_by_id_including_a_voice_note(graph, shop, sheena):
    image_id = upload(graph, shop, JPEG, "image/jpeg", "a.jpg")
    voice_id = upload(graph, shop, b"OggS" + b"\x00" * 100, "audio/ogg", "v.ogg")

    image = graph.send(shop, {"to": "+16505551234", "type": "image", "image": {"id": image_id}})
    voice = graph.send(shop, {"to": "+16505551234", "type": "audio", "audio": {"id": voice_id, "voice": True}})

    assert image.status_code == 200
    assert voice.status_code == 200


def test_media_sent_by_id_must_match_the_message_type(graph, shop, sheena):
    image_id = upload(graph, shop, JPEG, "image/jpeg", "a.jpg")

    response = graph.send(shop, {"to": "+16505551234", "type": "video", "video": {"id": image_id}})

    assert response.status_code == 400
    assert error_of(response)["code"] == 131053


def test_an_unknown_media_id_is_a_media_error(graph, shop, sheena):
    response = graph.send(shop, {"to": "+16505551234", "type": "image", "image": {"id": "404404404"}})

    assert error_of(response)["code"] == 131053


def test_a_voice_note_must_be_ogg(graph, shop, sheena):
    mp3_id = upload(graph, shop, b"ID3" + b"\x00" * 50, "audio/mpeg", "a.mp3")

    response = graph.send(shop, {"to": "+16505551234", "type": "audio", "audio": {"id": mp3_id, "voice": True}})

    assert error_of(response)["code"] == 131053


def test_a_template_is_accepted_with_the_right_parameters(graph, shop, sheena):
    services.template_add(
        waba_id=shop.waba_id,
        name="order_confirmation",
        components=[
            {"type": "HEADER", "format": "IMAGE"},
            {"type": "BODY", "text": "Thank you {{1}}! Your order {{2}} is confirmed."},
            {
                "type": "BUTTONS",
                "buttons": [
                    {"type": "QUICK_REPLY", "text": "Details"},
                    {"type": "URL", "text": "Track", "url": "https://x.test/{{1}}"},
                ],
            },
        ],
    )
    response = graph.send(
        shop,
        {
            "to": "+16505551234",
            "type": "template",
            "template": {
                "name": "order_confirmation",
                "language": {"code": "en_US"},
                "components": [
                    {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://x.test/h.jpg"}}]},
                    {
                        "type": "body",
                        "parameters": [
                            {"type": "text", "text": "Jessica"},
                            {
                                "type": "currency",
                                "currency": {"fallback_value": "$100.99", "code": "USD", "amount_1000": 100990},
                            },
                        ],
                    },
                    {
                        "type": "button",
                        "sub_type": "quick_reply",
                        "index": "0",
                        "parameters": [{"type": "payload", "payload": "DETAILS"}],
                    },
                    {
                        "type": "button",
                        "sub_type": "url",
                        "index": "1",
                        "parameters": [{"type": "text", "text": "abc"}],
                    },
                ],
            },
        },
    )

    assert response.status_code == 200, response.content


def test_a_template_with_named_parameters_takes_them_in_any_order(graph, shop, sheena):
    services.template_add(
        waba_id=shop.waba_id,
        name="named_hello",
        parameter_format="named",
        components=[{"type": "BODY", "text": "Hi {{first_name}}, order {{order_number}} ships today."}],
    )
    response = graph.send(
        shop,
        {
            "to": "+16505551234",
            "type": "template",
            "template": {
                "name": "named_hello",
                "language": {"code": "en_US"},
                "components": [
                    {
                        "type": "body",
                        "parameters": [
                            {"type": "text", "parameter_name": "order_number", "text": "860198"},
                            {"type": "text", "parameter_name": "first_name", "text": "Pablo"},
                        ],
                    }
                ],
            },
        },
    )

    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    ("template", "code"),
    [
        ({"name": "no_such_template", "language": {"code": "en_US"}}, 132001),
        ({"name": "greeting", "language": {"code": "pt_BR"}}, 132001),
        ({"name": "pending_one", "language": {"code": "en_US"}}, 132001),
        ({"name": "greeting", "language": {"code": "en_US"}}, 132000),
        (
            {
                "name": "greeting",
                "language": {"code": "en_US"},
                "components": [
                    {"type": "body", "parameters": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
                ],
            },
            132000,
        ),
        (
            {
                "name": "greeting",
                "language": {"code": "en_US"},
                "components": [
                    {"type": "body", "parameters": [{"type": "text", "text": "a", "parameter_name": "first_name"}]}
                ],
            },
            132012,
        ),
        (
            {
                "name": "named_greeting",
                "language": {"code": "en_US"},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": "a"}]}],
            },
            132012,
        ),
    ],
    ids=[
        "unknown-name",
        "unknown-language",
        "not-approved",
        "missing-parameter",
        "too-many-parameters",
        "named-parameter-for-a-positional-template",
        "positional-parameter-for-a-named-template",
    ],
)
def test_template_mistakes_get_metas_template_codes(graph, shop, sheena, template, code):
    services.template_add(
        waba_id=shop.waba_id, name="greeting", components=[{"type": "BODY", "text": "Hello {{1}}, welcome back."}]
    )
    services.template_add(
        waba_id=shop.waba_id,
        name="named_greeting",
        parameter_format="named",
        components=[{"type": "BODY", "text": "Hello {{first_name}}, welcome."}],
    )
    services.template_add(waba_id=shop.waba_id, name="pending_one", status="PENDING")

    response = graph.send(shop, {"to": "+16505551234", "type": "template", "template": template})

    assert response.status_code == 400
    assert error_of(response)["code"] == code


def test_a_message_to_a_bsuid_recipient_is_accepted_and_answered_with_the_user_id(graph, shop):
    ana = services.customer_get_or_create(number=shop, name="Ana", bsuid="US.13491208655302741918", username="@ana")
    services.customer_message_send(number=shop, customer=ana, message_type="text", content={"body": "hola"})

    response = graph.send(shop, {"recipient": "US.13491208655302741918", "type": "text", "text": {"body": "Hi"}})

    assert response.status_code == 200
    assert response.json()["contacts"] == [{"input": "US.13491208655302741918", "user_id": "US.13491208655302741918"}]
    sent = [s for s in outbox_statuses(shop) if s["status"] == "sent"][-1]
    assert sent["recipient_user_id"] == "US.13491208655302741918"
    assert "recipient_id" not in sent


def test_mark_as_read_and_the_typing_indicator_answer_success(graph, shop, sheena):
    inbound = Message.objects.get(customer=sheena, direction="inbound")

    read = graph.post(
        f"{shop.phone_number_id}/messages",
        {"messaging_product": "whatsapp", "status": "read", "message_id": inbound.wamid},
    )
    typing = graph.post(
        f"{shop.phone_number_id}/messages",
        {
            "messaging_product": "whatsapp",
            "status": "read",
            "message_id": inbound.wamid,
            "typing_indicator": {"type": "text"},
        },
    )

    assert read.json() == {"success": True}
    assert typing.json() == {"success": True}
    inbound.refresh_from_db()
    assert inbound.read_at is not None
    assert services.requests_received(shop.phone_number_id)[-1]["typing_indicator"] == {"type": "text"}


def test_every_accepted_body_is_recorded_exactly_as_it_arrived(graph, shop, sheena):
    body = {"to": "+16505551234", "type": "text", "text": {"body": "Olá, João ✓"}, "biz_opaque_callback_data": "x"}

    graph.send(shop, body)

    assert services.requests_received(shop.phone_number_id) == [
        {"messaging_product": "whatsapp", "recipient_type": "individual", **body}
    ]


def test_statuses_sent_delivered_read_are_queued_as_separate_webhooks(graph, shop, sheena):
    wamid = graph.send(
        shop, {"to": "+16505551234", "type": "text", "text": {"body": "Hi"}, "biz_opaque_callback_data": "order-123"}
    ).json()["messages"][0]["id"]

    statuses = [s for s in outbox_statuses(shop) if s["id"] == wamid]

    assert [s["status"] for s in statuses] == ["sent", "delivered", "read"]
    assert all(s["biz_opaque_callback_data"] == "order-123" for s in statuses)
    assert statuses[0]["pricing"]["type"] == "free_customer_service"
    assert "pricing" not in statuses[2]
    assert [e.status for e in StatusEvent.objects.filter(message__wamid=wamid)] == ["sent", "delivered", "read"]


# --- asynchronous failures ------------------------------------------------------------------


def test_an_unknown_recipient_is_accepted_then_fails_with_131026(graph, shop):
    response = graph.send(shop, {"to": "+19995550000", "type": "text", "text": {"body": "Hi stranger"}})

    assert response.status_code == 200
    wamid = response.json()["messages"][0]["id"]
    statuses = [s for s in outbox_statuses(shop) if s["id"] == wamid]
    assert [s["status"] for s in statuses] == ["failed"]
    assert statuses[0]["errors"][0]["code"] == 131026
    assert statuses[0]["recipient_id"] == "19995550000"


def test_a_free_form_message_to_a_customer_who_never_wrote_fails_with_131047(graph, shop):
    services.customer_get_or_create(number=shop, name="Quiet", phone="+16505550000")

    wamid = graph.send(shop, {"to": "+16505550000", "type": "text", "text": {"body": "Hi"}}).json()["messages"][0]["id"]

    failed = [s for s in outbox_statuses(shop) if s["id"] == wamid]
    assert [(s["status"], s["errors"][0]["code"]) for s in failed] == [("failed", 131047)]


def test_the_window_closes_24_hours_after_the_customers_last_message(graph, shop, sheena):
    clock.advance(24 * 3600 + 1)
    try:
        late = graph.send(shop, {"to": "+16505551234", "type": "text", "text": {"body": "Still there?"}})
        services.template_add(waba_id=shop.waba_id, name="follow_up")
        template = graph.send(
            shop,
            {
                "to": "+16505551234",
                "type": "template",
                "template": {"name": "follow_up", "language": {"code": "en_US"}},
            },
        )
    finally:
        clock.reset()

    late_statuses = [s for s in outbox_statuses(shop) if s["id"] == late.json()["messages"][0]["id"]]
    template_statuses = [s for s in outbox_statuses(shop) if s["id"] == template.json()["messages"][0]["id"]]
    assert late_statuses[0]["errors"][0]["code"] == 131047
    assert [s["status"] for s in template_statuses] == ["sent", "delivered", "read"]
    assert template_statuses[0]["pricing"]["type"] == "regular"


def test_a_new_customer_message_reopens_the_window(graph, shop, sheena):
    clock.advance(30 * 3600)
    try:
        services.customer_message_send(number=shop, customer=sheena, message_type="text", content={"body": "back"})
        wamid = graph.send(shop, {"to": "+16505551234", "type": "text", "text": {"body": "Welcome back"}}).json()[
            "messages"
        ][0]["id"]
    finally:
        clock.reset()

    assert [s["status"] for s in outbox_statuses(shop) if s["id"] == wamid] == ["sent", "delivered", "read"]


def test_business_messages_for_lists_what_the_customer_was_sent(graph, shop, sheena):
    graph.send(shop, {"to": "+16505551234", "type": "text", "text": {"body": "One"}})
    graph.send(shop, {"to": "+16505551234", "type": "text", "text": {"body": "Two"}})

    sent = services.business_messages_for(number=shop, customer=sheena)

    assert [m.content["body"] for m in sent] == ["One", "Two"]
    assert [e.status for e in sent[0].status_events.all()] == ["sent", "delivered", "read"]


def test_inbound_webhooks_and_status_webhooks_share_metadata(graph, shop, sheena):
    payload = outbox_payloads(shop)[0]

    value = payload["entry"][0]["changes"][0]["value"]
    assert payload["object"] == "whatsapp_business_account"
    assert payload["entry"][0]["id"] == shop.waba_id
    assert value["metadata"] == {"display_phone_number": "15550783881", "phone_number_id": shop.phone_number_id}
