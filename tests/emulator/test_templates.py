"""Template management: create (validated like Meta) → PENDING → reviewed, list with cursors, delete."""

import json

import pytest

from cloudapi_emulator import services
from cloudapi_emulator.dispatcher import deliver_due
from cloudapi_emulator.models import Template, WebhookDelivery
from tests.emulator.conftest import OUTSIDER_TOKEN, error_of

ORDER_CONFIRMATION = {
    "name": "order_confirmation",
    "language": "en_US",
    "category": "utility",
    "parameter_format": "named",
    "components": [
        {
            "type": "body",
            "text": "Thank you, {{first_name}}! Your order number is {{order_number}}.",
            "example": {
                "body_text_named_params": [
                    {"param_name": "first_name", "example": "Pablo"},
                    {"param_name": "order_number", "example": "860198-230332"},
                ]
            },
        }
    ],
}


def positional(text: str, examples: list[str] | None = None, **extra) -> dict:
    body = {"type": "BODY", "text": text}
    if examples is not None:
        body["example"] = {"body_text": [examples]}
    return {"name": "hello_world", "language": "en_US", "category": "MARKETING", "components": [body], **extra}


def create(graph, shop, definition: dict):
    return graph.post(f"{shop.waba_id}/message_templates", definition)


def test_a_created_template_is_pending_with_its_category(graph, shop):
    response = create(graph, shop, ORDER_CONFIRMATION)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "PENDING"
    assert body["category"] == "UTILITY"
    assert Template.objects.get(template_id=body["id"]).status == "PENDING"


def test_the_review_approves_it_and_announces_it_with_a_status_update_webhook(graph, shop, settings):
    settings.WHATSAPP_EMULATOR_TEMPLATE_REVIEW_SECONDS = 0
    template_id = create(graph, shop, ORDER_CONFIRMATION).json()["id"]

    deliver_due()  # the review row is due at once; the dispatcher would do this on its own

    assert Template.objects.get(template_id=template_id).status == "APPROVED"
    row = WebhookDelivery.objects.get(kind="webhook", field="message_template_status_update")
    value = json.loads(row.body)["entry"][0]["changes"][0]["value"]
    assert value["event"] == "APPROVED"
    assert value["message_template_id"] == int(template_id)
    assert value["message_template_name"] == "order_confirmation"
    assert row.url == shop.webhook_url


def test_a_template_named_with_reject_is_rejected(graph, shop, settings):
    settings.WHATSAPP_EMULATOR_TEMPLATE_REVIEW_SECONDS = 0
    create(graph, shop, {**ORDER_CONFIRMATION, "name": "please_reject_me"})

    deliver_due()

    assert Template.objects.get(name="please_reject_me").status == "REJECTED"
    value = json.loads(WebhookDelivery.objects.get(kind="webhook", field="message_template_status_update").body)
    assert value["entry"][0]["changes"][0]["value"]["event"] == "REJECTED"
    assert value["entry"][0]["changes"][0]["value"]["reason"] == "INVALID_FORMAT"


def test_the_review_waits_for_its_configured_delay(graph, shop, settings):
    settings.WHATSAPP_EMULATOR_TEMPLATE_REVIEW_SECONDS = 3600
    template_id = create(graph, shop, ORDER_CONFIRMATION).json()["id"]

    deliver_due()

    assert Template.objects.get(template_id=template_id).status == "PENDING"


@pytest.mark.parametrize(
    ("definition", "subcode"),
    [
        (positional("{{1}} is waiting for you here.", ["Pablo"]), 2388299),
        (positional("Your order is ready, {{1}}", ["Pablo"]), 2388299),
        (positional("Hello {{1}}{{2}} and welcome.", ["a", "b"]), 2388299),
        (positional("Hi {{1}} a {{2}} b {{3}} c.", ["a", "b", "c"]), 2388293),
        (positional("x" * 1025), 2388040),
        ({**positional("Hello there"), "components": [{"type": "FOOTER", "text": "only a footer"}]}, 2388047),
    ],
    ids=[
        "leading-variable",
        "trailing-variable",
        "adjacent-variables",
        "too-many-variables-for-the-length",
        "body-over-1024",
        "no-body",
    ],
)
def test_malformed_templates_are_refused_with_metas_subcode(graph, shop, definition, subcode):
    response = create(graph, shop, definition)

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == 100
    assert error["error_subcode"] == subcode


@pytest.mark.parametrize(
    "definition",
    [
        positional("Hello {{1}}, your order ships today."),
        {**positional("Hello there"), "name": "Hello-World"},
        {**positional("Hello there"), "name": "x" * 513},
        {**positional("Hello there"), "category": "TRANSACTIONAL"},
        {**positional("Hello there"), "language": "english"},
        positional("Hello {{2}}, your order ships today.", ["a"]),
        {k: v for k, v in positional("Hello there").items() if k != "language"},
    ],
    ids=[
        "missing-example",
        "name-with-capitals",
        "name-over-512",
        "unknown-category",
        "bad-language",
        "positional-not-starting-at-1",
        "missing-language",
    ],
)
def test_invalid_template_definitions_are_invalid_parameter_100(graph, shop, definition):
    response = create(graph, shop, definition)

    assert error_of(response)["code"] == 100


