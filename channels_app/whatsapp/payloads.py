"""Outbound message payloads, built and validated before anything goes over the network.

Stored message content is Meta's `<type>` object (for text `{"body": ..., "preview_url": false}`, for
interactive the whole `interactive` object, and so on); `message_payload` checks it against every limit
of the reference (§5) and wraps it into the request body for `POST /<PHONE_NUMBER_ID>/messages`.
Limits are counted in Python characters (code points).
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

# Meta's codes for the same mistakes, so a locally caught error reads like the one Meta would send.
CODE_INVALID_PARAMETER = 100  # unsupported, misspelled or over-length parameter
CODE_MISSING_PARAMETER = 131008
CODE_INVALID_VALUE = 131009
CODE_MEDIA_UNSUPPORTED = 131053

MESSAGE_TYPES = frozenset(
    {"text", "image", "video", "audio", "document", "sticker", "location", "contacts", "interactive", "template",
     "reaction"}
)  # fmt: skip
MEDIA_KINDS = ("image", "video", "audio", "document", "sticker")
INTERACTIVE_TYPES = ("button", "list", "cta_url")

TEXT_BODY_MAX = 4096
CAPTION_MAX = 1024
INTERACTIVE_BODY_MAX = 1024  # list bodies too: the list page says 4096, the spec 1024 (CONFLICT); 1024 is safe
HEADER_TEXT_MAX = 60
FOOTER_TEXT_MAX = 60
BUTTONS_MAX = 3
BUTTON_ID_MAX = 256
BUTTON_TITLE_MAX = 20
LIST_BUTTON_MAX = 20
LIST_SECTIONS_MAX = 10
LIST_ROWS_MAX = 10
LIST_SECTION_TITLE_MAX = 24
LIST_ROW_ID_MAX = 200
LIST_ROW_TITLE_MAX = 24
LIST_ROW_DESCRIPTION_MAX = 72
CTA_DISPLAY_TEXT_MAX = 20
CONTACTS_MAX = 5
TEMPLATE_NAME_MAX = 512
TEMPLATE_TEXT_PARAMETER_MAX = 32768
TEMPLATE_BUTTONS_MAX = 10
# The 512 limit is documented only for the calling variant (UNVERIFIED for messages); we hold messages to it.
BIZ_OPAQUE_MAX = 512
URL_MAX = 2000

BSUID_RE = re.compile(r"[A-Z]{2}\.[A-Za-z0-9]{1,128}")
TEMPLATE_NAME_RE = re.compile(r"[a-z0-9_]{1,512}")
_PHONE_CHARS_RE = re.compile(r"[+\d\s().\-]+")


class PayloadInvalid(ValueError):
    """A message Meta would refuse, caught before sending.

    `field` is the dotted path inside the request body, `limit` the rule broken (a number or a short
    description), `value` the offending value and `code` the Meta error code the same mistake would get.
    """

    def __init__(self, message: str, *, field: str, limit: Any = None, value: Any = None, code: int = 100) -> None:
        self.field = field
        self.limit = limit
        self.value = value
        self.code = code
        self.reason = message
        super().__init__(f"{message} [{field}]" if field else message)


def _show(value: Any, width: int = 40) -> str:
    if isinstance(value, str):
        shown = value if len(value) <= width else value[: width - 1] + "…"
        return repr(shown)
    return repr(value)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# --- small validators ------------------------------------------------------------------------


def _dict(value: Any, path: str, label: str) -> dict:
    if not isinstance(value, dict):
        raise PayloadInvalid(
            f"{label} must be an object, not {_show(value)}",
            field=path,
            value=value,
            limit="object",
            code=CODE_INVALID_VALUE,
        )
    return value


def _no_extra_keys(obj: dict, allowed: set[str] | frozenset[str], path: str, label: str) -> None:
    extra = sorted(set(obj) - set(allowed))
    if extra:
        raise PayloadInvalid(
            f"{label} has unsupported field {extra[0]!r}; WhatsApp accepts {', '.join(sorted(allowed))}",
            field=f"{path}.{extra[0]}" if path else extra[0],
            value=extra[0],
            limit=sorted(allowed),
            code=CODE_INVALID_PARAMETER,
        )


def _text(
    obj: dict,
    key: str,
    path: str,
    label: str,
    *,
    limit: int | None,
    required: bool = True,
    strip_rule: bool = False,
) -> str | None:
    """A string field: present (if required), non-empty, within `limit` characters."""
    where = f"{path}.{key}" if path else key
    if key not in obj or obj[key] is None:
        if required:
            raise PayloadInvalid(
                f"{label} is missing; WhatsApp requires it", field=where, limit="required", code=CODE_MISSING_PARAMETER
            )
        return None
    value = obj[key]
    if not isinstance(value, str):
        raise PayloadInvalid(
            f"{label} must be text, not {_show(value)}", field=where, value=value, limit="text", code=CODE_INVALID_VALUE
        )
    if not value.strip():
        raise PayloadInvalid(
            f"{label} is empty; WhatsApp requires at least 1 character",
            field=where,
            value=value,
            limit=1,
            code=CODE_MISSING_PARAMETER,
        )
    if limit is not None and len(value) > limit:
        raise PayloadInvalid(
            f"{label} {_show(value)} is {_plural(len(value), 'character')}; WhatsApp allows {limit}",
            field=where,
            value=value,
            limit=limit,
            code=CODE_INVALID_PARAMETER,
        )
    if strip_rule and value != value.strip():
        raise PayloadInvalid(
            f"{label} {_show(value)} starts or ends with a space; WhatsApp does not allow that",
            field=where,
            value=value,
            limit="no leading or trailing spaces",
            code=CODE_INVALID_VALUE,
        )
    return value


def _list(obj: dict, key: str, path: str, label: str, *, minimum: int, maximum: int | None, unit: str) -> list:
    where = f"{path}.{key}" if path else key
    value = obj.get(key)
    if value is None:
        raise PayloadInvalid(
            f"{label} is missing; WhatsApp requires at least {_plural(minimum, unit)}",
            field=where,
            limit=minimum,
            code=CODE_MISSING_PARAMETER,
        )
    if not isinstance(value, list):
        raise PayloadInvalid(
            f"{label} must be a list, not {_show(value)}",
            field=where,
            value=value,
            limit="list",
            code=CODE_INVALID_VALUE,
        )
    if len(value) < minimum:
        raise PayloadInvalid(
            f"{label} has {_plural(len(value), unit)}; WhatsApp requires at least {minimum}",
            field=where,
            value=len(value),
            limit=minimum,
            code=CODE_MISSING_PARAMETER,
        )
    if maximum is not None and len(value) > maximum:
        raise PayloadInvalid(
            f"{label} has {_plural(len(value), unit)}; WhatsApp allows {maximum}",
            field=where,
            value=len(value),
            limit=maximum,
            code=CODE_INVALID_PARAMETER,
        )
    return value


def _bool(obj: dict, key: str, path: str, label: str) -> None:
    if key in obj and not isinstance(obj[key], bool):
        raise PayloadInvalid(
            f"{label} must be true or false, not {_show(obj[key])}",
            field=f"{path}.{key}",
            value=obj[key],
            limit="boolean",
            code=CODE_INVALID_VALUE,
        )


def _http_url(value: str, where: str, label: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in value):
        raise PayloadInvalid(
            f"{label} {_show(value)} is not an http(s) URL",
            field=where,
            value=value,
            limit="http(s) URL",
            code=CODE_INVALID_VALUE,
        )
    if len(value) > URL_MAX:
        raise PayloadInvalid(
            f"{label} is {_plural(len(value), 'character')}; WhatsApp allows {URL_MAX}",
            field=where,
            value=value,
            limit=URL_MAX,
            code=CODE_INVALID_PARAMETER,
        )


def _unique(values: list[tuple[str, str]], label: str) -> None:
    """values: (path, text). Titles are compared case-insensitively: stricter than Meta states, never looser."""
    seen: dict[str, str] = {}
    for where, text in values:
        key = text.strip().casefold()
        if key in seen:
            raise PayloadInvalid(
                f"{label} {_show(text)} is used twice; WhatsApp requires each to be unique",
                field=where,
                value=text,
                limit="unique",
                code=CODE_INVALID_VALUE,
            )
        seen[key] = where


# --- media -----------------------------------------------------------------------------------

_MEDIA_FIELDS = {
    "image": {"id", "link", "caption"},
    "video": {"id", "link", "caption"},
    "document": {"id", "link", "caption", "filename"},
    "audio": {"id", "link", "voice"},
    "sticker": {"id", "link"},
}


def _media_object(obj: Any, kind: str, path: str, *, allowed: set[str] | None = None) -> None:
    obj = _dict(obj, path, kind)
    allowed = _MEDIA_FIELDS[kind] if allowed is None else allowed
    for key in ("caption", "filename", "voice"):
        if key in obj and key not in allowed:
            raise PayloadInvalid(
                f"{kind} cannot carry a {key}; WhatsApp ignores or refuses it here",
                field=f"{path}.{key}",
                value=obj[key],
                limit=f"no {key} on {kind}",
                code=CODE_INVALID_PARAMETER,
            )
    _no_extra_keys(obj, allowed, path, kind)
    has_id = obj.get("id") not in (None, "")
    has_link = obj.get("link") not in (None, "")
    if has_id == has_link:
        raise PayloadInvalid(
            f"{kind} needs exactly one of id or link; it has {'both' if has_id else 'neither'}",
            field=f"{path}.id",
            value={k: obj.get(k) for k in ("id", "link")},
            limit="exactly one of id, link",
            code=CODE_MISSING_PARAMETER if not has_id else CODE_INVALID_PARAMETER,
        )
    if has_id:
        media_id = obj["id"]
        if not isinstance(media_id, str | int) or isinstance(media_id, bool) or not str(media_id).strip():
            raise PayloadInvalid(
                f"{kind} id {_show(media_id)} is not a media id",
                field=f"{path}.id",
                value=media_id,
                limit="media id",
                code=CODE_INVALID_VALUE,
            )
    else:
        link = _text(obj, "link", path, f"{kind} link", limit=None)
        _http_url(link, f"{path}.link", f"{kind} link")
    _text(obj, "caption", path, f"{kind} caption", limit=CAPTION_MAX, required=False)
    _text(obj, "filename", path, "document filename", limit=None, required=False)
    _bool(obj, "voice", path, "audio voice")


# --- per type --------------------------------------------------------------------------------


def _validate_text(content: dict, path: str) -> None:
    _no_extra_keys(content, {"body", "preview_url"}, path, "text")
    _text(content, "body", path, "text body", limit=TEXT_BODY_MAX)
    _bool(content, "preview_url", path, "text preview_url")


def _coordinate(obj: dict, key: str, path: str, bound: float) -> None:
    where = f"{path}.{key}"
    if key not in obj or obj[key] in (None, ""):
        raise PayloadInvalid(
            f"location {key} is missing; WhatsApp requires it",
            field=where,
            limit="required",
            code=CODE_MISSING_PARAMETER,
        )
    raw = obj[key]
    number: float | None = None
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        number = float(raw)
    elif isinstance(raw, str):  # Meta's own examples send coordinates as strings
        try:
            number = float(raw.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        raise PayloadInvalid(
            f"location {key} {_show(raw)} is not a number",
            field=where,
            value=raw,
            limit="decimal degrees",
            code=CODE_INVALID_VALUE,
        )
    if not -bound <= number <= bound:
        raise PayloadInvalid(
            f"location {key} {number} is out of range; WhatsApp allows -{bound:g} to {bound:g}",
            field=where,
            value=raw,
            limit=bound,
            code=CODE_INVALID_VALUE,
        )


def _validate_location(content: dict, path: str) -> None:
    _no_extra_keys(content, {"latitude", "longitude", "name", "address"}, path, "location")
    _coordinate(content, "latitude", path, 90.0)
    _coordinate(content, "longitude", path, 180.0)
    _text(content, "name", path, "location name", limit=None, required=False)
    _text(content, "address", path, "location address", limit=None, required=False)


_CONTACT_FIELDS = {"name", "phones", "emails", "addresses", "org", "urls", "birthday"}
_CONTACT_NAME_FIELDS = {"formatted_name", "first_name", "last_name", "middle_name", "prefix", "suffix"}


def _contact_cards(content: Any) -> list:
    """Meta's `contacts` object is a list; we also accept `{"contacts": [...]}` as stored content."""
    if isinstance(content, dict) and set(content) == {"contacts"}:
        return content["contacts"]
    return content


