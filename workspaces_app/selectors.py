from django.db.models import QuerySet
from django.http import Http404

from workspaces_app.models import ROLE_PERMISSIONS, ApiKey, Invitation, Membership, User, Workspace


def workspaces_for_user(*, user: User) -> QuerySet[Workspace]:
    if not user.is_authenticated:
        return Workspace.objects.none()
    return Workspace.objects.filter(memberships__user=user).order_by("name")


def membership_get(*, user: User, workspace_slug: str) -> Membership:
    """The user's membership of the workspace; Http404 when there is none.

    An outsider gets the same answer as for a workspace that does not exist, so the
    console never confirms that a workspace (or any of its rows) exists.
    """
    if not user.is_authenticated:
        raise Http404("No such workspace.")
    membership = (
        Membership.objects.select_related("workspace").filter(user=user, workspace__slug=workspace_slug).first()
    )
    if membership is None:
        raise Http404("No such workspace.")
    return membership


def member_can(*, membership: Membership, permission: str) -> bool:
    return permission in ROLE_PERMISSIONS.get(membership.role, frozenset())


def workspace_ids_for_user(*, user: User, permission: str = "view") -> list[int]:
    roles = [role for role, perms in ROLE_PERMISSIONS.items() if permission in perms]
    return list(Membership.objects.filter(user=user, role__in=roles).values_list("workspace_id", flat=True))


def user_requires_mfa(*, user: User) -> bool:
    return Membership.objects.filter(user=user, workspace__require_mfa=True).exists()


def memberships_list(*, workspace: Workspace) -> QuerySet[Membership]:
    return workspace.memberships.select_related("user").order_by("user__email")


def invitations_pending_list(*, workspace: Workspace) -> QuerySet[Invitation]:
    return workspace.invitations.filter(state=Invitation.State.PENDING).order_by("-created_at")


def api_keys_list(*, workspace: Workspace) -> QuerySet[ApiKey]:
    return workspace.api_keys.select_related("created_by").order_by("revoked_at", "-created_at")
