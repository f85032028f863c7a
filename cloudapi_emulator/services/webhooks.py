"""Webhooks back to the platform: envelopes, the outbox, status schedules and delivery modes.

Nothing here makes an HTTP call: rows go into the outbox and the dispatcher thread
(cloudapi_emulator.dispatcher) posts them after the transaction commits.
"""

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction

from cloudapi_emulator import clock, conf
from cloudapi_emulator.dispatcher import dispatcher_ensure_running
from cloudapi_emulator.errors import webhook_error
from cloudapi_emulator.models import Customer, Message, PhoneNumber, StatusEvent, SubscribedApp, WebhookDelivery
from cloudapi_emulator.signatures import webhook_body

# Meta puts at most 1000 updates in one POST.
MAX_UPDATES_PER_POST = 1000
WEBHOOK_MODES = ("duplicate", "out_of_order", "skip_delivered", "batch", "fail_code", "played")


def envelope(*, waba_id: str, field: str, value: dict[str, Any], time_field: bool = False) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": waba_id, "changes": [{"value": value, "field": field}]}
    if time_field:
        entry["time"] = int(clock.now().timestamp())
    return {"object": "whatsapp_business_account", "entry": [entry]}


def messages_value(number: PhoneNumber, **parts: Any) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": number.display_digits, "phone_number_id": number.phone_number_id},
        **parts,
    }


def contact_of(customer: Customer) -> dict[str, Any]:
    """`contacts[0]` as Meta sends it; username-only customers have no `wa_id`."""
    profile: dict[str, Any] = {"name": customer.name}
    if customer.username:
        profile["username"] = customer.username
    contact: dict[str, Any] = {"profile": profile}
    if customer.phone:
        contact["wa_id"] = customer.phone
    contact["user_id"] = customer.bsuid
    return contact


@dataclass(frozen=True)
class Route:
    """Where one webhook goes and the secret of the app whose URL that is (it signs the body)."""

    url: str
    app_secret: str


def _subscriptions(waba_id: str, preferred_app_id: int | None = None) -> list[SubscribedApp]:
    """The apps subscribed to a WABA, the number's own app first, then oldest first."""
    rows = list(SubscribedApp.objects.select_related("app").filter(waba_id=waba_id).order_by("id"))
    return sorted(rows, key=lambda sub: sub.app_id != preferred_app_id)


def messages_route(number: PhoneNumber) -> Route | None:
    """Where this number's `messages` webhooks go, as Meta looks it up (reference §1.4).

    The number's override, then a WABA override (`subscribed_apps` override_callback_uri), then
    the dashboard callback URL of an app subscribed to the WABA. A number provisioned for the
    sandbox falls back to its own `webhook_url`. Anything else gets nothing: Meta sends no
    webhooks for a WABA no app is subscribed to.
    """
    subscriptions = _subscriptions(number.waba_id, number.app_id)
    if number.override_callback_uri:
        owner = number.override_app or (subscriptions[0].app if subscriptions else number.app)
        return Route(number.override_callback_uri, owner.app_secret)
    for sub in subscriptions:
        if sub.override_callback_uri:
            return Route(sub.override_callback_uri, sub.app.app_secret)
    for sub in subscriptions:
        if sub.app.callback_url:
            return Route(sub.app.callback_url, sub.app.app_secret)
    if number.webhook_url:
        return Route(number.webhook_url, number.app.app_secret)
    return None


def messages_callback_url(number: PhoneNumber) -> str:
    """The URL `messages_route` picks, or "" when nothing would be sent."""
    route = messages_route(number)
    return route.url if route else ""


def waba_routes(waba_id: str) -> list[Route]:
    """Template and account webhooks: the dashboard callback of every app subscribed to the WABA.

    Overrides never apply to them (reference §1.4). A sandbox WABA, with no subscribed app that
    has a callback URL, keeps sending them to its numbers' own `webhook_url`.
    """
    routes = {
        Route(sub.app.callback_url, sub.app.app_secret) for sub in _subscriptions(waba_id) if sub.app.callback_url
    }
    if not routes:
        routes = {
            Route(n.webhook_url, n.app.app_secret)
            for n in PhoneNumber.objects.select_related("app").filter(waba_id=waba_id)
            if n.webhook_url
        }
    return sorted(routes, key=lambda route: (route.url, route.app_secret))