def _validate_contacts(content: Any, path: str) -> None:
    cards = _list(
        {"contacts": _contact_cards(content)},
        "contacts",
        "",
        "message",
        minimum=1,
        maximum=CONTACTS_MAX,
        unit="contact",
    )
    for i, card in enumerate(cards):
        where = f"{path}[{i}]"
        card = _dict(card, where, "contact")
        _no_extra_keys(card, _CONTACT_FIELDS, where, "contact")
        if "name" not in card:
            raise PayloadInvalid(
                "contact name is missing; WhatsApp requires name.formatted_name",
                field=f"{where}.name.formatted_name",
                limit="required",
                code=CODE_MISSING_PARAMETER,
            )
        name = _dict(card["name"], f"{where}.name", "contact name")
        _no_extra_keys(name, _CONTACT_NAME_FIELDS, f"{where}.name", "contact name")
        _text(name, "formatted_name", f"{where}.name", "contact formatted_name", limit=None)
        for key, inner in (("phones", "phone"), ("emails", "email"), ("urls", "url"), ("addresses", None)):
            if key not in card:
                continue
            items = _list(card, key, where, f"contact {key}", minimum=0, maximum=None, unit=key[:-1])
            for j, item in enumerate(items):
                item = _dict(item, f"{where}.{key}[{j}]", f"contact {key[:-1]}")
                if inner:
                    _text(item, inner, f"{where}.{key}[{j}]", f"contact {inner}", limit=None)
        if "org" in card:
            _dict(card["org"], f"{where}.org", "contact org")
        if "birthday" in card and not (
            isinstance(card["birthday"], str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", card["birthday"])
        ):
            raise PayloadInvalid(
                f"contact birthday {_show(card['birthday'])} is not YYYY-MM-DD",
                field=f"{where}.birthday",
                value=card["birthday"],
                limit="YYYY-MM-DD",
                code=CODE_INVALID_VALUE,
            )


def _body_and_footer(content: dict, path: str) -> None:
    if "body" not in content:
        raise PayloadInvalid(
            "interactive body is missing; WhatsApp requires body.text",
            field=f"{path}.body.text",
            limit="required",
            code=CODE_MISSING_PARAMETER,
        )
    body = _dict(content["body"], f"{path}.body", "interactive body")
    _no_extra_keys(body, {"text"}, f"{path}.body", "interactive body")
    _text(body, "text", f"{path}.body", "body text", limit=INTERACTIVE_BODY_MAX)
    if "footer" in content:
        footer = _dict(content["footer"], f"{path}.footer", "footer")
        _no_extra_keys(footer, {"text"}, f"{path}.footer", "footer")
        _text(footer, "text", f"{path}.footer", "footer text", limit=FOOTER_TEXT_MAX)


def _header(content: dict, path: str, *, media_allowed: bool) -> None:
    if "header" not in content:
        return
    where = f"{path}.header"
    header = _dict(content["header"], where, "header")
    kinds = ("text", "image", "video", "document") if media_allowed else ("text",)
    kind = header.get("type")
    if kind not in kinds:
        raise PayloadInvalid(
            f"header type {_show(kind)} is not allowed here; WhatsApp accepts {', '.join(kinds)}",
            field=f"{where}.type",
            value=kind,
            limit=list(kinds),
            code=CODE_INVALID_VALUE,
        )
    _no_extra_keys(header, {"type", kind}, where, "header")
    if kind == "text":
        _text(header, "text", where, "header text", limit=HEADER_TEXT_MAX)
    else:
        if kind not in header:
            raise PayloadInvalid(
                f"{kind} header is missing its {kind} object",
                field=f"{where}.{kind}",
                limit="required",
                code=CODE_MISSING_PARAMETER,
            )
        allowed = {"id", "link", "filename"} if kind == "document" else {"id", "link"}
        _media_object(header[kind], kind, f"{where}.{kind}", allowed=allowed)


def _validate_buttons(content: dict, path: str) -> None:
    action = _dict(content.get("action"), f"{path}.action", "interactive action")
    _no_extra_keys(action, {"buttons"}, f"{path}.action", "button action")
    buttons = _list(action, "buttons", f"{path}.action", "message", minimum=1, maximum=BUTTONS_MAX, unit="button")
    ids, titles = [], []
    for i, button in enumerate(buttons):
        where = f"{path}.action.buttons[{i}]"
        button = _dict(button, where, "button")
        _no_extra_keys(button, {"type", "reply"}, where, "button")
        if button.get("type") != "reply":
            raise PayloadInvalid(
                f"button type {_show(button.get('type'))} is not 'reply'",
                field=f"{where}.type",
                value=button.get("type"),
                limit="reply",
                code=CODE_INVALID_VALUE,
            )
        reply = _dict(button.get("reply"), f"{where}.reply", "button reply")
        _no_extra_keys(reply, {"id", "title"}, f"{where}.reply", "button reply")
        ids.append(
            (
                f"{where}.reply.id",
                _text(reply, "id", f"{where}.reply", "button id", limit=BUTTON_ID_MAX, strip_rule=True),
            )
        )
        titles.append(
            (f"{where}.reply.title", _text(reply, "title", f"{where}.reply", "button title", limit=BUTTON_TITLE_MAX))
        )
    _unique(ids, "button id")
    _unique(titles, "button title")


def _validate_list(content: dict, path: str) -> None:
    action = _dict(content.get("action"), f"{path}.action", "interactive action")
    _no_extra_keys(action, {"button", "sections"}, f"{path}.action", "list action")
    _text(action, "button", f"{path}.action", "list button label", limit=LIST_BUTTON_MAX)
    sections = _list(action, "sections", f"{path}.action", "list", minimum=1, maximum=LIST_SECTIONS_MAX, unit="section")
    ids, titles, total = [], [], 0
    for i, section in enumerate(sections):
        where = f"{path}.action.sections[{i}]"
        section = _dict(section, where, "list section")
        _no_extra_keys(section, {"title", "rows"}, where, "list section")
        # The list page requires a title always, the spec only with several sections; we require it when >1.
        _text(section, "title", where, "section title", limit=LIST_SECTION_TITLE_MAX, required=len(sections) > 1)
        rows = _list(section, "rows", where, "list section", minimum=1, maximum=None, unit="row")
        total += len(rows)
        if total > LIST_ROWS_MAX:
            raise PayloadInvalid(
                f"list has more than {LIST_ROWS_MAX} rows in total; WhatsApp allows {LIST_ROWS_MAX}",
                field=f"{where}.rows",
                value=total,
                limit=LIST_ROWS_MAX,
                code=CODE_INVALID_PARAMETER,
            )
        for j, row in enumerate(rows):
            row_path = f"{where}.rows[{j}]"
            row = _dict(row, row_path, "list row")
            _no_extra_keys(row, {"id", "title", "description"}, row_path, "list row")
            ids.append((f"{row_path}.id", _text(row, "id", row_path, "row id", limit=LIST_ROW_ID_MAX, strip_rule=True)))
            titles.append((f"{row_path}.title", _text(row, "title", row_path, "row title", limit=LIST_ROW_TITLE_MAX)))
            _text(row, "description", row_path, "row description", limit=LIST_ROW_DESCRIPTION_MAX, required=False)
    _unique(ids, "row id")
    _unique(titles, "row title")


def _validate_cta_url(content: dict, path: str) -> None:
    action = _dict(content.get("action"), f"{path}.action", "interactive action")
    _no_extra_keys(action, {"name", "parameters"}, f"{path}.action", "cta_url action")
    if action.get("name") != "cta_url":
        raise PayloadInvalid(
            f"cta_url action name {_show(action.get('name'))} is not 'cta_url'",
            field=f"{path}.action.name",
            value=action.get("name"),
            limit="cta_url",
            code=CODE_INVALID_VALUE,
        )
    params = _dict(action.get("parameters"), f"{path}.action.parameters", "cta_url parameters")
    _no_extra_keys(params, {"display_text", "url"}, f"{path}.action.parameters", "cta_url parameters")
    _text(params, "display_text", f"{path}.action.parameters", "button label", limit=CTA_DISPLAY_TEXT_MAX)
    url = _text(params, "url", f"{path}.action.parameters", "button url", limit=None)
    _http_url(url, f"{path}.action.parameters.url", "button url")


def _validate_interactive(content: dict, path: str) -> None:
    kind = content.get("type")
    if kind not in INTERACTIVE_TYPES:
        raise PayloadInvalid(
            f"interactive type {_show(kind)} is not supported; this platform sends {', '.join(INTERACTIVE_TYPES)}",
            field=f"{path}.type",
            value=kind,
            limit=list(INTERACTIVE_TYPES),
            code=CODE_INVALID_VALUE,
        )
    _no_extra_keys(content, {"type", "header", "body", "footer", "action"}, path, "interactive")
    _header(content, path, media_allowed=kind != "list")
    _body_and_footer(content, path)
    if "action" not in content:
        raise PayloadInvalid(
            "interactive action is missing; WhatsApp requires it",
            field=f"{path}.action",
            limit="required",
            code=CODE_MISSING_PARAMETER,
        )
    {"button": _validate_buttons, "list": _validate_list, "cta_url": _validate_cta_url}[kind](content, path)


_TEMPLATE_COMPONENT_TYPES = ("header", "body", "button")
_TEMPLATE_BUTTON_SUB_TYPES = ("quick_reply", "url", "catalog", "copy_code", "flow", "voice_call", "mpm")


def _template_parameter(param: Any, where: str, component: str) -> None:
    param = _dict(param, where, "template parameter")
    kind = param.get("type")
    allowed = {
        "header": ("text", "image", "video", "document", "location"),
        "body": ("text", "currency", "date_time"),
        "button": ("payload", "text", "action", "coupon_code"),
    }[component]
    if kind not in allowed:
        raise PayloadInvalid(
            f"{component} parameter type {_show(kind)} is not allowed; WhatsApp accepts {', '.join(allowed)}",
            field=f"{where}.type",
            value=kind,
            limit=list(allowed),
            code=CODE_INVALID_VALUE,
        )
    if kind == "text":
        _no_extra_keys(param, {"type", "text", "parameter_name"}, where, "text parameter")
        _text(param, "text", where, "template text parameter", limit=TEMPLATE_TEXT_PARAMETER_MAX)
        _text(param, "parameter_name", where, "parameter_name", limit=None, required=False)
    elif kind in ("image", "video", "document"):
        _no_extra_keys(param, {"type", kind, "parameter_name"}, where, f"{kind} parameter")
        if kind not in param:
            raise PayloadInvalid(
                f"{kind} parameter is missing its {kind} object",
                field=f"{where}.{kind}",
                limit="required",
                code=CODE_MISSING_PARAMETER,
            )
        # Captions are not supported on template media.
        allowed_fields = {"id", "link", "filename"} if kind == "document" else {"id", "link"}
        _media_object(param[kind], kind, f"{where}.{kind}", allowed=allowed_fields)
    elif kind == "currency":
        currency = _dict(param.get("currency"), f"{where}.currency", "currency parameter")
        _text(currency, "fallback_value", f"{where}.currency", "currency fallback_value", limit=None)
        _text(currency, "code", f"{where}.currency", "currency code", limit=3)
        amount = currency.get("amount_1000")
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise PayloadInvalid(
                f"currency amount_1000 {_show(amount)} is not a whole number",
                field=f"{where}.currency.amount_1000",
                value=amount,
                limit="integer",
                code=CODE_INVALID_VALUE,
            )
    elif kind == "date_time":
        date_time = _dict(param.get("date_time"), f"{where}.date_time", "date_time parameter")
        _text(date_time, "fallback_value", f"{where}.date_time", "date_time fallback_value", limit=None)
    elif kind == "payload":
        _no_extra_keys(param, {"type", "payload"}, where, "payload parameter")
        _text(param, "payload", where, "button payload", limit=None)
    elif kind in ("action", "coupon_code", "location"):
        if kind not in param:
            raise PayloadInvalid(
                f"{kind} parameter is missing its {kind} value",
                field=f"{where}.{kind}",
                limit="required",
                code=CODE_MISSING_PARAMETER,
            )


def _validate_template(content: dict, path: str) -> None:
    _no_extra_keys(content, {"name", "language", "components"}, path, "template")
    name = _text(content, "name", path, "template name", limit=TEMPLATE_NAME_MAX)
    if not TEMPLATE_NAME_RE.fullmatch(name):
        raise PayloadInvalid(
            f"template name {_show(name)} may only hold lowercase letters, digits and _",
            field=f"{path}.name",
            value=name,
            limit="[a-z0-9_]",
            code=CODE_INVALID_VALUE,
        )
    if "language" not in content:
        raise PayloadInvalid(
            "template language is missing; WhatsApp requires language.code",
            field=f"{path}.language.code",
            limit="required",
            code=CODE_MISSING_PARAMETER,
        )
    language = _dict(content["language"], f"{path}.language", "template language")
    _no_extra_keys(language, {"code", "policy"}, f"{path}.language", "template language")
    _text(language, "code", f"{path}.language", "template language code", limit=None)
    if "policy" in language and language["policy"] != "deterministic":
        raise PayloadInvalid(
            f"template language policy {_show(language['policy'])} is not 'deterministic'",
            field=f"{path}.language.policy",
            value=language["policy"],
            limit="deterministic",
            code=CODE_INVALID_VALUE,
        )
    if "components" not in content:
        return
    components = _list(content, "components", path, "template components", minimum=0, maximum=None, unit="component")
    indexes: list[tuple[str, str]] = []
    for i, component in enumerate(components):
        where = f"{path}.components[{i}]"
        component = _dict(component, where, "template component")
        kind = component.get("type")
        if kind not in _TEMPLATE_COMPONENT_TYPES:
            raise PayloadInvalid(
                f"template component type {_show(kind)} is not one of {', '.join(_TEMPLATE_COMPONENT_TYPES)}",
                field=f"{where}.type",
                value=kind,
                limit=list(_TEMPLATE_COMPONENT_TYPES),
                code=CODE_INVALID_VALUE,
            )
        if kind == "button":
            _no_extra_keys(component, {"type", "sub_type", "index", "parameters"}, where, "button component")
            sub_type = _text(component, "sub_type", where, "button component sub_type", limit=None)
            if sub_type not in _TEMPLATE_BUTTON_SUB_TYPES:
                raise PayloadInvalid(
                    f"button sub_type {_show(sub_type)} is not one of {', '.join(_TEMPLATE_BUTTON_SUB_TYPES)}",
                    field=f"{where}.sub_type",
                    value=sub_type,
                    limit=list(_TEMPLATE_BUTTON_SUB_TYPES),
                    code=CODE_INVALID_VALUE,
                )
            index = component.get("index")
            if index is None:
                raise PayloadInvalid(
                    "button component index is missing; WhatsApp requires it",
                    field=f"{where}.index",
                    limit="required",
                    code=CODE_MISSING_PARAMETER,
                )
            position_ok = not isinstance(index, bool) and re.fullmatch(r"\d{1,2}", str(index)) is not None
            if not position_ok or int(index) >= TEMPLATE_BUTTONS_MAX:
                raise PayloadInvalid(
                    f"button component index {_show(index)} is not a position 0–{TEMPLATE_BUTTONS_MAX - 1}",
                    field=f"{where}.index",
                    value=index,
                    limit=TEMPLATE_BUTTONS_MAX,
                    code=CODE_INVALID_VALUE,
                )
            indexes.append((f"{where}.index", str(int(index))))
        else:
            _no_extra_keys(component, {"type", "parameters"}, where, f"{kind} component")
        if "parameters" in component:
            params = _list(
                component, "parameters", where, f"{kind} parameters", minimum=0, maximum=None, unit="parameter"
            )
            if kind == "header" and len(params) > 1:
                raise PayloadInvalid(
                    f"header component has {len(params)} parameters; WhatsApp allows 1",
                    field=f"{where}.parameters",
                    value=len(params),
                    limit=1,
                    code=CODE_INVALID_PARAMETER,
                )
            for j, param in enumerate(params):
                _template_parameter(param, f"{where}.parameters[{j}]", kind)
    _unique(indexes, "button component index")


def _validate_reaction(content: dict, path: str) -> None:
    _no_extra_keys(content, {"message_id", "emoji"}, path, "reaction")
    _text(content, "message_id", path, "reaction message_id", limit=None)
    if "emoji" not in content:
        raise PayloadInvalid(
            'reaction emoji is missing; send "" to remove a reaction',
            field=f"{path}.emoji",
            limit="required",
            code=CODE_MISSING_PARAMETER,
        )
    emoji = content["emoji"]
    # "" removes a reaction (UNVERIFIED in current docs, but the common pattern).
    if not isinstance(emoji, str) or (emoji and (len(emoji) > 16 or re.search(r"[A-Za-z\s]", emoji))):
        raise PayloadInvalid(
            f"reaction emoji {_show(emoji)} is not a single emoji",
            field=f"{path}.emoji",
            value=emoji,
            limit="one emoji",
            code=CODE_INVALID_VALUE,
        )


def _validate_media(kind: str) -> Any:
    def validate(content: dict, path: str) -> None:
        _media_object(content, kind, path)

    return validate


_VALIDATORS = {
    "text": _validate_text,
    "location": _validate_location,
    "contacts": _validate_contacts,
    "interactive": _validate_interactive,
    "template": _validate_template,
    "reaction": _validate_reaction,
    **{kind: _validate_media(kind) for kind in MEDIA_KINDS},
}


def validate_content(message_type: str, content: Any) -> None:
    """Raise PayloadInvalid if `content` is not a valid Meta `<message_type>` object."""
    if message_type not in _VALIDATORS:
        raise PayloadInvalid(
            f"message type {_show(message_type)} is not supported; "
            f"this platform sends {', '.join(sorted(MESSAGE_TYPES))}",
            field="type",
            value=message_type,
            limit=sorted(MESSAGE_TYPES),
            code=CODE_INVALID_VALUE,
        )
    if message_type != "contacts":
        _dict(content, message_type, message_type)
    _VALIDATORS[message_type](content, message_type)


# --- recipients ------------------------------------------------------------------------------


def normalise_phone(phone: str) -> str:
    """`+44 20 7946 0000` → `+442079460000`. Digits without `+` are taken to include the country code
    (as `wa_id`s do): without the `+`, Meta would prepend the business number's country code instead."""
    text = phone.strip() if isinstance(phone, str) else ""
    if not text or not _PHONE_CHARS_RE.fullmatch(text) or "+" in text[1:]:
        raise PayloadInvalid(
            f"phone number {_show(phone)} may only hold digits, spaces, -, ( ) and a leading +",
            field="to",
            value=phone,
            limit="E.164 phone number",
            code=CODE_INVALID_VALUE,
        )
    digits = re.sub(r"\D", "", text)
    if text.startswith("00"):
        digits = digits[2:]  # 00 is the international call prefix; no country code starts with 0
    if not 7 <= len(digits) <= 15 or digits.startswith("0"):
        raise PayloadInvalid(
            f"phone number {_show(phone)} has {_plural(len(digits), 'digit')} after the country "
            "code prefix; WhatsApp needs a country code and 7 to 15 digits",
            field="to",
            value=phone,
            limit="7-15 digits",
            code=CODE_INVALID_VALUE,
        )
    return "+" + digits


def is_bsuid(value: str) -> bool:
    """A business-scoped user id such as `US.13491208655302741918` (not a parent `US.ENT.…` id)."""
    return isinstance(value, str) and BSUID_RE.fullmatch(value) is not None


# --- the request body ------------------------------------------------------------------------


def message_payload(
    *,
    message_type: str,
    content: dict,
    to: str | None = None,
    recipient: str | None = None,
    reply_to_wamid: str | None = None,
    biz_opaque_callback_data: str | None = None,
) -> dict:
    """The JSON body for `POST /<PHONE_NUMBER_ID>/messages`, or PayloadInvalid naming what is wrong.

    Exactly one of `to` (a phone number) or `recipient` (a BSUID) is required.
    """
    if (to is None) == (recipient is None):
        raise PayloadInvalid(
            "a message needs exactly one of to (phone number) or recipient (BSUID)",
            field="to",
            value={"to": to, "recipient": recipient},
            limit="exactly one",
            code=CODE_MISSING_PARAMETER if to is None else CODE_INVALID_PARAMETER,
        )
    body: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual"}
    if to is not None:
        body["to"] = normalise_phone(to)
    else:
        if not is_bsuid(recipient):
            raise PayloadInvalid(
                f"recipient {_show(recipient)} is not a business-scoped user id like US.1349…",
                field="recipient",
                value=recipient,
                limit="CC.<up to 128 letters or digits>",
                code=CODE_INVALID_VALUE,
            )
        body["recipient"] = recipient
    validate_content(message_type, content)
    body["type"] = message_type
    if message_type == "contacts":
        body["contacts"] = copy.deepcopy(_contact_cards(content))
    else:
        body[message_type] = copy.deepcopy(content)
    if reply_to_wamid is not None:
        if message_type == "reaction":
            raise PayloadInvalid(
                "a reaction cannot be sent as a reply",
                field="context.message_id",
                value=reply_to_wamid,
                limit="no context on reactions",
                code=CODE_INVALID_VALUE,
            )
        if not isinstance(reply_to_wamid, str) or not reply_to_wamid.strip():
            raise PayloadInvalid(
                f"reply-to message id {_show(reply_to_wamid)} is empty",
                field="context.message_id",
                value=reply_to_wamid,
                limit="wamid",
                code=CODE_INVALID_VALUE,
            )
        body["context"] = {"message_id": reply_to_wamid}
    if biz_opaque_callback_data is not None:
        if not isinstance(biz_opaque_callback_data, str) or len(biz_opaque_callback_data) > BIZ_OPAQUE_MAX:
            raise PayloadInvalid(
                f"biz_opaque_callback_data is {_plural(len(str(biz_opaque_callback_data)), 'character')}; "
                f"WhatsApp allows {BIZ_OPAQUE_MAX}",
                field="biz_opaque_callback_data",
                value=biz_opaque_callback_data,
                limit=BIZ_OPAQUE_MAX,
                code=CODE_INVALID_PARAMETER,
            )
        body["biz_opaque_callback_data"] = biz_opaque_callback_data
    return body


def mark_read_payload(wamid: str, *, typing: bool = False) -> dict:
    """Mark an inbound message read (and earlier ones in the thread); optionally show 'typing…' for ≤25 s."""
    if not isinstance(wamid, str) or not wamid.strip():
        raise PayloadInvalid(
            f"message id {_show(wamid)} is empty",
            field="message_id",
            value=wamid,
            limit="wamid",
            code=CODE_MISSING_PARAMETER,
        )
    body: dict[str, Any] = {"messaging_product": "whatsapp", "status": "read", "message_id": wamid}
    if typing:
        body["typing_indicator"] = {"type": "text"}
    return body


# --- content constructors: business code never hand-writes Meta JSON --------------------------


def text_content(body: str, *, preview_url: bool = False) -> dict:
    content = {"body": body, "preview_url": preview_url}
    validate_content("text", content)
    return content


def media_content(
    kind: str,
    *,
    media_id: str | None = None,
    link: str | None = None,
    caption: str | None = None,
    filename: str | None = None,
    voice: bool | None = None,
) -> dict:
    content: dict[str, Any] = {}
    if media_id is not None:
        content["id"] = media_id
    if link is not None:
        content["link"] = link
    if caption is not None:
        content["caption"] = caption
    if filename is not None:
        content["filename"] = filename
    if voice is not None:
        content["voice"] = voice
    if kind not in MEDIA_KINDS:
        raise PayloadInvalid(
            f"media kind {_show(kind)} is not one of {', '.join(MEDIA_KINDS)}",
            field="type",
            value=kind,
            limit=list(MEDIA_KINDS),
            code=CODE_INVALID_VALUE,
        )
    validate_content(kind, content)
    return content


def location_content(latitude: float, longitude: float, *, name: str | None = None, address: str | None = None) -> dict:
    content: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
    if name is not None:
        content["name"] = name
    if address is not None:
        content["address"] = address
    validate_content("location", content)
    return content


def _header_footer(content: dict, header_text: str | None, footer: str | None) -> dict:
    if header_text is not None:
        content["header"] = {"type": "text", "text": header_text}
    if footer is not None:
        content["footer"] = {"text": footer}
    return content


def buttons_content(
    body: str, buttons: list[tuple[str, str]], *, header_text: str | None = None, footer: str | None = None
) -> dict:
    content: dict[str, Any] = {
        "type": "button",
        "body": {"text": body},
        "action": {"buttons": [{"type": "reply", "reply": {"id": bid, "title": title}} for bid, title in buttons]},
    }
    content = _header_footer(content, header_text, footer)
    validate_content("interactive", content)
    return content


def list_content(
    body: str,
    button_label: str,
    sections: list[tuple[str | None, list[tuple[str, str, str | None]]]],
    *,
    header_text: str | None = None,
    footer: str | None = None,
) -> dict:
    built = []
    for title, rows in sections:
        section: dict[str, Any] = {} if title is None else {"title": title}
        section["rows"] = [
            {"id": rid, "title": rtitle} | ({} if desc is None else {"description": desc}) for rid, rtitle, desc in rows
        ]
        built.append(section)
    content: dict[str, Any] = {
        "type": "list",
        "body": {"text": body},
        "action": {"button": button_label, "sections": built},
    }
    content = _header_footer(content, header_text, footer)
    validate_content("interactive", content)
    return content


def cta_url_content(
    body: str, display_text: str, url: str, *, header_text: str | None = None, footer: str | None = None
) -> dict:
    content: dict[str, Any] = {
        "type": "cta_url",
        "body": {"text": body},
        "action": {"name": "cta_url", "parameters": {"display_text": display_text, "url": url}},
    }
    content = _header_footer(content, header_text, footer)
    validate_content("interactive", content)
    return content


def template_content(name: str, language: str, components: list[dict] | None = None) -> dict:
    content: dict[str, Any] = {"name": name, "language": {"code": language}}
    if components:
        content["components"] = components
    validate_content("template", content)
    return content


def reaction_content(message_id: str, emoji: str) -> dict:
    """`emoji=""` removes an earlier reaction."""
    content = {"message_id": message_id, "emoji": emoji}
    validate_content("reaction", content)
    return content


# --- splitting long replies ------------------------------------------------------------------

_PARAGRAPH_BREAK = re.compile(r"\s*\n\s*\n\s*")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?…])\s+|\s*\n\s*")
_WORD_BREAK = re.compile(r"\s+")


