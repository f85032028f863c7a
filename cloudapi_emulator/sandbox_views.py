"""The sandbox phone: chat with a sandbox channel as one of its customers, through the emulator.

Everything the page sends goes through `customer_message_send`, so the platform receives exactly
the signed webhook a real phone would cause. What the business sent is read back from the
emulator's own records (`chat_for`), ticks from the statuses whose webhooks the platform
acknowledged. Members who may view the workspace see the page; sending needs "reply".
"""

import re
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Max
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_POST

from channels_app.models import Channel
from cloudapi_emulator.models import Customer, Media, Message, PhoneNumber, StatusEvent, Template
from cloudapi_emulator.sandbox_forms import REACTION_EMOJI, ComposeForm, CustomerAddForm, LocationForm
from cloudapi_emulator.services import CustomerMessageError, chat_for, customer_get_or_create, customer_message_send
from cloudapi_emulator.services.media import DOCUMENT_MIME_TYPES
from workspaces_app.decorators import workspace_member_required
from workspaces_app.selectors import member_can

VARIABLE = re.compile(r"\{\{\s*([^{}\s]*)\s*\}\}")
MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
MEDIA_LABELS = {"image": "📷 Photo", "video": "🎥 Video", "audio": "🎵 Audio", "document": "📄 Document"}
# Served inline (an <img>/<audio>/<video> source); anything else downloads, never rendered on our origin.
INLINE_MIME_TYPES = {"image/jpeg", "image/png", "image/webp", "image/gif"}
SENT_EVENT = "sandbox-sent"  # the transcript listens for it and refreshes at once


# --- Finding the phone -----------------------------------------------------------------


@dataclass
class Phone:
    channel: Channel
    number: PhoneNumber

    def url(self, name: str, **kwargs: Any) -> str:
        return reverse(
            name,
            kwargs={"workspace_slug": self.channel.workspace.slug, "channel_id": self.channel.public_id, **kwargs},
        )


def _phone_get(request: HttpRequest, channel_id) -> Phone:
    """The workspace's sandbox channel and its emulated number; 404 for anything else."""
    channel = (
        Channel.objects.select_related("workspace")
        .filter(workspace=request.workspace, public_id=channel_id, provider=Channel.Provider.SANDBOX)
        .exclude(phone_number_id="")
        .first()
    )
    number = PhoneNumber.objects.filter(phone_number_id=channel.phone_number_id).first() if channel else None
    if number is None:
        raise Http404("No such sandbox channel.")
    return Phone(channel=channel, number=number)


def _customer_get(phone: Phone, customer_id: int) -> Customer:
    customer = Customer.objects.filter(number=phone.number, pk=customer_id).first()
    if customer is None:
        raise Http404("No such customer.")
    return customer


def _urls(phone: Phone, customer: Customer | None) -> dict[str, str]:
    urls = {"phone": phone.url("sandbox_phone"), "customer_add": phone.url("sandbox_customer_add")}
    if customer is not None:
        for name in ("chat", "composer", "send", "location", "tap", "react"):
            urls[name] = phone.url(f"sandbox_{name}", customer_id=customer.pk)
    return urls


def _customers(phone: Phone):
    """Most recent first, as a chat list: the last message, or when the customer was added."""
    return Customer.objects.filter(number=phone.number).order_by(
        Coalesce("last_message_at", "created_at").desc(), "-id"
    )


# --- The transcript, as the phone shows it -----------------------------------------------


@dataclass
class Bubble:
    """One message ready for `sandbox/_bubble.html`. `mine`: the customer's (right, green)."""

    message: Message
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

    @property
    def wamid(self) -> str:
        return self.message.wamid

    @property
    def snippet(self) -> str:
        """A line for a quote: what the message says, or what it is."""
        if self.text:
            return _shorten(self.text)
        if self.media:
            label = self.media["label"]
            return f"{label} · {self.media['filename']}" if self.media.get("filename") else label
        if self.location:
            return "📍 " + (self.location.get("name") or "Location")
        if self.contacts:
            return "👤 " + (self.contacts[0]["name"] or "Contact")
        return self.notice or self.message.message_type


