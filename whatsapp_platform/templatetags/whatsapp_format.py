"""`whatsapp_format`: a message body as WhatsApp shows it, safe to put in a page.

The text is escaped first; only then are WhatsApp's markers turned into tags, so nothing a
customer or an agent typed can become markup. Supported, as the app renders them:
*bold*, _italic_, ~strikethrough~, ```monospace``` (may span lines), links, line breaks.

A marker counts only at a word boundary, as on the phone: `2*3*4` and `snake_case_name`
stay as typed. Monospace and links are set aside before the inline markers run, so
`https://example.com/a_b_c` is not italicised and ``` *x* ``` stays literal.
"""

import re

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

_MONO = re.compile(r"```(.+?)```", re.DOTALL)
# After escaping, a URL ends before whitespace or a tag; `&quot;`/`&#x27;` close a quoted URL.
_URL = re.compile(r"https?://[^\s<>\x00]+?(?=(?:&quot;|&#x27;|&lt;|&gt;)|[.,;:!?)\]]*(?:\s|\x00|$))")
_INLINE = [
    # (marker, tag): the opening marker follows no letter or digit, the closing one precedes none;
    # neither touches a space on its inner side, and a span never crosses a line break.
    # Other markers may touch it, so `_*both*_` nests.
    (re.compile(r"(?<![^\W_])(?<!\*)\*(?=[^\s*])([^\n]*?[^\s*])\*(?!\*)(?![^\W_])"), "strong"),
    (re.compile(r"(?<![^\W_])(?<!_)_(?=[^\s_])([^\n]*?[^\s_])_(?!_)(?![^\W_])"), "em"),
    (re.compile(r"(?<![^\W_])(?<!~)~(?=[^\s~])([^\n]*?[^\s~])~(?!~)(?![^\W_])"), "del"),
]
_SLOT = re.compile(r"\x00(\d+)\x00")


def whatsapp_html(text: object) -> SafeString:
    """The HTML for a WhatsApp-formatted text (see the module docstring)."""
    if text is None:
        return mark_safe("")  # noqa: S308 (empty)
    escaped = escape(str(text).replace("\x00", "").replace("\r\n", "\n"))
    kept: list[str] = []

    def keep(html: str) -> str:
        kept.append(html)
        return f"\x00{len(kept) - 1}\x00"

    escaped = _MONO.sub(lambda m: keep(f'<code class="wa-mono">{m.group(1)}</code>'), escaped)
    escaped = _URL.sub(
        lambda m: keep(f'<a href="{m.group(0)}" target="_blank" rel="noopener noreferrer">{m.group(0)}</a>'), escaped
    )
    for pattern, tag in _INLINE:
        escaped = pattern.sub(rf"<{tag}>\1</{tag}>", escaped)
    escaped = _SLOT.sub(lambda m: kept[int(m.group(1))], escaped)
    return mark_safe(escaped.replace("\n", "<br>"))  # noqa: S308 (escaped above; only our tags added)


@register.filter(name="whatsapp_format")
def whatsapp_format(text: object) -> SafeString:
    return whatsapp_html(text)


@register.filter(name="json_pretty")
def json_pretty(value: object) -> str:
    """A JSON value indented for a <pre> (tool arguments and results); escaped by the template."""
    import json

    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)
