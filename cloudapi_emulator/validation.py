"""Checks a `POST /<phone_number_id>/messages` body the way Meta does, with Meta's codes (reference §5).

- 100: malformed JSON, an unexpected key, a value of the wrong type, a plain text too long.
- 131008: a required parameter is missing.
- 131009: a value is not valid (interactive limits, bad URL, unknown type…).
- 131053: the media is missing, of the wrong type for the message, or too big.
- 132000 / 132001 / 132012: template parameter count, unknown or unapproved template, named vs positional.

Each limit of §5.15 is one check below, so a test can name the limit it trips.
"""

import re
from dataclasses import dataclass, field
from typing import Any

from cloudapi_emulator.errors import GraphError
from cloudapi_emulator.models import Media, PhoneNumber, Template
from cloudapi_emulator.services.media import MEDIA_KINDS, media_kind, mime_base
from cloudapi_emulator.services.templates import template_expected_parameters

MESSAGE_TYPES = {
    "text",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "location",
    "contacts",
    "interactive",
    "template",
    "reaction",
}
MEDIA_MESSAGE_TYPES = {"image", "video", "audio", "document", "sticker"}
TOP_LEVEL_KEYS = {
    "messaging_product",
    "recipient_type",
    "to",
    "recipient",
    "context",
    "biz_opaque_callback_data",
    "type",
    "status",
    "message_id",
    "typing_indicator",
    *MESSAGE_TYPES,
}
MEDIA_KEYS = {
    "image": {"id", "link", "caption"},
    "video": {"id", "link", "caption"},
    "audio": {"id", "link", "voice"},
    "document": {"id", "link", "caption", "filename"},
    "sticker": {"id", "link"},
}
BSUID = re.compile(r"^[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}$")
HTTP_URL = re.compile(r"^https?://\S+$", re.IGNORECASE)
INTERACTIVE_TYPES = {
    "button",
    "list",
    "cta_url",
    "flow",
    "product",
    "product_list",
    "catalog_message",
    "call_permission_request",
    "contact_request",
    "location_request_message",
}


@dataclass
class SendRequestSpec:
    """What a valid body asks for."""

    kind: str  # "message" or "read"
    message_type: str = ""
    content: Any = None
    recipient_input: str = ""
    to_digits: str = ""
    bsuid: str = ""
    context_wamid: str = ""
    biz_opaque_callback_data: str = ""
    message_id: str = ""
    typing: bool = False
    template: Template | None = None
    media: list[Media] = field(default_factory=list)


# --- small checks ---------------------------------------------------------------------------


def missing(path: str) -> GraphError:
    return GraphError(131008, f"The parameter {path} is required.")


def invalid(details: str) -> GraphError:
    return GraphError(131009, details)


def require(obj: dict, key: str, path: str) -> Any:
    value = obj.get(key)
    if value is None or value == "" or value == [] or value == {}:
        raise missing(f"{path}['{key}']" if path else key)
    return value


def of_type(value: Any, kinds: type | tuple[type, ...], path: str) -> Any:
    if not isinstance(value, kinds) or isinstance(value, bool) and kinds is not bool:
        name = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(kinds, "a number")
        raise GraphError(100, f"Param {path} must be {name}.")
    return value


def known_keys(obj: dict, allowed: set[str], path: str) -> None:
    for key in obj:
        if key not in allowed:
            raise GraphError(100, f'Unexpected key "{key}" on param "{path}".')


def at_most(value: str, limit: int, path: str) -> None:
    """A plain text parameter over its limit: Meta answers 100."""
    if len(value) > limit:
        raise GraphError(100, f"Param {path} must be at most {limit} characters long.")


def length_between(value: str, low: int, high: int, what: str) -> None:
    """An interactive element over its limit: Meta answers 131009."""
    if not low <= len(value) <= high:
        raise invalid(f"{what} length invalid. Min length: {low}, Max length: {high}")


# --- the body -------------------------------------------------------------------------------


