"""Connecting a channel: Embedded Signup (Login with Facebook) or credentials entered by hand.

Each step is logged for staff (ChannelSetupEvent) and in the log. Nothing about the channel
is written until every step passed, so a failure never leaves a half-configured channel
marked active; a reconnect that fails leaves the working credentials in place.
"""

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit_app.services import audit_diff, audit_record, audit_snapshot
from channels_app.models import Channel, ChannelSetupEvent
from channels_app.services.channels import graph_client
from channels_app.services.templates import templates_sync_after_connect
from channels_app.whatsapp import errors as graph_errors
from channels_app.whatsapp.client import GraphClient
from channels_app.whatsapp.payloads import PayloadInvalid
from whatsapp_platform.errors import PlatformError

logger = logging.getLogger(__name__)

REQUIRED_SCOPES = ("whatsapp_business_management", "whatsapp_business_messaging")
PHONE_FIELDS = [
    "display_phone_number",
    "verified_name",
    "quality_rating",
    "status",
    "name_status",
    "code_verification_status",
    "whatsapp_business_manager_messaging_limit",
    "throughput",
]
SIGNUP_EVENTS = ("FINISH", "FINISH_ONLY_WABA", "FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING")


class ChannelSetupFailed(PlatformError):
    code = "channel_setup_failed"
    http_status = 400

    def __init__(self, message: str, *, step: str, field: str | None = None):
        super().__init__(message, field=field)
        self.step = step


def embedded_signup_uses_emulator() -> bool:
    """True when no real Meta app is configured and the local emulator stands in for Meta."""
    return settings.WHATSAPP_EMULATOR_ENABLED and settings.META_APP_ID == settings.EMULATOR_META_APP_ID


def _meta_graph(access_token: str = "") -> GraphClient:
    """Graph as the platform's own Meta app sees it (the emulator when it stands in for Meta)."""
    base_url = settings.WHATSAPP_EMULATOR_GRAPH_URL if embedded_signup_uses_emulator() else settings.GRAPH_API_BASE_URL
    return graph_client(base_url=base_url, access_token=access_token)


def _log(channel: Channel, step: str, ok: bool, message: str) -> None:
    ChannelSetupEvent.objects.create(channel=channel, step=step, ok=ok, message=message[:2000])
    (logger.info if ok else logger.warning)(
        "channel setup step", extra={"channel_id": channel.pk, "step": step, "ok": ok, "detail": message}
    )


def _fail(channel: Channel, step: str, message: str, *, field: str | None = None) -> ChannelSetupFailed:
    _log(channel, step, False, message)
    Channel.objects.filter(pk=channel.pk).update(status_reason=message[:2000], updated_at=timezone.now())
    return ChannelSetupFailed(message, step=step, field=field)


def _number_taken_message(*, phone_number_id: str, channel: Channel, shown_as: str = "") -> str:
    """Why the number cannot be connected to `channel`, or "" when it is free. Call only after Meta has
    accepted the caller's credentials for the number. Another workspace's channel is never named."""
    taken = Channel.objects.filter(phone_number_id=phone_number_id).exclude(pk=channel.pk).first()
    if taken is None:
        return ""
    number = shown_as or phone_number_id
    if taken.workspace_id == channel.workspace_id:
        return f"{number} is already connected as channel '{taken.name}'. Reconnect that channel instead."
    return (
        f"{number} is already connected to another workspace on this platform. Disconnect it there first, "
        "or ask its owners to."
    )


def channel_create(*, workspace, name: str) -> Channel:
    """A new channel waiting to be connected."""
    name = (name or "").strip()
    if not name:
        raise PlatformError("Give the channel a label, e.g. 'WhatsApp Support UK'.", field="name")
    if len(name) > 120:
        raise PlatformError(f"The label is {len(name)} characters; keep it to 120.", field="name")
    channel = Channel.objects.create(workspace=workspace, name=name, status=Channel.Status.PENDING)
    audit_record(action="channel.created", target=channel)
    return channel


def channel_signup_cancelled(*, channel: Channel, event: str, data: dict) -> str:
    """Record where the person left Meta's popup, and say so in words."""
    if data.get("error_message"):
        message = (
            f"Meta reported an error during signup: {data.get('error_message')} (code {data.get('error_code')}, "
            f"session {data.get('session_id')}). Try again; if it repeats, give Meta support the session id."
        )
    else:
        step = str(data.get("current_step") or "an early step").replace("_", " ").lower()
        message = f"The Facebook window was closed at {step}. Click Login with Facebook to finish connecting."
    _log(channel, "signup_cancelled", False, message)
    Channel.objects.filter(pk=channel.pk).update(status_reason=message, updated_at=timezone.now())
    return message


@dataclass(frozen=True)
class SignupResult:
    channel: Channel
    generated_pin: str | None  # shown once when we chose the two-step verification PIN


