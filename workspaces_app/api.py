from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView


class WorkspaceDetailApi(APIView):
    """The workspace the API key belongs to."""

    class OutputSerializer(serializers.Serializer):
        name = serializers.CharField()
        slug = serializers.SlugField()
        timezone = serializers.CharField()
        require_mfa = serializers.BooleanField()
        api_key_name = serializers.CharField()

    @extend_schema(responses=OutputSerializer, summary="The API key's workspace")
    def get(self, request):
        workspace = request.auth.workspace
        data = {
            "name": workspace.name,
            "slug": workspace.slug,
            "timezone": workspace.timezone,
            "require_mfa": workspace.require_mfa,
            "api_key_name": request.auth.name,
        }
        return Response(self.OutputSerializer(data).data)