def _pieces(text: str, pattern: re.Pattern) -> list[tuple[str, str]]:
    """(separator before, piece) pairs; separators are the original whitespace, pieces never empty."""
    out: list[tuple[str, str]] = []
    position, separator = 0, ""
    for match in pattern.finditer(text):
        piece = text[position : match.start()]
        if piece:
            out.append((separator, piece))
            separator = match.group()
        else:
            separator = separator or match.group()
        position = match.end()
    if text[position:]:
        out.append((separator, text[position:]))
    return out


def text_split(text: str, *, target: int = 160, hard_limit: int = 4096) -> list[str]:
    """Split a long reply into WhatsApp-sized messages.

    Parts are packed up to `target` characters, breaking between paragraphs first, then sentences (or
    lines), then words; a part runs over `target` only to keep a long word whole. A single word longer
    than `hard_limit` is the only thing ever cut, at `hard_limit`. Parts are trimmed and never empty.
    """
    if hard_limit < 1 or target < 1:
        raise ValueError("target and hard_limit must be positive")
    target = min(target, hard_limit)
    units: list[tuple[str, str]] = []

    def add(separator: str, piece: str, level: int) -> None:
        if len(piece) <= target:
            units.append((separator, piece))
            return
        if level == 0:
            sub = _pieces(piece, _SENTENCE_BREAK)
        elif level == 1:
            sub = _pieces(piece, _WORD_BREAK)
        else:  # a single word
            if len(piece) <= hard_limit:
                units.append((separator, piece))
            else:
                for start in range(0, len(piece), hard_limit):
                    units.append((separator if start == 0 else "", piece[start : start + hard_limit]))
            return
        for i, (sub_separator, sub_piece) in enumerate(sub):
            add(separator if i == 0 else sub_separator, sub_piece, level + 1)

    for separator, paragraph in _pieces(text.strip(), _PARAGRAPH_BREAK):
        add("\n\n" if separator else "", paragraph, 0)

    parts: list[str] = []
    current = ""
    for separator, piece in units:
        # A cut word ("" separator after the first chunk) always starts a new part.
        if current and separator and len(current) + len(separator) + len(piece) <= target:
            current += separator + piece
        else:
            if current:
                parts.append(current)
            current = piece
    if current:
        parts.append(current)
    return [part.strip() for part in parts if part.strip()]