def _granted(debug: dict, scope: str, waba_id: str) -> tuple[bool, bool]:
    """(scope granted, this WABA among its targets)."""
    for entry in debug.get("granular_scopes") or []:
        if entry.get("scope") == scope:
            targets = [str(t) for t in entry.get("target_ids") or []]
            return True, (not targets) or waba_id in targets
    return scope in (debug.get("scopes") or []), False


def channel_embedded_signup_complete(
    *, channel: Channel, code: str, waba_id: str, phone_number_id: str | None = None, pin: str | None = None
) -> SignupResult:
    """Finish Embedded Signup for `channel` (new, or reconnecting with a new token)."""
    code, waba_id, phone_number_id = (code or "").strip(), (waba_id or "").strip(), (phone_number_id or "").strip()
    if not code:
        raise _fail(channel, "exchange_code", "Meta sent no login code. Click Login with Facebook again.")
    if not waba_id:
        raise _fail(channel, "exchange_code", "Meta did not say which WhatsApp Business Account was shared. Try again.")
    if pin and not (len(pin) == 6 and pin.isdigit()):
        raise _fail(channel, "register", "The PIN must be exactly 6 digits.", field="pin")

    # 1. The login code (30 s, single use) becomes the business token.
    try:
        exchanged = _meta_graph().oauth_code_exchange(
            app_id=settings.META_APP_ID, app_secret=settings.META_APP_SECRET, code=code
        )
    except graph_errors.GraphError as exc:
        raise _fail(
            channel,
            "exchange_code",
            f"Meta refused the login code ({exc.plain_reason or exc}). Login codes work once and only for 30 "
            "seconds: click Login with Facebook again.",
        ) from None
    token = exchanged.get("access_token") or ""
    if not token:
        raise _fail(channel, "exchange_code", "Meta's answer had no access token. Click Login with Facebook again.")
    _log(channel, "exchange_code", True, "Login code exchanged for a business token.")

    # 2. The token is valid, and grants both WhatsApp permissions on this WABA.
    try:
        debug = _meta_graph().debug_token(
            input_token=token, app_id=settings.META_APP_ID, app_secret=settings.META_APP_SECRET
        )
    except graph_errors.GraphError as exc:
        raise _fail(
            channel, "check_token", f"Meta could not check the token ({exc.plain_reason or exc}). Try again."
        ) from None
    if not debug.get("is_valid"):
        raise _fail(channel, "check_token", "Meta says the new token is not valid. Click Login with Facebook again.")
    for scope in REQUIRED_SCOPES:
        granted, covers_waba = _granted(debug, scope, waba_id)
        if not granted:
            raise _fail(
                channel,
                "check_token",
                f"The permission '{scope}' was not granted. Run Login with Facebook again and keep every "
                "permission ticked.",
            )
        if not covers_waba:
            raise _fail(
                channel,
                "check_token",
                f"The token's '{scope}' permission does not cover WhatsApp Business Account {waba_id}. Run Login "
                "with Facebook again and select that account.",
            )
    expires = int(debug.get("expires_at") or 0)
    token_expires_at = datetime.fromtimestamp(expires, tz=UTC) if expires else None
    _log(
        channel,
        "check_token",
        True,
        "Token valid with both WhatsApp permissions; "
        + (f"expires {token_expires_at:%Y-%m-%d}." if token_expires_at else "never expires."),
    )

    graph = _meta_graph(token)
    # 3. The phone number (the event may carry none: FINISH_ONLY_WABA, coexistence).
    try:
        if not phone_number_id:
            numbers = graph.phone_numbers_list(waba_id)
            if not numbers:
                raise _fail(
                    channel,
                    "phone_number",
                    f"WhatsApp Business Account {waba_id} has no phone number yet. Add one in WhatsApp Manager, "
                    "then connect again.",
                )
            phone_number_id = str(numbers[0]["id"])
        phone = graph.phone_number_get(phone_number_id, fields=PHONE_FIELDS)
    except graph_errors.GraphError as exc:
        raise _fail(channel, "phone_number", f"Could not read the phone number ({exc.plain_reason or exc}).") from None
    taken = _number_taken_message(
        phone_number_id=phone_number_id, channel=channel, shown_as=phone.get("display_phone_number") or ""
    )
    if taken:
        raise _fail(channel, "phone_number", taken)
    if str(phone.get("name_status", "")).upper() == "PENDING_REVIEW":
        raise _fail(
            channel,
            "phone_number",
            f"Meta is still reviewing the display name '{phone.get('verified_name', '')}'. Come back once it is "
            "approved (usually within 1–2 days) and click Reconnect.",
        )
    _log(channel, "phone_number", True, f"Found {phone.get('display_phone_number')} ({phone.get('verified_name')}).")

    # 4. Our app hears this WABA's webhooks.
    try:
        graph.subscribed_apps_add(waba_id)
    except graph_errors.GraphError as exc:
        raise _fail(
            channel,
            "subscribe",
            f"Could not subscribe to the account's webhooks ({exc.plain_reason or exc}). Try again; if it "
            "persists, check the app's whatsapp_business_management permission.",
        ) from None
    _log(channel, "subscribe", True, "Subscribed to the account's webhooks.")

    # 5. Register the number for the Cloud API unless it is already connected.
    generated_pin = None
    if str(phone.get("status", "")).upper() != "CONNECTED":
        chosen = pin or f"{secrets.randbelow(10**6):06d}"
        try:
            graph.phone_number_register(phone_number_id, pin=chosen)
        except PayloadInvalid as exc:
            raise _fail(channel, "register", str(exc), field="pin") from None
        except graph_errors.GraphError as exc:
            if exc.code == 133005:
                message = (
                    "The number already has two-step verification and the PIN was wrong. Enter its existing 6-digit "
                    "PIN (WhatsApp Manager → phone number → Two-step verification) and connect again."
                )
            elif exc.code == 133016:
                message = (
                    "Too many registration attempts for this number: Meta blocks registering it for 72 hours. "
                    "Try again after that."
                )
            else:
                message = f"Could not register the number ({exc.plain_reason or exc})."
            raise _fail(channel, "register", message, field="pin" if exc.code == 133005 else None) from None
        generated_pin = None if pin else chosen
        phone["status"] = "CONNECTED"
        _log(channel, "register", True, "Number registered for the Cloud API.")

    # 6. All checks passed: store everything at once.
    with transaction.atomic():
        channel = Channel.objects.select_for_update(no_key=True).get(pk=channel.pk)
        before = audit_snapshot(channel)
        channel.provider = Channel.Provider.SANDBOX if embedded_signup_uses_emulator() else Channel.Provider.CLOUD_API
        channel.connection = Channel.Connection.EMBEDDED_SIGNUP
        channel.meta_app_id = settings.META_APP_ID
        channel.access_token = token
        channel.app_secret = ""  # webhooks arrive on the platform's own app URL
        channel.token_expires_at = token_expires_at
        channel.webhook_subscribed = True
        channel.deactivated_at = None
        _phone_apply(channel, phone, waba_id=waba_id, phone_number_id=phone_number_id)
        channel.save()
        audit_record(
            action="channel.reconnected" if before["access_token"] else "channel.connected",
            target=channel,
            changes=audit_diff(before, channel),
        )
    _log(channel, "connected", True, "Channel connected and active.")
    templates_sync_after_connect(channel=channel)
    return SignupResult(channel=channel, generated_pin=generated_pin)


