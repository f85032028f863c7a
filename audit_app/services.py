"""Writes to the audit log: one entry per security-relevant action.

Services call `audit_record` right after the change it describes, inside the same transaction,
so a change that rolls back leaves no entry and an entry never describes a change that did not
happen. Recording never fails the caller: a problem is logged as a warning instead.
"""

import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.http import HttpRequest

from audit_app.middleware import client_ip, current_request
from audit_app.models import AuditEntry
from whatsapp_platform.observability import request_id_var
from workspaces_app.models import ApiKey, Membership, User

logger = logging.getLogger(__name__)

MASK = "••••"
# A field named like a credential is never written to the log, only whether it changed.
SECRET_NAME = re.compile(r"token|secret|key|password|headers|authorization", re.IGNORECASE)
VALUE_MAX_CHARS = 500
# Bookkeeping that every save touches; not a change anyone made.
SNAPSHOT_SKIPPED = frozenset({"id", "public_id", "created_at", "updated_at"})


@dataclass(frozen=True)
class Anonymous:
    """Someone not signed in, e.g. trying to sign in as `claimed` (an email address)."""

    claimed: str = ""


Target = models.Model | tuple[str, Any, str] | None


def audit_record(
    *,
    action: str,
    workspace=None,
    actor=None,
    target: Target = None,
    changes: dict | None = None,
    request: HttpRequest | None = None,
) -> AuditEntry | None:
    """Record `action` (a name from audit_app.actions) and return the entry, or None if it could not be written.

    `actor` is a User, an ApiKey, "system", an `Anonymous`, or None for whoever the current
    request is (its API key, else its signed-in user; "system" outside a request). `target` is
    a model instance or a (type, id, label) tuple; `workspace` defaults to the target's.
    `changes` maps a field to [old, new]; secrets in it are masked here. `request` defaults to
    the one being served (audit_app.middleware), for the IP address, user agent and request id.
    """
    try:
        request = request if request is not None else current_request.get()
        # A savepoint: a failed insert must not poison the caller's transaction.
        with transaction.atomic():
            entry = AuditEntry(
                workspace_id=_workspace_id(workspace, target),
                action=action,
                changes=changes_masked(changes or {}),
                **_actor_fields(actor, request),
                **_target_fields(target),
                **_origin_fields(request),
            )
            entry.save()
        return entry
    except Exception:  # the audit log must never break the action it describes
        logger.warning("audit entry not recorded", extra={"audit_action": action}, exc_info=True)
        return None


def audit_record_for_user(*, action: str, user, actor=None, changes: dict | None = None, request=None) -> int:
    """Record an event of a person's account (sign-in, two-factor change) in each workspace they belong to.

    Each workspace's log stays complete on its own, so its owners see their members' sign-ins.
    A person in no workspace gets one entry without a workspace. Returns how many were written.
    """
    workspace_ids = list(Membership.objects.filter(user=user).values_list("workspace_id", flat=True)) or [None]
    written = 0
    for workspace_id in workspace_ids:
        entry = audit_record(
            action=action,
            workspace=workspace_id,
            actor=user if actor is None else actor,
            target=user,
            changes=changes,
            request=request,
        )
        written += entry is not None
    return written


def audit_snapshot(instance: models.Model | None) -> dict[str, Any]:
    """The instance's field values as they are in memory (FKs as ids); {} for None (nothing existed)."""
    if instance is None:
        return {}
    values = {}
    for field in instance._meta.concrete_fields:
        if field.primary_key or field.name in SNAPSHOT_SKIPPED or getattr(field, "auto_now", False):
            continue
        values[field.name] = getattr(instance, field.attname)
    return values


def audit_diff(before: dict[str, Any], after: models.Model | dict[str, Any]) -> dict[str, list]:
    """{field: [old, new]} for each field whose value differs between two snapshots (or a snapshot and an instance)."""
    after_values = after if isinstance(after, dict) else audit_snapshot(after)
    return {
        name: [before.get(name), value]
        for name, value in after_values.items()
        if before.get(name) != value and not (name not in before and value in (None, "", [], {}))
    }


