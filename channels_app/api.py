from django.conf import settings
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from agents_app.models import Agent
from channels_app import services
from channels_app.models import Channel
from channels_app.selectors import channels_list
from messaging_app.services.outbound import channel_test_message_send


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
