"""Message templates: mirrored from Meta, created and deleted through Graph, sent with their parameters.

Meta owns a template's definition and status. Our rows mirror them per (WABA, name, language):
- a sync lists every page of the account's templates and upserts them; a template Meta no longer
  lists is kept with status DELETED (never removed: sent messages name it, staff must see what went out);
- status, category and quality webhooks update a row at once, and one naming a template we have
  never seen asks for a sync of its account;
- a sync is a TemplateSync row first, run by a task, swept when its task was lost.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from audit_app.services import audit_record
from channels_app.models import Channel, MessageTemplate, TemplateSync
from channels_app.selectors import template_channels, template_for_send, templates_approved
from channels_app.services.channels import channel_flag_needs_reconnection, graph_client_for_channel
from channels_app.whatsapp import errors as graph_errors
from channels_app.whatsapp.payloads import PayloadInvalid, media_check
from channels_app.whatsapp.template_rules import (
    MEDIA_HEADER_FORMATS,
    TemplateDefinitionInvalid,
    TemplateDraft,
    TemplateParametersInvalid,
    TemplateProblem,
    template_definition_build,
    template_definition_problems,
    template_parameters_check,
)
from events_app.services import template_status_emit
from whatsapp_platform.errors import Conflict, InvalidInput
from whatsapp_platform.task_queue import task_enqueue
from workspaces_app.models import Membership, Role

logger = logging.getLogger(__name__)

SYNC_PAGE_SIZE = 100
# A running sync older than this lost its worker; a pending one older than the grace lost its task.
SYNC_LEASE_SECONDS = 600
SYNC_PENDING_GRACE_SECONDS = 120
SYNC_MAX_ATTEMPTS = 3
# Statuses staff are emailed about: the template stopped (or never started) reaching customers.
NOTIFY_STATUSES = frozenset({"REJECTED", "PAUSED", "DISABLED"})
_OPEN = (TemplateSync.State.PENDING, TemplateSync.State.RUNNING)
# Templates' media headers (reference §5.9: documents are PDF only for templates).
_HEADER_SAMPLE_TYPES = {
    "IMAGE": ("image/jpeg", "image/png"),
    "VIDEO": ("video/mp4",),
    "DOCUMENT": ("application/pdf",),
}


class TemplateUnavailable(InvalidInput):
    """A send names a template that cannot go out as given (unsynced, not approved, wrong parameters)."""

    code = "template_unavailable"


class TemplateSyncFailed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- sync --------------------------------------------------------------------------------------


def _sync_run_on_commit(sync_id: int) -> None:
    transaction.on_commit(lambda: task_enqueue("channels.template_sync_run", sync_id))


def template_sync_request(*, channel: Channel, trigger: str) -> TemplateSync:
    """The account's open sync, or a new one; a waiting sync's task is (re)enqueued on commit.

    Joining the open sync keeps a storm of webhooks, the schedule and the button from piling up
    syncs; enqueueing a waiting one again is safe because running it starts with a claim.
    """
    if not channel.waba_id:
        raise InvalidInput(
            f"'{channel.name}' is not connected to a WhatsApp Business Account yet: connect it first.", field="channel"
        )
    sync = None
    for _attempt in range(3):
        sync = TemplateSync.objects.filter(waba_id=channel.waba_id, state__in=_OPEN).first()
        if sync is not None:
            break
        try:
            with transaction.atomic():
                sync = TemplateSync.objects.create(
                    workspace_id=channel.workspace_id, channel=channel, waba_id=channel.waba_id, trigger=trigger
                )
            break
        except IntegrityError:  # another request opened one a moment ago: join it
            continue
    if sync is None:
        raise Conflict("A template sync is starting for this account; try again in a moment.")
    if sync.state == TemplateSync.State.PENDING:
        _sync_run_on_commit(sync.pk)
    return sync


def template_sync_request_all() -> int:
    """The periodic sync: one request per account that has an active WhatsApp number."""
    requested = 0
    seen: set[str] = set()
    channels = Channel.objects.whatsapp().filter(status=Channel.Status.ACTIVE).exclude(waba_id="").order_by("pk")
    for channel in channels:
        if channel.waba_id in seen:
            continue
        seen.add(channel.waba_id)
        template_sync_request(channel=channel, trigger=TemplateSync.Trigger.PERIODIC)
        requested += 1
    return requested


def template_sync_run(*, sync_id: int) -> TemplateSync | None:
    """Run one requested sync, once: claimed by a conditional update, settled as succeeded or failed."""
    now = timezone.now()
    claimed = TemplateSync.objects.filter(pk=sync_id, state=TemplateSync.State.PENDING).update(
        state=TemplateSync.State.RUNNING, started_at=now, attempts=F("attempts") + 1
    )
    if claimed != 1:
        return None
    sync = TemplateSync.objects.select_related("channel").get(pk=sync_id)
    try:
        counts = templates_sync(channel=sync.channel, since=now)
    except TemplateSyncFailed as exc:
        _sync_settle(sync, state=TemplateSync.State.FAILED, error=exc.message)
        logger.warning("template sync failed", extra={"template_sync_id": sync.pk, "error": exc.message})
    except Exception as exc:  # a bug must not leave the sync "running" until the lease runs out
        logger.exception("template sync crashed", extra={"template_sync_id": sync.pk})
        _sync_settle(sync, state=TemplateSync.State.FAILED, error=f"Unexpected error: {type(exc).__name__}: {exc}")
    else:
        _sync_settle(
            sync,
            state=TemplateSync.State.SUCCEEDED,
            created_count=counts["created"],
            updated_count=counts["updated"],
            removed_count=counts["removed"],
        )
        logger.info(
            "templates synced", extra={"template_sync_id": sync.pk, **{f"{k}_count": v for k, v in counts.items()}}
        )
    sync.refresh_from_db()
    return sync


def _sync_settle(sync: TemplateSync, **fields) -> None:
    TemplateSync.objects.filter(pk=sync.pk, state=TemplateSync.State.RUNNING).update(
        finished_at=timezone.now(), **fields
    )


def _graph_failure(channel: Channel, exc: graph_errors.GraphError, doing: str) -> str:
    if exc.kind == graph_errors.AUTH:
        channel_flag_needs_reconnection(
            channel_id=channel.pk,
            reason=f"WhatsApp refused the access token ({exc.code}: {exc.details or exc.title}). "
            "Reconnect the channel.",
        )
        return f"WhatsApp refused '{channel.name}'s access token while {doing}: reconnect the channel."
    reason = exc.details or exc.title or exc.plain_reason or str(exc)
    return f"WhatsApp answered with an error while {doing}: {reason}"


def templates_sync(*, channel: Channel, since: datetime, page_size: int = SYNC_PAGE_SIZE) -> dict[str, int]:
    """Mirror every template of the channel's account. Returns {created, updated, removed}.

    Every page is read before anything is marked missing, so a failure half-way marks nothing.
    `since` is when the listing began: a row written after it (a template created or updated
    meanwhile) is not marked missing just because the listing started before it existed.
    """
    if channel.status != Channel.Status.ACTIVE or not channel.access_token:
        raise TemplateSyncFailed(
            f"'{channel.name}' is {channel.get_status_display().lower()}: reconnect it, then sync again."
        )
    graph = graph_client_for_channel(channel)
    remote: list[dict] = []
    after: str | None = None
    seen_cursors: set[str] = set()
    try:
        while True:
            page, after = graph.templates_page(channel.waba_id, after=after, limit=page_size)
            remote.extend(page)
            if after is None or after in seen_cursors:  # a repeated cursor would loop forever
                break
            seen_cursors.add(after)
    except graph_errors.GraphError as exc:
        raise TemplateSyncFailed(_graph_failure(channel, exc, "listing the templates"))
    now = timezone.now()
    counts = {"created": 0, "updated": 0, "removed": 0}
    present: set[tuple[str, str]] = set()
    for item in remote:
        name, language = str(item.get("name") or ""), str(item.get("language") or "")
        if not name or not language:
            continue
        present.add((name, language))
        outcome = _template_upsert(channel=channel, item=item, now=now)
        if outcome:
            counts[outcome] += 1
    missing = (
        MessageTemplate.objects.filter(waba_id=channel.waba_id, workspace_id=channel.workspace_id, updated_at__lt=since)
        .exclude(status="DELETED")
        .only("pk", "name", "language")
    )
    for template in missing:
        if (template.name, template.language) not in present:
            MessageTemplate.objects.filter(pk=template.pk, updated_at__lt=since).update(
                status="DELETED", updated_at=now
            )
            counts["removed"] += 1
    return counts


def _quality(item: dict) -> str:
    score = item.get("quality_score")
    if isinstance(score, dict):
        score = score.get("score")
    return str(score or "")[:16]


@transaction.atomic
def _template_upsert(*, channel: Channel, item: dict, now: datetime) -> str:
    """Store one template from Meta's list; returns "created", "updated" or "" (unchanged)."""
    name, language = str(item["name"]), str(item["language"])
    template = (
        MessageTemplate.objects.select_for_update(no_key=True)
        .filter(waba_id=channel.waba_id, name=name, language=language)
        .first()
    )
    created = False
    if template is None:
        try:
            with transaction.atomic():
                template = MessageTemplate.objects.create(
                    workspace_id=channel.workspace_id, waba_id=channel.waba_id, name=name, language=language
                )
            created = True
        except IntegrityError:  # a webhook or another sync stored it a moment ago
            template = MessageTemplate.objects.select_for_update(no_key=True).get(
                waba_id=channel.waba_id, name=name, language=language
            )
    before = _mirrored(template)
    old_status = template.status
    template.meta_id = str(item.get("id") or template.meta_id)
    template.status = str(item.get("status") or template.status).upper()
    template.category = str(item.get("category") or template.category).upper()
    template.parameter_format = str(item.get("parameter_format") or template.parameter_format or "POSITIONAL").upper()
    if isinstance(item.get("components"), list):
        template.components = item["components"]
    template.quality = _quality(item) or template.quality
    if template.status == "REJECTED":
        # The webhook's rejection_info is worded for people; the list only has a code. Keep the better one.
        code = str(item.get("rejected_reason") or "")
        if code and code != "NONE" and not template.rejection_reason:
            template.rejection_reason = code
    elif template.status == "APPROVED":
        template.rejection_reason, template.recommendation = "", ""
    template.synced_at = now
    template.save()
    if template.status != old_status:
        _status_changed(template, old_status)
    if created:
        return "created"
    return "updated" if _mirrored(template) != before else ""


