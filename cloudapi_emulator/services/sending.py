"""Accepting `POST /<phone_number_id>/messages` once the body is valid (reference §5)."""

from datetime import timedelta
from typing import Any

from django.db import transaction

from cloudapi_emulator import clock, conf, ids
from cloudapi_emulator.errors import GraphError
from cloudapi_emulator.models import Customer, Message, PhoneNumber, SendRequest
from cloudapi_emulator.services.webhooks import statuses_schedule
from cloudapi_emulator.validation import SendRequestSpec


def recipient_find(*, number: PhoneNumber, spec: SendRequestSpec) -> Customer | None:
    """The customer this send is for: `to` (digits compared) wins over `recipient` (§0)."""
    if spec.to_digits:
        return Customer.objects.filter(number=number, phone=spec.to_digits).first()
    return Customer.objects.filter(number=number, bsuid=spec.bsuid).first()


def limits_check(*, number: PhoneNumber, customer: Customer | None, spec: SendRequestSpec) -> None:
    """Throughput (130429) and pair rate (131056) limits a test switched on.

    Counting recent rows is a little inexact under concurrent sends; that is fine for a fake.
    """
    now = clock.now()
    outbound = Message.objects.filter(number=number, direction=Message.Direction.OUTBOUND)
    if number.throughput_mps is not None:
        recent = outbound.filter(created_at__gt=now - timedelta(seconds=1)).count()
        if recent >= number.throughput_mps:
            raise GraphError(130429)
    if number.pair_rate_seconds is not None:
        since = now - timedelta(seconds=number.pair_rate_seconds)
        same = (
            outbound.filter(customer=customer)
            if customer
            else outbound.filter(customer__isnull=True, recipient_input=spec.recipient_input)
        )
        if same.filter(created_at__gt=since).exists():
            raise GraphError(131056)


@transaction.atomic
def message_accept(*, number: PhoneNumber, spec: SendRequestSpec, payload: dict[str, Any]) -> dict[str, Any]:
    """Record the send and schedule its statuses; return Meta's response body (§5.1).

    Undeliverable sends are still accepted: an unknown recipient fails later with 131026, a
    free-form message outside the 24 h window with 131047, each as a `failed` status webhook.
    """
    now = clock.now()
    if spec.kind == "read":
        return _read_accept(number=number, spec=spec, payload=payload, now=now)
    customer = recipient_find(number=number, spec=spec)
    limits_check(number=number, customer=customer, spec=spec)
    wamid = ids.wamid()
    content = spec.content if isinstance(spec.content, dict) else {"contacts": spec.content}
    message = Message.objects.create(
        number=number,
        customer=customer,
        direction=Message.Direction.OUTBOUND,
        wamid=wamid,
        message_type=spec.message_type,
        content=content,
        context_wamid=spec.context_wamid,
        recipient_input=spec.recipient_input,
        biz_opaque_callback_data=spec.biz_opaque_callback_data,
        payload=payload,
        created_at=now,
    )
    SendRequest.objects.create(phone_number_id=number.phone_number_id, payload=payload, wamid=wamid, created_at=now)
    error_code = None
    if customer is None:
        error_code = 131026
    elif spec.message_type != "template":
        window = timedelta(seconds=conf.get("SERVICE_WINDOW_SECONDS"))
        if customer.last_message_at is None or now - customer.last_message_at > window:
            error_code = 131047
    statuses_schedule(
        message=message, error_code=error_code, template_category=spec.template.category if spec.template else None
    )
    contact: dict[str, Any] = {"input": spec.recipient_input}
    if spec.to_digits:
        contact["wa_id"] = customer.phone if customer else spec.to_digits
    elif customer is not None and customer.phone:
        contact["wa_id"] = customer.phone
    if spec.bsuid:
        contact["user_id"] = spec.bsuid
    return {"messaging_product": "whatsapp", "contacts": [contact], "messages": [{"id": wamid}]}


def _read_accept(*, number: PhoneNumber, spec: SendRequestSpec, payload: dict, now) -> dict[str, Any]:
    """Mark an inbound message (and the earlier ones in its chat) read; maybe show the typing indicator."""
    message = Message.objects.filter(number=number, wamid=spec.message_id, direction=Message.Direction.INBOUND).first()
    if message is None:
        raise GraphError(100, f"Param message_id {spec.message_id!r} is not a message this number received.")
    Message.objects.filter(
        number=number,
        customer=message.customer,
        direction=Message.Direction.INBOUND,
        created_at__lte=message.created_at,
        read_at__isnull=True,
    ).update(read_at=now)
    SendRequest.objects.create(phone_number_id=number.phone_number_id, payload=payload, created_at=now)
    return {"success": True}


def requests_received(phone_number_id: str) -> list[dict[str, Any]]:
    """Every accepted `/messages` body for this number, oldest first (read receipts included)."""
    return list(SendRequest.objects.filter(phone_number_id=phone_number_id).values_list("payload", flat=True))
