"""The `whatsapp_format` filter: WhatsApp's markers become tags, and nothing typed becomes markup."""

import pytest
from django.template import Context, Template

from whatsapp_platform.templatetags.whatsapp_format import whatsapp_html


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("*bold*", "<strong>bold</strong>"),
        ("_italic_", "<em>italic</em>"),
        ("~gone~", "<del>gone</del>"),
        ("```let x = 1```", '<code class="wa-mono">let x = 1</code>'),
        ("one\ntwo", "one<br>two"),
        ("one\r\ntwo", "one<br>two"),
        ("*Hi* _there_, ~no~", "<strong>Hi</strong> <em>there</em>, <del>no</del>"),
        ("_*both*_", "<em><strong>both</strong></em>"),
        ("(*a*)", "(<strong>a</strong>)"),
    ],
    ids=["bold", "italic", "strike", "mono", "line-break", "crlf", "mixed", "nested", "punctuation"],
)
def test_markers_become_tags(text, html):
    assert whatsapp_html(text) == html


@pytest.mark.parametrize(
    "text",
    ["2*3*4", "snake_case_name", "* not bold *", "**", "*across\nlines*", "a~b~c"],
    ids=["maths", "snake-case", "spaces-inside", "empty", "line-break-inside", "inside-a-word"],
)
def test_markers_inside_words_or_spaces_stay_as_typed(text):
    assert whatsapp_html(text) == text.replace("\n", "<br>")


def test_a_script_is_escaped_not_run():
    html = whatsapp_html('<script>alert("x")</script> *<img src=x onerror=alert(1)>*')
    assert "<script>" not in html and "<img" not in html
    assert html == (
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; <strong>&lt;img src=x onerror=alert(1)&gt;</strong>"
    )


def test_monospace_keeps_its_markers_literal_across_lines():
    assert whatsapp_html("```a *b*\nc```") == '<code class="wa-mono">a *b*<br>c</code>'


def test_links_open_in_a_new_tab_and_keep_underscores():
    html = whatsapp_html("See https://example.com/a_b_c?x=1&y=2. Thanks")
    assert html == (
        'See <a href="https://example.com/a_b_c?x=1&amp;y=2" target="_blank" rel="noopener noreferrer">'
        "https://example.com/a_b_c?x=1&amp;y=2</a>. Thanks"
    )


def test_a_link_cannot_break_out_of_its_attribute():
    html = whatsapp_html('https://example.com/"onmouseover="alert(1)')
    assert 'href="https://example.com/"' in html and '"onmouseover' not in html


def test_none_is_empty_and_the_filter_loads_in_templates():
    assert whatsapp_html(None) == ""
    rendered = Template("{% load whatsapp_format %}{{ body|whatsapp_format }}").render(
        Context({"body": "*Hi* <b>you</b>"})
    )
    assert rendered == "<strong>Hi</strong> &lt;b&gt;you&lt;/b&gt;"
