"""Writes for workspaces: creation, members, invitations, API keys."""

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from audit_app.services import audit_diff, audit_record, audit_snapshot
from whatsapp_platform.errors import Conflict, InvalidInput, NotPermitted
from whatsapp_platform.task_queue import task_enqueue
from workspaces_app.models import ROLE_ORDER, ApiKey, Invitation, Membership, Role, User, Workspace
from workspaces_app.selectors import acting_role, role_can, role_grantable, user_needs_admin_site

logger = logging.getLogger(__name__)

API_KEY_PREFIX = "wap"


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _unique_slug(name: str) -> str:
    base = slugify(name)[:50] or "workspace"
    slug, n = base, 2
    while Workspace.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


@transaction.atomic
def workspace_create(*, name: str, owner: User, slug: str | None = None) -> Workspace:
    name = name.strip()
    if not name:
        raise InvalidInput("A workspace needs a name.", field="name")
    workspace = Workspace.objects.create(name=name, slug=slug or _unique_slug(name))
    membership_set(workspace=workspace, user=owner, role=Role.OWNER)
    logger.info("workspace created", extra={"workspace_id": workspace.id, "owner_id": owner.id})
    return workspace


def membership_set(*, workspace: Workspace, user: User, role: str) -> Membership:
    """Add the user to the workspace, or change their role, with no permission check: for a workspace's
    creation and an accepted invitation, whose role was checked when it was sent. Owners and admins may
    use the admin site."""
    if role not in Role.values:
        raise InvalidInput(f"Unknown role {role!r}; choose one of {', '.join(Role.values)}.", field="role")
    membership, _ = Membership.objects.update_or_create(workspace=workspace, user=user, defaults={"role": role})
    user_staff_sync(user=user)
    return membership


def _require_grantable(*, by: User, workspace: Workspace, role: str, permission: str, what: str) -> str:
    """The actor's role in the workspace, or NotPermitted when it may not hand out `role`.

    `what` says what was refused, with `{role}` for the role's name: "invite someone as {role}".
    """
    actor_role = acting_role(user=by, workspace=workspace)
    if actor_role is None:
        raise NotPermitted("You are not a member of this workspace.")
    if not role_grantable(actor_role=actor_role, role=role, permission=permission):
        able = [r for r in reversed(ROLE_ORDER) if role_grantable(actor_role=r, role=role, permission=permission)]
        who = " or ".join(f"an {Role(r).label.lower()}" for r in able) or "nobody"
        raise NotPermitted(
            f"Only {who} can {what.format(role=Role(role).label.lower())}; your role is "
            f"{Role(actor_role).label.lower()}. Nobody gives a role above their own.",
            field="role",
        )
    return actor_role


@transaction.atomic
def membership_add(*, by: User, workspace: Workspace, user: User, role: str) -> Membership:
    """Add someone directly (the platform's operators, from the admin site; members invite instead)."""
    if Membership.objects.filter(workspace=workspace, user=user).exists():
        raise Conflict(f"{user.email} is already a member of {workspace.name}.", field="user")
    _require_grantable(by=by, workspace=workspace, role=role, permission="manage_members", what="make someone {role}")
    membership = membership_set(workspace=workspace, user=user, role=role)
    audit_record(action="member.added", target=user, workspace=workspace, changes={"role": [None, role]})
    return membership


@transaction.atomic
def membership_role_change(*, by: User, membership: Membership, role: str) -> Membership:
    """Change a member's role. `by` may neither give nor take away a role above their own; the member's
    API keys are lowered to the new role."""
    if role not in Role.values:
        raise InvalidInput(f"Unknown role {role!r}; choose one of {', '.join(Role.values)}.", field="role")
    workspace = membership.workspace
    _require_grantable(
        by=by,
        workspace=workspace,
        role=membership.role,
        permission="manage_members",
        what="change the role of a member who is {role}",
    )
    _require_grantable(by=by, workspace=workspace, role=role, permission="manage_members", what="make someone {role}")
    if membership.role == Role.OWNER and role != Role.OWNER:
        _ensure_another_owner(membership)
    if role == membership.role:
        return membership
    audit_record(
        action="member.role_changed",
        target=membership.user,
        workspace=workspace,
        changes={"role": [membership.role, role]},
    )
    membership = membership_set(workspace=workspace, user=membership.user, role=role)
    _grants_lower(workspace=workspace, member=membership.user, role=role)
    return membership