def _mirrored(template: MessageTemplate) -> tuple:
    return (
        template.meta_id,
        template.status,
        template.category,
        template.parameter_format,
        template.components,
        template.quality,
        template.rejection_reason,
    )


def template_syncs_sweep() -> dict[str, int]:
    """Re-enqueue syncs whose task was lost; give running ones whose worker died another go (or fail them)."""
    now = timezone.now()
    counts = {"requeued": 0, "restarted": 0, "failed": 0}
    waiting = TemplateSync.objects.filter(
        state=TemplateSync.State.PENDING, requested_at__lte=now - timedelta(seconds=SYNC_PENDING_GRACE_SECONDS)
    )
    for sync_id in waiting.values_list("pk", flat=True)[:500]:
        _sync_run_on_commit(sync_id)
        counts["requeued"] += 1
    stuck = TemplateSync.objects.filter(
        state=TemplateSync.State.RUNNING, started_at__lte=now - timedelta(seconds=SYNC_LEASE_SECONDS)
    )
    for sync in stuck[:500]:
        if sync.attempts >= SYNC_MAX_ATTEMPTS:
            if TemplateSync.objects.filter(pk=sync.pk, state=TemplateSync.State.RUNNING).update(
                state=TemplateSync.State.FAILED,
                finished_at=now,
                error=f"The sync stopped {sync.attempts} times before finishing; it was given up. Click Sync now.",
            ):
                counts["failed"] += 1
        elif TemplateSync.objects.filter(pk=sync.pk, state=TemplateSync.State.RUNNING).update(
            state=TemplateSync.State.PENDING
        ):
            _sync_run_on_commit(sync.pk)
            counts["restarted"] += 1
    return counts