def webhook_enqueue(
    *,
    number: PhoneNumber | None,
    payload: dict[str, Any],
    url: str,
    app_secret: str,
    field: str = "messages",
    due_at: datetime | None = None,
) -> WebhookDelivery | None:
    """Put one POST in the outbox; the dispatcher starts after commit. No URL, no delivery."""
    if not url:
        return None
    row = WebhookDelivery.objects.create(
        number=number,
        field=field,
        url=url,
        app_secret=app_secret,
        body=webhook_body(payload),
        due_at=due_at or clock.now(),
        max_attempts=conf.get("WEBHOOK_MAX_ATTEMPTS"),
    )
    transaction.on_commit(dispatcher_ensure_running)
    return row


def messages_webhook_enqueue(
    *, number: PhoneNumber, value_parts: dict[str, Any], due_at: datetime | None = None
) -> WebhookDelivery | None:
    route = messages_route(number)
    if route is None:
        return None
    payload = envelope(waba_id=number.waba_id, field="messages", value=messages_value(number, **value_parts))
    return webhook_enqueue(number=number, payload=payload, url=route.url, app_secret=route.app_secret, due_at=due_at)


def review_enqueue(*, template_pk: int, due_at: datetime) -> None:
    WebhookDelivery.objects.create(
        kind=WebhookDelivery.Kind.TEMPLATE_REVIEW,
        field="message_template_status_update",
        body=str(template_pk),
        due_at=due_at,
        max_attempts=conf.get("WEBHOOK_MAX_ATTEMPTS"),
    )
    transaction.on_commit(dispatcher_ensure_running)


def waba_webhook_enqueue(*, waba_id: str, field: str, value: dict[str, Any]) -> int:
    """A WABA-level webhook (templates, account) to every route `waba_routes` gives; returns how many."""
    routes = waba_routes(waba_id)
    payload = envelope(waba_id=waba_id, field=field, value=value, time_field=True)
    for route in routes:
        webhook_enqueue(number=None, payload=payload, url=route.url, app_secret=route.app_secret, field=field)
    return len(routes)


# --- Status webhooks after an accepted send -------------------------------------------------


def status_delays(number: PhoneNumber) -> dict[str, float]:
    return {**conf.DEFAULT_STATUS_DELAYS, **conf.get("STATUS_DELAYS"), **(number.status_delays or {})}


def _status_object(
    message: Message, status: str, at: datetime, *, error_code: int | None, pricing: dict | None
) -> dict[str, Any]:
    customer = message.customer
    obj: dict[str, Any] = {"id": message.wamid, "status": status, "timestamp": str(int(at.timestamp()))}
    if customer is not None:
        if customer.phone:
            obj["recipient_id"] = customer.phone
        obj["recipient_user_id"] = customer.bsuid
    else:
        obj["recipient_id"] = "".join(ch for ch in message.recipient_input if ch.isdigit()) or message.recipient_input
    if message.biz_opaque_callback_data:
        obj["biz_opaque_callback_data"] = message.biz_opaque_callback_data
    if pricing is not None:
        obj["pricing"] = pricing
    if error_code is not None:
        obj["errors"] = [webhook_error(error_code)]
    return obj


def _pricing(message: Message, template_category: str | None) -> dict[str, Any]:
    if template_category:
        return {"billable": True, "pricing_model": "PMP", "type": "regular", "category": template_category.lower()}
    return {"billable": False, "pricing_model": "PMP", "type": "free_customer_service", "category": "service"}