@transaction.atomic
def membership_remove(*, by: User, membership: Membership) -> None:
    """Remove a member (not one whose role is above `by`'s): the API keys they created stop working."""
    workspace = membership.workspace
    _require_grantable(
        by=by,
        workspace=workspace,
        role=membership.role,
        permission="manage_members",
        what="remove a member who is {role}",
    )
    if membership.role == Role.OWNER:
        _ensure_another_owner(membership)
    membership.delete()
    audit_record(
        action="member.removed",
        target=membership.user,
        workspace=workspace,
        changes={"role": [membership.role, None]},
    )
    _grants_lower(workspace=workspace, member=membership.user, role=None)
    user_staff_sync(user=membership.user)


@transaction.atomic
def user_delete(*, user: User, by: User) -> None:
    """Delete an account (the platform's operators): it leaves each workspace by the members' rules
    first, so the keys it created are revoked and no workspace loses its last owner."""
    for membership in Membership.objects.filter(user=user).select_related("workspace"):
        membership_remove(by=by, membership=membership)
    user.delete()


def user_staff_sync(*, user: User) -> None:
    """Keep `is_staff` (the admin site's door) to those who need it: superusers, owners and admins."""
    needed = user_needs_admin_site(user=user)
    if user.is_staff != needed:
        user.is_staff = needed
        user.save(update_fields=["is_staff"])


def _grants_lower(*, workspace: Workspace, member: User, role: str | None) -> None:
    """What `member` handed out in the workspace may not outrank them: their active API keys are lowered
    to `role` (revoked when None: they left), their pending invitations above it revoked."""
    keys = ApiKey.objects.filter(workspace=workspace, created_by=member, revoked_at__isnull=True)
    invitations = Invitation.objects.filter(workspace=workspace, invited_by=member, state=Invitation.State.PENDING)
    above = [] if role is None else ROLE_ORDER[ROLE_ORDER.index(role) + 1 :]
    for api_key in keys:
        if role is None:
            api_key_revoke(workspace=workspace, public_id=api_key.public_id)
        elif api_key.role in above:
            ApiKey.objects.filter(pk=api_key.pk).update(role=role)
            audit_record(action="api_key.role_changed", target=api_key, changes={"role": [api_key.role, role]})
    for invitation in invitations if role is None else invitations.filter(role__in=above):
        invitation_revoke(workspace=workspace, invitation_id=invitation.pk)


def _ensure_another_owner(membership: Membership) -> None:
    others = (
        Membership.objects.select_for_update()
        .filter(workspace_id=membership.workspace_id, role=Role.OWNER)
        .exclude(pk=membership.pk)
    )
    if not others.exists():
        raise Conflict("A workspace needs at least one owner. Make someone else an owner first.")


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: Invitation
    accept_url: str


@transaction.atomic
def invitation_create(*, workspace: Workspace, email: str, role: str, invited_by: User) -> IssuedInvitation:
    """Invite someone by email to a role no higher than the inviter's; the link in the email is the only
    copy of the token."""
    email = User.objects.normalize_email(email or "").strip().lower()
    if "@" not in email:
        raise InvalidInput("Enter the email address of the person to invite.", field="email")
    if role not in Role.values:
        raise InvalidInput(f"Unknown role {role!r}.", field="role")
    _require_grantable(
        by=invited_by, workspace=workspace, role=role, permission="manage_members", what="invite someone as {role}"
    )
    if Membership.objects.filter(workspace=workspace, user__email__iexact=email).exists():
        raise Conflict(f"{email} is already a member of {workspace.name}.", field="email")
    # A new invitation replaces a pending one for the same address.
    Invitation.objects.filter(workspace=workspace, email__iexact=email, state=Invitation.State.PENDING).update(
        state=Invitation.State.REVOKED
    )
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        workspace=workspace,
        email=email,
        role=role,
        token_hash=_sha256(token),
        invited_by=invited_by,
        expires_at=timezone.now() + timedelta(days=settings.INVITATION_TTL_DAYS),
    )
    audit_record(
        action="invitation.created",
        actor=invited_by,
        target=invitation,
        changes={"email": [None, email], "role": [None, role]},
    )
    accept_url = settings.SITE_URL + reverse("invitation_accept", args=[token])
    transaction.on_commit(lambda: task_enqueue("workspaces.invitation_email_send", invitation.id, accept_url))
    return IssuedInvitation(invitation=invitation, accept_url=accept_url)


def invitation_email_deliver(*, invitation_id: int, accept_url: str) -> None:
    """Send the invitation email. SMTP errors propagate so the task retries them."""
    invitation = Invitation.objects.select_related("workspace", "invited_by").filter(pk=invitation_id).first()
    if invitation is None or invitation.state != Invitation.State.PENDING:
        return
    send_mail(
        subject=f"You are invited to {invitation.workspace.name}",
        message=(
            f"{invitation.invited_by or 'A teammate'} invited you to join {invitation.workspace.name} "
            f"as {invitation.get_role_display()}.\n\nAccept within {settings.INVITATION_TTL_DAYS} days: "
            f"{accept_url}\n"
        ),
        from_email=None,
        recipient_list=[invitation.email],
        fail_silently=False,
    )