def validate_send(body: Any, *, number: PhoneNumber) -> SendRequestSpec:
    if not isinstance(body, dict):
        raise GraphError(100, "The request body must be a JSON object.")
    known_keys(body, TOP_LEVEL_KEYS, "message")
    product = body.get("messaging_product")
    if product in (None, ""):
        raise missing("messaging_product")
    if product != "whatsapp":
        raise GraphError(100, "Param messaging_product must be 'whatsapp'.")
    if "status" in body:
        return _validate_read(body, number=number)

    spec = SendRequestSpec(kind="message")
    recipient_type = body.get("recipient_type", "individual")
    if recipient_type not in {"individual", "group"}:
        raise invalid("Param recipient_type must be individual or group.")
    to, recipient = body.get("to"), body.get("recipient")
    if to in (None, "") and recipient in (None, ""):
        raise missing("to")
    if to not in (None, ""):
        of_type(to, str, "to")
        digits = "".join(ch for ch in to if ch.isdigit())
        if not digits or re.search(r"[^\d+\-() .]", to):
            raise GraphError(100, f"Param to {to!r} is not a valid phone number.")
        spec.recipient_input, spec.to_digits = to, digits
    else:
        of_type(recipient, str, "recipient")
        if not BSUID.match(recipient):
            raise GraphError(100, f"Param recipient {recipient!r} is not a valid business-scoped user ID.")
        spec.recipient_input, spec.bsuid = recipient, recipient

    message_type = body.get("type", "text")
    of_type(message_type, str, "type")
    if message_type not in MESSAGE_TYPES:
        raise invalid(f"Unsupported message type {message_type!r}.")
    spec.message_type = message_type
    if message_type not in body:
        raise missing(message_type)

    if "context" in body:
        context = of_type(body["context"], dict, "context")
        known_keys(context, {"message_id"}, "context")
        spec.context_wamid = of_type(require(context, "message_id", "context"), str, "context['message_id']")
        if message_type == "reaction":
            raise invalid("A reaction cannot be sent as a contextual reply.")
    if "biz_opaque_callback_data" in body:
        opaque = of_type(body["biz_opaque_callback_data"], str, "biz_opaque_callback_data")
        at_most(opaque, 512, "biz_opaque_callback_data")
        spec.biz_opaque_callback_data = opaque

    content = body[message_type]
    if message_type == "contacts":
        of_type(content, list, "contacts")
        _validate_contacts(content)
    else:
        of_type(content, dict, message_type)
        if message_type == "text":
            _validate_text(content)
        elif message_type in MEDIA_MESSAGE_TYPES:
            spec.media.append(_validate_media(content, message_type, message_type, number=number))
        elif message_type == "location":
            _validate_location(content)
        elif message_type == "reaction":
            _validate_reaction(content)
        elif message_type == "interactive":
            spec.media.extend(_validate_interactive(content, number=number))
        else:
            spec.template = _validate_template(content, number=number)
    spec.content = content
    return spec


def _validate_read(body: dict, *, number: PhoneNumber) -> SendRequestSpec:
    if body["status"] != "read":
        raise GraphError(100, "Param status must be 'read'.")
    message_id = of_type(require(body, "message_id", ""), str, "message_id")
    spec = SendRequestSpec(kind="read", message_id=message_id)
    if "typing_indicator" in body:
        indicator = of_type(body["typing_indicator"], dict, "typing_indicator")
        if indicator.get("type") != "text":
            raise invalid("Param typing_indicator['type'] must be 'text'.")
        spec.typing = True
    return spec


def _validate_text(text: dict) -> None:
    known_keys(text, {"body", "preview_url"}, "text")
    body = of_type(require(text, "body", "text"), str, "text['body']")
    at_most(body, 4096, "text['body']")
    if "preview_url" in text:
        of_type(text["preview_url"], bool, "text['preview_url']")


def _validate_media(obj: dict, kind: str, path: str, *, number: PhoneNumber, caption: bool = True) -> Media | None:
    known_keys(obj, MEDIA_KEYS[kind] if caption else {"id", "link"}, path)
    has_id, has_link = obj.get("id") not in (None, ""), obj.get("link") not in (None, "")
    if not has_id and not has_link:
        raise missing(f"{path}['id'] or {path}['link']")
    if has_id and has_link:
        raise invalid(f"Param {path} must have either id or link, not both.")
    if "caption" in obj:
        at_most(of_type(obj["caption"], str, f"{path}['caption']"), 1024, f"{path}['caption']")
    if "filename" in obj:
        at_most(of_type(obj["filename"], str, f"{path}['filename']"), 240, f"{path}['filename']")
    voice = False
    if "voice" in obj:
        voice = of_type(obj["voice"], bool, f"{path}['voice']")
    if has_link:
        link = of_type(obj["link"], str, f"{path}['link']")
        if not HTTP_URL.match(link):
            raise invalid(f"Param {path}['link'] must be an http(s) URL.")
        return None
    media_id = obj["id"]
    if isinstance(media_id, int) and not isinstance(media_id, bool):
        media_id = str(media_id)
    of_type(media_id, str, f"{path}['id']")
    media = Media.objects.filter(media_id=media_id, number=number, deleted_at__isnull=True).first()
    if media is None:
        raise GraphError(131053, f"Unable to retrieve media with id {media_id}.")
    actual = media_kind(media.mime_type)
    if actual != kind:
        raise GraphError(131053, f"Media {media_id} is {media.mime_type}, which cannot be sent as {kind} ({path}).")
    if media.file_size > MEDIA_KINDS[kind][1]:
        raise GraphError(131053, f"Media {media_id} is too big for {kind}.")
    if voice and mime_base(media.mime_type) != "audio/ogg":
        raise GraphError(131053, "A voice message must be audio/ogg with the OPUS codec.")
    return media