def _phone_apply(channel: Channel, phone: dict, *, waba_id: str, phone_number_id: str) -> None:
    channel.waba_id = waba_id
    channel.phone_number_id = phone_number_id
    channel.display_phone_number = str(phone.get("display_phone_number") or "")
    channel.verified_name = str(phone.get("verified_name") or "")
    channel.quality_rating = str(phone.get("quality_rating") or "")
    channel.messaging_limit = str(phone.get("whatsapp_business_manager_messaging_limit") or "")
    channel.name_status = str(phone.get("name_status") or "")
    channel.phone_status = str(phone.get("status") or "")
    throughput = phone.get("throughput") or {}
    channel.throughput_level = str(throughput.get("level") or "") if isinstance(throughput, dict) else ""
    channel.status = Channel.Status.ACTIVE
    channel.status_reason = ""
    channel.attention_reason = ""


def channel_connect_manual(
    *,
    channel: Channel,
    phone_number_id: str,
    waba_id: str,
    access_token: str,
    app_secret: str,
    verify_token: str = "",
    app_id: str = "",
) -> Channel:
    """Connect with a business's own Meta app. The credentials are checked live before anything is saved."""
    values = {
        "phone_number_id": (phone_number_id or "").strip(),
        "waba_id": (waba_id or "").strip(),
        "access_token": (access_token or "").strip(),
        "app_secret": (app_secret or "").strip(),
    }
    for field, value in values.items():
        if not value:
            raise ChannelSetupFailed(f"{field.replace('_', ' ').capitalize()} is required.", step="manual", field=field)
    for field in ("access_token", "app_secret"):
        # Meta's tokens and secrets are plain ASCII; anything else was mis-pasted (and cannot go in a header).
        if not (values[field].isascii() and values[field].isprintable()) or " " in values[field]:
            raise ChannelSetupFailed(
                f"The {field.replace('_', ' ')} contains spaces or characters Meta never uses: copy it again "
                "from Meta's App Dashboard.",
                step="manual",
                field=field,
            )
    for field in ("phone_number_id", "waba_id"):
        if not values[field].isascii() or not values[field].isdigit():
            raise ChannelSetupFailed(
                f"The {field.replace('_', ' ')} is a number (digits only), shown in Meta's WhatsApp → API Setup.",
                step="manual",
                field=field,
            )
    graph = graph_client(base_url=settings.GRAPH_API_BASE_URL, access_token=values["access_token"])
    try:
        phone = graph.phone_number_get(values["phone_number_id"], fields=PHONE_FIELDS)
    except graph_errors.GraphError as exc:
        field = "access_token" if exc.kind == graph_errors.AUTH else "phone_number_id"
        raise _fail(
            channel, "manual_check", f"Meta refused these credentials: {exc.plain_reason or exc}", field=field
        ) from None
    try:
        graph.templates_page(values["waba_id"], limit=1)
    except graph_errors.GraphError as exc:
        raise _fail(
            channel,
            "manual_check",
            f"The token cannot read WhatsApp Business Account {values['waba_id']}: {exc.plain_reason or exc}",
            field="waba_id",
        ) from None
    # Only now, with credentials Meta accepted for this number: asked earlier, the answer would tell
    # anyone which numbers other workspaces have connected.
    taken = _number_taken_message(phone_number_id=values["phone_number_id"], channel=channel)
    if taken:
        raise ChannelSetupFailed(taken, step="manual", field="phone_number_id")
    with transaction.atomic():
        channel = Channel.objects.select_for_update(no_key=True).get(pk=channel.pk)
        before = audit_snapshot(channel)
        channel.provider = Channel.Provider.CLOUD_API
        channel.connection = Channel.Connection.MANUAL
        channel.meta_app_id = (app_id or "").strip()
        channel.access_token = values["access_token"]
        channel.app_secret = values["app_secret"]
        channel.verify_token = (verify_token or "").strip() or secrets.token_urlsafe(24)
        channel.webhook_subscribed = False  # confirmed by the first webhook to the channel's URL
        channel.deactivated_at = None
        _phone_apply(channel, phone, waba_id=values["waba_id"], phone_number_id=values["phone_number_id"])
        channel.save()
        audit_record(
            action="channel.credentials_changed" if before["access_token"] else "channel.connected",
            target=channel,
            changes=audit_diff(before, channel),
        )
    _log(channel, "manual_check", True, f"Credentials work for {channel.display_phone_number}.")
    templates_sync_after_connect(channel=channel)
    return channel


