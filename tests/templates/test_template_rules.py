"""Meta's template rules, checked before anything is submitted or sent: one message per broken rule."""

import pytest

from channels_app.whatsapp.template_rules import (
    TemplateButton,
    TemplateDefinitionInvalid,
    TemplateDraft,
    TemplateParametersInvalid,
    template_components_build,
    template_definition_build,
    template_definition_problems,
    template_parameters_check,
    template_placeholders,
    template_preview,
)

BASE = {
    "name": "order_update",
    "language": "en_US",
    "category": "utility",
    "body": "Hi {{1}}, your order {{2}} is ready for pick-up.",
    "body_examples": {"1": "Sheena", "2": "1042"},
}


def draft(**changes) -> TemplateDraft:
    return TemplateDraft(**{**BASE, **changes})


def quick(text="OK"):
    return TemplateButton(type="quick_reply", text=text)


def website(url="https://shop.example/orders", text="See order", example=""):
    return TemplateButton(type="url", text=text, url=url, url_example=example)


def call(number="+44 20 7946 0000"):
    return TemplateButton(type="phone_number", text="Call us", phone_number=number)


# (changes to a valid draft, the field blamed, words of the one message)
RULES = {
    "name missing": ({"name": ""}, "name", "Give the template a name"),
    "name with capitals": ({"name": "Order_Update"}, "name", "only lowercase letters, digits and underscores"),
    "name with a space": ({"name": "order update"}, "name", "only lowercase letters, digits and underscores"),
    "name over 512": ({"name": "a" * 513}, "name", "513 characters; WhatsApp allows 512"),
    "language not a code": ({"language": "English"}, "language", "e.g. en, en_US or pt_BR"),
    "unknown category": ({"category": "promotion"}, "category", "marketing, utility or authentication"),
    "body missing": ({"body": "", "body_examples": {}}, "body", "Write the body"),
    "body over 1024": (
        {"body": "Hi {{1}}, " + "x" * 1020, "body_examples": {"1": "Sheena"}},
        "body",
        "characters; WhatsApp allows 1024",
    ),
    "parameter at the start": (
        {"body": "{{1}}, your order {{2}} is ready."},
        "body",
        "cannot start with a parameter",
    ),
    "parameter at the end": ({"body": "Hi {{1}}, your order is {{2}}"}, "body", "cannot end with a parameter"),
    "adjacent parameters": (
        {"body": "Hi {{1}} {{2}} is ready for you."},
        "body",
        "{{1}} and {{2}} are next to each other",
    ),
    "gap in positional numbers": (
        {"body": "Hi {{1}}, your order {{3}} is ready.", "body_examples": {"1": "Sheena", "3": "1042"}},
        "body",
        "in order, without gaps; the body has {{1}}, {{3}}",
    ),
    "positional numbers out of order": (
        {"body": "Hi {{2}}, your order {{1}} is ready."},
        "body",
        "in order, without gaps; the body has {{2}}, {{1}}",
    ),
    "example missing": ({"body_examples": {"1": "Sheena"}}, "body_examples.2", "Give an example value for {{2}}"),
    "example for nothing": (
        {"body_examples": {"1": "Sheena", "2": "1042", "3": "extra"}},
        "body_examples.3",
        "{{3}}, which the body does not use",
    ),
    "positional and named mixed": (
        {"body": "Hi {{1}}, your order {{order_number}} is ready.", "body_examples": {"1": "S", "order_number": "1"}},
        "body",
        "mixes positional ({{1}}) and named ({{order_number}})",
    ),
    "named text declared positional": (
        {
            "parameter_format": "positional",
            "body": "Hi {{first_name}}, your order is ready.",
            "body_examples": {"first_name": "Sheena"},
        },
        "parameter_format",
        "uses named parameters ({{first_name}}) but the format is positional",
    ),
    "malformed parameter": (
        {"body": "Hi {{first name}}, your order is ready.", "body_examples": {"first name": "Sheena"}},
        "body",
        "{{first name}} in the body is not a valid parameter",
    ),
    "header over 60": ({"header_format": "text", "header_text": "x" * 61}, "header_text", "61 characters"),
    "header with two parameters": (
        {"header_format": "text", "header_text": "Order {{1}} for {{2}} today", "header_example": "1042"},
        "header_text",
        "may hold one parameter; it has 2",
    ),
    "header parameter without example": (
        {"header_format": "text", "header_text": "Order {{1}} is ready"},
        "header_example",
        "example value for the header's {{1}}",
    ),
    "media header without sample": ({"header_format": "image"}, "header_file", "needs a sample image"),
    "footer over 60": ({"footer": "x" * 61}, "footer", "61 characters; WhatsApp allows 60"),
    "footer with a parameter": ({"footer": "Reply {{1}} to stop"}, "footer", "cannot hold parameters"),
    "eleven buttons": ({"buttons": [quick(f"Option {i}") for i in range(11)]}, "buttons", "at most 10 buttons"),
    "quick replies split up": (
        {"buttons": [quick("Yes"), website(), quick("No")]},
        "buttons",
        "Quick-reply buttons must sit together",
    ),
    "three website buttons": (
        {"buttons": [website(text=f"Site {i}") for i in range(3)]},
        "buttons",
        "at most 2 website buttons; this one has 3",
    ),
    "two call buttons": ({"buttons": [call(), call()]}, "buttons", "at most 1 call button; this one has 2"),
    "button label over 25": ({"buttons": [quick("x" * 26)]}, "buttons.0.text", "26 characters; WhatsApp allows 25"),
    "button without a label": ({"buttons": [quick("")]}, "buttons.0.text", "needs a label"),
    "website without https": ({"buttons": [website(url="shop.example/o")]}, "buttons.0.url", "https://"),
    "url parameter not at the end": (
        {"buttons": [website(url="https://shop.example/{{1}}/details", example="1042")]},
        "buttons.0.url",
        "one parameter, {{1}}, at its very end",
    ),
    "url parameter without example": (
        {"buttons": [website(url="https://shop.example/o/{{1}}")]},
        "buttons.0.url_example",
        "example value for the {{1}} in button 1's URL",
    ),
    "call button with a bad number": ({"buttons": [call("12345")]}, "buttons.0.phone_number", "international"),
    "authentication with a media header": (
        {"category": "authentication", "header_format": "image", "header_handle": "4::aW1n"},
        "header_format",
        "Authentication templates cannot have a media header",
    ),
    "authentication with a website button": (
        {"category": "authentication", "buttons": [website()]},
        "buttons.0.type",
        "cannot have website or call buttons",
    ),
    "authentication with emoji": (
        {"category": "authentication", "body": "Hi {{1}}, your code {{2}} is here 🔐 today."},
        "body",
        "cannot contain emoji",
    ),
}


