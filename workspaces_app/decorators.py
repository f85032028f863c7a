from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from workspaces_app.selectors import member_can, membership_get


def workspace_member_required(permission: str = "view"):
    """Resolve `/w/<workspace_slug>/…` to request.workspace and request.membership.

    Outsiders get 404 (the workspace is not confirmed to exist); members whose role
    lacks the permission get 403 (they already know the workspace).
    """

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, workspace_slug: str, *args, **kwargs):
            membership = membership_get(user=request.user, workspace_slug=workspace_slug)
            if not member_can(membership=membership, permission=permission):
                raise PermissionDenied(f"Your role ({membership.get_role_display()}) cannot do this.")
            request.membership = membership
            request.workspace = membership.workspace
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