def _validate_location(location: dict) -> None:
    known_keys(location, {"latitude", "longitude", "name", "address"}, "location")
    for key, bound in (("latitude", 90), ("longitude", 180)):
        value = require(location, key, "location")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise GraphError(100, f"Param location['{key}'] must be a number.")
        if not -bound <= number <= bound:
            raise invalid(f"Param location['{key}'] must be between -{bound} and {bound}.")
    for key in ("name", "address"):
        if key in location:
            of_type(location[key], str, f"location['{key}']")


def _validate_contacts(contacts: list) -> None:
    if not 1 <= len(contacts) <= 5:
        raise invalid("Param contacts must have between 1 and 5 elements.")
    for index, contact in enumerate(contacts):
        path = f"contacts[{index}]"
        of_type(contact, dict, path)
        name = of_type(require(contact, "name", path), dict, f"{path}['name']")
        of_type(require(name, "formatted_name", f"{path}['name']"), str, f"{path}['name']['formatted_name']")
        for key in ("phones", "emails", "addresses", "urls"):
            if key in contact:
                for item in of_type(contact[key], list, f"{path}['{key}']"):
                    of_type(item, dict, f"{path}['{key}'][]")


def _validate_reaction(reaction: dict) -> None:
    known_keys(reaction, {"message_id", "emoji"}, "reaction")
    of_type(require(reaction, "message_id", "reaction"), str, "reaction['message_id']")
    if "emoji" not in reaction:
        raise missing("reaction['emoji']")
    emoji = of_type(reaction["emoji"], str, "reaction['emoji']")
    if len(emoji) > 10:
        raise invalid("Param reaction['emoji'] must be a single emoji.")


# --- interactive (§5.6–5.8) -----------------------------------------------------------------


def _validate_interactive(interactive: dict, *, number: PhoneNumber) -> list[Media]:
    known_keys(interactive, {"type", "header", "body", "footer", "action"}, "interactive")
    kind = of_type(require(interactive, "type", "interactive"), str, "interactive['type']")
    if kind not in INTERACTIVE_TYPES:
        raise invalid(f"Interactive message type {kind!r} is not supported.")
    media = []
    needs_body = kind in {"button", "list", "cta_url", "flow", "product_list", "catalog_message"}
    if needs_body or "body" in interactive:
        body = of_type(require(interactive, "body", "interactive"), dict, "interactive['body']")
        text = of_type(require(body, "text", "interactive['body']"), str, "interactive['body']['text']")
        length_between(text, 1, 1024, "Interactive message body text")  # list too: 1024 per the spec (§5.7)
    if "footer" in interactive:
        footer = of_type(interactive["footer"], dict, "interactive['footer']")
        text = of_type(require(footer, "text", "interactive['footer']"), str, "interactive['footer']['text']")
        length_between(text, 1, 60, "Footer text")
    if "header" in interactive:
        media.extend(_validate_header(interactive["header"], kind, number=number))
    action = of_type(require(interactive, "action", "interactive"), dict, "interactive['action']")
    if kind == "button":
        _validate_reply_buttons(action)
    elif kind == "list":
        _validate_list(action)
    elif kind == "cta_url":
        _validate_cta_url(action)
    elif kind == "flow":
        _validate_flow(action)
    elif kind == "product_list":
        _validate_product_list(action)
    elif kind == "product":
        require(action, "catalog_id", "interactive['action']")
        require(action, "product_retailer_id", "interactive['action']")
    return media


def _validate_header(header: Any, kind: str, *, number: PhoneNumber) -> list[Media]:
    header = of_type(header, dict, "interactive['header']")
    header_type = of_type(require(header, "type", "interactive['header']"), str, "interactive['header']['type']")
    allowed = {"text"} if kind in {"list", "product_list"} else {"text", "image", "video", "document"}
    if header_type not in allowed:
        raise invalid(f"Header type {header_type!r} is not allowed on a {kind} message.")
    if header_type == "text":
        text = of_type(require(header, "text", "interactive['header']"), str, "interactive['header']['text']")
        length_between(text, 1, 60, "Header text")
        return []
    path = f"interactive['header']['{header_type}']"
    obj = of_type(require(header, header_type, "interactive['header']"), dict, path)
    found = _validate_media(obj, header_type, path, number=number, caption=False)
    return [found] if found else []


