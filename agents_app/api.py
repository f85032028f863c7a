from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from agents_app import services
from agents_app.models import Agent, KnowledgeEntry
from agents_app.selectors import agents_list
from agents_app.tools import http_tool_create, http_tool_delete, http_tool_update


class AgentOutputSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    has_api_key = serializers.SerializerMethodField()

    class Meta:
        model = Agent
        fields = ["id", *services.AGENT_FIELDS, "has_api_key", "created_at", "updated_at"]

    def get_has_api_key(self, agent) -> bool:
        return bool(agent.api_key)


class AgentInputSerializer(serializers.ModelSerializer):
    """Agent settings; the API key is write-only (stored encrypted, never returned)."""

    api_key = serializers.CharField(required=False, allow_blank=True, write_only=True)
    example = serializers.ChoiceField(choices=["", "ecommerce", "customer_service", "appointments"], required=False)

    class Meta:
        model = Agent
        fields = [*services.AGENT_FIELDS, "api_key", "example"]
        extra_kwargs = {"instructions": {"required": False, "allow_blank": True}}


def _save(request, agent: Agent | None, partial: bool) -> Agent:
    data = AgentInputSerializer(agent, data=request.data, partial=partial)
    data.is_valid(raise_exception=True)
    values = dict(data.validated_data)
    api_key = values.pop("api_key", None)
    example = values.pop("example", "")
    return services.agent_save(
        workspace=request.auth.workspace, agent=agent, values=values, api_key=api_key, example=example
    )


class AgentListApi(ListAPIView):
    serializer_class = AgentOutputSerializer

    def get_queryset(self):
        return agents_list(workspace=self.request.auth.workspace)

    @extend_schema(summary="List the workspace's agents")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(request=AgentInputSerializer, responses={201: AgentOutputSerializer}, summary="Create an agent")
    def post(self, request):
        agent = _save(request, None, partial=False)
        return Response(AgentOutputSerializer(agent).data, status=status.HTTP_201_CREATED)


class AgentDetailApi(APIView):
    def _agent(self, request, agent_id) -> Agent:
        return get_object_or_404(agents_list(workspace=request.auth.workspace), public_id=agent_id)

    @extend_schema(responses=AgentOutputSerializer, summary="One agent")
    def get(self, request, agent_id):
        return Response(AgentOutputSerializer(self._agent(request, agent_id)).data)

    @extend_schema(request=AgentInputSerializer, responses=AgentOutputSerializer, summary="Change an agent")
    def patch(self, request, agent_id):
        agent = _save(request, self._agent(request, agent_id), partial=True)
        return Response(AgentOutputSerializer(agent).data)

    @extend_schema(
        request=None, responses={204: None}, summary="Delete an agent (its channels keep running unanswered)"
    )
    def delete(self, request, agent_id):
        services.agent_delete(agent=self._agent(request, agent_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class KnowledgeSerializer(serializers.ModelSerializer):
    class Meta:
        model = KnowledgeEntry
        fields = ["id", "kind", "title", "body", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]


class AgentKnowledgeApi(APIView):
    @extend_schema(responses=KnowledgeSerializer(many=True), summary="The agent's knowledge entries")
    def get(self, request, agent_id):
        agent = get_object_or_404(agents_list(workspace=request.auth.workspace), public_id=agent_id)
        return Response(KnowledgeSerializer(agent.knowledge.all(), many=True).data)

    @extend_schema(request=KnowledgeSerializer, responses={201: KnowledgeSerializer}, summary="Add an FAQ or document")
    def post(self, request, agent_id):
        agent = get_object_or_404(agents_list(workspace=request.auth.workspace), public_id=agent_id)
        data = KnowledgeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entry = services.knowledge_add(agent=agent, **data.validated_data)
        return Response(KnowledgeSerializer(entry).data, status=status.HTTP_201_CREATED)


class AgentKnowledgeEntryApi(APIView):
    @extend_schema(request=None, responses={204: None}, summary="Remove a knowledge entry")
    def delete(self, request, agent_id, entry_id: int):
        agent = get_object_or_404(agents_list(workspace=request.auth.workspace), public_id=agent_id)
        get_object_or_404(KnowledgeEntry, agent=agent, pk=entry_id)
        services.knowledge_remove(agent=agent, entry_id=entry_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class HttpToolSerializer(serializers.Serializer):
    """An HTTP tool; `headers` (e.g. an Authorization value) is write-only and stored encrypted."""

    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=64)
    description = serializers.CharField()
    parameters = serializers.JSONField(required=False, default=dict)
    method = serializers.ChoiceField(choices=["GET", "POST", "PUT", "PATCH", "DELETE"], required=False, default="GET")
    url_template = serializers.CharField(max_length=2000)
    headers = serializers.DictField(child=serializers.CharField(), required=False, write_only=True)
    timeout_seconds = serializers.IntegerField(required=False, default=10)
    enabled = serializers.BooleanField(required=False, default=True)
    header_names = serializers.SerializerMethodField()

    def get_header_names(self, tool) -> list[str]:
        import json

        try:
            return sorted(json.loads(tool.headers or "{}"))
        except ValueError:
            return []


def _agent_of(request, agent_id) -> Agent:
    return get_object_or_404(agents_list(workspace=request.auth.workspace), public_id=agent_id)


class AgentToolListApi(APIView):
    @extend_schema(responses=HttpToolSerializer(many=True), summary="The agent's HTTP tools")
    def get(self, request, agent_id):
        agent = _agent_of(request, agent_id)
        return Response(HttpToolSerializer(agent.http_tools.all(), many=True).data)

    @extend_schema(request=HttpToolSerializer, responses={201: HttpToolSerializer}, summary="Add an HTTP tool")
    def post(self, request, agent_id):
        agent = _agent_of(request, agent_id)
        data = HttpToolSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tool = http_tool_create(agent=agent, **data.validated_data)
        return Response(HttpToolSerializer(tool).data, status=status.HTTP_201_CREATED)


class AgentToolDetailApi(APIView):
    def _tool(self, request, agent_id, tool_id):
        return get_object_or_404(_agent_of(request, agent_id).http_tools, pk=tool_id)

    @extend_schema(responses=HttpToolSerializer, summary="One HTTP tool")
    def get(self, request, agent_id, tool_id: int):
        return Response(HttpToolSerializer(self._tool(request, agent_id, tool_id)).data)

    @extend_schema(request=HttpToolSerializer, responses=HttpToolSerializer, summary="Change an HTTP tool")
    def patch(self, request, agent_id, tool_id: int):
        tool = self._tool(request, agent_id, tool_id)
        data = HttpToolSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        headers = values.pop("headers", None)
        return Response(HttpToolSerializer(http_tool_update(tool=tool, values=values, headers=headers)).data)

    @extend_schema(request=None, responses={204: None}, summary="Remove an HTTP tool")
    def delete(self, request, agent_id, tool_id: int):
        http_tool_delete(tool=self._tool(request, agent_id, tool_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
