"""Contacts over the API: list and search, one contact, and PATCH its tags, attributes and block."""

from django.db.models import OuterRef, Subquery
from django.http import FileResponse, Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from messaging_app.models import Contact, Conversation
from messaging_app.selectors import contact_get, contacts_search
from messaging_app.services import privacy
from messaging_app.services.contact_admin import ATTRIBUTE_VALUE_MAX_LENGTH, MAX_ATTRIBUTES, MAX_TAGS, contact_update
from whatsapp_platform.errors import InvalidInput


class ContactSerializer(serializers.ModelSerializer):
    channel_id = serializers.UUIDField(source="channel.public_id")
    phone = serializers.SerializerMethodField()
    blocked = serializers.SerializerMethodField()
    conversation_id = serializers.SerializerMethodField()

    class Meta:
        model = Contact
        fields = [
            "id",
            "channel_id",
            "profile_name",
            "username",
            "phone",
            "user_id",
            "tags",
            "attributes",
            "marketing_opt_out",
            "marketing_opt_out_at",
            "marketing_opt_out_source",
            "blocked",
            "blocked_at",
            "conversation_id",
            "created_at",
            "updated_at",
        ]

    def get_phone(self, contact) -> str:
        return f"+{contact.wa_id}" if contact.wa_id else ""

    def get_blocked(self, contact) -> bool:
        return contact.blocked_at is not None

    def get_conversation_id(self, contact) -> int | None:
        # One conversation per contact and channel; console link: /w/<workspace>/inbox/<id>/.
        if hasattr(contact, "conversation_pk"):
            return contact.conversation_pk
        return Conversation.objects.filter(contact=contact).values_list("pk", flat=True).first()


class ContactPatchSerializer(serializers.Serializer):
    tags = serializers.ListField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        help_text=f"Replaces every tag (at most {MAX_TAGS}, 64 characters each, no commas).",
    )
    add_tags = serializers.ListField(child=serializers.CharField(allow_blank=True), required=False)
    remove_tags = serializers.ListField(child=serializers.CharField(allow_blank=True), required=False)
    attributes = serializers.DictField(
        child=serializers.JSONField(allow_null=True),
        required=False,
        help_text="Merged into the stored attributes; null removes a key. Names: letters, digits and _; values: "
        f"text (up to {ATTRIBUTE_VALUE_MAX_LENGTH} characters), numbers or true/false; at most {MAX_ATTRIBUTES}.",
    )
    blocked = serializers.BooleanField(
        required=False, help_text="A blocked contact gets no agent replies and no messages; their messages are kept."
    )


_FILTERS = [
    OpenApiParameter("q", OpenApiTypes.STR, description="Name, username, WhatsApp user id or part of the number."),
    OpenApiParameter("channel_id", OpenApiTypes.UUID),
    OpenApiParameter("tag", OpenApiTypes.STR, description="Contacts with this tag."),
    OpenApiParameter("opted_out", OpenApiTypes.BOOL, description="Opted out of marketing (true) or not (false)."),
    OpenApiParameter("blocked", OpenApiTypes.BOOL),
]


def _flag(value: str | None, name: str) -> bool | None:
    if value in (None, ""):
        return None
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise serializers.ValidationError({name: "Use true or false."})