@pytest.mark.parametrize("rule", list(RULES))
def test_each_rule_is_reported_once_with_its_own_message(rule):
    changes, field, words = RULES[rule]
    problems = template_definition_problems(draft(**changes))
    assert len(problems) == 1, problems
    assert problems[0].field == field
    assert words in problems[0].message


def test_a_draft_breaking_several_rules_gets_a_message_for_each():
    problems = template_definition_problems(draft(name="Bad Name", footer="x" * 61, body_examples={}))
    assert {p.field for p in problems} == {"name", "footer", "body_examples.1", "body_examples.2"}
    with pytest.raises(TemplateDefinitionInvalid):
        template_definition_build(draft(name="Bad Name"))


def test_a_positional_draft_becomes_metas_definition_with_its_examples():
    definition = template_definition_build(
        draft(
            header_format="text",
            header_text="Order {{1}} is ready",
            header_example="#1042",
            footer="Lucky Shrub",
            buttons=[quick("Thanks"), website(url="https://shop.example/o/{{1}}", example="1042"), call()],
        )
    )
    assert definition["category"] == "UTILITY" and definition["parameter_format"] == "positional"
    header, body, footer, buttons = definition["components"]
    assert header["text"] == "Order {{1}} is ready" and header["example"] == {"header_text": ["#1042"]}
    assert body["example"] == {"body_text": [["Sheena", "1042"]]}
    assert footer == {"type": "FOOTER", "text": "Lucky Shrub"}
    assert buttons["buttons"][1]["example"] == ["https://shop.example/o/1042"]
    assert buttons["buttons"][2]["phone_number"] == "+442079460000"


def test_named_parameters_are_detected_and_given_named_examples():
    definition = template_definition_build(
        draft(
            body="Hi {{first_name}}, your order {{order_number}} is ready.",
            body_examples={"first_name": "Pablo", "order_number": "860198"},
        )
    )
    assert definition["parameter_format"] == "named"
    assert definition["components"][0]["example"] == {
        "body_text_named_params": [
            {"param_name": "first_name", "example": "Pablo"},
            {"param_name": "order_number", "example": "860198"},
        ]
    }


# --- sending ---------------------------------------------------------------------------------

POSITIONAL = [
    {"type": "BODY", "text": "Hi {{1}}, your order {{2}} is ready.", "example": {"body_text": [["Sheena", "1042"]]}}
]
NAMED = [
    {"type": "HEADER", "format": "TEXT", "text": "Order {{order}}"},
    {"type": "BODY", "text": "Hi {{first_name}}, order {{order}} is ready."},
    {"type": "FOOTER", "text": "Lucky Shrub"},
    {
        "type": "BUTTONS",
        "buttons": [
            {"type": "QUICK_REPLY", "text": "On my way"},
            {"type": "URL", "text": "See order", "url": "https://shop.example/o/{{1}}"},
        ],
    },
]
IMAGE_HEADER = [{"type": "HEADER", "format": "IMAGE"}, {"type": "BODY", "text": "Our new ferns are in."}]


