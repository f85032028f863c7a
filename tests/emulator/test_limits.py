"""Every length and count limit of reference §5.15, one test each, answered with Meta's code;
and the request-shape mistakes (missing, malformed, wrong type) that come before them."""

import copy

import pytest

from tests.emulator.conftest import error_of

TO = "+16505551234"


def reply_buttons(**overrides) -> dict:
    interactive = {
        "type": "button",
        "body": {"text": "Pick one"},
        "action": {"buttons": [{"type": "reply", "reply": {"id": "yes", "title": "Yes"}}]},
    }
    interactive.update(overrides)
    return {"to": TO, "type": "interactive", "interactive": interactive}


def list_message(**overrides) -> dict:
    interactive = {
        "type": "list",
        "body": {"text": "Which option?"},
        "action": {"button": "Options", "sections": [{"title": "All", "rows": [{"id": "a", "title": "A"}]}]},
    }
    interactive.update(overrides)
    return {"to": TO, "type": "interactive", "interactive": interactive}


def cta_url(display_text: str = "See Dates", body: str = "Tap below") -> dict:
    return {
        "to": TO,
        "type": "interactive",
        "interactive": {
            "type": "cta_url",
            "body": {"text": body},
            "action": {"name": "cta_url", "parameters": {"display_text": display_text, "url": "https://x.test"}},
        },
    }


def rows(n: int, **row) -> list[dict]:
    return [{"id": f"r{i}", "title": f"Row {i}", **row} for i in range(n)]


def assert_refused(graph, shop, message: dict, code: int):
    response = graph.send(shop, message)
    assert response.status_code == 400, response.content
    error = error_of(response)
    assert error["code"] == code, error
    assert error["message"].startswith(f"(#{code}) ")
    assert error["type"] == "OAuthException"
    assert error["error_data"]["messaging_product"] == "whatsapp"
    assert error["fbtrace_id"]


def assert_accepted(graph, shop, message: dict):
    response = graph.send(shop, message)
    assert response.status_code == 200, response.content


def test_a_text_body_may_have_4096_characters_but_not_4097(graph, shop, sheena):
    assert_accepted(graph, shop, {"to": TO, "type": "text", "text": {"body": "x" * 4096}})
    assert_refused(graph, shop, {"to": TO, "type": "text", "text": {"body": "x" * 4097}}, 100)


def test_a_media_caption_is_at_most_1024_characters(graph, shop, sheena):
    image = {"link": "https://x.test/a.jpg"}
    assert_accepted(graph, shop, {"to": TO, "type": "image", "image": {**image, "caption": "c" * 1024}})
    assert_refused(graph, shop, {"to": TO, "type": "document", "document": {**image, "caption": "c" * 1025}}, 100)


def test_an_interactive_button_body_is_at_most_1024_characters(graph, shop, sheena):
    assert_accepted(graph, shop, reply_buttons(body={"text": "b" * 1024}))
    assert_refused(graph, shop, reply_buttons(body={"text": "b" * 1025}), 131009)


def test_a_cta_url_body_is_at_most_1024_characters(graph, shop, sheena):
    assert_refused(graph, shop, cta_url(body="b" * 1025), 131009)


def test_a_list_body_is_at_most_1024_characters_the_safer_of_the_two_documented_limits(graph, shop, sheena):
    assert_accepted(graph, shop, list_message(body={"text": "b" * 1024}))
    assert_refused(graph, shop, list_message(body={"text": "b" * 1025}), 131009)


def test_an_interactive_header_text_is_at_most_60_characters(graph, shop, sheena):
    assert_accepted(graph, shop, reply_buttons(header={"type": "text", "text": "h" * 60}))
    assert_refused(graph, shop, reply_buttons(header={"type": "text", "text": "h" * 61}), 131009)


def test_an_interactive_footer_text_is_at_most_60_characters(graph, shop, sheena):
    assert_accepted(graph, shop, reply_buttons(footer={"text": "f" * 60}))
    assert_refused(graph, shop, reply_buttons(footer={"text": "f" * 61}), 131009)


def test_a_message_has_at_most_3_reply_buttons(graph, shop, sheena):
    buttons = [{"type": "reply", "reply": {"id": f"b{i}", "title": f"B{i}"}} for i in range(4)]
    assert_accepted(graph, shop, reply_buttons(action={"buttons": buttons[:3]}))
    assert_refused(graph, shop, reply_buttons(action={"buttons": buttons}), 131009)