class ContactListApi(ListAPIView):
    serializer_class = ContactSerializer

    def get_queryset(self):
        params = self.request.query_params
        channel_id = params.get("channel_id") or None
        if channel_id:
            try:
                serializers.UUIDField().to_internal_value(channel_id)
            except serializers.ValidationError:
                raise serializers.ValidationError({"channel_id": "Not a channel id (a UUID)."})
        contacts = contacts_search(
            workspace=self.request.auth.workspace,
            q=params.get("q", ""),
            channel_id=channel_id,
            tag=params.get("tag", ""),
            opted_out=_flag(params.get("opted_out"), "opted_out"),
            blocked=_flag(params.get("blocked"), "blocked"),
        )
        first_conversation = Conversation.objects.filter(contact=OuterRef("pk")).order_by("pk").values("pk")[:1]
        return contacts.annotate(conversation_pk=Subquery(first_conversation))

    @extend_schema(parameters=_FILTERS, summary="List and search contacts")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ContactDetailApi(APIView):
    required_permissions = {"PATCH": "reply"}

    def _contact(self, request, contact_id: int) -> Contact:
        contact = contact_get(workspace=request.auth.workspace, contact_id=contact_id)
        if contact is None:
            raise Http404
        return contact

    @extend_schema(responses=ContactSerializer, summary="One contact")
    def get(self, request, contact_id: int):
        return Response(ContactSerializer(self._contact(request, contact_id)).data)

    @extend_schema(
        request=ContactPatchSerializer,
        responses=ContactSerializer,
        summary="Change a contact's tags, attributes or block",
        examples=[
            OpenApiExample(
                "Tag and enrich",
                value={"add_tags": ["vip"], "attributes": {"plan": "gold", "orders": 12, "old_field": None}},
                request_only=True,
            ),
            OpenApiExample("Block", value={"blocked": True}, request_only=True),
        ],
    )
    def patch(self, request, contact_id: int):
        contact = self._contact(request, contact_id)
        data = ContactPatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        contact_update(contact=contact, **data.validated_data, by=f"api:{request.auth.prefix}")
        return Response(ContactSerializer(contact).data)


def _api_contact(request, contact_id: int) -> Contact:
    contact = contact_get(workspace=request.auth.workspace, contact_id=contact_id)
    if contact is None:
        raise Http404
    return contact


class ContactExportApi(APIView):
    required_permissions = {"GET": "configure"}

    @extend_schema(
        responses={(200, "application/zip"): OpenApiTypes.BINARY},
        summary="Everything stored about a contact, as a zip",
        description="contact.json (the contact, conversations, messages with their statuses, ratings, agent runs "
        "and tool calls, campaign and scheduled messages, events) and media/<message id>.<ext> for every file.",
    )
    def get(self, request, contact_id: int):
        contact = _api_contact(request, contact_id)
        archive = privacy.contact_export_archive(contact=contact, request=request)
        return FileResponse(
            archive,
            as_attachment=True,
            filename=privacy.contact_export_filename(contact),
            content_type="application/zip",
        )


class ContactEraseApi(APIView):
    # Owners only, as in the console; a key has its role (workspaces_app.api_auth).
    required_permissions = {"POST": "govern"}

    class InputSerializer(serializers.Serializer):
        confirm = serializers.CharField(
            help_text="The contact's phone number (e.g. +16505551234), WhatsApp user id or id, as a safeguard."
        )

    class OutputSerializer(serializers.Serializer):
        contact_id = serializers.IntegerField()
        erased = serializers.DictField(
            child=serializers.IntegerField(), help_text="How many of each kind of row or file was erased."
        )

    @extend_schema(
        request=InputSerializer,
        responses={200: OutputSerializer},
        summary="Erase a contact (GDPR)",
        description="Message contents, media files, agent logs, webhook bodies, events, scheduled messages and "
        "campaign values about the contact are erased; counted rows stay, anonymous, so analytics do not change. "
        "Cannot be undone. A new message from the same number starts a new contact.",
        examples=[OpenApiExample("Confirm with the number", value={"confirm": "+16505551234"}, request_only=True)],
    )
    def post(self, request, contact_id: int):
        contact = _api_contact(request, contact_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if not privacy.contact_erase_confirmation_matches(contact, data.validated_data["confirm"]):
            raise InvalidInput("confirm must be this contact's phone number, WhatsApp user id or id.", field="confirm")
        counts = privacy.contact_erase(contact=contact, request=request)
        return Response(self.OutputSerializer({"contact_id": contact.pk, "erased": counts}).data)
