from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from agents_app.models import Agent
from agents_app.selectors import agents_list


class AgentOutputSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")

    class Meta:
        model = Agent
        fields = ["id", "name", "instructions", "provider", "model", "created_at", "updated_at"]


class AgentListApi(ListAPIView):
    serializer_class = AgentOutputSerializer

    def get_queryset(self):
        return agents_list(workspace=self.request.auth.workspace)

    @extend_schema(summary="List the workspace's agents")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class AgentDetailApi(APIView):
    @extend_schema(responses=AgentOutputSerializer, summary="One agent")
    def get(self, request, agent_id):
        agent = get_object_or_404(agents_list(workspace=request.auth.workspace), public_id=agent_id)
        return Response(AgentOutputSerializer(agent).data)
