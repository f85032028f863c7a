"""Embedded Signup and number setup: code exchange, debug_token, subscribed_apps, register (reference §8)."""

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.db import transaction

from cloudapi_emulator import clock
from cloudapi_emulator.errors import GraphError
from cloudapi_emulator.models import AccessToken, App, OAuthCode, PhoneNumber, RegisterCall, SubscribedApp
from cloudapi_emulator.services.numbers import MESSAGING_SCOPES, access_token_grant, app_get_or_create

REGISTER_LIMIT = 10
REGISTER_WINDOW = timedelta(hours=72)


def oauth_code_issue(
    *,
    app_id: str,
    app_secret: str,
    access_token: str,
    waba_id: str,
    scopes: list[str] | None = None,
    expires_in: int = 30,
    target_ids: list[str] | None = None,
    token_expires_in: int | None = None,
) -> str:
    """A code the front end would get from FB.login; it exchanges once, within `expires_in` seconds.

    The token it exchanges for targets `target_ids` (default: just `waba_id`) in `debug_token`'s
    granular scopes and may act on those WABAs only; it expires `token_expires_in` seconds
    after the exchange (default: never).
    """
    app = app_get_or_create(app_id=app_id, app_secret=app_secret)
    code = "AQ" + secrets.token_urlsafe(48)
    OAuthCode.objects.create(
        code=code,
        app=app,
        access_token=access_token,
        waba_id=waba_id,
        scopes=scopes or MESSAGING_SCOPES,
        target_ids=list(target_ids) if target_ids is not None else None,
        token_expires_in=token_expires_in,
        expires_at=clock.now() + timedelta(seconds=expires_in),
    )
    return code


@transaction.atomic
def oauth_code_exchange(*, client_id: str, client_secret: str, code: str) -> dict[str, Any]:
    if not client_id or not client_secret or not code:
        raise GraphError(100, "Missing client_id, client_secret or code parameter.")
    app = App.objects.filter(app_id=client_id).first()
    if app is None or not secrets.compare_digest(app.app_secret, client_secret):
        raise GraphError(1, "Error validating client secret.", title="Invalid client_secret")
    now = clock.now()
    row = OAuthCode.objects.filter(code=code, app=app).first()
    if row is None:
        raise GraphError(100, "Invalid verification code format.", subcode=36007)
    if row.expires_at <= now:
        raise GraphError(100, "This authorization code has expired.", subcode=36007)
    # The conditional update makes the code single use even with two exchanges at once.
    if OAuthCode.objects.filter(pk=row.pk, used_at__isnull=True).update(used_at=now) != 1:
        raise GraphError(100, "This authorization code has been used.", subcode=36009)
    expires_at = now + timedelta(seconds=row.token_expires_in) if row.token_expires_in else None
    access_token_grant(
        token=row.access_token,
        waba_ids=row.target_ids if row.target_ids is not None else [row.waba_id],
        app=app,
        scopes=row.scopes,
        expires_at=expires_at,
    )
    answer: dict[str, Any] = {"access_token": row.access_token, "token_type": "bearer"}
    if row.token_expires_in:
        answer["expires_in"] = row.token_expires_in
    return answer


def app_from_app_token(app_token: str) -> App:
    """`<app_id>|<app_secret>`, as `debug_token` takes it."""
    app_id, _, app_secret = (app_token or "").partition("|")
    app = App.objects.filter(app_id=app_id).first()
    if app is None or not app_secret or not secrets.compare_digest(app.app_secret, app_secret):
        raise GraphError(190, "Invalid OAuth access token signature.")
    return app


def token_debug(*, input_token: str, app: App) -> dict[str, Any]:
    row = AccessToken.objects.select_related("app").filter(token=input_token).first()
    if row is None:
        return {
            "data": {
                "error": {"code": 190, "message": "Invalid OAuth access token - Cannot parse access token"},
                "is_valid": False,
                "scopes": [],
            }
        }
    now = clock.now()
    is_valid = row.revoked_at is None and (row.expires_at is None or row.expires_at > now)
    data: dict[str, Any] = {
        "app_id": row.app.app_id if row.app else app.app_id,
        "type": "SYSTEM_USER",
        "application": row.app.name if row.app else app.name,
        "data_access_expires_at": 0,
        "expires_at": int(row.expires_at.timestamp()) if row.expires_at else 0,
        "is_valid": is_valid,
        "issued_at": int(row.issued_at.timestamp()),
        "scopes": list(row.scopes),
        "granular_scopes": [
            {"scope": scope, "target_ids": list(row.waba_ids)}
            if scope.startswith("whatsapp_business")
            else {"scope": scope}
            for scope in row.scopes
        ],
        "user_id": str(int(hashlib.sha256(row.token.encode()).hexdigest()[:12], 16)),
    }
    if not is_valid:
        data["error"] = {"code": 190, "message": "Error validating access token: The session has been invalidated."}
    return {"data": data}


