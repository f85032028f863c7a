"""How a WhatsApp message looks in a chat: bubbles built from Cloud API message content.

A message's `content` is Meta's `<type>` object, as sent (`POST /messages`) or as received
(webhook `messages[i]`). Turning it into a bubble is the same wherever a chat is drawn (the
sandbox phone, an agent's test console, the inbox), so it lives here; each caller says where a
media file can be fetched from and what a template's components are, through a `BubbleSource`.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from channels_app.whatsapp.payloads import MEDIA_KINDS as MEDIA_TYPES

VARIABLE = re.compile(r"\{\{\s*([^{}\s]*)\s*\}\}")
MEDIA_LABELS = {"image": "📷 Photo", "video": "🎥 Video", "audio": "🎵 Audio", "document": "📄 Document"}


@dataclass
class Bubble:
    """One message ready for `chat/_bubble.html`. `mine`: drawn on the right, in green."""

    message: Any  # the stored row: needs pk, wamid, message_type, context_wamid, created_at
    mine: bool
    kind: str  # text | media | location | contacts | interactive | template | unsupported
    text: str = ""
    header: dict | None = None  # {"text"} or {"media": …} or {"location": …}
    footer: str = ""
    media: dict | None = None
    location: dict | None = None
    contacts: list[dict] = field(default_factory=list)
    buttons: list[dict] = field(default_factory=list)  # {"choice", "title", "action": tap|url|call|copy, "url"}
    menu: dict | None = None  # a list message: {"label", "sections": [{"title", "rows": [...]}]}
    cta: dict | None = None
    reply_detail: str = ""  # the description of a chosen list row
    quote: dict | None = None
    reactions: list[dict] = field(default_factory=list)
    ticks: dict | None = None
    notice: str = ""
    extra: dict = field(default_factory=dict)  # what a particular chat adds (sender, transcript…)

    @property
    def wamid(self) -> str:
        return self.message.wamid or ""

    @property
    def snippet(self) -> str:
        """A line for a quote: what the message says, or what it is."""
        if self.text:
            return shorten(self.text)
        if self.media:
            label = self.media["label"]
            return f"{label} · {self.media['filename']}" if self.media.get("filename") else label
        if self.location:
            return "📍 " + (self.location.get("name") or "Location")
        if self.contacts:
            return "👤 " + (self.contacts[0]["name"] or "Contact")
        return self.notice or self.message.message_type


class BubbleSource(Protocol):
    """What only the caller knows: where files are served from and which templates exist."""

    def media_file(self, media_id: str) -> dict | None:
        """{"url", "mime_type", "size", "filename"} for a stored file; None when it is gone."""

    def template_components(self, name: str, language: str) -> list | None:
        """The template's components as Meta defines them; None when it is unknown."""