def _validate_reply_buttons(action: dict) -> None:
    buttons = of_type(require(action, "buttons", "interactive['action']"), list, "interactive['action']['buttons']")
    if not 1 <= len(buttons) <= 3:
        raise invalid("Buttons count invalid. Min: 1, Max: 3")
    titles = set()
    for index, button in enumerate(buttons):
        path = f"interactive['action']['buttons'][{index}]"
        of_type(button, dict, path)
        if button.get("type") != "reply":
            raise invalid(f"Param {path}['type'] must be 'reply'.")
        reply = of_type(require(button, "reply", path), dict, f"{path}['reply']")
        button_id = of_type(require(reply, "id", f"{path}['reply']"), str, f"{path}['reply']['id']")
        length_between(button_id, 1, 256, "Button id")
        if button_id != button_id.strip():
            raise invalid("Button id cannot have leading or trailing spaces.")
        title = of_type(require(reply, "title", f"{path}['reply']"), str, f"{path}['reply']['title']")
        length_between(title, 1, 20, "Button title")
        if title in titles:
            raise invalid("Button titles must be unique.")
        titles.add(title)


def _validate_list(action: dict) -> None:
    label = of_type(require(action, "button", "interactive['action']"), str, "interactive['action']['button']")
    length_between(label, 1, 20, "Button label")
    sections = of_type(require(action, "sections", "interactive['action']"), list, "interactive['action']['sections']")
    if not 1 <= len(sections) <= 10:
        raise invalid("Sections count invalid. Min: 1, Max: 10")
    total_rows, row_ids = 0, set()
    for s_index, section in enumerate(sections):
        path = f"interactive['action']['sections'][{s_index}]"
        of_type(section, dict, path)
        if "title" in section:
            length_between(of_type(section["title"], str, f"{path}['title']"), 1, 24, "Section title")
        elif len(sections) > 1:
            raise missing(f"{path}['title']")
        rows = of_type(require(section, "rows", path), list, f"{path}['rows']")
        total_rows += len(rows)
        for r_index, row in enumerate(rows):
            row_path = f"{path}['rows'][{r_index}]"
            of_type(row, dict, row_path)
            row_id = of_type(require(row, "id", row_path), str, f"{row_path}['id']")
            length_between(row_id, 1, 200, "Row id")
            if row_id in row_ids:
                raise invalid("Row ids must be unique.")
            row_ids.add(row_id)
            length_between(of_type(require(row, "title", row_path), str, f"{row_path}['title']"), 1, 24, "Row title")
            if "description" in row:
                description = of_type(row["description"], str, f"{row_path}['description']")
                length_between(description, 0, 72, "Row description")
    if not 1 <= total_rows <= 10:
        raise invalid(f"Total row count exceed max allowed count: 10 (got {total_rows}).")


def _validate_cta_url(action: dict) -> None:
    if action.get("name") != "cta_url":
        raise invalid("Param interactive['action']['name'] must be 'cta_url'.")
    path = "interactive['action']['parameters']"
    parameters = of_type(require(action, "parameters", "interactive['action']"), dict, path)
    display_text = of_type(require(parameters, "display_text", path), str, f"{path}['display_text']")
    length_between(display_text, 1, 20, "Display text")
    url = of_type(require(parameters, "url", path), str, f"{path}['url']")
    if not HTTP_URL.match(url):
        raise invalid("Param interactive['action']['parameters']['url'] must be an http(s) URL.")


def _validate_flow(action: dict) -> None:
    path = "interactive['action']['parameters']"
    parameters = of_type(require(action, "parameters", "interactive['action']"), dict, path)
    flow_cta = of_type(require(parameters, "flow_cta", path), str, f"{path}['flow_cta']")
    length_between(flow_cta, 1, 30, "Flow CTA")
    if not parameters.get("flow_id") and not parameters.get("flow_name"):
        raise missing(f"{path}['flow_id']")


def _validate_product_list(action: dict) -> None:
    require(action, "catalog_id", "interactive['action']")
    sections = of_type(require(action, "sections", "interactive['action']"), list, "interactive['action']['sections']")
    if not 1 <= len(sections) <= 10:
        raise invalid("Sections count invalid. Min: 1, Max: 10")
    items = sum(len(s.get("product_items", [])) for s in sections if isinstance(s, dict))
    if not 1 <= items <= 30:
        raise invalid(f"Product items count invalid. Min: 1, Max: 30 (got {items}).")