# --- media rules (§6) ------------------------------------------------------------------------

# Sizes in decimal units: where Meta says "5 MB" we allow 5,000,000 bytes, the stricter reading.
KB = 1000
MB = 1000 * 1000


@dataclass(frozen=True)
class MediaRule:
    mime_types: tuple[str, ...]
    max_bytes: int
    animated_max_bytes: int | None = None
    note: str = ""


DOCUMENT_MIME_TYPES = (
    "text/plain",
    "application/pdf",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
)

MEDIA_RULES: dict[str, MediaRule] = {
    "audio": MediaRule(
        ("audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg; codecs=opus"),
        16 * MB,
        note="audio/ogg only with the OPUS codec",
    ),
    "document": MediaRule(DOCUMENT_MIME_TYPES, 100 * MB),
    "image": MediaRule(("image/jpeg", "image/png"), 5 * MB),
    "sticker": MediaRule(("image/webp",), 100 * KB, animated_max_bytes=500 * KB),
    "video": MediaRule(("video/mp4", "video/3gpp"), 16 * MB),
}


def mime_normalise(mime_type: str) -> str:
    main, _, params = mime_type.strip().lower().partition(";")
    if main.strip() == "audio/ogg":
        codecs = dict(
            (k.strip(), v.strip().strip('"')) for k, _, v in (p.partition("=") for p in params.split(";")) if k.strip()
        ).get("codecs", "")
        return "audio/ogg; codecs=opus" if codecs == "opus" else "audio/ogg"
    return main.strip()