def invitation_for_token(*, token: str) -> Invitation | None:
    invitation = Invitation.objects.select_related("workspace").filter(token_hash=_sha256(token)).first()
    if invitation and invitation.state == Invitation.State.PENDING and invitation.expires_at <= timezone.now():
        Invitation.objects.filter(pk=invitation.pk, state=Invitation.State.PENDING).update(
            state=Invitation.State.EXPIRED
        )
        invitation.state = Invitation.State.EXPIRED
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, user: User) -> Membership:
    invitation = invitation_for_token(token=token)
    if invitation is None:
        raise InvalidInput("This invitation link is not valid. Ask for a new invitation.")
    if invitation.state != Invitation.State.PENDING:
        raise Conflict(f"This invitation is {invitation.get_state_display().lower()}. Ask for a new one.")
    if invitation.email.lower() != user.email.lower():
        raise NotPermitted(
            f"This invitation is for {invitation.email}, but you are signed in as {user.email}. "
            "Sign out and sign in (or sign up) with the invited address."
        )
    # Claim it with a conditional update so a double click cannot accept it twice.
    claimed = Invitation.objects.filter(pk=invitation.pk, state=Invitation.State.PENDING).update(
        state=Invitation.State.ACCEPTED, accepted_by=user, accepted_at=timezone.now()
    )
    if claimed != 1:
        raise Conflict("This invitation was already used.")
    audit_record(action="invitation.accepted", actor=user, target=invitation, changes={"role": [None, invitation.role]})
    return membership_set(workspace=invitation.workspace, user=user, role=invitation.role)


def invitation_revoke(*, workspace: Workspace, invitation_id: int) -> None:
    if Invitation.objects.filter(workspace=workspace, pk=invitation_id, state=Invitation.State.PENDING).update(
        state=Invitation.State.REVOKED
    ):
        audit_record(action="invitation.revoked", target=Invitation.objects.get(pk=invitation_id))


def invitations_expire() -> int:
    return Invitation.objects.filter(state=Invitation.State.PENDING, expires_at__lte=timezone.now()).update(
        state=Invitation.State.EXPIRED
    )


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    plaintext: str


def api_key_create(
    *, workspace: Workspace, name: str, role: str = Role.ADMIN, created_by: User | None = None
) -> IssuedApiKey:
    """Make a key that may do what `role` may in the console, never more than its creator's role
    (`created_by` None: the platform's operator, from the command line). The plaintext is returned once
    and never stored."""
    if role not in Role.values:
        raise InvalidInput(f"Unknown role {role!r}; choose one of {', '.join(Role.values)}.", field="role")
    if created_by is not None:
        _require_grantable(
            by=created_by,
            workspace=workspace,
            role=role,
            permission="configure",
            what="create an API key with the role {role}",
        )
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Give the key a name that says where it is used, e.g. 'CRM sync'.", field="name")
    if len(name) > 80:
        raise InvalidInput(f"The name is {len(name)} characters; keep it to 80.", field="name")
    for _ in range(5):
        prefix = secrets.token_hex(4)
        secret = secrets.token_urlsafe(32)
        try:
            with transaction.atomic():
                api_key = ApiKey.objects.create(
                    workspace=workspace,
                    name=name,
                    prefix=prefix,
                    secret_hash=_sha256(secret),
                    role=role,
                    created_by=created_by,
                )
        except IntegrityError:  # prefix collision, astronomically rare: draw again
            continue
        logger.info("api key created", extra={"workspace_id": workspace.id, "api_key_id": api_key.id})
        audit_record(action="api_key.created", actor=created_by, target=api_key, changes={"role": [None, role]})
        return IssuedApiKey(api_key=api_key, plaintext=f"{API_KEY_PREFIX}_{prefix}_{secret}")
    raise Conflict("Could not draw a unique key; try again.")


def api_key_revoke(*, workspace: Workspace, public_id) -> ApiKey:
    api_key = ApiKey.objects.get(workspace=workspace, public_id=public_id)
    if ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now()):
        audit_record(action="api_key.revoked", target=api_key)
    api_key.refresh_from_db()
    logger.info("api key revoked", extra={"workspace_id": workspace.id, "api_key_id": api_key.id})
    return api_key


