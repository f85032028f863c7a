from django.db.models import QuerySet
from django.http import Http404

from workspaces_app.models import ROLE_ORDER, ROLE_PERMISSIONS, ApiKey, Invitation, Membership, Role, User, Workspace

# Roles whose members use the Django admin (scoped to their workspaces); others have no use for it.
ADMIN_SITE_ROLES = (Role.OWNER, Role.ADMIN)


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
    return role_can(role=membership.role, permission=permission)


def acting_role(*, user: User, workspace: Workspace | int) -> str | None:
    """The role `user` acts with in `workspace`: their membership's; an owner's for a superuser (who runs
    the platform); None for anyone else."""
    if not user.is_authenticated:
        return None
    if user.is_superuser:
        return Role.OWNER
    workspace_id = workspace if isinstance(workspace, int) else workspace.pk
    return Membership.objects.filter(user=user, workspace_id=workspace_id).values_list("role", flat=True).first()


def role_can(*, role: str | None, permission: str) -> bool:
    return permission in ROLE_PERMISSIONS.get(role or "", frozenset())


def role_grantable(*, actor_role: str | None, role: str, permission: str = "manage_members") -> bool:
    """The one rule for handing out roles: the actor's role holds `permission` ("manage_members" for
    members and invitations, "configure" for API keys) and `role` is not above the actor's own."""
    if not role_can(role=actor_role, permission=permission) or role not in ROLE_ORDER:
        return False
    return ROLE_ORDER.index(role) <= ROLE_ORDER.index(actor_role)


def roles_grantable(*, actor_role: str | None, permission: str = "manage_members") -> list[str]:
    return [role for role in ROLE_ORDER if role_grantable(actor_role=actor_role, role=role, permission=permission)]


def user_needs_admin_site(*, user: User) -> bool:
    return user.is_superuser or Membership.objects.filter(user=user, role__in=ADMIN_SITE_ROLES).exists()


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
