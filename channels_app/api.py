from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from channels_app.models import Channel
from channels_app.selectors import channels_list


class ChannelOutputSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    agent_id = serializers.UUIDField(source="agent.public_id", allow_null=True, default=None)

    class Meta:
        model = Channel
        fields = [
            "id",
            "name",
            "provider",
            "status",
            "status_reason",
            "waba_id",
            "phone_number_id",
            "display_phone_number",
            "verified_name",
            "agent_id",
            "created_at",
            "updated_at",
        ]


class ChannelListApi(ListAPIView):
    serializer_class = ChannelOutputSerializer

    def get_queryset(self):
        return channels_list(workspace=self.request.auth.workspace)

    @extend_schema(summary="List the workspace's channels")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ChannelDetailApi(APIView):
    @extend_schema(responses=ChannelOutputSerializer, summary="One channel")
    def get(self, request, channel_id):
        channel = get_object_or_404(channels_list(workspace=request.auth.workspace), public_id=channel_id)
        return Response(ChannelOutputSerializer(channel).data)