def subscribed_apps_list(*, waba_id: str) -> dict[str, Any]:
    data = []
    for sub in SubscribedApp.objects.select_related("app").filter(waba_id=waba_id).order_by("id"):
        item: dict[str, Any] = {"whatsapp_business_api_data": {"id": sub.app.app_id, "name": sub.app.name}}
        if sub.override_callback_uri:
            item["override_callback_uri"] = sub.override_callback_uri
        data.append(item)
    return {"data": data}


def subscribed_app_set(*, waba_id: str, app: App | None, override_callback_uri: str = "", verify_token: str = ""):
    """Subscribe the token's app; an override URI (≤200 chars, http(s)) routes this WABA's message webhooks."""
    if app is None:
        raise GraphError(200, "The access token is not tied to an app.")
    if len(override_callback_uri) > 200:
        raise GraphError(100, "Param override_callback_uri must be at most 200 characters long.")
    if override_callback_uri and not override_callback_uri.startswith(("http://", "https://")):
        raise GraphError(100, "Param override_callback_uri must be a valid URL.")
    if override_callback_uri and not verify_token:
        raise GraphError(100, "The parameter verify_token is required with override_callback_uri.")
    SubscribedApp.objects.update_or_create(
        waba_id=waba_id,
        app=app,
        defaults={"override_callback_uri": override_callback_uri, "verify_token": verify_token},
    )


def subscribed_app_remove(*, waba_id: str, app: App | None) -> None:
    SubscribedApp.objects.filter(waba_id=waba_id, app=app).delete()


def number_register(*, number: PhoneNumber, pin: Any) -> None:
    """Register the number; the first PIN becomes its two-step PIN, later calls must repeat it.

    Every call counts towards the 72 h limit, failed ones too, so the count commits first.
    """
    now = clock.now()
    with transaction.atomic():
        # Hold the number's row so concurrent register calls count one after another.
        number = PhoneNumber.objects.select_for_update().get(pk=number.pk)
        recent = RegisterCall.objects.filter(number=number, created_at__gt=now - REGISTER_WINDOW).count()
        RegisterCall.objects.create(number=number, created_at=now)
    if recent >= REGISTER_LIMIT:
        raise GraphError(133016)
    if not isinstance(pin, str) or not (len(pin) == 6 and pin.isdigit()):
        raise GraphError(100, "Param pin must be a 6-digit number.")
    if number.two_step_pin and not secrets.compare_digest(number.two_step_pin, pin):
        raise GraphError(133005, "Two-step verification PIN incorrect.")
    number.two_step_pin = pin
    number.registered_at = now
    number.status = "CONNECTED"
    number.save(update_fields=["two_step_pin", "registered_at", "status"])


def number_two_step_pin_set(*, number: PhoneNumber, pin: str) -> None:
    """Turn on two-step verification with this PIN (as if set in WhatsApp Manager)."""
    PhoneNumber.objects.filter(pk=number.pk).update(two_step_pin=pin)


def webhook_configuration(number: PhoneNumber) -> dict[str, str]:
    """`webhook_configuration` of a number: each level of the lookup that is set (reference §1.4).

    `application` is the subscribed app's dashboard callback, or a sandbox number's own URL.
    """
    config: dict[str, str] = {}
    if number.override_callback_uri:
        config["phone_number"] = number.override_callback_uri
    subscriptions = list(SubscribedApp.objects.select_related("app").filter(waba_id=number.waba_id).order_by("id"))
    waba_override = next((s.override_callback_uri for s in subscriptions if s.override_callback_uri), "")
    if waba_override:
        config["whatsapp_business_account"] = waba_override
    callback = next((s.app.callback_url for s in subscriptions if s.app.callback_url), "")
    config["application"] = callback or number.webhook_url
    return config


PHONE_NUMBER_DEFAULT_FIELDS = ["verified_name", "code_verification_status", "display_phone_number", "quality_rating"]


def phone_number_fields(number: PhoneNumber, fields: list[str]) -> dict[str, Any]:
    """`GET /<phone_number_id>?fields=…`; unknown fields answer 100 as Graph does."""
    available: dict[str, Any] = {
        "display_phone_number": number.display_phone_number,
        "verified_name": number.verified_name,
        "quality_rating": number.quality_rating,
        "code_verification_status": number.code_verification_status,
        "status": number.status,
        "name_status": number.name_status,
        "new_name_status": number.new_name_status,
        "platform_type": "CLOUD_API",
        "host_platform": "CLOUD_API",
        "throughput": {"level": number.throughput_level},
        "account_mode": number.account_mode,
        "whatsapp_business_manager_messaging_limit": number.messaging_limit,
        "messaging_limit_tier": number.messaging_limit,
        "is_official_business_account": False,
        "webhook_configuration": webhook_configuration(number),
        "id": number.phone_number_id,
    }
    result: dict[str, Any] = {}
    for name in fields or PHONE_NUMBER_DEFAULT_FIELDS:
        if name not in available:
            raise GraphError(
                100, f"Tried accessing nonexisting field ({name}) on node type (WhatsAppBusinessPhoneNumber)"
            )
        result[name] = available[name]
    result["id"] = number.phone_number_id
    return result
