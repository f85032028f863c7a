"""API authentication: workspace API keys sent as `Authorization: Bearer <key>`."""

from rest_framework import authentication, exceptions, permissions

from workspaces_app.models import ApiKey
from workspaces_app.selectors import role_can
from workspaces_app.services import ApiKeyRejected, api_key_authenticate

MISSING_KEY_MESSAGE = (
    "No API key was sent. Send a workspace API key as 'Authorization: Bearer <key>' "
    "(create one in Settings → API keys or with `manage.py create_api_key`)."
)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = request.headers.get("Authorization", "")
        if not header:
            return None  # answered by HasWorkspaceApiKey with MISSING_KEY_MESSAGE
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            raise exceptions.AuthenticationFailed(
                "The Authorization header must read 'Bearer <key>'.", code="invalid_api_key"
            )
        try:
            api_key = api_key_authenticate(presented=presented)
        except ApiKeyRejected as rejected:
            raise exceptions.AuthenticationFailed(rejected.message, code=rejected.code) from None
        return (api_key.created_by or _ApiKeyPrincipal(api_key), api_key)

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class _ApiKeyPrincipal:
    """Stands in for request.user when the key's creator was deleted."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False

    def __init__(self, api_key: ApiKey):
        self.api_key = api_key

    def __str__(self) -> str:
        return f"API key {self.api_key.name}"


def api_permission_needed(view, method: str) -> str:
    """The console permission (workspaces_app.models.ROLE_PERMISSIONS) a request needs: what the view
    declares for the method in `required_permissions`, else "view" to read and "configure" to write."""
    declared = getattr(view, "required_permissions", {})
    if method in declared:
        return declared[method]
    return "view" if method in permissions.SAFE_METHODS else "configure"


class HasWorkspaceApiKey(permissions.BasePermission):
    """A key is required, and its role must hold what the operation needs, as a member's would in the console."""

    def has_permission(self, request, view) -> bool:
        if not isinstance(request.auth, ApiKey):
            raise exceptions.NotAuthenticated(MISSING_KEY_MESSAGE, code="missing_api_key")
        needed = api_permission_needed(view, request.method)
        if not role_can(role=request.auth.role, permission=needed):
            raise exceptions.PermissionDenied(
                f"This API key has the role {request.auth.get_role_display()}, which cannot do this "
                f"(it needs the '{needed}' permission). Ask an owner or admin for a key with a higher role.",
                code="permission_denied",
            )
        return True
