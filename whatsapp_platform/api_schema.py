"""The OpenAPI schema's shared parts: the one error shape on every operation, component names, auth."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema

ERROR_RESPONSES = {
    "400": ("The request is invalid; the message says what to change.", "invalid", "to: Enter a phone number"),
    "401": ("No valid API key was sent.", "missing_api_key", "Send 'Authorization: Bearer <key>'."),
    "403": ("The key may not do this.", "permission_denied", "You do not have permission to perform this action."),
    "404": ("No such object in this key's workspace.", "not_found", "Not found. Check the id."),
    "409": ("The object's state does not allow this now.", "conflict", "This conversation is already closed."),
    "422": (
        "Well-formed but refused: a WhatsApp rule, a closed 24-hour window, or an Idempotency-Key reused.",
        "whatsapp_limit",
        "text.body is 5000 characters; WhatsApp allows at most 4096",
    ),
    "429": ("Too many requests for this key; retry after the Retry-After header's seconds.", "throttled", "Slow down."),
}

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "Stable and machine-readable."},
                "message": {"type": "string", "description": "What went wrong and what to do, for a person."},
                "field": {"type": "string", "description": "The request field at fault, when there is one."},
                "fields": {"type": "object", "description": "Every invalid field's messages (validation errors)."},
            },
            "additionalProperties": True,
        }
    },
}


def error_responses_add(result, generator, request, public):
    """drf-spectacular postprocessing hook: add the error responses to every operation."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for methods in result.get("paths", {}).values():
        for operation in methods.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for status, (description, code, message) in ERROR_RESPONSES.items():
                operation["responses"].setdefault(
                    status,
                    {
                        "description": description,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/Error"},
                                "example": {"error": {"code": code, "message": message}},
                            }
                        },
                    },
                )
    return result


class PlatformAutoSchema(AutoSchema):
    """Names a serializer nested in a view after the view too (`ChannelTestMessageInput`), so the
    many views' `InputSerializer`s and `OutputSerializer`s never share one schema component."""

    def get_serializer_name(self, serializer, direction):
        name = super().get_serializer_name(serializer, direction)
        owner = (serializer if isinstance(serializer, type) else type(serializer)).__qualname__.split(".")
        if len(owner) > 1:
            name = owner[0].removesuffix("Api") + name
        return name


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "workspaces_app.api_auth.ApiKeyAuthentication"
    name = "WorkspaceApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A workspace API key (`wap_…`) from Settings → API keys: `Authorization: Bearer <key>`.",
        }
