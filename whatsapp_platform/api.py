"""The API's shared conventions: one error shape and cursor pagination."""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler

from whatsapp_platform.errors import PlatformError


class CreatedCursorPagination(CursorPagination):
    """Stable cursors over creation time; the id breaks ties between rows made in one instant."""

    ordering = ("-created_at", "-id")
    page_size_query_param = "limit"
    max_page_size = 200


def _first_field_error(detail, prefix: str = "") -> tuple[str | None, str]:
    if isinstance(detail, dict):
        for key, value in detail.items():
            field = key if key != "non_field_errors" else None
            nested_field, message = _first_field_error(value)
            if field and nested_field:
                field = f"{field}.{nested_field}"
            return (field or nested_field), message
    if isinstance(detail, list) and detail:
        return _first_field_error(detail[0])
    return None, str(detail)


def error_body(code: str, message: str, field: str | None = None, **extra) -> dict:
    error = {"code": code, "message": message}
    if field:
        error["field"] = field
    error.update(extra)
    return {"error": error}


def api_exception_handler(exc, context):
    """Map every failure to `{"error": {"code", "message", "field"?}}`."""
    if isinstance(exc, PlatformError):
        return Response(error_body(exc.code, exc.message, exc.field), status=exc.http_status)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found. Check the id; it may belong to another workspace or have been deleted.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        field, message = _first_field_error(exc.detail)
        body = error_body("invalid", f"{field}: {message}" if field else message, field)
        body["error"]["fields"] = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
    elif isinstance(exc, exceptions.APIException):
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
        body = error_body(code, str(exc.detail))
    else:
        body = error_body("error", str(exc))
    if isinstance(exc, exceptions.Throttled) and exc.wait:
        response["Retry-After"] = str(int(exc.wait))
    response.data = body
    return response


def not_found_response() -> Response:
    return Response(
        error_body("not_found", "Not found. Check the id; it may belong to another workspace or have been deleted."),
        status=status.HTTP_404_NOT_FOUND,
    )


class NulByteGuardMiddleware:
    """Refuses API requests carrying NUL characters in the query or a JSON body with a clear 400.

    No field of ours can hold one, and PostgreSQL refuses them in text; without this guard a
    stray `\\u0000` would surface as a database error (a 500) wherever it reached a query.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/") and self._carries_nul(request):
            from django.http import JsonResponse

            return JsonResponse(
                error_body("invalid", "The request contains a NUL character (\\u0000); remove it and send again."),
                status=400,
            )
        return self.get_response(request)

    @staticmethod
    def _carries_nul(request) -> bool:
        if any("\x00" in key or any("\x00" in value for value in values) for key, values in request.GET.lists()):
            return True
        if request.content_type == "application/json":
            body = request.body
            return b"\x00" in body or b"\\u0000" in body
        return False