def test_template_buttons_follow_metas_limits(graph, shop):
    too_many_urls = positional("Hello there", buttons=None)
    too_many_urls["components"].append(
        {
            "type": "BUTTONS",
            "buttons": [{"type": "URL", "text": f"Site {i}", "url": "https://x.test"} for i in range(3)],
        }
    )
    long_label = positional("Hello there")
    long_label["components"].append({"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "l" * 26}]})
    too_many_urls.pop("buttons")

    assert error_of(create(graph, shop, too_many_urls))["code"] == 100
    assert error_of(create(graph, shop, long_label))["error_subcode"] == 2388040


def test_the_same_name_and_language_cannot_be_created_twice(graph, shop):
    create(graph, shop, ORDER_CONFIRMATION)

    again = create(graph, shop, ORDER_CONFIRMATION)
    other_language = create(graph, shop, {**ORDER_CONFIRMATION, "language": "pt_BR"})

    assert error_of(again)["error_subcode"] == 2388024
    assert other_language.status_code == 200


def test_the_list_pages_with_cursors_and_next_only_while_there_is_more(graph, shop):
    for i in range(5):
        services.template_add(waba_id=shop.waba_id, name=f"template_{i}")

    first = graph.get(f"{shop.waba_id}/message_templates", {"limit": 2}).json()
    second = graph.get(
        f"{shop.waba_id}/message_templates", {"limit": 2, "after": first["paging"]["cursors"]["after"]}
    ).json()
    third = graph.get(
        f"{shop.waba_id}/message_templates", {"limit": 2, "after": second["paging"]["cursors"]["after"]}
    ).json()
    back = graph.get(
        f"{shop.waba_id}/message_templates", {"limit": 2, "before": second["paging"]["cursors"]["before"]}
    ).json()

    assert [t["name"] for t in first["data"]] == ["template_0", "template_1"]
    assert [t["name"] for t in second["data"]] == ["template_2", "template_3"]
    assert [t["name"] for t in third["data"]] == ["template_4"]
    assert "after=" in first["paging"]["next"]
    assert "next" in second["paging"]
    assert "next" not in third["paging"]
    assert [t["name"] for t in back["data"]] == ["template_0", "template_1"]
    assert set(first["paging"]["cursors"]) == {"before", "after"}


def test_the_list_filters_by_name_and_status(graph, shop):
    services.template_add(waba_id=shop.waba_id, name="welcome", language="en_US")
    services.template_add(waba_id=shop.waba_id, name="welcome", language="es")
    services.template_add(waba_id=shop.waba_id, name="draft", status="PENDING")

    by_name = graph.get(f"{shop.waba_id}/message_templates", {"name": "welcome"}).json()["data"]
    approved = graph.get(f"{shop.waba_id}/message_templates", {"status": "approved"}).json()["data"]

    assert sorted(t["language"] for t in by_name) == ["en_US", "es"]
    assert {t["name"] for t in approved} == {"welcome"}
    assert {"name", "components", "language", "status", "category", "id", "parameter_format"} <= set(approved[0])


def test_a_single_template_status_can_be_read_by_id(graph, shop):
    template = services.template_add(waba_id=shop.waba_id, name="welcome")

    body = graph.get(template.template_id, {"fields": "status"}).json()

    assert body == {"status": "APPROVED", "id": template.template_id}


def test_delete_by_name_removes_every_language(graph, shop):
    services.template_add(waba_id=shop.waba_id, name="welcome", language="en_US")
    services.template_add(waba_id=shop.waba_id, name="welcome", language="es")

    response = graph.delete(f"{shop.waba_id}/message_templates", {"name": "welcome"})

    assert response.json() == {"success": True}
    assert graph.get(f"{shop.waba_id}/message_templates").json()["data"] == []


def test_delete_with_hsm_id_removes_one_template(graph, shop):
    services.template_add(waba_id=shop.waba_id, name="welcome", language="en_US")
    spanish = services.template_add(waba_id=shop.waba_id, name="welcome", language="es")

    graph.delete(f"{shop.waba_id}/message_templates", {"name": "welcome", "hsm_id": spanish.template_id})

    remaining = graph.get(f"{shop.waba_id}/message_templates").json()["data"]
    assert [t["language"] for t in remaining] == ["en_US"]


def test_deleting_an_unknown_template_is_an_error(graph, shop):
    response = graph.delete(f"{shop.waba_id}/message_templates", {"name": "nothing_here"})

    assert error_of(response)["code"] == 100


def test_another_business_cannot_list_these_templates(graph, shop, outsider):
    response = graph.get(f"{shop.waba_id}/message_templates", token=OUTSIDER_TOKEN)

    assert error_of(response)["code"] == 100
