"""The audit log over the API: read-only, the API key's workspace only."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.pagination import CursorPagination

from audit_app.models import AuditEntry
from audit_app.selectors import audit_entries_list


class AuditCursorPagination(CursorPagination):
    ordering = "-id"  # insertion order: entries never change, so a cursor never skips or repeats one
    page_size_query_param = "limit"
    max_page_size = 200


class ActorSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=AuditEntry.ActorType.choices)
    label = serializers.CharField(help_text="An email address, an API key's name, or 'system'.")
    api_key_id = serializers.UUIDField(allow_null=True)


class TargetSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="What was acted on: channel, agent, httptool, apikey, user…")
    id = serializers.CharField()
    label = serializers.CharField()


class AuditEntrySerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()
    target = serializers.SerializerMethodField()
    changes = serializers.JSONField(help_text="field → [old, new]; secrets read '••••' (set) or '' (empty).")

    class Meta:
        model = AuditEntry
        fields = ["id", "action", "actor", "target", "changes", "ip_address", "user_agent", "request_id", "created_at"]

    @extend_schema_field(ActorSerializer)
    def get_actor(self, entry: AuditEntry) -> dict:
        return {
            "type": entry.actor_type,
            "label": entry.actor_label,
            "api_key_id": str(entry.actor_api_key.public_id) if entry.actor_api_key_id else None,
        }

    @extend_schema_field(TargetSerializer(allow_null=True))
    def get_target(self, entry: AuditEntry) -> dict | None:
        if not entry.target_type:
            return None
        return {"type": entry.target_type, "id": entry.target_id, "label": entry.target_label}


class AuditFilterSerializer(serializers.Serializer):
    action = serializers.CharField(required=False, allow_blank=True, max_length=64)
    actor = serializers.CharField(required=False, allow_blank=True, max_length=254)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)


class AuditLogApi(ListAPIView):
    """Who did what in the workspace, newest first. Entries are never changed or deleted."""

    required_permissions = {"GET": "configure"}

    serializer_class = AuditEntrySerializer
    pagination_class = AuditCursorPagination

    def get_queryset(self):
        filters = AuditFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return audit_entries_list(workspace=self.request.auth.workspace, **filters.validated_data).select_related(
            "actor_api_key"
        )

    @extend_schema(
        summary="Read the audit log",
        parameters=[
            OpenApiParameter(
                "action", str, description="An action (channel.connected), or a group ending in a dot (channel.)"
            ),
            OpenApiParameter(
                "actor", str, description="A person's email address, api_key:<key id>, system or anonymous"
            ),
            OpenApiParameter("since", OpenApiTypes.DATETIME, description="Entries at or after this instant"),
            OpenApiParameter("until", OpenApiTypes.DATETIME, description="Entries before this instant"),
            OpenApiParameter("limit", int, description="Entries per page (50 by default, at most 200)"),
        ],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