class ApiKeyRejected(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def api_key_authenticate(*, presented: str) -> ApiKey:
    """The active key matching the presented string, or ApiKeyRejected saying why."""
    parts = presented.strip().split("_")
    if len(parts) < 3 or parts[0] != API_KEY_PREFIX:
        raise ApiKeyRejected(
            "invalid_api_key",
            "That is not an API key of this platform: keys look like 'wap_<8 characters>_<secret>'.",
        )
    prefix, secret = parts[1], "_".join(parts[2:])
    api_key = ApiKey.objects.select_related("workspace").filter(prefix=prefix).first()
    if api_key is None or not secrets.compare_digest(api_key.secret_hash, _sha256(secret)):
        raise ApiKeyRejected(
            "invalid_api_key", "The API key is not valid. Check that it was copied whole, or create a new one."
        )
    if api_key.revoked_at is not None:
        raise ApiKeyRejected(
            "revoked_api_key",
            f"The API key '{api_key.name}' was revoked on {api_key.revoked_at:%Y-%m-%d %H:%M} UTC. "
            "Create a new key in Settings → API keys.",
        )
    _api_key_touch(api_key)
    return api_key


def _api_key_touch(api_key: ApiKey) -> None:
    # Written at most once a minute per key: a busy integration must not turn every
    # request into an UPDATE. Two concurrent requests may both write; that is harmless.
    now = timezone.now()
    resolution = timedelta(seconds=settings.API_KEY_LAST_USED_RESOLUTION_SECONDS)
    if api_key.last_used_at is None or now - api_key.last_used_at >= resolution:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now


def workspace_settings_update(
    *,
    workspace: Workspace,
    by: User,
    name: str,
    require_mfa: bool,
    notify_handoff_by_email: bool = False,
    csat_enabled: bool | None = None,
    csat_question: str | None = None,
) -> Workspace:
    """The workspace's settings; `by` needs "configure", and "govern" (owners) to change require_mfa."""
    actor_role = acting_role(user=by, workspace=workspace)
    if not role_can(role=actor_role, permission="configure"):
        raise NotPermitted("Only the workspace's owners and admins can change its settings.")
    if require_mfa != workspace.require_mfa and not role_can(role=actor_role, permission="govern"):
        raise NotPermitted(
            "Only the workspace's owners can change whether two-factor authentication is required.",
            field="require_mfa",
        )
    name = (name or "").strip()
    if not name:
        raise InvalidInput("A workspace needs a name.", field="name")
    before = audit_snapshot(workspace)
    fields = ["name", "require_mfa", "notify_handoff_by_email"]
    workspace.name = name
    workspace.require_mfa = require_mfa
    workspace.notify_handoff_by_email = notify_handoff_by_email
    if csat_enabled is not None:
        workspace.csat_enabled = csat_enabled
        fields.append("csat_enabled")
    if csat_question is not None:
        question = csat_question.strip()
        if not question and workspace.csat_enabled:
            raise InvalidInput("Write the question customers are asked, or turn ratings off.", field="csat_question")
        workspace.csat_question = question or workspace.csat_question
        fields.append("csat_question")
    workspace.save(update_fields=fields)
    if changes := audit_diff(before, workspace):
        audit_record(action="workspace.settings_changed", target=workspace, changes=changes)
    return workspace


# Kept at least a week: the agent reads recent messages as its conversation history.
RETENTION_DAYS_RANGE = (7, 3650)
WEBHOOK_BODY_RETENTION_DAYS_RANGE = (1, 3650)


def workspace_retention_update(
    *, workspace: Workspace, by: User, retention_days: int | None, webhook_body_retention_days: int | None
) -> Workspace:
    """How long message contents and agent logs, and received webhook bodies, are kept (None: forever).
    Owners only ("govern").

    Applied by the daily retention job (messaging_app.services.privacy), which keeps the rows.
    """
    if not role_can(role=acting_role(user=by, workspace=workspace), permission="govern"):
        raise NotPermitted("Only the workspace's owners can change how long customer data is kept.")
    for field, value, (low, high) in (
        ("retention_days", retention_days, RETENTION_DAYS_RANGE),
        ("webhook_body_retention_days", webhook_body_retention_days, WEBHOOK_BODY_RETENTION_DAYS_RANGE),
    ):
        if value is not None and not low <= value <= high:
            raise InvalidInput(f"Give a number of days from {low} to {high}, or leave it empty.", field=field)
    before = audit_snapshot(workspace)
    workspace.retention_days = retention_days
    workspace.webhook_body_retention_days = webhook_body_retention_days
    workspace.save(update_fields=["retention_days", "webhook_body_retention_days"])
    if changes := audit_diff(before, workspace):
        audit_record(action="workspace.settings_changed", target=workspace, changes=changes)
    return workspace


@transaction.atomic
def workspace_delete(*, workspace: Workspace) -> None:
    """Delete a workspace and everything in it (the platform's operators, from the admin site); its former
    owners and admins lose `is_staff` unless another workspace still needs it."""
    members = list(User.objects.filter(memberships__workspace=workspace))
    audit_record(action="workspace.deleted", target=workspace)
    workspace.delete()
    for user in members:
        user_staff_sync(user=user)