def _shorten(text: str, limit: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Renderer:
    """Turns emulator messages into bubbles; caches media rows and templates for one response."""

    def __init__(self, phone: Phone, messages: list[Message]):
        self.phone = phone
        media_ids = {_media_id(m.content) for m in messages} | {_header_media_id(m.content) for m in messages}
        media_ids.discard("")
        self.media = {
            row.media_id: row
            for row in Media.objects.filter(number=phone.number, media_id__in=media_ids, deleted_at__isnull=True).only(
                "media_id", "mime_type", "filename", "file_size"
            )
        }
        self.templates: dict[tuple[str, str], Template | None] = {}

    def bubble(self, message: Message) -> Bubble:
        mine = message.direction == Message.Direction.INBOUND
        content = message.content if isinstance(message.content, dict) else {}
        kind = message.message_type
        bubble = Bubble(message=message, mine=mine, kind="text")
        if kind == "text":
            bubble.text = content.get("body", "")
        elif kind in MEDIA_TYPES:
            bubble.kind = "media"
            bubble.media = self.media_of(kind, content)
            bubble.text = content.get("caption", "")
        elif kind == "location":
            bubble.kind = "location"
            bubble.location = _location_of(content)
        elif kind == "contacts":
            bubble.kind = "contacts"
            bubble.contacts = [_contact_of(c) for c in content.get("contacts", []) if isinstance(c, dict)]
        elif kind == "interactive" and mine:
            reply = content.get("button_reply") or content.get("list_reply") or {}
            bubble.text = reply.get("title", "")
            bubble.reply_detail = reply.get("description", "")
        elif kind == "interactive":
            self.interactive(bubble, content)
        elif kind == "button":  # a tap on a template quick reply
            bubble.text = content.get("text") or content.get("payload", "")
        elif kind == "template":
            self.template(bubble, content)
        else:
            bubble.kind = "unsupported"
            bubble.notice = f"This message type ({kind}) can't be shown here."
        if not mine:
            bubble.ticks = _ticks(message)
        elif message.read_at:
            bubble.ticks = {"state": "read", "symbol": "✓✓", "label": "Read by the business"}
        else:
            bubble.ticks = {"state": "sent", "symbol": "✓", "label": "Sent"}
        return bubble

    def media_of(self, kind: str, content: dict) -> dict:
        label = MEDIA_LABELS.get(kind, "Sticker")
        if kind == "audio" and content.get("voice"):
            label = "🎤 Voice message"
        media: dict[str, Any] = {"type": kind, "label": label, "filename": content.get("filename", ""), "url": ""}
        media["voice"] = kind == "audio" and bool(content.get("voice"))
        if content.get("link"):
            media["link"] = content["link"]
            return media
        row = self.media.get(str(content.get("id", "")))
        if row is None:
            media["missing"] = True
            return media
        media["url"] = self.phone.url("sandbox_media", media_id=row.media_id)
        media["mime_type"] = row.mime_type
        media["size"] = row.file_size
        media["filename"] = media["filename"] or row.filename
        if kind == "document" and not media["filename"]:
            media["filename"] = "document"
        extension = media["filename"].rsplit(".", 1)[-1] if "." in media["filename"] else ""
        media["extension"] = extension.upper()[:4] or "FILE"
        return media

    def header_of(self, header: dict) -> dict | None:
        kind = header.get("type") or header.get("format", "")
        kind = str(kind).lower()
        if kind == "text":
            return {"text": header.get("text", "")}
        if kind in MEDIA_TYPES and isinstance(header.get(kind), dict):
            return {"media": self.media_of(kind, header[kind])}
        return None

    def interactive(self, bubble: Bubble, content: dict) -> None:
        bubble.kind = "interactive"
        bubble.text = (content.get("body") or {}).get("text", "")
        bubble.footer = (content.get("footer") or {}).get("text", "")
        if isinstance(content.get("header"), dict):
            bubble.header = self.header_of(content["header"])
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

    def template_row(self, name: str, language: str) -> Template | None:
        key = (name, language)
        if key not in self.templates:
            self.templates[key] = (
                Template.objects.filter(waba_id=self.phone.number.waba_id, name=name, language=language)
                .exclude(status=Template.Status.DELETED)
                .order_by("-created_at")
                .first()
            )
        return self.templates[key]

    def template(self, bubble: Bubble, content: dict) -> None:
        bubble.kind = "template"
        name = content.get("name", "")
        language = (content.get("language") or {}).get("code", "")
        sent = _template_parameters(content.get("components") or [])
        template = self.template_row(name, language)
        if template is None:
            bubble.notice = f"Template “{name}” ({language}) is not on this number's account."
            bubble.text = " · ".join(sent["body"].values())
            return
        for component in template.components:
            kind = str(component.get("type", "")).upper()
            if kind == "HEADER":
                header_format = str(component.get("format", "TEXT")).upper()
                if header_format == "TEXT":
                    bubble.header = {"text": _substitute(component.get("text", ""), sent["header"])}
                elif header_format == "LOCATION":
                    bubble.header = {"location": _location_of(sent["header_object"] or {})}
                elif sent["header_object"]:
                    bubble.header = {"media": self.media_of(header_format.lower(), sent["header_object"])}
            elif kind == "BODY":
                bubble.text = _substitute(component.get("text", ""), sent["body"])
            elif kind == "FOOTER":
                bubble.footer = component.get("text", "")
            elif kind == "BUTTONS":
                for index, button in enumerate(component.get("buttons", [])):
                    bubble.buttons.append(_template_button(index, button, sent["buttons"].get(str(index), {})))


def _media_id(content: Any) -> str:
    return str(content.get("id", "")) if isinstance(content, dict) else ""


def _header_media_id(content: Any) -> str:
    """A media id in an interactive header or a template's header parameter."""
    if not isinstance(content, dict):
        return ""
    header = content.get("header")
    if isinstance(header, dict) and isinstance(header.get(header.get("type", "")), dict):
        return str(header[header["type"]].get("id", ""))
    for component in content.get("components") or []:
        if isinstance(component, dict) and component.get("type") == "header":
            for parameter in component.get("parameters") or []:
                if isinstance(parameter, dict) and isinstance(parameter.get(parameter.get("type", "")), dict):
                    return str(parameter[parameter["type"]].get("id", ""))
    return ""


def _location_of(content: dict) -> dict:
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


def _template_parameters(components: list) -> dict:
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


def _substitute(text: str, values: dict[str, str]) -> str:
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


def _ticks(message: Message) -> dict:
    """What the business sees for its message, from the statuses the platform was sent."""
    events = [event for event in message.status_events.all() if event.emitted_at]
    emitted = [event.status for event in events]
    if "failed" in emitted:
        code = next((e.error_code for e in events if e.status == "failed" and e.error_code), None) or message.error_code
        return {"state": "failed", "symbol": "⚠", "label": f"Failed ({code})" if code else "Failed", "code": code}
    if "read" in emitted or "played" in emitted:
        return {"state": "read", "symbol": "✓✓", "label": "Read"}
    if "delivered" in emitted:
        return {"state": "delivered", "symbol": "✓✓", "label": "Delivered"}
    if "sent" in emitted:
        return {"state": "sent", "symbol": "✓", "label": "Sent"}
    return {"state": "pending", "symbol": "🕓", "label": "Pending"}


def _bubbles(phone: Phone, customer: Customer) -> list[Bubble]:
    """The chat, oldest first: reactions become badges on their message, replies carry their quote."""
    messages = list(chat_for(number=phone.number, customer=customer))
    renderer = _Renderer(phone, messages)
    reactions: dict[tuple[str, bool], str] = {}  # (reacted wamid, by the customer?) → the latest emoji
    bubbles: list[Bubble] = []
    for message in messages:
        if message.message_type == "reaction":
            content = message.content or {}
            reactions[(content.get("message_id", ""), message.direction == Message.Direction.INBOUND)] = content.get(
                "emoji", ""
            )
            continue
        bubbles.append(renderer.bubble(message))
    by_wamid = {bubble.wamid: bubble for bubble in bubbles}
    for (wamid, by_me), emoji in reactions.items():
        if emoji and wamid in by_wamid:
            by_wamid[wamid].reactions.append({"emoji": emoji, "by_me": by_me})
    for bubble in bubbles:
        quoted = by_wamid.get(bubble.message.context_wamid)
        # WhatsApp shows no quote above a template sent as a reply.
        if quoted is not None and bubble.kind != "template":
            bubble.quote = _quote(phone, quoted)
    return bubbles


def _quote(phone: Phone, quoted: Bubble) -> dict:
    return {
        "wamid": quoted.wamid,
        "author": "You" if quoted.mine else phone.number.verified_name,
        "mine": quoted.mine,
        "snippet": quoted.snippet,
    }


def _chat_version(phone: Phone, customer: Customer) -> str:
    """Changes whenever the transcript would: a message, a status the platform received, a read receipt."""
    counts = Message.objects.filter(number=phone.number, customer=customer).aggregate(
        n=Count("id"), last=Max("id"), read=Count("read_at")
    )
    statuses = StatusEvent.objects.filter(
        message__number=phone.number, message__customer=customer, emitted_at__isnull=False
    ).count()
    return f"{counts['n']}.{counts['last'] or 0}.{counts['read']}.{statuses}"


# --- Pages and partials -------------------------------------------------------------------


def _chat_context(phone: Phone, customer: Customer | None) -> dict:
    if customer is None:
        return {"bubbles": [], "chat_version": ""}
    return {"bubbles": _bubbles(phone, customer), "chat_version": _chat_version(phone, customer)}


def _composer_context(
    phone: Phone,
    customer: Customer | None,
    *,
    compose_form: ComposeForm | None = None,
    location_form: LocationForm | None = None,
    reply_to: str = "",
) -> dict:
    quote = None
    if customer is not None and reply_to:
        message = chat_for(number=phone.number, customer=customer).filter(wamid=reply_to).first()
        if message is not None:
            quote = _quote(phone, _Renderer(phone, [message]).bubble(message))
    return {
        "compose_form": compose_form or ComposeForm(),
        "location_form": location_form or LocationForm(),
        "location_open": location_form is not None and bool(location_form.errors),
        "reply_quote": quote,
    }


def _page(request: HttpRequest, phone: Phone, customer: Customer | None, *, status: int = 200, **extra) -> HttpResponse:
    context = {
        "phone": phone,
        "channel": phone.channel,
        "number": phone.number,
        "customers": _customers(phone),
        "customer": customer,
        "urls": _urls(phone, customer),
        "customer_form": extra.pop("customer_form", None) or CustomerAddForm(number=phone.number),
        "can_send": member_can(membership=request.membership, permission="reply"),
        "reaction_emoji": REACTION_EMOJI,
        **_chat_context(phone, customer),
        **_composer_context(phone, customer, **extra),
    }
    return render(request, "sandbox/phone.html", context, status=status)


@require_GET
@workspace_member_required("view")
def sandbox_phone(request: HttpRequest, channel_id) -> HttpResponse:
    phone = _phone_get(request, channel_id)
    customer = None
    chosen = request.GET.get("customer", "")
    if chosen.isdigit():
        customer = _customer_get(phone, int(chosen))
    else:
        customer = _customers(phone).first()
    return _page(request, phone, customer, reply_to=request.GET.get("reply_to", ""))


@require_POST
@workspace_member_required("reply")
def sandbox_customer_add(request: HttpRequest, channel_id) -> HttpResponse:
    phone = _phone_get(request, channel_id)
    form = CustomerAddForm(request.POST, number=phone.number)
    if not form.is_valid():
        current = request.POST.get("current", "")
        shown = _customers(phone).filter(pk=current).first() if current.isdigit() else None
        return _page(request, phone, shown or _customers(phone).first(), status=400, customer_form=form)
    customer = customer_get_or_create(
        number=phone.number,
        name=form.cleaned_data["name"],
        phone=form.cleaned_data["phone"] or None,
        username=form.cleaned_data["username"] or None,
    )
    return redirect(f"{phone.url('sandbox_phone')}?customer={customer.pk}")


@require_GET
@workspace_member_required("view")
def sandbox_chat(request: HttpRequest, channel_id, customer_id: int) -> HttpResponse:
    """The transcript partial htmx polls; 204 (nothing to swap) while it has not changed."""
    phone = _phone_get(request, channel_id)
    customer = _customer_get(phone, customer_id)
    if request.GET.get("v") and request.GET["v"] == _chat_version(phone, customer):
        return HttpResponse(status=204)
    context = {
        "phone": phone,
        "customer": customer,
        "urls": _urls(phone, customer),
        "can_send": member_can(membership=request.membership, permission="reply"),
        "reaction_emoji": REACTION_EMOJI,
        **_chat_context(phone, customer),
    }
    return render(request, "sandbox/_chat.html", context)


@require_GET
@workspace_member_required("view")
def sandbox_composer(request: HttpRequest, channel_id, customer_id: int) -> HttpResponse:
    """The composer, with the quoted message when replying (`?reply_to=<wamid>`)."""
    phone = _phone_get(request, channel_id)
    customer = _customer_get(phone, customer_id)
    return _composer(request, phone, customer, reply_to=request.GET.get("reply_to", ""))


def _composer(request: HttpRequest, phone: Phone, customer: Customer, *, sent: bool = False, **kwargs) -> HttpResponse:
    context = {
        "phone": phone,
        "customer": customer,
        "urls": _urls(phone, customer),
        "can_send": True,
        **_composer_context(phone, customer, **kwargs),
    }
    response = render(request, "sandbox/_composer.html", context)
    if sent:
        response["HX-Trigger"] = SENT_EVENT
    return response


def _context_wamid(phone: Phone, customer: Customer, wamid: str) -> str | None:
    """The quoted message's wamid if it is in this chat; None for an unknown one."""
    if not wamid:
        return ""
    exists = Message.objects.filter(number=phone.number, customer=customer, wamid=wamid).exists()
    return wamid if exists else None


def _answer(
    request: HttpRequest, phone: Phone, customer: Customer, *, error_kwargs: dict | None = None
) -> HttpResponse:
    """After a composer POST: htmx gets the composer (fresh, or with the errors); a plain form the page."""
    if error_kwargs is None:
        if request.htmx:
            return _composer(request, phone, customer, sent=True)
        return redirect(f"{phone.url('sandbox_phone')}?customer={customer.pk}")
    if request.htmx:
        return _composer(request, phone, customer, **error_kwargs)
    return _page(request, phone, customer, status=400, **error_kwargs)


@require_POST
@workspace_member_required("reply")
def sandbox_send(request: HttpRequest, channel_id, customer_id: int) -> HttpResponse:
    """The customer sends a text, or a file (with its caption), maybe as a reply."""
    phone = _phone_get(request, channel_id)
    customer = _customer_get(phone, customer_id)
    form = ComposeForm(request.POST, request.FILES)
    context_wamid = _context_wamid(phone, customer, request.POST.get("context_wamid", ""))
    if context_wamid is None:
        form.add_error(None, "The message you are replying to is not in this chat.")
    if not form.is_valid():
        return _answer(request, phone, customer, error_kwargs={"compose_form": form, "reply_to": context_wamid or ""})
    data = form.cleaned_data
    if data.get("media_type"):
        media_type = data["media_type"]
        content: dict[str, Any] = {"data": data["data"], "mime_type": data["mime_type"]}
        if media_type == "document":
            content["filename"] = data["filename"]
        if media_type == "audio":
            content["voice"] = bool(data.get("voice"))
        caption = data["body"] if media_type in ("image", "video", "document") else ""
        if caption:
            content["caption"] = caption
        customer_message_send(
            number=phone.number,
            customer=customer,
            message_type=media_type,
            content=content,
            context_wamid=context_wamid,
        )
        if data["body"] and not caption:
            # Audio and stickers take no caption on WhatsApp: the words follow as their own message.
            customer_message_send(number=phone.number, customer=customer, message_type="text", content=data["body"])
    else:
        customer_message_send(
            number=phone.number,
            customer=customer,
            message_type="text",
            content={"body": data["body"]},
            context_wamid=context_wamid,
        )
    return _answer(request, phone, customer)


@require_POST
@workspace_member_required("reply")
def sandbox_location(request: HttpRequest, channel_id, customer_id: int) -> HttpResponse:
    phone = _phone_get(request, channel_id)
    customer = _customer_get(phone, customer_id)
    form = LocationForm(request.POST)
    context_wamid = _context_wamid(phone, customer, request.POST.get("context_wamid", ""))
    if context_wamid is None:
        form.add_error(None, "The message you are replying to is not in this chat.")
    if not form.is_valid():
        return _answer(request, phone, customer, error_kwargs={"location_form": form, "reply_to": context_wamid or ""})
    content: dict[str, Any] = {"latitude": form.cleaned_data["latitude"], "longitude": form.cleaned_data["longitude"]}
    for key in ("name", "address"):
        if form.cleaned_data[key]:
            content[key] = form.cleaned_data[key]
    customer_message_send(
        number=phone.number, customer=customer, message_type="location", content=content, context_wamid=context_wamid
    )
    return _answer(request, phone, customer)


def _tapped(request: HttpRequest, phone: Phone, customer: Customer) -> HttpResponse:
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Trigger"] = SENT_EVENT
        return response
    return redirect(f"{phone.url('sandbox_phone')}?customer={customer.pk}")


def tap_reply(message: Message, choice: str) -> tuple[str, dict] | None:
    """The webhook type and content a phone sends when this choice of this business message is tapped."""
    content = message.content if isinstance(message.content, dict) else {}
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


@require_POST
@workspace_member_required("reply")
def sandbox_tap(request: HttpRequest, channel_id, customer_id: int) -> HttpResponse:
    """A tap on a reply button, a list row or a template quick reply of a business message.

    The reply is rebuilt from what the business sent (never from the form), so the webhook is
    exactly the one a phone would send, with the tapped message as its context.
    """
    phone = _phone_get(request, channel_id)
    customer = _customer_get(phone, customer_id)
    message = (
        Message.objects.filter(
            number=phone.number,
            customer=customer,
            direction=Message.Direction.OUTBOUND,
            wamid=request.POST.get("wamid"),
        )
        .exclude(wamid="")
        .first()
    )
    if message is None:
        raise Http404("No such message in this chat.")
    choice = request.POST.get("choice", "")
    if message.message_type == "template":
        renderer = _Renderer(phone, [message])
        bubble = renderer.bubble(message)
        button = next((b for b in bubble.buttons if b["choice"] == choice and b["action"] == "tap"), None)
        tapped = ("button", {"payload": button["payload"], "text": button["title"]}) if button else None
    else:
        tapped = tap_reply(message, choice)
    if tapped is None:
        return HttpResponseBadRequest("That message has no such button.")
    customer_message_send(
        number=phone.number, customer=customer, message_type=tapped[0], content=tapped[1], context_wamid=message.wamid
    )
    return _tapped(request, phone, customer)


@require_POST
@workspace_member_required("reply")
def sandbox_react(request: HttpRequest, channel_id, customer_id: int) -> HttpResponse:
    """The customer reacts to a business message; the same emoji again takes the reaction back."""
    phone = _phone_get(request, channel_id)
    customer = _customer_get(phone, customer_id)
    wamid = request.POST.get("wamid", "")
    emoji = request.POST.get("emoji", "")
    target = Message.objects.filter(
        number=phone.number, customer=customer, direction=Message.Direction.OUTBOUND, wamid=wamid
    ).first()
    if target is None or target.message_type == "reaction":
        raise Http404("No such message in this chat.")
    if emoji not in REACTION_EMOJI:
        return HttpResponseBadRequest("Choose one of the offered emoji.")
    last = (
        Message.objects.filter(
            number=phone.number,
            customer=customer,
            direction=Message.Direction.INBOUND,
            message_type="reaction",
            content__message_id=wamid,
        )
        .order_by("-created_at", "-id")
        .first()
    )
    if last is not None and last.content.get("emoji") == emoji:
        emoji = ""  # tapping your reaction again removes it, as on the phone
    try:
        customer_message_send(
            number=phone.number,
            customer=customer,
            message_type="reaction",
            content={"message_id": wamid, "emoji": emoji},
        )
    except CustomerMessageError as exc:
        return HttpResponseBadRequest(str(exc))
    return _tapped(request, phone, customer)


@require_GET
@workspace_member_required("view")
def sandbox_media(request: HttpRequest, channel_id, media_id: str) -> HttpResponse:
    """A file of this number, to members only. Images, audio and video display inline; anything
    else downloads, and nothing is ever rendered as a page of ours."""
    phone = _phone_get(request, channel_id)
    media = Media.objects.filter(number=phone.number, media_id=media_id, deleted_at__isnull=True).first()
    if media is None:
        raise Http404("No such media.")
    mime_type = media.mime_type.split(";", 1)[0].strip().lower()
    inline = mime_type in INLINE_MIME_TYPES or mime_type.startswith(("audio/", "video/"))
    if inline:
        content_type = media.mime_type
    else:
        content_type = mime_type if mime_type in DOCUMENT_MIME_TYPES else "application/octet-stream"
    response = HttpResponse(bytes(media.data), content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(not inline, media.filename or f"{media_id}")
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, max-age=3600"
    return response