def audit_stored_snapshot(model: type[models.Model], pk) -> dict[str, Any]:
    """The stored row's values, before an in-memory instance is saved over it ({} for a new row)."""
    return audit_snapshot(model._default_manager.filter(pk=pk).first()) if pk is not None else {}


def changes_masked(changes: dict) -> dict:
    """The changes, JSON-ready, with every credential replaced by a mask (an empty value stays empty)."""
    masked = {}
    for name, value in changes.items():
        name = str(name)
        if _is_secret_name(name):
            masked[name] = [_mask(v) for v in value] if isinstance(value, list | tuple) else _mask(value)
        else:
            masked[name] = _jsonable(value)
    return masked


def _is_secret_name(name: str) -> bool:
    # A timestamp about a credential (token_expires_at) says nothing secret.
    return bool(SECRET_NAME.search(name)) and not name.endswith("_at")


def _mask(value: Any) -> Any:
    return value if value in (None, "", [], {}) else MASK


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): (_mask(v) if _is_secret_name(str(k)) else _jsonable(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str):
        return value if len(value) <= VALUE_MAX_CHARS else value[:VALUE_MAX_CHARS] + "…"
    if value is None or isinstance(value, bool | int | float):
        return value
    return _jsonable(json.loads(json.dumps(value, cls=DjangoJSONEncoder)))


def _workspace_id(workspace, target) -> int | None:
    if workspace is not None:
        return workspace if isinstance(workspace, int) else workspace.pk
    if isinstance(target, models.Model):
        if target._meta.label == "workspaces_app.Workspace":
            return target.pk
        return getattr(target, "workspace_id", None)
    return None


def _actor_fields(actor, request) -> dict:
    if actor is None and request is not None:
        auth = getattr(request, "auth", None)  # DRF sets it on the Django request too
        user = getattr(request, "user", None)
        if isinstance(auth, ApiKey):
            actor = auth
        elif user is not None and user.is_authenticated and isinstance(user, User):
            actor = user
        else:
            actor = Anonymous()
    if isinstance(actor, ApiKey):
        return {
            "actor_type": AuditEntry.ActorType.API_KEY,
            "actor_api_key_id": actor.pk,
            "actor_label": f"API key {actor.name} (wap_{actor.prefix}_…)"[:254],
        }
    if isinstance(actor, User):
        return {"actor_type": AuditEntry.ActorType.USER, "actor_user_id": actor.pk, "actor_label": actor.email}
    if isinstance(actor, Anonymous):
        return {"actor_type": AuditEntry.ActorType.ANONYMOUS, "actor_label": actor.claimed[:254]}
    return {"actor_type": AuditEntry.ActorType.SYSTEM, "actor_label": "system"}


def _target_fields(target: Target) -> dict:
    if target is None:
        return {}
    if isinstance(target, tuple):
        kind, ident, label = target
        return {"target_type": str(kind)[:40], "target_id": str(ident)[:64], "target_label": str(label)[:200]}
    ident = getattr(target, "public_id", None) or target.pk
    # People and invitations read best as their address; anything else as it names itself.
    label = getattr(target, "email", None) or str(target)
    return {
        "target_type": target._meta.model_name[:40],
        "target_id": str(ident or "")[:64],
        "target_label": str(label or "")[:200],
    }


def _origin_fields(request: HttpRequest | None) -> dict:
    if request is None:
        request_id = request_id_var.get()
        return {"request_id": "" if request_id == "-" else request_id}
    return {
        "ip_address": client_ip(request),
        "user_agent": request.META.get("HTTP_USER_AGENT", "")[:300],
        "request_id": (getattr(request, "request_id", "") or "")[:64],
    }