def test_positional_values_become_body_parameters_in_order():
    components = template_components_build(POSITIONAL, "POSITIONAL", {"2": "1042", "1": "Sheena"})
    assert components == [
        {"type": "body", "parameters": [{"type": "text", "text": "Sheena"}, {"type": "text", "text": "1042"}]}
    ]
    template_parameters_check(POSITIONAL, "POSITIONAL", components)


def test_named_values_fill_header_body_and_the_url_button():
    components = template_components_build(
        NAMED, "NAMED", {"order": "#1042", "first_name": "Sheena", "button.1": "1042"}
    )
    assert components == [
        {"type": "header", "parameters": [{"type": "text", "text": "#1042", "parameter_name": "order"}]},
        {
            "type": "body",
            "parameters": [
                {"type": "text", "text": "Sheena", "parameter_name": "first_name"},
                {"type": "text", "text": "#1042", "parameter_name": "order"},
            ],
        },
        {"type": "button", "sub_type": "url", "index": "1", "parameters": [{"type": "text", "text": "1042"}]},
    ]
    template_parameters_check(NAMED, "NAMED", components)


def test_placeholders_list_what_a_send_needs_with_metas_examples():
    assert [(p.key, p.example) for p in template_placeholders(POSITIONAL, "POSITIONAL")] == [
        ("1", "Sheena"),
        ("2", "1042"),
    ]
    assert [p.key for p in template_placeholders(NAMED, "NAMED")] == ["order", "first_name", "button.1"]


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"1": "Sheena"}, "Missing value for Body {{2}}"),
        ({"1": "Sheena", "2": "1042", "3": "x"}, "Unknown parameter 3: this template takes 1, 2"),
        ({"1": "Sheena", "2": "  "}, "Missing value for Body {{2}}"),
    ],
)
def test_missing_or_unknown_values_are_named(values, words):
    with pytest.raises(TemplateParametersInvalid, match=words.replace("{", r"\{").replace("}", r"\}")):
        template_components_build(POSITIONAL, "POSITIONAL", values)


def test_a_media_header_needs_its_media():
    with pytest.raises(TemplateParametersInvalid, match="image header") as caught:
        template_components_build(IMAGE_HEADER, "POSITIONAL", {})
    assert caught.value.field == "header_media"
    components = template_components_build(IMAGE_HEADER, "POSITIONAL", {}, {"link": "https://shop.example/f.jpg"})
    assert components == [
        {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://shop.example/f.jpg"}}]}
    ]
    template_parameters_check(IMAGE_HEADER, "POSITIONAL", components)


@pytest.mark.parametrize(
    ("template", "parameter_format", "sent", "words"),
    [
        (POSITIONAL, "POSITIONAL", [], "The body takes 2 parameters ({{1}}, {{2}}); 0 given"),
        (
            POSITIONAL,
            "POSITIONAL",
            [{"type": "body", "parameters": [{"type": "text", "text": "a"}]}],
            "The body takes 2 parameters ({{1}}, {{2}}); 1 given",
        ),
        (
            POSITIONAL,
            "POSITIONAL",
            [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "a", "parameter_name": "first_name"},
                        {"type": "text", "text": "b", "parameter_name": "order"},
                    ],
                }
            ],
            "uses positional parameters",
        ),
        (
            NAMED,
            "NAMED",
            [
                {"type": "header", "parameters": [{"type": "text", "text": "#1", "parameter_name": "order"}]},
                {
                    "type": "body",
                    "parameters": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
                },
            ],
            "every body parameter needs a parameter_name",
        ),
        (
            NAMED,
            "NAMED",
            [
                {"type": "header", "parameters": [{"type": "text", "text": "#1", "parameter_name": "order"}]},
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "a", "parameter_name": "first_name"},
                        {"type": "text", "text": "b", "parameter_name": "order_no"},
                    ],
                },
            ],
            "missing {{order}}; unknown {{order_no}}",
        ),
        (
            NAMED,
            "NAMED",
            [
                {"type": "header", "parameters": [{"type": "text", "text": "#1", "parameter_name": "order"}]},
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "a", "parameter_name": "first_name"},
                        {"type": "text", "text": "b", "parameter_name": "order"},
                    ],
                },
            ],
            "The link of button 1 needs its ending",
        ),
        (IMAGE_HEADER, "POSITIONAL", [], "The template's header is an image"),
    ],
)
def test_graph_components_that_do_not_fit_the_template_are_refused_with_what_is_wrong(
    template, parameter_format, sent, words
):
    with pytest.raises(TemplateParametersInvalid) as caught:
        template_parameters_check(template, parameter_format, sent)
    assert words in caught.value.message


def test_the_preview_fills_in_values_and_keeps_the_missing_ones_visible():
    preview = template_preview(NAMED, {"order": "#1042", "button.1": "1042"})
    assert preview["header"] == "Order #1042"
    assert preview["body"] == "Hi {{first_name}}, order #1042 is ready."
    assert preview["footer"] == "Lucky Shrub"
    assert preview["buttons"][1] == {"type": "URL", "text": "See order", "url": "https://shop.example/o/1042"}
