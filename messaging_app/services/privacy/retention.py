"""The retention job: contents older than each workspace's limit go, in bounded batches; rows stay."""

import logging
import time
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from agents_app.models import AgentRun
from channels_app.models import WebhookEvent
from messaging_app.models import Contact, Message
from messaging_app.services.privacy.common import (
    ERASED_PREFIX,
    MESSAGE_CONTENT_REMOVED,
    MESSAGE_ERASED,
    MESSAGE_HAS_CONTENT,
    REDACTED_HEADER,
    RUN_HAS_CONTENT,
    WEBHOOK_BATCH,
    agent_runs_redact,
    audit_if_installed,
    file_deletions_run,
    messages_strip,
    out_of_time,
    webhook_event_redact,
)
from workspaces_app.models import Workspace

logger = logging.getLogger(__name__)

# Meta retries webhooks for up to 7 days: a message can be stored well after its timestamp.
LATE_ARRIVALS = timedelta(days=7)
MESSAGE_BATCH = 500
RUN_BATCH = 200
# Webhooks received without a workspace (bad signature, unknown number) are redacted this old.
ORPHAN_WEBHOOK_BODY_DAYS = 30


def workspace_retention_apply(
    *, workspace: Workspace, now: datetime | None = None, deadline: float | None = None
) -> dict:
    """Apply the workspace's retention policy in bounded batches, each its own transaction.

    Idempotent: what was already removed is not selected again, and a run cut short by the
    deadline (time.monotonic()) resumes where it stopped. Returns counts, with "done" False when cut short.
    """
    now = now or timezone.now()
    counts = {"messages": 0, "media_files": 0, "agent_runs": 0, "webhook_bodies": 0, "done": True}
    if workspace.retention_days is not None:
        cutoff = now - timedelta(days=workspace.retention_days)
        since = workspace.retention_content_through - LATE_ARRIVALS if workspace.retention_content_through else None
        done = _messages_retention(workspace, cutoff, since, counts, deadline)
        done = done and _runs_retention(workspace, cutoff, since, counts, deadline)
        if done:
            Workspace.objects.filter(pk=workspace.pk).update(retention_content_through=cutoff)
        counts["done"] = done
    if workspace.webhook_body_retention_days is not None:
        cutoff = now - timedelta(days=workspace.webhook_body_retention_days)
        events = WebhookEvent.objects.filter(workspace=workspace)
        progress = _webhooks_retention(events, cutoff, workspace.retention_webhooks_through, counts, deadline, now)
        Workspace.objects.filter(pk=workspace.pk).update(retention_webhooks_through=progress)
        counts["done"] = counts["done"] and progress == cutoff
    file_deletions_run(workspace_id=workspace.pk)
    changed = {k: v for k, v in counts.items() if k != "done" and v}
    if changed:
        audit_if_installed(
            action="retention.applied", workspace=workspace, actor="system", target=workspace, changes=changed
        )
        logger.info("retention applied", extra={"workspace_id": workspace.pk, **changed})
    return counts


def _messages_retention(workspace, cutoff, since, counts, deadline) -> bool:
    aged = Message.objects.filter(workspace=workspace, timestamp__lt=cutoff).filter(MESSAGE_HAS_CONTENT)
    if since is not None:
        aged = aged.filter(timestamp__gte=since)
    while not out_of_time(deadline):
        ids = list(aged.order_by().values_list("pk", flat=True)[:MESSAGE_BATCH])
        if not ids:
            return True
        with transaction.atomic():
            messages, files = messages_strip(
                Message.objects.filter(pk__in=ids),
                fields=MESSAGE_CONTENT_REMOVED,
                reason="retention",
                workspace_id=workspace.pk,
            )
        counts["messages"] += messages
        counts["media_files"] += files
        file_deletions_run(workspace_id=workspace.pk)
    return False


def _runs_retention(workspace, cutoff, since, counts, deadline) -> bool:
    aged = AgentRun.objects.filter(workspace=workspace, started_at__lt=cutoff).filter(RUN_HAS_CONTENT)
    if since is not None:
        aged = aged.filter(started_at__gte=since)
    while not out_of_time(deadline):
        with transaction.atomic():
            runs = list(aged.select_for_update(no_key=True).only("pk", "tool_calls").order_by()[:RUN_BATCH])
            if not runs:
                return True
            counts["agent_runs"] += agent_runs_redact(runs)
    return False


