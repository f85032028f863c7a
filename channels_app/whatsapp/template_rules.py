"""Message templates on the wire: Meta's rules for a new template, and the parameters of a send.

Pure functions over Meta's shapes (reference §5.9, §5.15, §7); nothing here imports Django or an app.

Creating: `template_definition_problems(draft)` lists every rule the draft breaks, one message each;
`template_definition_build(draft)` turns a clean draft into the body of `POST /<WABA_ID>/message_templates`.

Sending: values are a flat `{placeholder key: text}` dict. The keys:
- a body variable by its name: `"1"`, `"2"` (positional) or `"first_name"` (named);
- a header text variable: `"header.1"` when positional (the body has a `{{1}}` of its own), its name
  when named (one namespace per template, so `{{first_name}}` in header and body takes one value);
- the suffix of a URL button: `"button.<index>"`, the button's 0-based position among all buttons.
`template_placeholders` lists them for a stored template, with Meta's example values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import urlsplit

NAME_MAX = 512
BODY_MAX = 1024
HEADER_TEXT_MAX = 60
FOOTER_MAX = 60
BUTTONS_MAX = 10
URL_BUTTONS_MAX = 2
PHONE_BUTTONS_MAX = 1
BUTTON_TEXT_MAX = 25
URL_MAX = 2000

CATEGORIES = ("MARKETING", "UTILITY", "AUTHENTICATION")
PARAMETER_FORMATS = ("POSITIONAL", "NAMED")
HEADER_FORMATS = ("TEXT", "IMAGE", "VIDEO", "DOCUMENT")
MEDIA_HEADER_FORMATS = ("IMAGE", "VIDEO", "DOCUMENT")
BUTTON_TYPES = ("QUICK_REPLY", "URL", "PHONE_NUMBER")

NAME_RE = re.compile(r"[a-z0-9_]+")
LANGUAGE_RE = re.compile(r"[a-z]{2,3}(_[A-Za-z]{2,4})?")
VARIABLE_RE = re.compile(r"\{\{(.*?)\}\}")
ADJACENT_RE = re.compile(r"\{\{([^{}]*)\}\}\s*\{\{([^{}]*)\}\}")
POSITIONAL_RE = re.compile(r"[1-9][0-9]*")
NAMED_RE = re.compile(r"[a-z][a-z0-9_]*")
# Meta's authentication templates support no emoji (templates/authentication-templates); these
# blocks cover pictographs, dingbats and the emoji presentation selector.
EMOJI_RE = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\ufe0f]")


# --- creating ----------------------------------------------------------------------------------


class TemplateProblem(NamedTuple):
    field: str  # the draft's field: "name", "body", "body_examples.first_name", "buttons.2.text"…
    message: str


class TemplateDefinitionInvalid(ValueError):
    """A draft Meta would reject; `problems` holds one message per broken rule."""

    def __init__(self, problems: list[TemplateProblem]) -> None:
        self.problems = problems
        super().__init__(" ".join(p.message for p in problems))


@dataclass
class TemplateButton:
    type: str  # quick_reply | url | phone_number (any case)
    text: str
    url: str = ""
    url_example: str = ""  # the value of the URL's {{1}}, for Meta's review
    phone_number: str = ""


@dataclass
class TemplateDraft:
    """What staff fill in to create a template. Examples are keyed by variable name ("1", "first_name")."""

    name: str
    language: str
    category: str
    body: str
    body_examples: dict[str, str] = field(default_factory=dict)
    parameter_format: str = ""  # positional | named; empty: taken from the body's variables
    header_format: str = ""  # "" (none) | text | image | video | document
    header_text: str = ""
    header_example: str = ""
    header_handle: str = ""  # the sample's handle from the Resumable Upload API (media headers)
    footer: str = ""
    buttons: list[TemplateButton] = field(default_factory=list)


def template_variables(text: str) -> list[str]:
    """Distinct variable names (`1`, `first_name`…) in order of first appearance."""
    seen: list[str] = []
    for raw in VARIABLE_RE.findall(text or ""):
        name = raw.strip()
        if name not in seen:
            seen.append(name)
    return seen


def _braced(names: list[str]) -> str:
    return ", ".join("{{" + n + "}}" for n in names)


def phone_e164(text: str) -> str | None:
    """`+44 20 7946 0000` → `+442079460000`; None unless it is an international number of a possible length.

    "Possible" rather than "valid": number ranges change faster than the library, and test and
    sandbox numbers (555, Ofcom's drama ranges) are often outside the allocated ones.
    """
    import phonenumbers

    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def draft_parameter_format(draft: TemplateDraft) -> str:
    """POSITIONAL or NAMED: the declared format, else what the variables use (positional by default)."""
    declared = (draft.parameter_format or "").strip().upper()
    if declared:
        return declared
    names = template_variables(draft.body) + template_variables(draft.header_text)
    return "NAMED" if any(NAMED_RE.fullmatch(n) for n in names) else "POSITIONAL"


def _text_problems(text: str, where: str, label: str, named: bool) -> list[TemplateProblem]:
    """Start/end, adjacency and naming rules shared by the body and a text header."""
    problems: list[TemplateProblem] = []
    variables = template_variables(text)
    for name in variables:
        # A well-formed name of the other kind is a format problem, reported once by _format_problems.
        if not (NAMED_RE.fullmatch(name) or POSITIONAL_RE.fullmatch(name)):
            hint = "lowercase letters, digits and _, starting with a letter" if named else "1, 2, 3…"
            problems.append(
                TemplateProblem(where, f"{{{{{name}}}}} in the {label} is not a valid parameter: use {hint}.")
            )
    stripped = text.strip()
    if variables and stripped.startswith("{{"):
        problems.append(TemplateProblem(where, f"The {label} cannot start with a parameter: put some words before it."))
    if variables and stripped.endswith("}}"):
        problems.append(TemplateProblem(where, f"The {label} cannot end with a parameter: put some words after it."))
    for first, second in ADJACENT_RE.findall(text):
        problems.append(
            TemplateProblem(
                where,
                f"{{{{{first.strip()}}}}} and {{{{{second.strip()}}}}} are next to each other in the {label}: "
                "put words between them.",
            )
        )
    return problems


def _format_problems(draft: TemplateDraft) -> tuple[list[TemplateProblem], bool]:
    """Problems with the parameter format, and whether the template is named."""
    problems: list[TemplateProblem] = []
    declared = (draft.parameter_format or "").strip().upper()
    if declared and declared not in PARAMETER_FORMATS:
        problems.append(TemplateProblem("parameter_format", "The parameter format is either positional or named."))
    names = template_variables(draft.body) + (
        template_variables(draft.header_text) if _header_format(draft) == "TEXT" else []
    )
    positional = [n for n in names if POSITIONAL_RE.fullmatch(n)]
    named = [n for n in names if NAMED_RE.fullmatch(n)]
    if positional and named:
        problems.append(
            TemplateProblem(
                "body",
                f"The template mixes positional ({_braced(positional[:1])}) and named ({_braced(named[:1])}) "
                "parameters: use one kind throughout.",
            )
        )
    elif declared == "POSITIONAL" and named:
        problems.append(
            TemplateProblem(
                "parameter_format",
                f"The text uses named parameters ({_braced(named[:1])}) but the format is positional: "
                "choose named, or number them {{1}}, {{2}}….",
            )
        )
    elif declared == "NAMED" and positional:
        problems.append(
            TemplateProblem(
                "parameter_format",
                f"The text uses positional parameters ({_braced(positional[:1])}) but the format is named: "
                "choose positional, or name them like {{first_name}}.",
            )
        )
    return problems, draft_parameter_format(draft) == "NAMED"


def _header_format(draft: TemplateDraft) -> str:
    return (draft.header_format or "").strip().upper()


def _body_problems(draft: TemplateDraft, named: bool) -> list[TemplateProblem]:
    body = draft.body or ""
    if not body.strip():
        return [TemplateProblem("body", "Write the body: it is the text every customer receives.")]
    problems: list[TemplateProblem] = []
    if len(body) > BODY_MAX:
        problems.append(TemplateProblem("body", f"The body is {len(body)} characters; WhatsApp allows {BODY_MAX}."))
    problems += _text_problems(body, "body", "body", named)
    variables = template_variables(body)
    numbers = [n for n in variables if POSITIONAL_RE.fullmatch(n)]
    if not named and numbers and numbers != [str(i) for i in range(1, len(numbers) + 1)]:
        problems.append(
            TemplateProblem(
                "body",
                f"Positional parameters are numbered {{{{1}}}}, {{{{2}}}}… in order, without gaps; the body has "
                f"{_braced(numbers)}.",
            )
        )
    examples = {str(k).strip(): str(v or "").strip() for k, v in (draft.body_examples or {}).items()}
    for name in variables:
        if not examples.get(name):
            problems.append(
                TemplateProblem(
                    f"body_examples.{name}",
                    f"Give an example value for {{{{{name}}}}}: Meta reviews every parameter with a sample.",
                )
            )
    for name in examples:
        if name not in variables and examples[name]:
            problems.append(
                TemplateProblem(
                    f"body_examples.{name}", f"An example was given for {{{{{name}}}}}, which the body does not use."
                )
            )
    return problems


def _header_problems(draft: TemplateDraft, named: bool) -> list[TemplateProblem]:
    kind = _header_format(draft)
    if not kind:
        return []
    if kind not in HEADER_FORMATS:
        return [TemplateProblem("header_format", "The header is text, an image, a video or a document.")]
    if kind in MEDIA_HEADER_FORMATS:
        if not draft.header_handle:
            noun = kind.lower()
            return [
                TemplateProblem("header_file", f"A {noun} header needs a sample {noun} for Meta's review: upload one.")
            ]
        return []
    text = draft.header_text or ""
    if not text.strip():
        return [TemplateProblem("header_text", "Write the header text, or choose no header.")]
    problems: list[TemplateProblem] = []
    if len(text) > HEADER_TEXT_MAX:
        problems.append(
            TemplateProblem("header_text", f"The header is {len(text)} characters; WhatsApp allows {HEADER_TEXT_MAX}.")
        )
    variables = template_variables(text)
    if len(variables) > 1:
        problems.append(TemplateProblem("header_text", f"The header may hold one parameter; it has {len(variables)}."))
    problems += _text_problems(text, "header_text", "header", named)
    if variables and not named and variables[0] != "1":
        problems.append(TemplateProblem("header_text", "The header's positional parameter is {{1}}."))
    if variables and not (draft.header_example or "").strip():
        problems.append(
            TemplateProblem(
                "header_example",
                f"Give an example value for the header's {{{{{variables[0]}}}}}: Meta reviews every parameter "
                "with a sample.",
            )
        )
    return problems


def _footer_problems(draft: TemplateDraft) -> list[TemplateProblem]:
    footer = draft.footer or ""
    problems: list[TemplateProblem] = []
    if len(footer) > FOOTER_MAX:
        problems.append(
            TemplateProblem("footer", f"The footer is {len(footer)} characters; WhatsApp allows {FOOTER_MAX}.")
        )
    if VARIABLE_RE.search(footer):
        problems.append(TemplateProblem("footer", "The footer cannot hold parameters: remove the {{…}}."))
    return problems


def _url_problems(button: TemplateButton, where: str, number: int) -> list[TemplateProblem]:
    url = (button.url or "").strip()
    if not url:
        return [TemplateProblem(f"{where}.url", f"Button {number} opens a website: give its URL.")]
    problems: list[TemplateProblem] = []
    parts = urlsplit(VARIABLE_RE.sub("x", url))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        problems.append(TemplateProblem(f"{where}.url", f"Button {number}'s URL must start with https:// or http://."))
    if len(url) > URL_MAX:
        problems.append(
            TemplateProblem(
                f"{where}.url", f"Button {number}'s URL is {len(url)} characters; WhatsApp allows {URL_MAX}."
            )
        )
    variables = VARIABLE_RE.findall(url)
    if len(variables) > 1 or (variables and (variables[0].strip() != "1" or not url.endswith("}}"))):
        problems.append(
            TemplateProblem(
                f"{where}.url", f"Button {number}'s URL may hold one parameter, {{{{1}}}}, at its very end."
            )
        )
    elif variables and not (button.url_example or "").strip():
        problems.append(
            TemplateProblem(
                f"{where}.url_example",
                f"Give an example value for the {{{{1}}}} in button {number}'s URL, for Meta's review.",
            )
        )
    elif not variables and (button.url_example or "").strip():
        problems.append(
            TemplateProblem(
                f"{where}.url_example", f"Button {number} has an example but its URL has no {{{{1}}}} to fill."
            )
        )
    return problems


def _buttons_problems(draft: TemplateDraft) -> list[TemplateProblem]:
    buttons = list(draft.buttons or [])
    if not buttons:
        return []
    problems: list[TemplateProblem] = []
    kinds = [(b.type or "").strip().upper() for b in buttons]
    if len(buttons) > BUTTONS_MAX:
        problems.append(
            TemplateProblem("buttons", f"A template has at most {BUTTONS_MAX} buttons; this one has {len(buttons)}.")
        )
    if kinds.count("URL") > URL_BUTTONS_MAX:
        problems.append(
            TemplateProblem(
                "buttons",
                f"A template has at most {URL_BUTTONS_MAX} website buttons; this one has {kinds.count('URL')}.",
            )
        )
    if kinds.count("PHONE_NUMBER") > PHONE_BUTTONS_MAX:
        problems.append(
            TemplateProblem(
                "buttons",
                f"A template has at most {PHONE_BUTTONS_MAX} call button; this one has {kinds.count('PHONE_NUMBER')}.",
            )
        )
    quick = [i for i, kind in enumerate(kinds) if kind == "QUICK_REPLY"]
    if quick and quick != list(range(quick[0], quick[-1] + 1)):
        problems.append(
            TemplateProblem(
                "buttons",
                "Quick-reply buttons must sit together (WhatsApp groups them): put them all before or all after "
                "the website and call buttons.",
            )
        )
    for index, (button, kind) in enumerate(zip(buttons, kinds, strict=True)):
        where, number = f"buttons.{index}", index + 1
        if kind not in BUTTON_TYPES:
            problems.append(
                TemplateProblem(f"{where}.type", f"Button {number} is a quick reply, a website link or a call button.")
            )
            continue
        text = button.text or ""
        if not text.strip():
            problems.append(TemplateProblem(f"{where}.text", f"Button {number} needs a label."))
        elif len(text) > BUTTON_TEXT_MAX:
            problems.append(
                TemplateProblem(
                    f"{where}.text",
                    f"Button {number}'s label is {len(text)} characters; WhatsApp allows {BUTTON_TEXT_MAX}.",
                )
            )
        if VARIABLE_RE.search(text):
            problems.append(TemplateProblem(f"{where}.text", f"Button {number}'s label cannot hold parameters."))
        if kind == "URL":
            problems += _url_problems(button, where, number)
        elif kind == "PHONE_NUMBER" and phone_e164((button.phone_number or "").strip()) is None:
            problems.append(
                TemplateProblem(
                    f"{where}.phone_number",
                    f"Button {number} calls a number: give it in international format, e.g. +44 20 7946 0000.",
                )
            )
    return problems


def _authentication_problems(draft: TemplateDraft) -> list[TemplateProblem]:
    """Meta's authentication templates carry a one-time code: no media, no links, no emoji
    (templates/authentication-templates). Meta's preset text and OTP button are not built here."""
    problems: list[TemplateProblem] = []
    if _header_format(draft) in MEDIA_HEADER_FORMATS:
        problems.append(TemplateProblem("header_format", "Authentication templates cannot have a media header."))
    for index, button in enumerate(draft.buttons or []):
        if (button.type or "").strip().upper() in ("URL", "PHONE_NUMBER"):
            problems.append(
                TemplateProblem(
                    f"buttons.{index}.type",
                    f"Authentication templates cannot have website or call buttons (button {index + 1}).",
                )
            )
    for where, text in (("body", draft.body), ("header_text", draft.header_text), ("footer", draft.footer)):
        if EMOJI_RE.search(text or ""):
            problems.append(TemplateProblem(where, "Authentication templates cannot contain emoji."))
    return problems


def template_definition_problems(draft: TemplateDraft) -> list[TemplateProblem]:
    """Every rule of Meta's the draft breaks, one message each (empty when it can be submitted)."""
    problems: list[TemplateProblem] = []
    name = draft.name or ""
    if not name:
        problems.append(TemplateProblem("name", "Give the template a name, e.g. order_update."))
    elif not NAME_RE.fullmatch(name):
        problems.append(
            TemplateProblem(
                "name", "The name may hold only lowercase letters, digits and underscores, e.g. order_update."
            )
        )
    if len(name) > NAME_MAX:
        problems.append(TemplateProblem("name", f"The name is {len(name)} characters; WhatsApp allows {NAME_MAX}."))
    if not LANGUAGE_RE.fullmatch(draft.language or ""):
        problems.append(TemplateProblem("language", "Give the language as Meta's code, e.g. en, en_US or pt_BR."))
    category = (draft.category or "").strip().upper()
    if category not in CATEGORIES:
        problems.append(TemplateProblem("category", "The category is marketing, utility or authentication."))
    format_problems, named = _format_problems(draft)
    problems += format_problems
    problems += _header_problems(draft, named)
    problems += _body_problems(draft, named)
    problems += _footer_problems(draft)
    problems += _buttons_problems(draft)
    if category == "AUTHENTICATION":
        problems += _authentication_problems(draft)
    return problems


def _examples(kind: str, variables: list[str], values: dict[str, str], named: bool) -> dict:
    if named:
        return {f"{kind}_text_named_params": [{"param_name": n, "example": values[n]} for n in variables]}
    if kind == "body":
        return {"body_text": [[values[n] for n in variables]]}
    return {"header_text": [values[n] for n in variables]}


def template_definition_build(draft: TemplateDraft) -> dict:
    """The body of `POST /<WABA_ID>/message_templates` (§7), or TemplateDefinitionInvalid."""
    problems = template_definition_problems(draft)
    if problems:
        raise TemplateDefinitionInvalid(problems)
    named = draft_parameter_format(draft) == "NAMED"
    components: list[dict[str, Any]] = []
    header_format = _header_format(draft)
    if header_format == "TEXT":
        header: dict[str, Any] = {"type": "HEADER", "format": "TEXT", "text": draft.header_text}
        variables = template_variables(draft.header_text)
        if variables:
            header["example"] = _examples("header", variables, {variables[0]: draft.header_example.strip()}, named)
        components.append(header)
    elif header_format:
        components.append(
            {"type": "HEADER", "format": header_format, "example": {"header_handle": [draft.header_handle]}}
        )
    body: dict[str, Any] = {"type": "BODY", "text": draft.body}
    variables = template_variables(draft.body)
    if variables:
        examples = {str(k).strip(): str(v).strip() for k, v in draft.body_examples.items()}
        body["example"] = _examples("body", variables, examples, named)
    components.append(body)
    if (draft.footer or "").strip():
        components.append({"type": "FOOTER", "text": draft.footer})
    if draft.buttons:
        buttons = []
        for button in draft.buttons:
            kind = button.type.strip().upper()
            item: dict[str, Any] = {"type": kind, "text": button.text}
            if kind == "URL":
                item["url"] = button.url.strip()
                if VARIABLE_RE.search(button.url):
                    item["example"] = [VARIABLE_RE.sub(button.url_example.strip(), button.url.strip())]
            elif kind == "PHONE_NUMBER":
                item["phone_number"] = phone_e164(button.phone_number.strip())
            buttons.append(item)
        components.append({"type": "BUTTONS", "buttons": buttons})
    return {
        "name": draft.name,
        "language": draft.language,
        "category": draft.category.strip().upper(),
        "parameter_format": "named" if named else "positional",
        "components": components,
    }


# --- sending -----------------------------------------------------------------------------------


class TemplateParametersInvalid(ValueError):
    """The values (or the Graph components) do not fit the template; nothing should be sent."""

    def __init__(self, message: str, *, field: str = "parameters") -> None:
        self.message = message
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class TemplatePlaceholder:
    key: str  # the key in a values dict
    component: str  # header | body | button
    name: str  # the variable's name inside {{ }}
    example: str = ""
    button_index: int | None = None

    @property
    def label(self) -> str:
        if self.component == "button":
            return f"Button {self.button_index + 1} link ending {{{{{self.name}}}}}"
        return f"{self.component.capitalize()} {{{{{self.name}}}}}"


def _component(components: list[dict], kind: str) -> dict | None:
    for component in components or []:
        if isinstance(component, dict) and str(component.get("type", "")).upper() == kind:
            return component
    return None


def template_header_format(template_components: list[dict]) -> str:
    """TEXT, IMAGE, VIDEO, DOCUMENT or LOCATION; empty when the template has no header."""
    header = _component(template_components, "HEADER")
    return str(header.get("format") or "TEXT").upper() if header else ""


def _header_key(name: str) -> str:
    # Positional header and body both start at {{1}}; named ones share one namespace.
    return f"header.{name}" if POSITIONAL_RE.fullmatch(name) else name


def _named_examples(example: Any, key: str) -> dict[str, str]:
    items = example.get(key) if isinstance(example, dict) else None
    found: dict[str, str] = {}
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and item.get("param_name"):
            found[str(item["param_name"])] = str(item.get("example") or "")
    return found


def _positional_examples(example: Any, key: str) -> list[str]:
    values = example.get(key) if isinstance(example, dict) else None
    if key == "body_text" and isinstance(values, list) and values and isinstance(values[0], list):
        values = values[0]
    return [str(v) for v in values] if isinstance(values, list) else []


def _url_buttons(template_components: list[dict]) -> list[tuple[int, dict]]:
    """(index, button) for each URL button whose link takes a suffix."""
    buttons = (_component(template_components, "BUTTONS") or {}).get("buttons") or []
    return [
        (index, button)
        for index, button in enumerate(buttons)
        if isinstance(button, dict)
        and str(button.get("type", "")).upper() == "URL"
        and VARIABLE_RE.search(str(button.get("url", "")))
    ]


def template_placeholders(template_components: list[dict], parameter_format: str = "") -> list[TemplatePlaceholder]:
    """Every value a send of this template needs, in Graph's order: header, body, then URL buttons."""
    named = (parameter_format or "").upper() == "NAMED"
    found: list[TemplatePlaceholder] = []
    header = _component(template_components, "HEADER")
    if header and template_header_format(template_components) == "TEXT":
        example = header.get("example")
        named_examples = _named_examples(example, "header_text_named_params")
        positional_examples = _positional_examples(example, "header_text")
        for i, name in enumerate(template_variables(str(header.get("text", "")))):
            sample = named_examples.get(name, "") if named else (positional_examples[i : i + 1] or [""])[0]
            found.append(TemplatePlaceholder(key=_header_key(name), component="header", name=name, example=sample))
    body = _component(template_components, "BODY")
    if body:
        example = body.get("example")
        named_examples = _named_examples(example, "body_text_named_params")
        positional_examples = _positional_examples(example, "body_text")
        for i, name in enumerate(template_variables(str(body.get("text", "")))):
            sample = named_examples.get(name, "") if named else (positional_examples[i : i + 1] or [""])[0]
            if not any(p.key == name for p in found):
                found.append(TemplatePlaceholder(key=name, component="body", name=name, example=sample))
    for index, button in _url_buttons(template_components):
        example = button.get("example")
        sample = str(example[0]) if isinstance(example, list) and example else ""
        found.append(
            TemplatePlaceholder(
                key=f"button.{index}",
                component="button",
                name=template_variables(str(button.get("url", "")))[0],
                example=sample,
                button_index=index,
            )
        )
    return found


def _text_parameter(text: str, name: str, named: bool) -> dict:
    parameter = {"type": "text", "text": text}
    if named:
        parameter["parameter_name"] = name
    return parameter


def _header_media_parameter(header_format: str, header_media: dict) -> dict:
    if header_format == "LOCATION":
        return {"type": "location", "location": dict(header_media)}
    media = {k: v for k, v in header_media.items() if k in ("id", "link", "filename") and v}
    if not (media.get("id") or media.get("link")):
        raise TemplateParametersInvalid(
            f"The {header_format.lower()} header needs a media id or an https link (header_media.id or .link).",
            field="header_media",
        )
    if header_format != "DOCUMENT":
        media.pop("filename", None)
    kind = header_format.lower()
    return {"type": kind, kind: media}


def template_components_build(
    template_components: list[dict],
    parameter_format: str,
    values: dict[str, str],
    header_media: dict | None = None,
) -> list[dict]:
    """Graph's `template.components` for a send, from `{placeholder key: value}` (see the module doc)."""
    named = (parameter_format or "").upper() == "NAMED"
    placeholders = template_placeholders(template_components, parameter_format)
    given = {str(k): ("" if v is None else str(v)) for k, v in (values or {}).items()}
    keys = [p.key for p in placeholders]
    extra = [k for k in given if k not in keys]
    if extra:
        expected = ", ".join(keys) or "none"
        raise TemplateParametersInvalid(
            f"Unknown parameter{'s' if len(extra) > 1 else ''} {', '.join(extra)}: this template takes {expected}."
        )
    missing = [p for p in placeholders if not given.get(p.key, "").strip()]
    if missing:
        raise TemplateParametersInvalid(
            "Missing value" + ("s" if len(missing) > 1 else "") + " for " + ", ".join(p.label for p in missing) + "."
        )
    components: list[dict] = []
    header_format = template_header_format(template_components)
    if header_format in (*MEDIA_HEADER_FORMATS, "LOCATION"):
        if not header_media:
            raise TemplateParametersInvalid(
                f"This template has a {header_format.lower()} header: give header_media "
                + ("with latitude and longitude." if header_format == "LOCATION" else "with a media id or a link."),
                field="header_media",
            )
        components.append({"type": "header", "parameters": [_header_media_parameter(header_format, header_media)]})
    elif header_media:
        raise TemplateParametersInvalid(
            "This template has no media header: leave header_media out.", field="header_media"
        )
    header_values = [p for p in placeholders if p.component == "header"]
    if header_values:
        p = header_values[0]
        components.append({"type": "header", "parameters": [_text_parameter(given[p.key], p.name, named)]})
    body = _component(template_components, "BODY")
    body_names = template_variables(str((body or {}).get("text", "")))
    if body_names:
        components.append(
            {"type": "body", "parameters": [_text_parameter(given[name], name, named) for name in body_names]}
        )
    for p in placeholders:
        if p.component == "button":
            components.append(
                {
                    "type": "button",
                    "sub_type": "url",
                    "index": str(p.button_index),
                    "parameters": [{"type": "text", "text": given[p.key]}],
                }
            )
    return components


_BODY_TYPES = ("text", "currency", "date_time")


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _names_check(where: str, parameters: list[dict], expected: list[str], named: bool) -> None:
    if len(parameters) != len(expected):
        wanted = f"{_count(len(expected), 'parameter')} ({_braced(expected)})" if expected else "no parameters"
        raise TemplateParametersInvalid(f"The {where} takes {wanted}; {len(parameters)} given.")
    names = [p.get("parameter_name") for p in parameters]
    if named:
        if any(not n for n in names):
            raise TemplateParametersInvalid(
                f"The template uses named parameters: every {where} parameter needs a parameter_name "
                f"({_braced(expected)})."
            )
        missing = [n for n in expected if n not in names]
        extra = [n for n in names if n not in expected]
        if missing or extra:
            parts = ([f"missing {_braced(missing)}"] if missing else []) + (
                [f"unknown {_braced(extra)}"] if extra else []
            )
            raise TemplateParametersInvalid(f"The {where} parameters do not match the template: {'; '.join(parts)}.")
        if len(set(names)) != len(names):
            raise TemplateParametersInvalid(f"A {where} parameter_name is given twice.")
    elif any(n is not None for n in names):
        raise TemplateParametersInvalid(
            f"The template uses positional parameters ({{{{1}}}}, {{{{2}}}}…): remove parameter_name from the {where}."
        )


def template_parameters_check(
    template_components: list[dict], parameter_format: str, sent_components: list[dict] | None
) -> None:
    """Raise TemplateParametersInvalid when Graph `components` do not fit the stored template (132000/132012)."""
    named = (parameter_format or "").upper() == "NAMED"
    header_params: list[dict] = []
    body_params: list[dict] = []
    buttons_sent: dict[int, dict] = {}
    for component in sent_components or []:
        if not isinstance(component, dict):
            raise TemplateParametersInvalid("Each template component is an object.")
        kind = str(component.get("type", "")).lower()
        parameters = component.get("parameters") or []
        if not isinstance(parameters, list) or not all(isinstance(p, dict) for p in parameters):
            raise TemplateParametersInvalid(f"The {kind} component's parameters must be a list of objects.")
        if kind == "header":
            header_params.extend(parameters)
        elif kind == "body":
            body_params.extend(parameters)
        elif kind == "button":
            index = str(component.get("index", ""))
            if not index.isdigit():
                raise TemplateParametersInvalid("A button component needs its index (0, 1, 2…).")
            if int(index) in buttons_sent:
                raise TemplateParametersInvalid(f"Button {index} is given twice.")
            buttons_sent[int(index)] = component
        else:
            raise TemplateParametersInvalid(f"Unknown template component {kind!r}: use header, body or button.")

    header_format = template_header_format(template_components)
    if header_format in (*MEDIA_HEADER_FORMATS, "LOCATION"):
        wanted = header_format.lower()
        if len(header_params) != 1 or header_params[0].get("type") != wanted:
            raise TemplateParametersInvalid(
                f"The template's header is {'a' if wanted != 'image' else 'an'} {wanted}: send exactly one {wanted} "
                "header parameter.",
                field="header_media",
            )
    else:
        header = _component(template_components, "HEADER")
        expected = template_variables(str(header.get("text", ""))) if header else []
        _names_check("header", header_params, expected, named)
        if any(p.get("type") != "text" for p in header_params):
            raise TemplateParametersInvalid("The header's parameter is text.")

    body = _component(template_components, "BODY")
    expected = template_variables(str((body or {}).get("text", "")))
    _names_check("body", body_params, expected, named)
    wrong = [p.get("type") for p in body_params if p.get("type") not in _BODY_TYPES]
    if wrong:
        raise TemplateParametersInvalid(f"Body parameters are text, currency or date_time, not {wrong[0]!r}.")

    template_buttons = (_component(template_components, "BUTTONS") or {}).get("buttons") or []
    url_indexes = {index for index, _ in _url_buttons(template_components)}
    for index, component in buttons_sent.items():
        if index >= len(template_buttons):
            raise TemplateParametersInvalid(f"The template has no button {index} (it has {len(template_buttons)}).")
        kind = str(template_buttons[index].get("type", "")).upper()
        sub_type = str(component.get("sub_type", "")).lower()
        if sub_type == "url":
            if index not in url_indexes:
                raise TemplateParametersInvalid(f"Button {index}'s link takes no parameter.")
            if len(component.get("parameters") or []) != 1:
                raise TemplateParametersInvalid(f"Button {index}'s link takes exactly 1 parameter (its ending).")
        elif sub_type == "quick_reply" and kind != "QUICK_REPLY":
            raise TemplateParametersInvalid(f"Button {index} is not a quick reply.")
    missing = sorted(url_indexes - set(buttons_sent))
    if missing:
        raise TemplateParametersInvalid(
            "The link of button " + ", ".join(str(i) for i in missing) + " needs its ending (a url parameter)."
        )


def _substitute(text: str, lookup) -> str:
    def replace(match: re.Match) -> str:
        value = lookup(match.group(1).strip())
        return value if value else match.group(0)

    return VARIABLE_RE.sub(replace, text or "")


def template_preview(template_components: list[dict], values: dict[str, str]) -> dict:
    """What the customer sees: `{header_format, header, body, footer, buttons}` with the values filled in.

    A placeholder without a value stays as `{{name}}`, so a preview shows what is still to fill.
    """
    given = {str(k): ("" if v is None else str(v)) for k, v in (values or {}).items()}
    header = _component(template_components, "HEADER")
    header_format = template_header_format(template_components)
    header_text = ""
    if header and header_format == "TEXT":
        header_text = _substitute(str(header.get("text", "")), lambda n: given.get(_header_key(n), ""))
    body = _component(template_components, "BODY") or {}
    footer = _component(template_components, "FOOTER") or {}
    buttons = []
    for index, button in enumerate((_component(template_components, "BUTTONS") or {}).get("buttons") or []):
        if not isinstance(button, dict):
            continue
        item = {"type": str(button.get("type", "")).upper(), "text": str(button.get("text", ""))}
        if button.get("url"):
            item["url"] = _substitute(str(button["url"]), lambda _n, i=index: given.get(f"button.{i}", ""))
        if button.get("phone_number"):
            item["phone_number"] = str(button["phone_number"])
        buttons.append(item)
    return {
        "header_format": header_format,
        "header": header_text,
        "body": _substitute(str(body.get("text", "")), lambda n: given.get(n, "")),
        "footer": str(footer.get("text", "")),
        "buttons": buttons,
    }