def templates_sync_after_connect(*, channel: Channel) -> None:
    """A channel just became active: mirror its account's templates (the task runs after commit)."""
    if channel.waba_id and channel.provider != Channel.Provider.TEST_CONSOLE:
        template_sync_request(channel=channel, trigger=TemplateSync.Trigger.CONNECT)


# --- webhooks ----------------------------------------------------------------------------------


@transaction.atomic
def template_event_apply(*, workspace_id: int, waba_id: str, field: str, value: dict) -> MessageTemplate | None:
    """Apply a template status, category or quality webhook to the stored template.

    A template we have never synced is stored from what the webhook says, and a sync of its
    account is requested to fill in its definition.
    """
    meta_id = str(value.get("message_template_id") or "")
    name = value.get("message_template_name") or ""
    language = value.get("message_template_language") or ""
    template = (
        MessageTemplate.objects.select_for_update(no_key=True).filter(waba_id=waba_id, meta_id=meta_id).first()
        if meta_id
        else None
    )
    created = False
    if template is None and name and language:
        template, created = MessageTemplate.objects.select_for_update(no_key=True).get_or_create(
            waba_id=waba_id, name=name, language=language, defaults={"workspace_id": workspace_id, "meta_id": meta_id}
        )
    if template is None:
        _sync_unknown_template(workspace_id=workspace_id, waba_id=waba_id)
        return None
    old_status = "" if created else template.status
    if field == "message_template_status_update":
        template.status = str(value.get("event") or template.status)
        rejection = value.get("rejection_info") or {}
        template.rejection_reason = rejection.get("reason") or (value.get("reason") or "")
        if template.rejection_reason == "NONE":
            template.rejection_reason = ""
        template.recommendation = rejection.get("recommendation") or ""
        other = value.get("other_info") or {}
        if other.get("description") and template.status in ("PAUSED", "DISABLED"):
            template.recommendation = str(other["description"])
        if value.get("message_template_category"):
            template.category = value["message_template_category"]
    elif field == "template_category_update":
        if "previous_category" in value:  # completed change; the impending notice only warns
            template.category = value.get("new_category") or template.category
    elif field == "message_template_quality_update":
        template.quality = value.get("new_quality_score") or template.quality
    template.meta_id = template.meta_id or meta_id
    template.save()
    if template.status != old_status:
        _status_changed(template, old_status)
    if created or not template.components:
        _sync_unknown_template(workspace_id=workspace_id, waba_id=waba_id)
    return template