def shorten(text: str, limit: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bubble_build(message: Any, *, mine: bool, source: BubbleSource) -> Bubble:
    """The bubble for one message (not a reaction: those become badges, see `bubbles_fold`)."""
    content = message.content if isinstance(message.content, dict) else {}
    kind = message.message_type
    bubble = Bubble(message=message, mine=mine, kind="text")
    if kind == "text":
        bubble.text = content.get("body", "")
    elif kind in MEDIA_TYPES:
        bubble.kind = "media"
        bubble.media = _media_of(kind, content, source)
        bubble.text = content.get("caption", "")
    elif kind == "location":
        bubble.kind = "location"
        bubble.location = location_of(content)
    elif kind == "contacts":
        bubble.kind = "contacts"
        bubble.contacts = [_contact_of(c) for c in content.get("contacts", []) if isinstance(c, dict)]
    elif kind == "interactive" and ("button_reply" in content or "list_reply" in content):
        reply = content.get("button_reply") or content.get("list_reply") or {}
        bubble.text = reply.get("title", "")
        bubble.reply_detail = reply.get("description", "")
    elif kind == "interactive":
        _interactive(bubble, content, source)
    elif kind == "button":  # a tap on a template quick reply
        bubble.text = content.get("text") or content.get("payload", "")
    elif kind == "template":
        _template(bubble, content, source)
    else:
        bubble.kind = "unsupported"
        bubble.notice = f"This message type ({kind}) can't be shown here."
    return bubble


def bubbles_fold(messages: Iterable[Any], *, mine, source: BubbleSource, quote_author) -> list[Bubble]:
    """A chat, oldest first: reactions become badges on their message, replies carry their quote.

    `mine(message)` says which side a message is drawn on; `quote_author(bubble)` names who
    wrote a quoted message.
    """
    reactions: dict[tuple[str, bool], str] = {}  # (reacted wamid, by my side?) → the latest emoji
    bubbles: list[Bubble] = []
    for message in messages:
        if message.message_type == "reaction":
            content = message.content if isinstance(message.content, dict) else {}
            reactions[(content.get("message_id", ""), mine(message))] = content.get("emoji", "")
            continue
        bubbles.append(bubble_build(message, mine=mine(message), source=source))
    by_wamid = {bubble.wamid: bubble for bubble in bubbles if bubble.wamid}
    for (wamid, by_me), emoji in reactions.items():
        if emoji and wamid in by_wamid:
            by_wamid[wamid].reactions.append({"emoji": emoji, "by_me": by_me})
    for bubble in bubbles:
        quoted = by_wamid.get(bubble.message.context_wamid)
        # WhatsApp shows no quote above a template sent as a reply.
        if quoted is not None and bubble.kind != "template":
            bubble.quote = {
                "wamid": quoted.wamid,
                "author": quote_author(quoted),
                "mine": quoted.mine,
                "snippet": quoted.snippet,
            }
    return bubbles


def media_ids(content: Any) -> set[str]:
    """Every media id a message's content refers to (its own file, an interactive or template header)."""
    found = set()
    if not isinstance(content, dict):
        return found
    if content.get("id"):
        found.add(str(content["id"]))
    header = content.get("header")
    if isinstance(header, dict) and isinstance(header.get(header.get("type", "")), dict):
        found.add(str(header[header["type"]].get("id", "")))
    for component in content.get("components") or []:
        if isinstance(component, dict) and component.get("type") == "header":
            for parameter in component.get("parameters") or []:
                if isinstance(parameter, dict) and isinstance(parameter.get(parameter.get("type", "")), dict):
                    found.add(str(parameter[parameter["type"]].get("id", "")))
    found.discard("")
    return found


def _media_of(kind: str, content: dict, source: BubbleSource) -> dict:
    label = MEDIA_LABELS.get(kind, "Sticker")
    if kind == "audio" and content.get("voice"):
        label = "🎤 Voice message"
    media: dict[str, Any] = {"type": kind, "label": label, "filename": content.get("filename", ""), "url": ""}
    media["voice"] = kind == "audio" and bool(content.get("voice"))
    if content.get("link"):
        media["link"] = content["link"]
        return media
    stored = source.media_file(str(content.get("id", "")))
    if stored is None:
        media["missing"] = True
        return media
    media["url"] = stored["url"]
    media["mime_type"] = stored.get("mime_type", "")
    media["size"] = stored.get("size")
    media["filename"] = media["filename"] or stored.get("filename", "")
    if kind == "document" and not media["filename"]:
        media["filename"] = "document"
    extension = media["filename"].rsplit(".", 1)[-1] if "." in media["filename"] else ""
    media["extension"] = extension.upper()[:4] or "FILE"
    return media


def _header_of(header: dict, source: BubbleSource) -> dict | None:
    kind = str(header.get("type") or header.get("format", "")).lower()
    if kind == "text":
        return {"text": header.get("text", "")}
    if kind in MEDIA_TYPES and isinstance(header.get(kind), dict):
        return {"media": _media_of(kind, header[kind], source)}
    return None


def _interactive(bubble: Bubble, content: dict, source: BubbleSource) -> None:
    bubble.kind = "interactive"
    bubble.text = (content.get("body") or {}).get("text", "")
    bubble.footer = (content.get("footer") or {}).get("text", "")
    if isinstance(content.get("header"), dict):
        bubble.header = _header_of(content["header"], source)
    action = content.get("action") or {}
    kind = content.get("type")
    if kind == "button":
        for button in action.get("buttons", []):
            reply = button.get("reply") or {}
            bubble.buttons.append({"choice": reply.get("id", ""), "title": reply.get("title", ""), "action": "tap"})
    elif kind == "list":
        bubble.menu = {
            "label": action.get("button", "Options"),
            "sections": [
                {"title": section.get("title", ""), "rows": section.get("rows", [])}
                for section in action.get("sections", [])
            ],
        }
    elif kind == "cta_url":
        parameters = action.get("parameters") or {}
        bubble.cta = {"title": parameters.get("display_text", "Open"), "url": parameters.get("url", "")}
    else:
        bubble.notice = f"Interactive “{kind}” messages open in WhatsApp only."


def _template(bubble: Bubble, content: dict, source: BubbleSource) -> None:
    bubble.kind = "template"
    name = content.get("name", "")
    language = (content.get("language") or {}).get("code", "")
    sent = template_parameters(content.get("components") or [])
    components = source.template_components(name, language)
    if components is None:
        bubble.notice = f"Template “{name}” ({language}) is not on this number's account."
        bubble.text = " · ".join(sent["body"].values())
        return
    for component in components:
        kind = str(component.get("type", "")).upper()
        if kind == "HEADER":
            header_format = str(component.get("format", "TEXT")).upper()
            if header_format == "TEXT":
                bubble.header = {"text": substitute(component.get("text", ""), sent["header"])}
            elif header_format == "LOCATION":
                bubble.header = {"location": location_of(sent["header_object"] or {})}
            elif sent["header_object"]:
                bubble.header = {"media": _media_of(header_format.lower(), sent["header_object"], source)}
        elif kind == "BODY":
            bubble.text = substitute(component.get("text", ""), sent["body"])
        elif kind == "FOOTER":
            bubble.footer = component.get("text", "")
        elif kind == "BUTTONS":
            for index, button in enumerate(component.get("buttons", [])):
                bubble.buttons.append(_template_button(index, button, sent["buttons"].get(str(index), {})))


def location_of(content: dict) -> dict:
    return {
        "name": content.get("name", ""),
        "address": content.get("address", ""),
        "latitude": content.get("latitude", ""),
        "longitude": content.get("longitude", ""),
    }


def _contact_of(contact: dict) -> dict:
    name = contact.get("name") or {}
    formatted = name.get("formatted_name") or " ".join(
        part for part in (name.get("first_name"), name.get("last_name")) if part
    )
    return {
        "name": formatted,
        "org": (contact.get("org") or {}).get("company", ""),
        "phones": [p.get("phone") or p.get("wa_id", "") for p in contact.get("phones", []) if isinstance(p, dict)],
    }


def _parameter_text(parameter: dict) -> str:
    kind = parameter.get("type", "text")
    if kind == "text":
        return str(parameter.get("text", ""))
    if kind in ("currency", "date_time"):
        return str((parameter.get(kind) or {}).get("fallback_value", ""))
    return str(parameter.get(kind, ""))


def template_parameters(components: list) -> dict:
    """What a template send supplied: header/body values by `1`, `2`… and by name, header media, buttons by index."""
    sent: dict[str, Any] = {"header": {}, "body": {}, "header_object": None, "buttons": {}}
    for component in components:
        if not isinstance(component, dict):
            continue
        kind = str(component.get("type", "")).lower()
        parameters = [p for p in component.get("parameters") or [] if isinstance(p, dict)]
        if kind in ("header", "body"):
            for position, parameter in enumerate(parameters, start=1):
                if kind == "header" and parameter.get("type") in (*MEDIA_TYPES, "location"):
                    sent["header_object"] = parameter.get(parameter["type"])
                    continue
                value = _parameter_text(parameter)
                sent[kind][str(position)] = value
                if parameter.get("parameter_name"):
                    sent[kind][parameter["parameter_name"]] = value
        elif kind == "button":
            found: dict[str, str] = {"sub_type": str(component.get("sub_type", "")).lower()}
            for parameter in parameters:
                if parameter.get("type") == "payload":
                    found["payload"] = str(parameter.get("payload", ""))
                elif parameter.get("type") == "text":
                    found["text"] = str(parameter.get("text", ""))
            sent["buttons"][str(component.get("index", ""))] = found
    return sent


def substitute(text: str, values: dict[str, str]) -> str:
    """A template text with its `{{1}}` / `{{name}}` placeholders filled; unknown ones stay visible."""
    return VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), text or "")


