"""The sandbox phone: chat with a sandbox channel as one of its customers, through the emulator.

Everything the page sends goes through `customer_message_send`, so the platform receives exactly
the signed webhook a real phone would cause. What the business sent is read back from the
emulator's own records (`chat_for`), ticks from the statuses whose webhooks the platform
acknowledged. Members who may view the workspace see the page; sending needs "reply".
"""

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Max
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from channels_app.models import Channel
from channels_app.whatsapp.bubbles import Bubble, bubbles_fold, media_ids, tap_reply
from cloudapi_emulator.models import Customer, Media, Message, PhoneNumber, StatusEvent, Template
from cloudapi_emulator.sandbox_forms import REACTION_EMOJI, CustomerAddForm, LocationForm
from cloudapi_emulator.services import CustomerMessageError, chat_for, customer_get_or_create, customer_message_send
from messaging_app.forms import CustomerComposeForm
from whatsapp_platform.files import private_file_response
from workspaces_app.decorators import workspace_member_required
from workspaces_app.selectors import member_can

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


class _SandboxSource:
    """Files and templates of one emulated number, looked up once per response."""

    def __init__(self, phone: Phone, messages: list[Message]):
        self.phone = phone
        wanted = set().union(*(media_ids(m.content) for m in messages)) if messages else set()
        self.media = {
            row.media_id: row
            for row in Media.objects.filter(number=phone.number, media_id__in=wanted, deleted_at__isnull=True).only(
                "media_id", "mime_type", "filename", "file_size"
            )
        }
        self.templates: dict[tuple[str, str], list | None] = {}

    def media_file(self, media_id: str) -> dict | None:
        row = self.media.get(media_id)
        if row is None:
            return None
        return {
            "url": self.phone.url("sandbox_media", media_id=row.media_id),
            "mime_type": row.mime_type,
            "size": row.file_size,
            "filename": row.filename,
        }

    def template_components(self, name: str, language: str) -> list | None:
        key = (name, language)
        if key not in self.templates:
            template = (
                Template.objects.filter(waba_id=self.phone.number.waba_id, name=name, language=language)
                .exclude(status=Template.Status.DELETED)
                .order_by("-created_at")
                .first()
            )
            self.templates[key] = template.components if template is not None else None
        return self.templates[key]


def _customer_side(message: Message) -> bool:
    return message.direction == Message.Direction.INBOUND


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


def _bubbles(phone: Phone, customer: Customer, messages: list[Message] | None = None) -> list[Bubble]:
    """The chat, oldest first, with the ticks each side sees."""
    if messages is None:
        messages = list(chat_for(number=phone.number, customer=customer))
    bubbles = bubbles_fold(
        messages,
        mine=_customer_side,
        source=_SandboxSource(phone, messages),
        quote_author=lambda quoted: "You" if quoted.mine else phone.number.verified_name,
    )
    for bubble in bubbles:
        if not bubble.mine:
            bubble.ticks = _ticks(bubble.message)
        elif bubble.message.read_at:
            bubble.ticks = {"state": "read", "symbol": "✓✓", "label": "Read by the business"}
        else:
            bubble.ticks = {"state": "sent", "symbol": "✓", "label": "Sent"}
    return bubbles


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
    compose_form: CustomerComposeForm | None = None,
    location_form: LocationForm | None = None,
    reply_to: str = "",
) -> dict:
    quote = None
    if customer is not None and reply_to:
        message = chat_for(number=phone.number, customer=customer).filter(wamid=reply_to).first()
        if message is not None:
            quoted = _bubbles(phone, customer, [message])[0]
            quote = {
                "wamid": quoted.wamid,
                "author": "You" if quoted.mine else phone.number.verified_name,
                "mine": quoted.mine,
                "snippet": quoted.snippet,
            }
    return {
        "compose_form": compose_form or CustomerComposeForm(),
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
    form = CustomerComposeForm(request.POST, request.FILES)
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
    tapped = tap_reply(message, choice, source=_SandboxSource(phone, [message]))
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
    return private_file_response(bytes(media.data), mime_type=media.mime_type, filename=media.filename or media_id)