def _sync_unknown_template(*, workspace_id: int, waba_id: str) -> None:
    channel = (
        Channel.objects.whatsapp()
        .filter(workspace_id=workspace_id, waba_id=waba_id, status=Channel.Status.ACTIVE)
        .order_by("pk")
        .first()
    )
    if channel is None:
        logger.info("unknown template announced for an account without an active channel", extra={"waba_id": waba_id})
        return
    template_sync_request(channel=channel, trigger=TemplateSync.Trigger.WEBHOOK)


def _status_changed(template: MessageTemplate, old_status: str) -> None:
    template_status_emit(template=template, previous_status=old_status)
    logger.info(
        "template status changed",
        extra={"template_id": template.pk, "from": old_status, "to": template.status, "template_name": template.name},
    )
    if template.status in NOTIFY_STATUSES:
        template_id, status = template.pk, template.status
        transaction.on_commit(lambda: task_enqueue("channels.template_status_notify", template_id, status))


_NOTIFY_WORDING = {
    "REJECTED": ("was rejected by Meta", "Edit the template as Meta recommends and submit it again."),
    "PAUSED": (
        "was paused by Meta for low quality",
        "Customers are not receiving it. Review its wording, or use another template meanwhile.",
    ),
    "DISABLED": (
        "was disabled by Meta",
        "It was paused too often and cannot be sent again. Create a new template.",
    ),
}


def template_status_notify(*, template_id: int, status: str) -> int:
    """Email the workspace's owners and admins that a template was rejected, paused or disabled.

    Returns how many were told. SMTP errors propagate so the task retries them.
    """
    template = MessageTemplate.objects.select_related("workspace").filter(pk=template_id).first()
    if template is None or template.status != status or status not in _NOTIFY_WORDING:
        return 0  # its status moved on since
    recipients = list(
        Membership.objects.filter(workspace=template.workspace, role__in=[Role.OWNER, Role.ADMIN], user__is_active=True)
        .values_list("user__email", flat=True)
        .distinct()
    )
    if not recipients:
        return 0
    happened, advice = _NOTIFY_WORDING[status]
    link = settings.SITE_URL + reverse("template_detail", args=[template.workspace.slug, template.public_id])
    lines = [f"The WhatsApp template {template.name} ({template.language}) {happened}."]
    if template.rejection_reason:
        lines.append(f"Reason: {template.rejection_reason}")
    if template.recommendation:
        lines.append(f"Meta's recommendation: {template.recommendation}")
    lines += ["", advice, "", f"See it here: {link}"]
    send_mail(
        subject=f"WhatsApp template {template.name} ({template.language}) {happened}",
        message="\n".join(lines) + "\n",
        from_email=None,
        recipient_list=recipients,
        fail_silently=False,
    )
    return len(recipients)