# --- templates (§5.9) -----------------------------------------------------------------------


def _validate_template(content: dict, *, number: PhoneNumber) -> Template:
    known_keys(content, {"name", "language", "components", "namespace"}, "template")
    name = of_type(require(content, "name", "template"), str, "template['name']")
    language = of_type(require(content, "language", "template"), dict, "template['language']")
    known_keys(language, {"code", "policy"}, "template['language']")
    code = of_type(require(language, "code", "template['language']"), str, "template['language']['code']")
    template = (
        Template.objects.filter(waba_id=number.waba_id, name=name, language=code)
        .exclude(status=Template.Status.DELETED)
        .first()
    )
    if template is None or template.status != Template.Status.APPROVED:
        state = "does not exist" if template is None else f"is {template.status}, not APPROVED"
        raise GraphError(132001, f"template name ({name}) {state} in {code}")
    components = of_type(content.get("components", []), list, "template['components']")
    expected = template_expected_parameters(template)
    given: dict[str, list[dict]] = {"header": [], "body": []}
    url_buttons_given = set()
    for index, component in enumerate(components):
        path = f"template['components'][{index}]"
        of_type(component, dict, path)
        kind = str(require(component, "type", path)).lower()
        parameters = of_type(component.get("parameters", []), list, f"{path}['parameters']")
        for p_index, parameter in enumerate(parameters):
            _validate_template_parameter(parameter, f"{path}['parameters'][{p_index}]")
        if kind in given:
            given[kind].extend(parameters)
        elif kind == "button":
            require(component, "sub_type", path)
            button_index = str(require(component, "index", path))
            if str(component["sub_type"]).lower() == "url":
                if not button_index.isdigit() or int(button_index) not in expected["url_buttons"]:
                    raise GraphError(132000, f"Button at index {button_index} takes no parameter.")
                if len(parameters) != 1:
                    raise GraphError(132000, f"The URL button at index {button_index} takes exactly 1 parameter.")
                url_buttons_given.add(int(button_index))
        else:
            raise invalid(f"Unknown template component type {kind!r}.")
    named = template.parameter_format == "NAMED"
    for kind in ("header", "body"):
        wanted = expected[kind]
        if kind == "header" and expected["header_format"] not in (None, "TEXT"):
            if expected["header_format"] != "LOCATION" and len(given["header"]) != 1:
                raise GraphError(132000, f"The {expected['header_format']} header takes exactly 1 media parameter.")
            continue
        if len(given[kind]) != len(wanted):
            raise GraphError(
                132000, f"Number of {kind} parameters ({len(given[kind])}) does not match the template ({len(wanted)})."
            )
        names = [p.get("parameter_name") for p in given[kind] if p.get("type") == "text"]
        if named and any(n is None for n in names):
            raise GraphError(132012, f"Template {name} uses named parameters; each needs a parameter_name.")
        if not named and any(n is not None for n in names):
            raise GraphError(132012, f"Template {name} uses positional parameters; remove parameter_name.")
        if named and set(names) != set(wanted):
            raise GraphError(132000, f"Expected {kind} parameters {sorted(wanted)}, got {sorted(names)}.")
    missing_buttons = set(expected["url_buttons"]) - url_buttons_given
    if missing_buttons:
        raise GraphError(132000, f"URL button(s) {sorted(missing_buttons)} need a parameter.")
    return template


def _validate_template_parameter(parameter: Any, path: str) -> None:
    of_type(parameter, dict, path)
    kind = of_type(require(parameter, "type", path), str, f"{path}['type']")
    if kind == "text":
        text = of_type(require(parameter, "text", path), str, f"{path}['text']")
        at_most(text, 32768, f"{path}['text']")
    elif kind in {"currency", "date_time"}:
        inner = of_type(require(parameter, kind, path), dict, f"{path}['{kind}']")
        require(inner, "fallback_value", f"{path}['{kind}']")
    elif kind in {"image", "video", "document"}:
        inner = of_type(require(parameter, kind, path), dict, f"{path}['{kind}']")
        if not inner.get("id") and not inner.get("link"):
            raise missing(f"{path}['{kind}']['id'] or {path}['{kind}']['link']")
        if inner.get("link") and not HTTP_URL.match(str(inner["link"])):
            raise invalid(f"Param {path}['{kind}']['link'] must be an http(s) URL.")
    elif kind == "payload":
        of_type(require(parameter, "payload", path), str, f"{path}['payload']")
    elif kind not in {"location", "coupon_code", "action", "product"}:
        raise invalid(f"Unknown template parameter type {kind!r}.")