def channel_update(*, channel: Channel, name: str | None = None, agent=None, agent_given: bool = False) -> Channel:
    before = audit_snapshot(channel)
    fields = []
    if name is not None:
        name = name.strip()
        if not name:
            raise PlatformError("The label cannot be empty.", field="name")
        channel.name = name[:120]
        fields.append("name")
    if agent_given:
        if agent is not None and agent.workspace_id != channel.workspace_id:
            raise PlatformError("That agent belongs to another workspace.", field="agent")
        channel.agent = agent
        fields.append("agent")
    if fields:
        channel.save(update_fields=[*fields, "updated_at"])
    if changes := audit_diff(before, channel):
        audit_record(action="channel.updated", target=channel, changes=changes)
    return channel


def channel_deactivate(*, channel: Channel) -> Channel:
    """Stop the channel: unsubscribe from the account's webhooks, the agent stops, history is kept."""
    if channel.waba_id and channel.access_token and channel.connection == Channel.Connection.EMBEDDED_SIGNUP:
        try:
            _meta_graph(channel.access_token).subscribed_apps_remove(channel.waba_id)
        except graph_errors.GraphError as exc:  # deactivation must not depend on Meta answering
            logger.warning("unsubscribe failed", extra={"channel_id": channel.pk, "error": str(exc)})
    Channel.objects.filter(pk=channel.pk).update(
        status=Channel.Status.DISABLED,
        status_reason="Deactivated by staff.",
        webhook_subscribed=False,
        deactivated_at=timezone.now(),
        updated_at=timezone.now(),
    )
    _log(channel, "deactivated", True, "Channel deactivated; conversation history is kept.")
    audit_record(
        action="channel.deactivated", target=channel, changes={"status": [channel.status, Channel.Status.DISABLED]}
    )
    channel.refresh_from_db()
    return channel


def channel_webhook_seen(*, channel_id: int) -> None:
    """A webhook arrived for the channel: it is subscribed, and the page shows when.

    Written at most every 30 s per channel: under Meta's load this runs hundreds of times a second.
    """
    now = timezone.now()
    Channel.objects.filter(pk=channel_id).filter(
        Q(last_webhook_at__isnull=True) | Q(last_webhook_at__lt=now - timedelta(seconds=30))
    ).update(last_webhook_at=now, webhook_subscribed=True)
