import base64
import binascii
import uuid

from django.conf import settings
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from agents_app.models import Agent
from channels_app import services
from channels_app.models import Channel, MessageTemplate, TemplateSync
from channels_app.selectors import channels_list, template_channels, template_get, templates_list
from channels_app.services import templates as template_services
from channels_app.whatsapp.template_rules import (
    TemplateButton,
    TemplateDefinitionInvalid,
    TemplateDraft,
    template_placeholders,
)
from messaging_app.conversations_api import IDEMPOTENCY_HEADER, api_send_once
from messaging_app.models import Contact
from messaging_app.services import template_sends
from messaging_app.services.outbound import channel_test_message_send
from whatsapp_platform.api import error_body
from whatsapp_platform.errors import InvalidInput


def _uuid_or_none(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


class ChannelOutputSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    agent_id = serializers.UUIDField(source="agent.public_id", allow_null=True, default=None)
    webhook_url = serializers.SerializerMethodField()

    class Meta:
        model = Channel
        fields = [
            "id",
            "name",
            "provider",
            "connection",
            "status",
            "status_reason",
            "attention_reason",
            "waba_id",
            "phone_number_id",
            "display_phone_number",
            "verified_name",
            "quality_rating",
            "messaging_limit",
            "token_expires_at",
            "webhook_subscribed",
            "last_webhook_at",
            "agent_id",
            "webhook_url",
            "created_at",
            "updated_at",
        ]

    def get_webhook_url(self, channel) -> str:
        return settings.SITE_URL + reverse("webhook_channel", args=[channel.public_id])


def _agent_for(workspace, agent_id):
    if agent_id is None:
        return None
    agent = Agent.objects.filter(workspace=workspace, public_id=agent_id).first()
    if agent is None:
        raise serializers.ValidationError({"agent_id": "No agent with this id in your workspace."})
    return agent


class ChannelListApi(ListAPIView):
    """List channels, or connect one by hand (POST) with your own Meta app's credentials."""

    serializer_class = ChannelOutputSerializer

    class ConnectInputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=120)
        phone_number_id = serializers.CharField(max_length=32)
        waba_id = serializers.CharField(max_length=32)
        access_token = serializers.CharField(write_only=True)
        app_secret = serializers.CharField(write_only=True)
        verify_token = serializers.CharField(required=False, allow_blank=True, max_length=100)
        app_id = serializers.CharField(required=False, allow_blank=True, max_length=32)
        agent_id = serializers.UUIDField(required=False, allow_null=True)

    def get_queryset(self):
        return channels_list(workspace=self.request.auth.workspace)

    @extend_schema(summary="List the workspace's channels")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Connect a channel by hand",
        request=ConnectInputSerializer,
        responses={201: ChannelOutputSerializer},
        examples=[
            OpenApiExample(
                "Own Meta app",
                request_only=True,
                value={
                    "name": "WhatsApp Support UK",
                    "phone_number_id": "106540352242922",
                    "waba_id": "102290129340398",
                    "access_token": "EAAG…",
                    "app_secret": "…",
                    "agent_id": None,
                },
            )
        ],
    )
    def post(self, request):
        data = self.ConnectInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        workspace = request.auth.workspace
        agent = _agent_for(workspace, values.get("agent_id"))
        channel = services.channel_create(workspace=workspace, name=values["name"])
        try:
            channel = services.channel_connect_manual(
                channel=channel,
                phone_number_id=values["phone_number_id"],
                waba_id=values["waba_id"],
                access_token=values["access_token"],
                app_secret=values["app_secret"],
                verify_token=values.get("verify_token", ""),
                app_id=values.get("app_id", ""),
            )
        except services.ChannelSetupFailed:
            channel.delete()  # nothing half-made is left behind
            raise
        if agent is not None:
            services.channel_update(channel=channel, agent=agent, agent_given=True)
        return Response(ChannelOutputSerializer(channel).data, status=status.HTTP_201_CREATED)


class ChannelDetailApi(APIView):
    class UpdateInputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=120, required=False)
        agent_id = serializers.UUIDField(required=False, allow_null=True)

    def _channel(self, request, channel_id) -> Channel:
        return get_object_or_404(channels_list(workspace=request.auth.workspace), public_id=channel_id)

    @extend_schema(responses=ChannelOutputSerializer, summary="One channel")
    def get(self, request, channel_id):
        return Response(ChannelOutputSerializer(self._channel(request, channel_id)).data)

    @extend_schema(
        request=UpdateInputSerializer, responses=ChannelOutputSerializer, summary="Rename or assign an agent"
    )
    def patch(self, request, channel_id):
        channel = self._channel(request, channel_id)
        data = self.UpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        agent_given = "agent_id" in values
        agent = _agent_for(request.auth.workspace, values.get("agent_id")) if agent_given else None
        services.channel_update(channel=channel, name=values.get("name"), agent=agent, agent_given=agent_given)
        return Response(ChannelOutputSerializer(self._channel(request, channel_id)).data)