# --- create and delete -------------------------------------------------------------------------


def _channel_ready(channel: Channel) -> None:
    if channel.status != Channel.Status.ACTIVE or not channel.waba_id:
        raise InvalidInput(
            f"'{channel.name}' is {channel.get_status_display().lower()}: connect it before managing templates.",
            field="channel",
        )


def _header_sample_problems(draft: TemplateDraft, header_file: tuple[bytes, str, str] | None) -> list:
    header_format = (draft.header_format or "").strip().upper()
    if header_file is None:
        return []
    if header_format not in MEDIA_HEADER_FORMATS:
        return [TemplateProblem("header_file", "A sample file is only for image, video or document headers.")]
    content, mime_type, _filename = header_file
    allowed = _HEADER_SAMPLE_TYPES[header_format]
    if mime_type not in allowed:
        return [
            TemplateProblem(
                "header_file",
                f"A {header_format.lower()} header takes {' or '.join(t.split('/')[1].upper() for t in allowed)} "
                f"files, not {mime_type or 'this file'}.",
            )
        ]
    try:
        media_check(header_format.lower(), mime_type, len(content))
    except PayloadInvalid as exc:
        return [TemplateProblem("header_file", exc.reason[:1].upper() + exc.reason[1:] + ".")]
    return []


def template_create(
    *, channel: Channel, draft: TemplateDraft, header_file: tuple[bytes, str, str] | None = None
) -> MessageTemplate:
    """Check the draft against Meta's rules, upload a media header's sample, submit it, store it PENDING.

    `header_file` is (bytes, MIME type, filename). Raises TemplateDefinitionInvalid listing every
    broken rule, or InvalidInput/Conflict with Meta's own words when Graph refuses.
    """
    _channel_ready(channel)
    if header_file is not None and not draft.header_handle:
        draft.header_handle = "pending-upload"  # checked now; the real handle comes from the upload below
    problems = template_definition_problems(draft) + _header_sample_problems(draft, header_file)
    if problems:
        raise TemplateDefinitionInvalid(problems)
    existing = (
        MessageTemplate.objects.filter(waba_id=channel.waba_id, name=draft.name, language=draft.language)
        .exclude(status="DELETED")
        .first()
    )
    if existing is not None:
        raise Conflict(
            f"{draft.name} already exists in {draft.language} ({existing.status.lower()}). Choose another name, "
            "or add another language.",
            field="name",
        )
    graph = graph_client_for_channel(channel)
    try:
        if header_file is not None:
            if not channel.meta_app_id:
                raise InvalidInput(
                    "Uploading a sample needs the ID of the Meta app the channel's token belongs to: add it when "
                    "reconnecting the channel by hand.",
                    field="header_file",
                )
            content, mime_type, filename = header_file
            draft.header_handle = graph.resumable_upload(
                app_id=channel.meta_app_id, content=content, mime_type=mime_type, filename=filename
            )
        definition = template_definition_build(draft)
        answer = graph.template_create(channel.waba_id, definition)
    except PayloadInvalid as exc:
        raise InvalidInput(exc.reason, field=exc.field) from None
    except graph_errors.GraphOutcomeUnknown:
        # Meta may have created it: a sync will show it if so, and resubmitting would only be refused.
        template_sync_request(channel=channel, trigger=TemplateSync.Trigger.MANUAL)
        raise InvalidInput(
            "WhatsApp did not answer in time; the template may have been created. Templates are being synced: "
            "check the list in a minute before submitting again."
        ) from None
    except graph_errors.GraphError as exc:
        if exc.kind == graph_errors.AUTH:
            raise InvalidInput(_graph_failure(channel, exc, "submitting the template"), field="channel") from None
        raise InvalidInput(f"WhatsApp refused the template: {exc.details or exc.title or exc}") from None
    template = _submitted_store(channel=channel, definition=definition, answer=answer)
    logger.info("template submitted", extra={"template_id": template.pk, "status": template.status})
    audit_record(
        action="template.submitted",
        target=template,
        changes={"category": [None, template.category], "status": [None, template.status]},
    )
    return template