def test_a_reply_button_id_is_at_most_256_characters(graph, shop, sheena):
    button = {"type": "reply", "reply": {"id": "i" * 257, "title": "Yes"}}
    assert_refused(graph, shop, reply_buttons(action={"buttons": [button]}), 131009)


def test_a_reply_button_title_is_at_most_20_characters(graph, shop, sheena):
    ok = {"type": "reply", "reply": {"id": "y", "title": "t" * 20}}
    too_long = {"type": "reply", "reply": {"id": "y", "title": "t" * 21}}
    assert_accepted(graph, shop, reply_buttons(action={"buttons": [ok]}))
    assert_refused(graph, shop, reply_buttons(action={"buttons": [too_long]}), 131009)


def test_a_list_button_label_is_at_most_20_characters(graph, shop, sheena):
    message = list_message()
    message["interactive"]["action"]["button"] = "l" * 21
    assert_refused(graph, shop, message, 131009)


def test_a_list_has_at_most_10_sections(graph, shop, sheena):
    sections = [{"title": f"S{i}", "rows": [{"id": f"r{i}", "title": "Row"}]} for i in range(11)]
    assert_refused(graph, shop, list_message(action={"button": "Options", "sections": sections}), 131009)


def test_a_list_has_at_most_10_rows_across_all_sections(graph, shop, sheena):
    ten = [{"title": "A", "rows": rows(5)}, {"title": "B", "rows": [{**r, "id": r["id"] + "b"} for r in rows(5)]}]
    eleven = copy.deepcopy(ten)
    eleven[1]["rows"].append({"id": "extra", "title": "Extra"})
    assert_accepted(graph, shop, list_message(action={"button": "Options", "sections": ten}))
    assert_refused(graph, shop, list_message(action={"button": "Options", "sections": eleven}), 131009)


def test_a_list_row_id_is_at_most_200_characters(graph, shop, sheena):
    sections = [{"title": "A", "rows": [{"id": "i" * 201, "title": "Row"}]}]
    assert_refused(graph, shop, list_message(action={"button": "Options", "sections": sections}), 131009)


def test_a_list_row_title_is_at_most_24_characters(graph, shop, sheena):
    sections = [{"title": "A", "rows": [{"id": "a", "title": "t" * 25}]}]
    assert_refused(graph, shop, list_message(action={"button": "Options", "sections": sections}), 131009)


def test_a_list_row_description_is_at_most_72_characters(graph, shop, sheena):
    sections = [{"title": "A", "rows": [{"id": "a", "title": "Row", "description": "d" * 73}]}]
    assert_refused(graph, shop, list_message(action={"button": "Options", "sections": sections}), 131009)


def test_a_list_section_title_is_at_most_24_characters(graph, shop, sheena):
    sections = [{"title": "s" * 25, "rows": [{"id": "a", "title": "Row"}]}]
    assert_refused(graph, shop, list_message(action={"button": "Options", "sections": sections}), 131009)


def test_a_cta_url_display_text_is_at_most_20_characters(graph, shop, sheena):
    assert_accepted(graph, shop, cta_url(display_text="d" * 20))
    assert_refused(graph, shop, cta_url(display_text="d" * 21), 131009)


def test_a_flow_cta_is_at_most_30_characters(graph, shop, sheena):
    def flow(cta: str) -> dict:
        return {
            "to": TO,
            "type": "interactive",
            "interactive": {
                "type": "flow",
                "body": {"text": "Book"},
                "action": {
                    "name": "flow",
                    "parameters": {"flow_message_version": "3", "flow_id": "1", "flow_cta": cta},
                },
            },
        }

    assert_accepted(graph, shop, flow("c" * 30))
    assert_refused(graph, shop, flow("c" * 31), 131009)


def test_a_product_list_has_at_most_10_sections_and_30_products(graph, shop, sheena):
    def product_list(sections: list) -> dict:
        return {
            "to": TO,
            "type": "interactive",
            "interactive": {
                "type": "product_list",
                "header": {"type": "text", "text": "Menu"},
                "body": {"text": "Our picks"},
                "action": {"catalog_id": "1", "sections": sections},
            },
        }

    items = [{"product_retailer_id": f"p{i}"} for i in range(31)]
    assert_accepted(graph, shop, product_list([{"title": "All", "product_items": items[:30]}]))
    assert_refused(graph, shop, product_list([{"title": "All", "product_items": items}]), 131009)
    eleven = [{"title": f"S{i}", "product_items": items[:1]} for i in range(11)]
    assert_refused(graph, shop, product_list(eleven), 131009)