def _template_button(index: int, button: dict, sent: dict) -> dict:
    kind = str(button.get("type", "")).upper()
    title = button.get("text", "")
    if kind == "QUICK_REPLY":
        return {"choice": str(index), "title": title, "action": "tap", "payload": sent.get("payload") or title}
    if kind == "URL":
        url = VARIABLE.sub(lambda _: sent.get("text", ""), button.get("url", ""))
        return {"choice": str(index), "title": title, "action": "url", "url": url}
    if kind == "PHONE_NUMBER":
        return {"choice": str(index), "title": title, "action": "call", "url": "tel:" + button.get("phone_number", "")}
    return {"choice": str(index), "title": title or kind.replace("_", " ").title(), "action": "copy"}


def tap_reply(message: Any, choice: str, *, source: BubbleSource) -> tuple[str, dict] | None:
    """The webhook type and content a phone sends when this choice of this business message is tapped."""
    content = message.content if isinstance(message.content, dict) else {}
    if message.message_type == "template":
        bubble = bubble_build(message, mine=False, source=source)
        button = next((b for b in bubble.buttons if b["choice"] == choice and b["action"] == "tap"), None)
        return ("button", {"payload": button["payload"], "text": button["title"]}) if button else None
    if message.message_type == "interactive" and content.get("type") == "button":
        for button in (content.get("action") or {}).get("buttons", []):
            reply = button.get("reply") or {}
            if reply.get("id") == choice:
                return "interactive", {
                    "type": "button_reply",
                    "button_reply": {"id": reply["id"], "title": reply["title"]},
                }
    if message.message_type == "interactive" and content.get("type") == "list":
        for section in (content.get("action") or {}).get("sections", []):
            for row in section.get("rows", []):
                if row.get("id") == choice:
                    chosen = {"id": row["id"], "title": row.get("title", "")}
                    if row.get("description"):
                        chosen["description"] = row["description"]
                    return "interactive", {"type": "list_reply", "list_reply": chosen}
    return None