@transaction.atomic
def _submitted_store(*, channel: Channel, definition: dict, answer: dict) -> MessageTemplate:
    """Store what was just submitted. Meta's review webhook can arrive before this runs (and store the
    template first, from its own words): its status is then newer than the PENDING we were answered."""
    meta_id = str(answer.get("id") or "")
    key = {"waba_id": channel.waba_id, "name": definition["name"], "language": definition["language"]}
    template = MessageTemplate.objects.select_for_update(no_key=True).filter(**key).first()
    created = False
    if template is None:
        try:
            with transaction.atomic():
                template = MessageTemplate.objects.create(workspace_id=channel.workspace_id, meta_id=meta_id, **key)
            created = True
        except IntegrityError:  # the review webhook stored it a moment ago
            template = MessageTemplate.objects.select_for_update(no_key=True).get(**key)
    reviewed_first = not created and bool(meta_id) and template.meta_id == meta_id
    if not reviewed_first:
        # A new row, or an older template of that name (deleted before): start from Meta's answer.
        template.status = str(answer.get("status") or "PENDING").upper()
        template.quality, template.rejection_reason, template.recommendation = "", "", ""
    template.meta_id = meta_id or template.meta_id
    template.category = str(answer.get("category") or definition["category"]).upper()
    template.parameter_format = definition["parameter_format"].upper()
    template.components = definition["components"]
    template.synced_at = timezone.now()
    template.save()
    return template


def template_delete(*, template: MessageTemplate) -> MessageTemplate:
    """Delete this language of the template at Meta, then mark it DELETED (the row stays as history)."""
    if template.status == "DELETED":
        return template
    if not template.meta_id:
        raise InvalidInput("This template has not been synced from Meta yet: sync templates, then delete it.")
    channel = template_channels(template=template).order_by("pk").first()
    if channel is None:
        raise InvalidInput("No active channel reaches this template's WhatsApp Business Account: reconnect one first.")
    try:
        graph_client_for_channel(channel).template_delete(template.waba_id, name=template.name, hsm_id=template.meta_id)
    except graph_errors.GraphError as exc:
        if exc.kind == graph_errors.AUTH:
            raise InvalidInput(_graph_failure(channel, exc, "deleting the template")) from None
        raise InvalidInput(f"WhatsApp refused to delete the template: {exc.details or exc.title or exc}") from None
    MessageTemplate.objects.filter(pk=template.pk).update(status="DELETED", updated_at=timezone.now())
    audit_record(action="template.deleted", target=template, changes={"status": [template.status, "DELETED"]})
    template.refresh_from_db()
    logger.info("template deleted", extra={"template_id": template.pk})
    return template


# --- sending -----------------------------------------------------------------------------------


def template_sendable(*, channel: Channel, content: dict, contact=None) -> MessageTemplate:
    """The synced, approved template a send names, its parameters checked; TemplateUnavailable otherwise.

    Called by message_send for every template message, before any row or network call.
    """
    name = content.get("name") if isinstance(content, dict) else None
    language = (content.get("language") or {}).get("code") if isinstance(content, dict) else None
    if not isinstance(name, str) or not name or not isinstance(language, str) or not language:
        raise TemplateUnavailable("Name the template and its language code.", field="template")
    template = template_for_send(channel=channel, name=name, language=language)
    if template is None:
        approved = [f"{t.name} ({t.language})" for t in templates_approved(channel=channel)[:20]]
        raise TemplateUnavailable(
            f"The template {name} ({language}) is not among the synced templates of '{channel.name}'s WhatsApp "
            "Business Account. Check the name and language, or sync templates if it was created elsewhere."
            + (f" Approved: {', '.join(approved)}." if approved else " No approved template is synced yet."),
            field="template",
        )
    if template.status != "APPROVED":
        why = f" ({template.rejection_reason})" if template.rejection_reason else ""
        raise TemplateUnavailable(
            f"The template {name} ({language}) is {template.status.lower()}{why}: WhatsApp sends only approved "
            "templates.",
            field="template",
        )
    if template.category == "AUTHENTICATION" and contact is not None and not contact.wa_id:
        raise TemplateUnavailable(
            "Authentication templates need the customer's phone number; this contact is known only by a "
            "business-scoped user id.",
            field="template",
        )
    try:
        template_parameters_check(template.components, template.parameter_format, content.get("components"))
    except TemplateParametersInvalid as exc:
        raise TemplateUnavailable(f"{name} ({language}): {exc.message}", field="template") from None
    return template
