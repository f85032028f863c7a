"""A small JSON control API under `/emulator/control/` for developers and staff tools.

It exposes the services a test would call: apps and signups, provisioning, customers and their
messages, faults, limits, webhook modes, token revocation, media URL expiry, OAuth codes and the
clock. It is only mounted when the emulator is enabled; set WHATSAPP_EMULATOR_CONTROL_TOKEN to require a bearer token.
"""

import functools
import hmac
import json
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from cloudapi_emulator import clock, conf, services
from cloudapi_emulator.models import Customer, Message, PhoneNumber


class ControlError(ValueError):
    pass


def _caller_refusal(request: HttpRequest) -> JsonResponse | None:
    """With a control token set, only requests carrying it. Without one, only requests that are not
    cross-origin: scripts and tests send no Origin, while a page on another site that POSTs here (CSRF
    protection is off for this JSON API) is refused by the Origin and Sec-Fetch-Site its browser sends."""
    expected = conf.get("CONTROL_TOKEN")
    if expected:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return JsonResponse({"error": "A valid control token is required."}, status=401)
        return None
    origin = request.headers.get("Origin")
    own_origin = f"{request.scheme}://{request.get_host()}"
    if (origin is not None and origin != own_origin) or request.headers.get("Sec-Fetch-Site") in {
        "cross-site",
        "same-site",
    }:
        return JsonResponse(
            {
                "error": "The emulator's control API answers scripts and this site's own pages only; "
                "set WHATSAPP_EMULATOR_CONTROL_TOKEN and send it as a bearer token to call it from elsewhere."
            },
            status=403,
        )
    return None


def control_view(methods: list[str]) -> Callable:
    def decorate(view: Callable[..., Any]) -> Callable[..., JsonResponse]:
        @csrf_exempt
        @require_http_methods(methods)
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
            refusal = _caller_refusal(request)
            if refusal is not None:
                return refusal
            try:
                body = json.loads(request.body or b"{}")
                if not isinstance(body, dict):
                    raise ControlError("Send a JSON object.")
                result = view(request, body, *args, **kwargs)
            except (ControlError, ValueError, TypeError, KeyError) as error:
                return JsonResponse({"error": str(error)}, status=400)
            return JsonResponse(result if result is not None else {"success": True}, safe=False)

        return wrapped

    return decorate


def _number(phone_number_id: str) -> PhoneNumber:
    return get_object_or_404(PhoneNumber, phone_number_id=phone_number_id)


def number_as_json(number: PhoneNumber) -> dict[str, Any]:
    return {
        "phone_number_id": number.phone_number_id,
        "waba_id": number.waba_id,
        "display_phone_number": number.display_phone_number,
        "verified_name": number.verified_name,
        "app_id": number.app.app_id,
        "webhook_url": number.webhook_url,
    }


def customer_as_json(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.pk,
        "name": customer.name,
        "phone": customer.phone,
        "bsuid": customer.bsuid,
        "username": customer.username,
    }


def message_as_json(message: Message) -> dict[str, Any]:
    return {
        "wamid": message.wamid,
        "direction": message.direction,
        "type": message.message_type,
        "content": message.content,
        "context_wamid": message.context_wamid,
        "error_code": message.error_code,
        "created_at": message.created_at.isoformat(),
        "statuses": [
            {"status": e.status, "emitted_at": e.emitted_at.isoformat() if e.emitted_at else None}
            for e in message.status_events.all()
        ],
    }


@control_view(["POST"])
def apps(request: HttpRequest, body: dict) -> dict:
    app = services.app_register(
        app_id=str(body["app_id"]),
        app_secret=body["app_secret"],
        callback_url=body.get("callback_url", ""),
        verify_token=body.get("verify_token", ""),
        name=body.get("name", ""),
    )
    return {"app_id": app.app_id, "name": app.name, "callback_url": app.callback_url}


