"""The Graph API surface: `/emulator/graph/<version>/<path>`, answered as graph.facebook.com answers.

One router resolves the path (`<id>/messages`, `<id>/media`, `oauth/access_token`…), then each
handler authenticates, takes any fault a test queued for that endpoint, and does its work.
Errors are `GraphError`s rendered here once, in Meta's envelope (§9.1).
"""

import base64
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from cloudapi_emulator.errors import GraphError
from cloudapi_emulator.models import AccessToken, App, Fault, PhoneNumber, Signup
from cloudapi_emulator.services import faults, media, onboarding, profiles, sending, templates, uploads
from cloudapi_emulator.services.numbers import (
    number_for_token,
    object_missing,
    token_authenticate,
    waba_for_token,
)
from cloudapi_emulator.validation import validate_send

logger = logging.getLogger(__name__)

Handler = Callable[[], HttpResponse]


def graph_json(data: dict[str, Any], status: int = 200) -> JsonResponse:
    return JsonResponse(data, status=status, json_dumps_params={"ensure_ascii": False})


def error_response(error: GraphError) -> JsonResponse:
    response = graph_json(error.envelope(), status=error.http_status)
    if error.code == 190:
        response["WWW-Authenticate"] = 'OAuth "Facebook Platform" "invalid_token" "' + error.details + '"'
    return response