def _webhooks_retention(events, cutoff, through, counts, deadline, now) -> datetime:
    """Redact ledger bodies received before `cutoff`, oldest first; returns how far it got."""
    events = events.filter(received_at__lt=cutoff).exclude(headers__has_key=REDACTED_HEADER)
    if through is not None:
        events = events.filter(received_at__gte=through - timedelta(hours=1))
    position = None
    while not out_of_time(deadline):
        page = events.order_by("received_at", "pk")
        if position is not None:
            page = page.filter(Q(received_at__gt=position[0]) | Q(received_at=position[0], pk__gt=position[1]))
        batch = list(page.values_list("pk", "received_at", "body", "headers", "error")[:WEBHOOK_BATCH])
        if not batch:
            return cutoff
        with transaction.atomic():
            for pk, _received_at, body, headers, error in batch:
                webhook_event_redact(pk, bytes(body or b""), headers, error, reason="retention", at=now)
                counts["webhook_bodies"] += 1
        position = (batch[-1][1], batch[-1][0])
    # Out of time: the next run starts near the last body handled (or where this one started).
    return position[0] if position else through


def orphan_webhooks_retention(*, now: datetime, deadline: float | None = None) -> int:
    """Webhooks never tied to a workspace (bad signature, unknown number) get a platform-wide limit.

    They are few, and there is no workspace to keep progress on: the marker header tells the
    redacted ones apart instead.
    """
    cutoff = now - timedelta(days=ORPHAN_WEBHOOK_BODY_DAYS)
    pending = WebhookEvent.objects.filter(workspace__isnull=True, received_at__lt=cutoff).exclude(
        headers__has_key=REDACTED_HEADER
    )
    redacted = 0
    while not out_of_time(deadline):
        batch = list(pending.order_by("pk").values_list("pk", "body", "headers", "error")[:WEBHOOK_BATCH])
        if not batch:
            break
        with transaction.atomic():
            for pk, body, headers, error in batch:
                webhook_event_redact(pk, bytes(body or b""), headers, error, reason="retention", at=now)
                redacted += 1
    return redacted


def erased_contacts_sweep(*, deadline: float | None = None) -> dict[str, int]:
    """What reached an erased contact's rows after the erasure (a media download or an agent turn that was
    already under way) is removed the same way."""
    erased = Contact.objects.filter(user_id__startswith=ERASED_PREFIX)
    counts = {"messages": 0, "agent_runs": 0}
    late = Message.objects.filter(contact__in=erased).filter(MESSAGE_HAS_CONTENT | Q(wamid__isnull=False))
    while not out_of_time(deadline):
        batch = list(late.order_by().values_list("pk", "workspace_id")[:MESSAGE_BATCH])
        if not batch:
            break
        for workspace_id in {w for _pk, w in batch}:
            with transaction.atomic():
                ids = [pk for pk, w in batch if w == workspace_id]
                counts["messages"] += messages_strip(
                    Message.objects.filter(pk__in=ids),
                    fields=MESSAGE_ERASED,
                    reason="erasure",
                    workspace_id=workspace_id,
                )[0]
    runs = AgentRun.objects.filter(conversation__contact__in=erased).filter(RUN_HAS_CONTENT)
    while not out_of_time(deadline):
        with transaction.atomic():
            batch = list(
                runs.select_for_update(no_key=True, of=("self",)).only("pk", "tool_calls").order_by()[:RUN_BATCH]
            )
            if not batch:
                break
            counts["agent_runs"] += agent_runs_redact(batch)
    return counts


def retention_apply_all(*, now: datetime | None = None, time_budget_seconds: float = 300.0) -> dict[str, Any]:
    """The daily job: every workspace's policy, orphan webhooks, late writes to erased contacts, and
    file deletions that failed before. Returns totals and whether everything was done in the budget."""
    now = now or timezone.now()
    deadline = time.monotonic() + time_budget_seconds
    totals: dict[str, Any] = {"workspaces": 0, "messages": 0, "media_files": 0, "agent_runs": 0, "webhook_bodies": 0}
    done = True
    workspaces = Workspace.objects.filter(
        Q(retention_days__isnull=False) | Q(webhook_body_retention_days__isnull=False)
    ).order_by("pk")
    for workspace in workspaces:
        if out_of_time(deadline):
            done = False
            break
        counts = workspace_retention_apply(workspace=workspace, now=now, deadline=deadline)
        done = done and counts.pop("done")
        totals["workspaces"] += 1
        for key, value in counts.items():
            totals[key] += value
    totals["webhook_bodies"] += orphan_webhooks_retention(now=now, deadline=deadline)
    swept = erased_contacts_sweep(deadline=deadline)
    totals["erased_contacts_swept"] = swept["messages"] + swept["agent_runs"]
    totals["files"] = file_deletions_run()
    totals["done"] = done and not out_of_time(deadline)
    return totals