def _size(n: int) -> str:
    return f"{n // MB} MB" if n >= MB else f"{n // KB} KB"


def media_check(kind: str, mime_type: str, size: int, *, animated: bool = False) -> None:
    """Raise PayloadInvalid (code 131053) unless WhatsApp accepts this file as `kind`."""
    rule = MEDIA_RULES.get(kind)
    if rule is None:
        raise PayloadInvalid(
            f"media kind {_show(kind)} is not one of {', '.join(MEDIA_RULES)}",
            field="type",
            value=kind,
            limit=list(MEDIA_RULES),
            code=CODE_MEDIA_UNSUPPORTED,
        )
    normalised = mime_normalise(mime_type or "")
    if normalised not in rule.mime_types:
        accepted = ", ".join(rule.mime_types)
        note = f" ({rule.note})" if rule.note else ""
        raise PayloadInvalid(
            f"{kind} type {_show(mime_type)} is not accepted; WhatsApp accepts {accepted}{note}",
            field=f"{kind}.mime_type",
            value=mime_type,
            limit=list(rule.mime_types),
            code=CODE_MEDIA_UNSUPPORTED,
        )
    limit = rule.animated_max_bytes if animated and rule.animated_max_bytes else rule.max_bytes
    if size <= 0:
        raise PayloadInvalid(
            f"{kind} file is empty", field=f"{kind}.size", value=size, limit=limit, code=CODE_MEDIA_UNSUPPORTED
        )
    if size > limit:
        what = f"animated {kind}" if animated and rule.animated_max_bytes else kind
        raise PayloadInvalid(
            f"{what} is {size:,} bytes; WhatsApp allows {_size(limit)}",
            field=f"{kind}.size",
            value=size,
            limit=limit,
            code=CODE_MEDIA_UNSUPPORTED,
        )


