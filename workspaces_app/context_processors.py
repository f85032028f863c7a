from django.db.models import Q

from channels_app.models import Channel
from workspaces_app.selectors import member_can, workspaces_for_user


def console(request) -> dict:
    """The workspace switcher and the current workspace, for the console's shell."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    membership = getattr(request, "membership", None)
    workspace = getattr(request, "workspace", None)
    return {
        "channels_needing_attention": _channels_needing_attention(workspace) if workspace else [],
        "user_workspaces": workspaces_for_user(user=user),
        "current_workspace": getattr(request, "workspace", None),
        "current_membership": membership,
        "can_reply": bool(membership and member_can(membership=membership, permission="reply")),
        "can_configure": bool(membership and member_can(membership=membership, permission="configure")),
        "can_manage_members": bool(membership and member_can(membership=membership, permission="manage_members")),
    }


def _channels_needing_attention(workspace) -> list:
    return list(
        Channel.objects.whatsapp()
        .filter(workspace=workspace)
        .exclude(status=Channel.Status.DISABLED)
        .filter(Q(status=Channel.Status.NEEDS_RECONNECTION) | ~Q(attention_reason=""))
        .only("public_id", "name")[:5]
    )
