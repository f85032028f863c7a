"""Reads of the audit log, always within one workspace."""

import uuid
from datetime import datetime

from django.db.models import Q, QuerySet

from audit_app.models import AuditEntry
from workspaces_app.models import ApiKey, Membership

API_KEY_ACTOR_PREFIX = "api_key:"


def audit_entries_list(
    *,
    workspace,
    action: str = "",
    actor: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[AuditEntry]:
    """The workspace's entries, newest first, filtered.

    `action` is an exact action name, or a group followed by a dot ("channel." for every channel
    action). `actor` is a person's email address, "api_key:<key id>", "system" or "anonymous".
    `since` is inclusive, `until` exclusive.
    """
    entries = AuditEntry.objects.filter(workspace=workspace)
    if action:
        entries = entries.filter(action__startswith=action) if action.endswith(".") else entries.filter(action=action)
    if actor:
        entries = entries.filter(_actor_q(actor))
    if since is not None:
        entries = entries.filter(created_at__gte=since)
    if until is not None:
        entries = entries.filter(created_at__lt=until)
    return entries.order_by("-id")


def _actor_q(actor: str) -> Q:
    actor = actor.strip()
    if actor in (AuditEntry.ActorType.SYSTEM, AuditEntry.ActorType.ANONYMOUS):
        return Q(actor_type=actor)
    if actor.startswith(API_KEY_ACTOR_PREFIX):
        try:
            key_id = uuid.UUID(actor[len(API_KEY_ACTOR_PREFIX) :])
        except ValueError:
            return Q(pk__in=[])  # no key has that id
        return Q(actor_type=AuditEntry.ActorType.API_KEY, actor_api_key__public_id=key_id)
    # By the label too: a deleted person's entries still carry the address they had.
    return Q(actor_type=AuditEntry.ActorType.USER) & (Q(actor_user__email__iexact=actor) | Q(actor_label__iexact=actor))


def audit_actor_choices(*, workspace) -> list[tuple[str, str]]:
    """Who can appear as an actor in the workspace's log: its members, its API keys, the system."""
    emails = (
        Membership.objects.filter(workspace=workspace).order_by("user__email").values_list("user__email", flat=True)
    )
    keys = ApiKey.objects.filter(workspace=workspace).order_by("name")
    return [
        *[(email, email) for email in emails],
        *[(f"{API_KEY_ACTOR_PREFIX}{key.public_id}", f"API key {key.name}") for key in keys],
        (AuditEntry.ActorType.SYSTEM, "System"),
    ]