# --- business profile ----------------------------------------------------------------------------
# Meta's documented limits for POST /<phone_number_id>/whatsapp_business_profile.

PROFILE_LIMITS = {"about": 139, "address": 256, "description": 512, "email": 128}
PROFILE_WEBSITES_MAX = 2
PROFILE_WEBSITE_MAX = 256
PROFILE_VERTICALS = (
    "UNDEFINED",
    "OTHER",
    "AUTO",
    "BEAUTY",
    "APPAREL",
    "EDU",
    "ENTERTAIN",
    "EVENT_PLAN",
    "FINANCE",
    "GROCERY",
    "GOVT",
    "HOTEL",
    "HEALTH",
    "NONPROFIT",
    "PROF_SERVICES",
    "RETAIL",
    "TRAVEL",
    "RESTAURANT",
    "NOT_A_BIZ",
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def business_profile_check(profile: dict) -> None:
    """Raise PayloadInvalid (code 100) for the first business-profile field Meta would refuse."""
    for field, limit in PROFILE_LIMITS.items():
        value = profile.get(field)
        if value is None:
            continue
        if len(value) > limit:
            raise PayloadInvalid(
                f"{field} is {len(value)} characters; WhatsApp allows {limit}",
                field=field,
                value=value,
                limit=limit,
                code=100,
            )
    if profile.get("about") is not None and not profile["about"].strip():
        raise PayloadInvalid(
            "about cannot be empty (1 to 139 characters)", field="about", value="", limit=139, code=100
        )
    if profile.get("email") and not _EMAIL.match(profile["email"]):
        raise PayloadInvalid(
            f"email {profile['email']!r} is not an email address",
            field="email",
            value=profile["email"],
            limit=None,
            code=100,
        )
    websites = profile.get("websites")
    if websites is not None:
        if len(websites) > PROFILE_WEBSITES_MAX:
            raise PayloadInvalid(
                f"{len(websites)} websites given; WhatsApp allows {PROFILE_WEBSITES_MAX}",
                field="websites",
                value=websites,
                limit=PROFILE_WEBSITES_MAX,
                code=100,
            )
        for i, site in enumerate(websites):
            if len(site) > PROFILE_WEBSITE_MAX:
                raise PayloadInvalid(
                    f"website {i + 1} is {len(site)} characters; WhatsApp allows 256",
                    field=f"websites[{i}]",
                    value=site,
                    limit=PROFILE_WEBSITE_MAX,
                    code=100,
                )
            _http_url(site, f"websites[{i}]", "website")
    vertical = profile.get("vertical")
    if vertical is not None and vertical not in PROFILE_VERTICALS:
        raise PayloadInvalid(
            f"vertical {vertical!r} is not one of WhatsApp's industries",
            field="vertical",
            value=vertical,
            limit=list(PROFILE_VERTICALS),
            code=100,
        )