@control_view(["POST"])
def signups(request: HttpRequest, body: dict) -> dict:
    """A finished Embedded Signup without the popup: the code and the events the popup would post."""
    result = services.signup_finish(
        app_id=str(body["app_id"]),
        simulate=body.get("simulate", "FINISH"),
        display_phone_number=body.get("display_phone_number"),
        business_name=body.get("business_name", "Emulated Business"),
        verified_name=body.get("verified_name", ""),
    )
    return {
        "code": result.code,
        "waba_id": result.waba_id,
        "phone_number_id": result.phone_number_id,
        "business_id": result.business_id,
        "session_info": result.session_info,
    }


@control_view(["POST"])
def numbers(request: HttpRequest, body: dict) -> dict:
    number = services.sandbox_number_provision(
        display_phone_number=body["display_phone_number"],
        verified_name=body.get("verified_name", "Emulated Business"),
        access_token=body["access_token"],
        app_secret=body["app_secret"],
        webhook_url=body.get("webhook_url", ""),
        phone_number_id=body.get("phone_number_id"),
        waba_id=body.get("waba_id"),
        app_id=body.get("app_id"),
    )
    return number_as_json(number)


@control_view(["POST"])
def customers(request: HttpRequest, body: dict, phone_number_id: str) -> dict:
    customer = services.customer_get_or_create(
        number=_number(phone_number_id),
        name=body.get("name", "Customer"),
        phone=body.get("phone"),
        bsuid=body.get("bsuid"),
        username=body.get("username"),
    )
    return customer_as_json(customer)


@control_view(["GET", "POST"])
def customer_messages(request: HttpRequest, body: dict, phone_number_id: str, customer_id: int) -> Any:
    number = _number(phone_number_id)
    customer = get_object_or_404(Customer, pk=customer_id, number=number)
    if request.method == "GET":
        return {"data": [message_as_json(m) for m in services.chat_for(number=number, customer=customer)]}
    wamid = services.customer_message_send(
        number=number,
        customer=customer,
        message_type=body["message_type"],
        content=body.get("content", {}),
        context_wamid=body.get("context_wamid"),
    )
    return {"wamid": wamid}


@control_view(["GET"])
def requests_received(request: HttpRequest, body: dict, phone_number_id: str) -> dict:
    return {"data": services.requests_received(phone_number_id)}


@control_view(["POST", "DELETE"])
def faults(request: HttpRequest, body: dict) -> dict | None:
    if request.method == "DELETE":
        services.faults_clear()
        return None
    fault = services.fault_add(**body)
    return {"id": fault.pk}


@control_view(["POST"])
def limits(request: HttpRequest, body: dict, phone_number_id: str) -> None:
    _number(phone_number_id)
    if "mps" in body:
        services.throughput_limit_set(phone_number_id, body["mps"])
    if "pair_per_seconds" in body:
        services.pair_rate_limit_set(phone_number_id, body["pair_per_seconds"])


@control_view(["POST"])
def webhook_mode(request: HttpRequest, body: dict, phone_number_id: str) -> None:
    services.webhook_mode_set(_number(phone_number_id), **body)


@control_view(["POST"])
def token_revoke(request: HttpRequest, body: dict) -> None:
    services.token_revoke(body["token"])


@control_view(["POST"])
def media_expire(request: HttpRequest, body: dict) -> dict:
    return {"expired": services.media_urls_expire()}


@control_view(["POST"])
def oauth_codes(request: HttpRequest, body: dict) -> dict:
    return {"code": services.oauth_code_issue(**body)}


@control_view(["POST"])
def templates(request: HttpRequest, body: dict) -> dict:
    template = services.template_add(**body)
    return {"id": template.template_id, "status": template.status}


@control_view(["POST"])
def clock_advance(request: HttpRequest, body: dict) -> dict:
    clock.advance(float(body.get("seconds", 0)))
    return {"now": clock.now().isoformat()}