def statuses_schedule(
    *, message: Message, error_code: int | None = None, template_category: str | None = None
) -> list[StatusEvent]:
    """Schedule the status webhooks of an accepted outbound message, honouring the number's modes.

    Default: sent → delivered → read, each its own POST at its own delay. A failure gets one
    `failed` status; a reaction only `sent`; a voice note can also get `played`.
    """
    number = message.number
    modes = number.webhook_modes or {}
    delays = status_delays(number)
    error_code = error_code or modes.get("fail_code")
    if error_code:
        plan = ["failed"]
    elif message.message_type == "reaction":
        plan = ["sent"]
    else:
        plan = ["sent"] if modes.get("skip_delivered") else ["sent", "delivered"]
        plan.append("read")
        if modes.get("played") and message.message_type == "audio" and message.content.get("voice"):
            plan.append("played")
    base = clock.now()
    event_times = {
        s: base + timedelta(seconds=delays.get(s, delays["sent"]) if s != "failed" else delays["sent"]) for s in plan
    }
    # Out of order: the events keep their true timestamps, but arrive latest first.
    arrival_order = list(reversed(plan)) if modes.get("out_of_order") else plan
    arrival_times = sorted(event_times.values())
    arrivals = dict(zip(arrival_order, arrival_times, strict=True))

    pricing_on = {"sent", "delivered" if "delivered" in plan else "read"}
    contacts = [contact_of(message.customer)] if message.customer and not error_code else None
    objects = {
        s: _status_object(
            message,
            s,
            event_times[s],
            error_code=error_code if s == "failed" else None,
            pricing=_pricing(message, template_category) if s in pricing_on else None,
        )
        for s in plan
    }
    copies = 2 if modes.get("duplicate") else 1
    events = {
        s: StatusEvent.objects.create(
            message=message, status=s, error_code=error_code if s == "failed" else None, due_at=event_times[s]
        )
        for s in plan
    }

    def parts(statuses: list[dict]) -> dict[str, Any]:
        return {"contacts": contacts, "statuses": statuses} if contacts else {"statuses": statuses}

    if modes.get("batch"):
        statuses = [objects[s] for s in arrival_order]
        for chunk_start in range(0, len(statuses), MAX_UPDATES_PER_POST):
            chunk = statuses[chunk_start : chunk_start + MAX_UPDATES_PER_POST]
            first = None
            for copy in range(copies):
                row = messages_webhook_enqueue(
                    number=number, value_parts=parts(chunk), due_at=arrivals[arrival_order[0]] + _copy_gap(copy)
                )
                first = first or row
            StatusEvent.objects.filter(pk__in=[e.pk for e in events.values()]).update(delivery=first)
    else:
        for s in arrival_order:
            first = None
            for copy in range(copies):
                row = messages_webhook_enqueue(
                    number=number, value_parts=parts([objects[s]]), due_at=arrivals[s] + _copy_gap(copy)
                )
                first = first or row
            StatusEvent.objects.filter(pk=events[s].pk).update(delivery=first)
    if error_code:
        Message.objects.filter(pk=message.pk).update(error_code=error_code)
    return list(events.values())


def _copy_gap(copy: int) -> timedelta:
    return timedelta(milliseconds=5 * copy)


def webhook_mode_set(
    number: PhoneNumber,
    *,
    duplicate: bool = False,
    out_of_order: bool = False,
    skip_delivered: bool = False,
    batch: bool = False,
    fail_code: int | None = None,
    played: bool = False,
    status_delays: dict[str, float] | None = None,
) -> PhoneNumber:
    """How this number's later status webhooks behave; call with no options to restore the defaults.

    duplicate: every status POST is sent twice. out_of_order: the latest status arrives first.
    skip_delivered: no `delivered`. batch: all statuses of a message in one POST.
    fail_code: every later send fails with this code (`failed` status). played: voice notes get `played`.
    status_delays: per-number seconds for sent/delivered/read/played.
    """
    number.webhook_modes = {
        "duplicate": duplicate,
        "out_of_order": out_of_order,
        "skip_delivered": skip_delivered,
        "batch": batch,
        "fail_code": fail_code,
        "played": played,
    }
    fields = ["webhook_modes"]
    if status_delays is not None:
        number.status_delays = status_delays
        fields.append("status_delays")
    number.save(update_fields=fields)
    return number


def deliveries_drain(timeout: float = 10) -> None:
    """Wait until no delivery is pending (due now or later); raise TimeoutError if some still are."""
    deadline = time.monotonic() + timeout
    pending = WebhookDelivery.objects.filter(state=WebhookDelivery.State.PENDING)
    if pending.exists():
        dispatcher_ensure_running()
    while pending.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{pending.count()} emulator webhook deliveries still pending after {timeout}s")
        time.sleep(0.02)