class ChannelDeactivateApi(APIView):
    @extend_schema(request=None, responses=ChannelOutputSerializer, summary="Deactivate (history is kept)")
    def post(self, request, channel_id):
        channel = get_object_or_404(channels_list(workspace=request.auth.workspace), public_id=channel_id)
        return Response(ChannelOutputSerializer(services.channel_deactivate(channel=channel)).data)


class ChannelTestMessageApi(APIView):
    required_permissions = {"POST": "reply"}

    class InputSerializer(serializers.Serializer):
        to = serializers.CharField(max_length=32, help_text="A WhatsApp number with its country code.")
        body = serializers.CharField(required=False, allow_blank=True, max_length=4096)
        template = serializers.JSONField(
            required=False, help_text="Meta's template object: name, language {code}, components."
        )

    class OutputSerializer(serializers.Serializer):
        message_id = serializers.UUIDField()
        status = serializers.CharField()

    @extend_schema(request=InputSerializer, responses={202: OutputSerializer}, summary="Send a test message")
    def post(self, request, channel_id):
        channel = get_object_or_404(channels_list(workspace=request.auth.workspace), public_id=channel_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = channel_test_message_send(
            channel=channel,
            to_phone=data.validated_data["to"],
            body=data.validated_data.get("body", ""),
            template=data.validated_data.get("template"),
        )
        return Response({"message_id": message.public_id, "status": message.status}, status=status.HTTP_202_ACCEPTED)


# --- message templates -------------------------------------------------------------------------


class TemplateCursorPagination(CursorPagination):
    ordering = ("name", "language", "id")
    page_size_query_param = "limit"
    max_page_size = 200


class TemplatePlaceholderSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The key to use in `parameters` when sending.")
    component = serializers.CharField()
    name = serializers.CharField()
    example = serializers.CharField()


class TemplateOutputSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    placeholders = serializers.SerializerMethodField()

    class Meta:
        model = MessageTemplate
        fields = [
            "id",
            "waba_id",
            "name",
            "language",
            "category",
            "status",
            "quality",
            "parameter_format",
            "components",
            "rejection_reason",
            "recommendation",
            "placeholders",
            "synced_at",
            "updated_at",
        ]

    @extend_schema_field(TemplatePlaceholderSerializer(many=True))
    def get_placeholders(self, template) -> list[dict]:
        return [
            {"key": p.key, "component": p.component, "name": p.name, "example": p.example}
            for p in template_placeholders(template.components, template.parameter_format)
        ]


def _template_for(request, template_id) -> MessageTemplate:
    template = template_get(workspace=request.auth.workspace, template_id=template_id)
    if template is None:
        raise Http404
    return template


def _template_invalid_response(exc: TemplateDefinitionInvalid) -> Response:
    first = exc.problems[0]
    problems = [{"field": p.field, "message": p.message} for p in exc.problems]
    return Response(
        error_body("invalid_template", first.message, first.field, problems=problems),
        status=status.HTTP_400_BAD_REQUEST,
    )


class TemplateListApi(ListAPIView):
    """List templates (filters: channel, status, name), or create one and submit it to Meta for review."""

    serializer_class = TemplateOutputSerializer
    pagination_class = TemplateCursorPagination

    class TemplateButtonInputSerializer(serializers.Serializer):
        type = serializers.ChoiceField(choices=["quick_reply", "url", "phone_number"])
        text = serializers.CharField(max_length=200)
        url = serializers.CharField(required=False, allow_blank=True, max_length=2100)
        url_example = serializers.CharField(required=False, allow_blank=True, max_length=500)
        phone_number = serializers.CharField(required=False, allow_blank=True, max_length=40)

    class TemplateSampleInputSerializer(serializers.Serializer):
        content_base64 = serializers.CharField(help_text="The sample file, base64-encoded (16 MB at most).")
        mime_type = serializers.CharField(max_length=100)
        filename = serializers.CharField(max_length=200, required=False, default="sample")

    class TemplateHeaderInputSerializer(serializers.Serializer):
        format = serializers.ChoiceField(choices=["text", "image", "video", "document"])
        text = serializers.CharField(required=False, allow_blank=True, max_length=200)
        example = serializers.CharField(required=False, allow_blank=True, max_length=500)
        sample = serializers.JSONField(
            required=False, help_text="Media headers: {content_base64, mime_type, filename}, uploaded to Meta."
        )
        handle = serializers.CharField(
            required=False, allow_blank=True, help_text="Media headers: a handle you already uploaded."
        )

    class TemplateCreateInputSerializer(serializers.Serializer):
        channel_id = serializers.UUIDField(help_text="A connected channel; the template goes to its account.")
        name = serializers.CharField(max_length=512)
        language = serializers.CharField(max_length=16)
        category = serializers.CharField(max_length=20, help_text="marketing, utility or authentication.")
        parameter_format = serializers.CharField(required=False, allow_blank=True, max_length=12)
        header = serializers.JSONField(required=False)
        body = serializers.CharField(max_length=4000)
        body_examples = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
        footer = serializers.CharField(required=False, allow_blank=True, max_length=200)
        buttons = serializers.ListField(child=serializers.DictField(), required=False, max_length=20)

    def get_queryset(self):
        workspace = self.request.auth.workspace
        params = self.request.query_params
        channel = None
        if params.get("channel"):
            channel = channels_list(workspace=workspace).filter(public_id=_uuid_or_none(params["channel"])).first()
            if channel is None:
                return MessageTemplate.objects.none()
        return templates_list(
            workspace=workspace, channel=channel, status=params.get("status", ""), name=params.get("name", "")
        )

    @extend_schema(
        summary="List templates",
        parameters=[
            OpenApiParameter("channel", str, description="A channel id: only its account's templates."),
            OpenApiParameter("status", str, description="APPROVED, PENDING, REJECTED, PAUSED, DISABLED, DELETED…"),
            OpenApiParameter("name", str, description="Part of the name."),
        ],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Create a template and submit it for review",
        request=TemplateCreateInputSerializer,
        responses={201: TemplateOutputSerializer},
        examples=[
            OpenApiExample(
                "Named parameters and a website button",
                request_only=True,
                value={
                    "channel_id": "3f0c…",
                    "name": "order_ready",
                    "language": "en_US",
                    "category": "utility",
                    "body": "Hi {{first_name}}, your order {{order_number}} is ready for pick-up.",
                    "body_examples": {"first_name": "Sheena", "order_number": "1042"},
                    "footer": "Lucky Shrub",
                    "buttons": [
                        {
                            "type": "url",
                            "text": "See order",
                            "url": "https://shop.example/o/{{1}}",
                            "url_example": "1042",
                        }
                    ],
                },
            )
        ],
    )
    def post(self, request):
        data = self.TemplateCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        workspace = request.auth.workspace
        channel = channels_list(workspace=workspace).filter(public_id=values["channel_id"]).first()
        if channel is None:
            raise serializers.ValidationError({"channel_id": "No channel with this id in your workspace."})
        header = self._nested(self.TemplateHeaderInputSerializer, values.get("header"), "header")
        buttons = [
            self._nested(self.TemplateButtonInputSerializer, b, f"buttons.{i}")
            for i, b in enumerate(values.get("buttons", []))
        ]
        header_file = None
        if header and header.get("sample"):
            sample = self._nested(self.TemplateSampleInputSerializer, header["sample"], "header.sample")
            try:
                content = base64.b64decode(sample["content_base64"], validate=True)
            except (binascii.Error, ValueError):
                raise serializers.ValidationError({"header": {"sample": "content_base64 is not valid base64."}})
            header_file = (content, sample["mime_type"], sample["filename"])
        draft = TemplateDraft(
            name=values["name"],
            language=values["language"],
            category=values["category"],
            parameter_format=values.get("parameter_format", ""),
            header_format=(header or {}).get("format", ""),
            header_text=(header or {}).get("text", ""),
            header_example=(header or {}).get("example", ""),
            header_handle=(header or {}).get("handle", ""),
            body=values["body"],
            body_examples=values.get("body_examples", {}),
            footer=values.get("footer", ""),
            buttons=[TemplateButton(**b) for b in buttons],
        )
        try:
            template = template_services.template_create(channel=channel, draft=draft, header_file=header_file)
        except TemplateDefinitionInvalid as exc:
            return _template_invalid_response(exc)
        return Response(TemplateOutputSerializer(template).data, status=status.HTTP_201_CREATED)

    @staticmethod
    def _nested(serializer_class, value, where: str) -> dict:
        if value is None:
            return {}
        nested = serializer_class(data=value)
        if not nested.is_valid():
            raise serializers.ValidationError({where: nested.errors})
        return dict(nested.validated_data)


class TemplateDetailApi(APIView):
    @extend_schema(responses=TemplateOutputSerializer, summary="One template")
    def get(self, request, template_id):
        return Response(TemplateOutputSerializer(_template_for(request, template_id)).data)

    @extend_schema(request=None, responses={204: None}, summary="Delete it on WhatsApp (kept here as DELETED)")
    def delete(self, request, template_id):
        template_services.template_delete(template=_template_for(request, template_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class TemplateSendApi(APIView):
    required_permissions = {"POST": "reply"}

    class TemplateSendInputSerializer(serializers.Serializer):
        to = serializers.CharField(
            required=False, max_length=40, help_text="A WhatsApp number in E.164, e.g. +447700900123."
        )
        contact_id = serializers.IntegerField(required=False, help_text="A contact of the channel instead of `to`.")
        channel_id = serializers.UUIDField(
            required=False, help_text="Which number sends it; needed only when the account has several."
        )
        parameters = serializers.DictField(
            child=serializers.CharField(allow_blank=True),
            required=False,
            help_text='Values by placeholder key (see the template\'s `placeholders`), e.g. {"1": "Sheena"}.',
        )
        header_media = serializers.DictField(
            required=False, help_text="For a media header: {link} or {id} (documents may add filename)."
        )

        def validate(self, attrs):
            if bool(attrs.get("to")) == bool(attrs.get("contact_id")):
                raise serializers.ValidationError({"to": "Give either `to` or `contact_id`."})
            return attrs

    class TemplateSendOutputSerializer(serializers.Serializer):
        message_id = serializers.UUIDField()
        status = serializers.CharField()
        to = serializers.CharField()
        template = serializers.CharField()

    @extend_schema(
        request=TemplateSendInputSerializer,
        responses={202: TemplateSendOutputSerializer, 200: TemplateSendOutputSerializer},
        parameters=[IDEMPOTENCY_HEADER],
        summary="Send the template (200 when an Idempotency-Key repeats an earlier send)",
    )
    def post(self, request, template_id):
        template = _template_for(request, template_id)
        data = self.TemplateSendInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        channels = template_channels(template=template)
        if values.get("channel_id"):
            channel = channels.filter(public_id=values["channel_id"]).first()
            if channel is None:
                raise serializers.ValidationError({"channel_id": "No active channel with this id sends this template."})
        else:
            found = list(channels[:2])
            if not found:
                raise InvalidInput("No active channel sends this template: reconnect one first.", field="channel_id")
            if len(found) > 1:
                raise InvalidInput("Several numbers can send this template: give channel_id.", field="channel_id")
            channel = found[0]
        contact = None
        if values.get("contact_id"):
            contact = Contact.objects.filter(channel=channel, pk=values["contact_id"]).first()
            if contact is None:
                raise serializers.ValidationError({"contact_id": "No contact with this id on that channel."})
        message, replayed = api_send_once(
            request,
            values,
            lambda: template_sends.template_send_to(
                template=template,
                channel=channel,
                values=values.get("parameters", {}),
                to_phone=values.get("to", ""),
                contact=contact,
                header_media=values.get("header_media"),
            ),
        )
        return Response(
            {
                "message_id": message.public_id,
                "status": message.status,
                "to": message.contact.phone_display,
                "template": template.name,
            },
            status=status.HTTP_200_OK if replayed else status.HTTP_202_ACCEPTED,
        )


class TemplateSyncApi(APIView):
    class TemplateSyncInputSerializer(serializers.Serializer):
        channel_id = serializers.UUIDField()

    class TemplateSyncOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        state = serializers.CharField()
        created_count = serializers.IntegerField()
        updated_count = serializers.IntegerField()
        removed_count = serializers.IntegerField()
        error = serializers.CharField()

    @extend_schema(
        request=TemplateSyncInputSerializer,
        responses={202: TemplateSyncOutputSerializer},
        summary="Sync templates from Meta",
    )
    def post(self, request):
        data = self.TemplateSyncInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        channel = (
            channels_list(workspace=request.auth.workspace).filter(public_id=data.validated_data["channel_id"]).first()
        )
        if channel is None:
            raise serializers.ValidationError({"channel_id": "No channel with this id in your workspace."})
        sync = template_services.template_sync_request(channel=channel, trigger=TemplateSync.Trigger.MANUAL)
        sync.refresh_from_db()
        return Response(self.TemplateSyncOutputSerializer(sync).data, status=status.HTTP_202_ACCEPTED)