def bearer_token(request: HttpRequest) -> str | None:
    """`Authorization: Bearer <token>`, or `OAuth <token>` (the Resumable Upload API's scheme), or `?access_token=`."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() in {"bearer", "oauth"}:
        return token.strip() or None
    return request.GET.get("access_token") or None


def with_fault(endpoint: str, phone_number_id: str, handler: Handler) -> HttpResponse:
    """Run `handler` unless a queued fault for this endpoint says otherwise (see services.faults)."""
    fault: Fault | None = faults.fault_take(endpoint=endpoint, phone_number_id=phone_number_id)
    if fault is None:
        return handler()
    if fault.latency_ms:
        time.sleep(fault.latency_ms / 1000)
    if fault.timeout_seconds is not None:
        if fault.accepted_despite_timeout:
            # The work is done and committed; only the answer is lost.
            try:
                response = handler()
            except GraphError as error:
                response = error_response(error)
            time.sleep(fault.timeout_seconds)
            return response
        time.sleep(fault.timeout_seconds)
        return HttpResponse("Gateway Timeout", status=504, content_type="text/plain")
    if fault.error_code is not None:
        raise GraphError(fault.error_code, fault.details, http_status=fault.http_status)
    if fault.http_status is not None:
        return HttpResponse(
            f"<html><body><h1>{fault.http_status}</h1>{fault.details or 'Service Unavailable'}</body></html>",
            status=fault.http_status,
            content_type="text/html",
        )
    return handler()


def _json_body(request: HttpRequest) -> Any:
    if not request.body:
        return {}
    try:
        return json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise GraphError(100, "The request body is not valid JSON.")


def _body_params(request: HttpRequest) -> dict[str, Any]:
    """Graph takes parameters as JSON, form fields or the query string."""
    content_type = request.content_type or ""
    if content_type.startswith("application/json"):
        body = _json_body(request)
        if not isinstance(body, dict):
            raise GraphError(100, "The request body must be a JSON object.")
        return {**request.GET.dict(), **body}
    return {**request.GET.dict(), **request.POST.dict()}


@csrf_exempt
def graph(request: HttpRequest, path: str, version: str = "") -> HttpResponse:
    try:
        return _route(request, [part for part in path.split("/") if part])
    except GraphError as error:
        return error_response(error)


def _route(request: HttpRequest, parts: list[str]) -> HttpResponse:
    method = request.method or "GET"
    if parts == ["oauth", "access_token"] and method == "GET":
        return with_fault("oauth", "", lambda: oauth_access_token(request))
    if parts == ["debug_token"] and method == "GET":
        return with_fault("debug_token", "", lambda: debug_token(request))
    token = token_authenticate(bearer_token(request))
    if len(parts) == 1 and parts[0].startswith(uploads.SESSION_PREFIX):
        return with_fault("uploads", "", lambda: upload_session(request, token, parts[0]))
    if len(parts) == 1:
        return object_node(request, token, parts[0])
    if len(parts) == 2:
        node, edge = parts
        routes = {
            ("messages", "POST"): messages,
            ("media", "POST"): media_upload,
            ("message_templates", "GET"): message_templates,
            ("message_templates", "POST"): message_templates,
            ("message_templates", "DELETE"): message_templates,
            ("phone_numbers", "GET"): phone_numbers,
            ("subscribed_apps", "GET"): subscribed_apps,
            ("subscribed_apps", "POST"): subscribed_apps,
            ("subscribed_apps", "DELETE"): subscribed_apps,
            ("register", "POST"): register,
            ("whatsapp_business_profile", "GET"): business_profile,
            ("whatsapp_business_profile", "POST"): business_profile,
            ("uploads", "POST"): upload_start,
        }
        view = routes.get((edge, method))
        if view is not None:
            return view(request, token, node)
        raise (
            object_missing(node, method)
            if edge in {r[0] for r in routes}
            else GraphError(2500, f"Unknown path components: /{edge}", title="Unknown path components")
        )
    raise GraphError(2500, "Unknown path components: /" + "/".join(parts[1:]), title="Unknown path components")


# --- /<phone_number_id>/messages ------------------------------------------------------------


def messages(request: HttpRequest, token: AccessToken, node: str) -> HttpResponse:
    number = number_for_token(phone_number_id=node, token=token, method="POST")

    def handle() -> HttpResponse:
        if token.scopes and "whatsapp_business_messaging" not in token.scopes:
            raise GraphError(10, "Application does not have permission for this action (whatsapp_business_messaging).")
        if number.status == "PENDING" and number.registered_at is None:
            raise GraphError(133010, "Register the number with POST /<phone_number_id>/register first.")
        payload = _json_body(request)
        spec = validate_send(payload, number=number)
        return graph_json(sending.message_accept(number=number, spec=spec, payload=payload))

    return with_fault("messages", number.phone_number_id, handle)


# --- media ----------------------------------------------------------------------------------


def media_upload(request: HttpRequest, token: AccessToken, node: str) -> HttpResponse:
    number = number_for_token(phone_number_id=node, token=token, method="POST")

    def handle() -> HttpResponse:
        if request.POST.get("messaging_product") != "whatsapp":
            raise GraphError(100, "The parameter messaging_product is required and must be 'whatsapp'.")
        upload = request.FILES.get("file")
        if upload is None:
            raise GraphError(100, "The parameter file is required.")
        mime_type = request.POST.get("type") or upload.content_type or ""
        declared = media.mime_base(upload.content_type or "")
        # A generic part type says nothing about the file; a specific one must agree with `type`.
        if declared and declared != "application/octet-stream" and declared != media.mime_base(mime_type):
            raise GraphError(131053, f"The file is {upload.content_type} but type says {mime_type}.")
        stored = media.media_upload(number=number, data=upload.read(), mime_type=mime_type, filename=upload.name or "")
        return graph_json({"id": stored.media_id})

    return with_fault("media", number.phone_number_id, handle)


def media_node(request: HttpRequest, token: AccessToken, media_id: str) -> HttpResponse:
    found = media.media_get(media_id)
    method = request.method or "GET"
    if found is None or found.number.waba_id not in token.waba_ids:
        raise object_missing(media_id, method)
    owner = request.GET.get("phone_number_id")
    if owner and owner != found.number.phone_number_id:
        raise GraphError(100, f"Media {media_id} does not belong to phone number {owner}.")

    def handle() -> HttpResponse:
        if method == "DELETE":
            media.media_delete(found)
            return graph_json({"success": True})
        url = request.build_absolute_uri(reverse("cloudapi_emulator:media_download", args=[media.media_url_key(found)]))
        return graph_json(
            {
                "messaging_product": "whatsapp",
                "url": url,
                "mime_type": found.mime_type,
                "sha256": found.sha256,
                "file_size": str(found.file_size),
                "id": found.media_id,
            }
        )

    return with_fault("media", found.number.phone_number_id, handle)


def media_download(request: HttpRequest, key: str) -> HttpResponse:
    """`GET <media url>`: the bytes, with the bearer token; 404 once the URL expired (ask for a new one)."""
    try:
        token = token_authenticate(bearer_token(request))

        def handle() -> HttpResponse:
            found = media.media_for_download(key)
            if found is None or found.number.waba_id not in token.waba_ids:
                return HttpResponse("Not Found", status=404, content_type="text/plain")
            response = HttpResponse(bytes(found.data), content_type=found.mime_type)
            response["Content-Length"] = str(found.file_size)
            return response

        return with_fault("media_download", "", handle)
    except GraphError as error:
        return error_response(error)


# --- /<id> ----------------------------------------------------------------------------------


def object_node(request: HttpRequest, token: AccessToken, node: str) -> HttpResponse:
    method = request.method or "GET"
    number = PhoneNumber.objects.select_related("app").filter(phone_number_id=node).first()
    if number is not None and number.waba_id in token.waba_ids and method in {"GET", "POST"}:
        return with_fault("phone_number", node, lambda: phone_number_node(request, token, number))
    if method in {"GET", "DELETE"} and media.media_get(node) is not None:
        return media_node(request, token, node)
    if method == "GET":
        template = templates.Template.objects.filter(template_id=node).first()
        if template is not None and template.waba_id in token.waba_ids:
            return graph_json(_fields(templates.template_as_graph(template), request.GET.get("fields", "")))
        if node in token.waba_ids:
            return graph_json(_fields(_waba_as_graph(node), request.GET.get("fields", "")))
    raise object_missing(node, method)


def _waba_as_graph(waba_id: str) -> dict[str, Any]:
    """`GET /<waba_id>`: the few fields a platform reads after onboarding."""
    signup = Signup.objects.filter(waba_id=waba_id).first()
    number = PhoneNumber.objects.filter(waba_id=waba_id).order_by("id").first()
    name = signup.business_name if signup else number.verified_name if number else "WhatsApp Business Account"
    return {
        "id": waba_id,
        "name": name,
        "currency": "USD",
        "timezone_id": "1",
        "message_template_namespace": f"emulator_{waba_id}",
        "account_review_status": "APPROVED",
    }


def _fields(data: dict[str, Any], fields: str) -> dict[str, Any]:
    wanted = [f.strip() for f in fields.split(",") if f.strip()]
    if not wanted:
        return data
    return {key: value for key, value in data.items() if key in wanted or key == "id"}


def phone_number_node(request: HttpRequest, token: AccessToken, number: PhoneNumber) -> HttpResponse:
    if request.method == "POST":
        params = _body_params(request)
        config = params.get("webhook_configuration")
        if not isinstance(config, dict) or "override_callback_uri" not in config:
            raise GraphError(100, "The parameter webhook_configuration is required.")
        uri = config.get("override_callback_uri") or ""
        if len(uri) > 200:
            raise GraphError(100, "Param override_callback_uri must be at most 200 characters long.")
        number.override_callback_uri = uri
        number.override_app = token.app if uri else None
        number.save(update_fields=["override_callback_uri", "override_app"])
        return graph_json({"success": True})
    fields = [f.strip() for f in request.GET.get("fields", "").split(",") if f.strip()]
    return graph_json(onboarding.phone_number_fields(number, fields))


# --- WABA edges -----------------------------------------------------------------------------


def phone_numbers(request: HttpRequest, token: AccessToken, node: str) -> HttpResponse:
    waba_id = waba_for_token(waba_id=node, token=token, method="GET")

    def handle() -> HttpResponse:
        fields = [f.strip() for f in request.GET.get("fields", "").split(",") if f.strip()]
        numbers = PhoneNumber.objects.filter(waba_id=waba_id).order_by("-created_at", "-id")
        if "last_onboarded_time_ascending" in request.GET.get("sort", ""):
            numbers = numbers.order_by("created_at", "id")
        data = [onboarding.phone_number_fields(n, fields) for n in numbers]
        return graph_json({"data": data, "paging": {"cursors": {"before": "QVFIU", "after": "QVFIU"}}})

    return with_fault("phone_numbers", "", handle)


def message_templates(request: HttpRequest, token: AccessToken, node: str) -> HttpResponse:
    waba_id = waba_for_token(waba_id=node, token=token, method=request.method or "GET")

    def handle() -> HttpResponse:
        if request.method == "POST":
            body = _body_params(request)
            template = templates.template_create(waba_id=waba_id, body=body)
            return graph_json({"id": template.template_id, "status": template.status, "category": template.category})
        if request.method == "DELETE":
            name = request.GET.get("name", "")
            if not name:
                raise GraphError(100, "The parameter name is required.")
            templates.template_delete(waba_id=waba_id, name=name, hsm_id=request.GET.get("hsm_id", ""))
            return graph_json({"success": True})
        return graph_json(_templates_page(request, waba_id))

    return with_fault("message_templates", "", handle)


def _templates_page(request: HttpRequest, waba_id: str) -> dict[str, Any]:
    """Cursor pagination: cursors are opaque ids; `paging.next` only when there is a next page."""
    try:
        limit = max(1, min(int(request.GET.get("limit", 25)), 1000))
    except ValueError:
        raise GraphError(100, "Param limit must be an integer.")
    rows = templates.templates_for(
        waba_id=waba_id,
        name=request.GET.get("name", ""),
        status=request.GET.get("status", ""),
        category=request.GET.get("category", ""),
        language=request.GET.get("language", ""),
    )
    after, before = request.GET.get("after"), request.GET.get("before")
    if before and not after:
        page = list(rows.filter(id__lt=_cursor_decode(before)).order_by("-id")[:limit])[::-1]
        has_next = bool(page) and rows.filter(id__gt=page[-1].id).exists()
    else:
        if after:
            rows = rows.filter(id__gt=_cursor_decode(after))
        page = list(rows.order_by("id")[: limit + 1])
        has_next = len(page) > limit
    page = page[:limit]
    fields = request.GET.get("fields", "")
    result: dict[str, Any] = {"data": [_fields(templates.template_as_graph(t), fields) for t in page]}
    if page:
        paging: dict[str, Any] = {"cursors": {"before": _cursor(page[0].id), "after": _cursor(page[-1].id)}}
        if has_next:
            query = request.GET.copy()
            query["after"] = _cursor(page[-1].id)
            query.pop("before", None)
            query.pop("access_token", None)
            paging["next"] = request.build_absolute_uri(request.path) + "?" + query.urlencode()
        result["paging"] = paging
    return result


def _cursor(pk: int) -> str:
    return base64.urlsafe_b64encode(f"tmpl:{pk}".encode()).decode().rstrip("=")


def _cursor_decode(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return int(raw.removeprefix("tmpl:"))
    except (ValueError, UnicodeDecodeError):
        raise GraphError(100, "Param after/before is not a valid cursor.")


def subscribed_apps(request: HttpRequest, token: AccessToken, node: str) -> HttpResponse:
    waba_id = waba_for_token(waba_id=node, token=token, method=request.method or "GET")

    def handle() -> HttpResponse:
        if request.method == "GET":
            return graph_json(onboarding.subscribed_apps_list(waba_id=waba_id))
        if request.method == "DELETE":
            onboarding.subscribed_app_remove(waba_id=waba_id, app=token.app)
            return graph_json({"success": True})
        params = _body_params(request)
        onboarding.subscribed_app_set(
            waba_id=waba_id,
            app=token.app,
            override_callback_uri=str(params.get("override_callback_uri") or ""),
            verify_token=str(params.get("verify_token") or ""),
        )
        return graph_json({"success": True})

    return with_fault("subscribed_apps", "", handle)


def register(request: HttpRequest, token: AccessToken, node: str) -> HttpResponse:
    number = number_for_token(phone_number_id=node, token=token, method="POST")

    def handle() -> HttpResponse:
        params = _body_params(request)
        if params.get("messaging_product") != "whatsapp":
            raise GraphError(100, "The parameter messaging_product is required and must be 'whatsapp'.")
        if params.get("pin") in (None, ""):
            raise GraphError(100, "The parameter pin is required.")
        onboarding.number_register(number=number, pin=params.get("pin"))
        return graph_json({"success": True})

    return with_fault("register", number.phone_number_id, handle)


# --- business profile and the Resumable Upload API ------------------------------------------


def business_profile(request: HttpRequest, token: AccessToken, node: str) -> HttpResponse:
    number = number_for_token(phone_number_id=node, token=token, method=request.method or "GET")

    def handle() -> HttpResponse:
        if request.method == "POST":
            profiles.profile_update(number=number, params=_body_params(request), app=token.app)
            return graph_json({"success": True})
        profile = profiles.profile_of(number)
        picture_url = (
            request.build_absolute_uri(reverse("cloudapi_emulator:profile_picture", args=[profile.picture_key]))
            if profile.picture_key
            else ""
        )
        fields = [f.strip() for f in request.GET.get("fields", "").split(",") if f.strip()]
        return graph_json({"data": [profiles.profile_fields(profile, fields, picture_url=picture_url)]})

    return with_fault("business_profile", number.phone_number_id, handle)


def upload_start(request: HttpRequest, token: AccessToken, node: str) -> HttpResponse:
    """`POST /<app_id>/uploads`: only with a token of that app."""
    app = App.objects.filter(app_id=node).first()
    if app is None or token.app_id != app.pk:
        raise object_missing(node, "POST")

    def handle() -> HttpResponse:
        params = _body_params(request)
        session = uploads.upload_session_start(
            app=app,
            file_length=params.get("file_length", ""),
            file_type=str(params.get("file_type", "")),
            file_name=str(params.get("file_name", "")),
        )
        return graph_json({"id": f"{uploads.SESSION_PREFIX}{session.session_id}"})

    return with_fault("uploads", "", handle)


def upload_session(request: HttpRequest, token: AccessToken, node: str) -> HttpResponse:
    """`POST /upload:<session>` with the raw bytes from `file_offset`; `GET` says how far it got."""
    session = uploads.upload_session_get(node)
    method = request.method or "GET"
    if session is None or token.app_id != session.app_id or method not in {"GET", "POST"}:
        raise object_missing(node, method)
    if method == "POST":
        session = uploads.upload_chunk_append(
            # Django's and gunicorn's servers drop header names with underscores (a spoofing guard), so
            # Meta's `file_offset` may arrive only as `File-Offset`; an upload in one piece starts at 0.
            session=session,
            file_offset=request.headers.get("file_offset") or request.headers.get("File-Offset") or "0",
            data=request.body,
        )
        if session.handle:
            return graph_json({"h": session.handle})
    return graph_json({"id": node, "file_offset": len(bytes(session.data))})


def profile_picture(request: HttpRequest, key: str) -> HttpResponse:
    """`profile_picture_url`: public, as Meta's CDN links are."""
    found = profiles.profile_picture_for_key(key)
    if found is None:
        return HttpResponse("Not Found", status=404, content_type="text/plain")
    data, content_type = found
    return HttpResponse(data, content_type=content_type)


# --- onboarding without a bearer token ------------------------------------------------------


def oauth_access_token(request: HttpRequest) -> HttpResponse:
    return graph_json(
        onboarding.oauth_code_exchange(
            client_id=request.GET.get("client_id", ""),
            client_secret=request.GET.get("client_secret", ""),
            code=request.GET.get("code", ""),
        )
    )


def debug_token(request: HttpRequest) -> HttpResponse:
    app = onboarding.app_from_app_token(request.GET.get("access_token", ""))
    input_token = request.GET.get("input_token", "")
    if not input_token:
        raise GraphError(100, "The parameter input_token is required.")
    return graph_json(onboarding.token_debug(input_token=input_token, app=app))