def test_a_contacts_message_carries_one_to_five_contacts(graph, shop, sheena):
    contact = {"name": {"formatted_name": "John Smith"}}
    assert_accepted(graph, shop, {"to": TO, "type": "contacts", "contacts": [contact] * 5})
    assert_refused(graph, shop, {"to": TO, "type": "contacts", "contacts": [contact] * 6}, 131009)
    assert_refused(graph, shop, {"to": TO, "type": "contacts", "contacts": []}, 131009)


def test_biz_opaque_callback_data_is_at_most_512_characters(graph, shop, sheena):
    message = {"to": TO, "type": "text", "text": {"body": "hi"}}
    assert_accepted(graph, shop, {**message, "biz_opaque_callback_data": "o" * 512})
    assert_refused(graph, shop, {**message, "biz_opaque_callback_data": "o" * 513}, 100)


# --- shape mistakes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ({"to": TO, "type": "text"}, 131008),
        ({"type": "text", "text": {"body": "to whom?"}}, 131008),
        ({"to": TO, "type": "text", "text": {}}, 131008),
        ({"to": TO, "type": "image", "image": {"caption": "no media"}}, 131008),
        ({"to": TO, "type": "location", "location": {"latitude": 1}}, 131008),
        ({"to": TO, "type": "reaction", "reaction": {"emoji": "👍"}}, 131008),
        ({"to": TO, "type": "template", "template": {"name": "x"}}, 131008),
        ({"to": TO, "type": "interactive", "interactive": {"type": "button", "action": {"buttons": []}}}, 131008),
        ({"to": TO, "type": "text", "text": "just a string"}, 100),
        ({"to": TO, "type": "text", "text": {"body": 42}}, 100),
        ({"to": 16505551234, "type": "text", "text": {"body": "hi"}}, 100),
        ({"to": TO, "type": "text", "text": {"body": "hi"}, "colour": "blue"}, 100),
        ({"to": TO, "type": "text", "text": {"body": "hi", "preview": True}}, 100),
        ({"to": TO, "type": "poll", "text": {"body": "a poll?"}}, 131009),
        ({"to": TO, "type": "image", "image": {"link": "ftp://x.test/a.jpg"}}, 131009),
        ({"to": TO, "type": "image", "image": {"link": "https://x.test/a.jpg", "id": "1"}}, 131009),
        ({"to": TO, "type": "location", "location": {"latitude": 91, "longitude": 0}}, 131009),
        ({"to": TO, "type": "interactive", "interactive": {"type": "carousel", "body": {"text": "x"}}}, 131009),
        (
            {
                "to": TO,
                "type": "reaction",
                "reaction": {"message_id": "wamid.x", "emoji": "👍"},
                "context": {"message_id": "wamid.y"},
            },
            131009,
        ),
        ({"to": TO, "recipient_type": "broadcast", "type": "text", "text": {"body": "hi"}}, 131009),
    ],
    ids=[
        "missing-type-object",
        "missing-recipient",
        "missing-text-body",
        "media-without-id-or-link",
        "location-without-longitude",
        "reaction-without-message-id",
        "template-without-language",
        "interactive-without-body",
        "type-object-of-the-wrong-type",
        "text-body-of-the-wrong-type",
        "recipient-of-the-wrong-type",
        "unknown-top-level-field",
        "unknown-text-field",
        "unknown-message-type",
        "media-link-not-http",
        "media-with-id-and-link",
        "latitude-out-of-range",
        "unknown-interactive-type",
        "reaction-as-a-reply",
        "unknown-recipient-type",
    ],
)
def test_malformed_sends_are_refused_with_metas_code(graph, shop, sheena, message, code):
    assert_refused(graph, shop, message, code)


def test_messaging_product_is_required(graph, shop, sheena):
    response = graph.post(f"{shop.phone_number_id}/messages", {"to": TO, "type": "text", "text": {"body": "hi"}})

    assert error_of(response)["code"] == 131008


def test_a_body_that_is_not_json_is_invalid_parameter_100(graph, shop):
    response = graph.post_raw(f"{shop.phone_number_id}/messages", b"{not json")

    assert response.status_code == 400
    assert error_of(response)["code"] == 100
