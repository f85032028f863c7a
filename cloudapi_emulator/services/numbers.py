"""Apps, tokens and emulated business numbers."""

from datetime import datetime

from django.db import transaction

from cloudapi_emulator import clock, ids
from cloudapi_emulator.errors import GraphError
from cloudapi_emulator.models import AccessToken, App, PhoneNumber

MESSAGING_SCOPES = ["whatsapp_business_management", "whatsapp_business_messaging"]


def app_get_or_create(*, app_id: str | None, app_secret: str) -> App:
    """The app with this id (its secret updated), or else an app holding this secret, or a new one."""
    if app_id:
        app, _ = App.objects.update_or_create(app_id=app_id, defaults={"app_secret": app_secret})
        return app
    app = App.objects.filter(app_secret=app_secret).order_by("id").first()
    return app or App.objects.create(app_id=ids.numeric_id(16), app_secret=app_secret)


def app_register(*, app_id: str, app_secret: str, callback_url: str, verify_token: str = "", name: str = "") -> App:
    """The app as configured in its App Dashboard (idempotent by `app_id`; updates secret, URL, token).

    `callback_url` receives the webhooks of every WABA the app subscribes to (reference §1.4);
    blank means none is set yet. Unlike Meta, no verification GET is sent to it.
    """
    if not app_id or not app_secret:
        raise ValueError("app_id and app_secret are required.")
    if callback_url and not callback_url.startswith(("http://", "https://")):
        raise ValueError("callback_url must be an http(s) URL.")
    defaults = {"app_secret": app_secret, "callback_url": callback_url, "verify_token": verify_token}
    if name:
        defaults["name"] = name
    app, _ = App.objects.update_or_create(app_id=app_id, defaults=defaults)
    return app


def access_token_grant(
    *,
    token: str,
    waba_id: str | None = None,
    app: App | None = None,
    scopes: list[str] | None = None,
    waba_ids: list[str] | None = None,
    expires_at: datetime | None = None,
):
    """Let `token` act on `waba_id` (or every one of `waba_ids`), creating the token if new.

    `expires_at` only applies to a new token. Un-revokes nothing: a revoked token stays so.
    """
    wanted = list(waba_ids) if waba_ids is not None else [waba_id] if waba_id else []
    row, created = AccessToken.objects.get_or_create(
        token=token,
        defaults={
            "app": app,
            "waba_ids": wanted,
            "scopes": scopes or MESSAGING_SCOPES,
            "issued_at": clock.now(),
            "expires_at": expires_at,
        },
    )
    missing = [w for w in wanted if w not in row.waba_ids]
    if not created and missing:
        # Two concurrent grants of one token could drop a WABA; provisioning is not concurrent.
        row.waba_ids = [*row.waba_ids, *missing]
        row.save(update_fields=["waba_ids"])
    return row


@transaction.atomic
def sandbox_number_provision(
    *,
    display_phone_number: str,
    verified_name: str,
    access_token: str,
    app_secret: str,
    webhook_url: str,
    phone_number_id: str | None = None,
    waba_id: str | None = None,
    app_id: str | None = None,
) -> PhoneNumber:
    """Create the number, or update its token, secret, name and webhook URL (idempotent by display number)."""
    number = PhoneNumber.objects.select_related("app").filter(display_phone_number=display_phone_number).first()
    if number is None:
        app = app_get_or_create(app_id=app_id, app_secret=app_secret)
        number = PhoneNumber.objects.create(
            display_phone_number=display_phone_number,
            verified_name=verified_name,
            phone_number_id=phone_number_id or ids.numeric_id(15),
            waba_id=waba_id or ids.numeric_id(15),
            app=app,
            access_token=access_token,
            webhook_url=webhook_url,
        )
    else:
        if app_id and number.app.app_id != app_id:
            number.app = app_get_or_create(app_id=app_id, app_secret=app_secret)
        elif number.app.app_secret != app_secret:
            number.app.app_secret = app_secret
            number.app.save(update_fields=["app_secret"])
        number.verified_name = verified_name
        number.access_token = access_token
        number.webhook_url = webhook_url
        if phone_number_id:
            number.phone_number_id = phone_number_id
        if waba_id:
            number.waba_id = waba_id
        number.save()
    access_token_grant(token=access_token, waba_id=number.waba_id, app=number.app)
    return number


def token_revoke(token: str) -> None:
    """Every later call with this token gets 190."""
    AccessToken.objects.filter(token=token).update(revoked_at=clock.now())


def token_authenticate(token: str | None) -> AccessToken:
    """The live token row, or GraphError 190 (HTTP 401) when missing, unknown, expired or revoked."""
    if not token:
        raise GraphError(190, "An active access token must be used to query information about the current user.")
    row = AccessToken.objects.filter(token=token).first()
    if row is None:
        raise GraphError(190, "Invalid OAuth access token - Cannot parse access token")
    if row.revoked_at is not None:
        raise GraphError(
            190,
            "Error validating access token: The session has been invalidated because the user changed their "
            "password or Facebook has changed the session for security reasons.",
        )
    if row.expires_at is not None and row.expires_at <= clock.now():
        raise GraphError(190, "Error validating access token: Session has expired.", subcode=463)
    return row


def object_missing(object_id: str, method: str) -> GraphError:
    """Meta's answer for an id that does not exist or that this token may not see."""
    return GraphError(
        100,
        f"Unsupported {method.lower()} request. Object with ID '{object_id}' does not exist, cannot be loaded due "
        "to missing permissions, or does not support this operation.",
        subcode=33,
    )


def number_for_token(*, phone_number_id: str, token: AccessToken, method: str) -> PhoneNumber:
    number = PhoneNumber.objects.select_related("app").filter(phone_number_id=phone_number_id).first()
    if number is None or number.waba_id not in token.waba_ids:
        raise object_missing(phone_number_id, method)
    return number


def waba_for_token(*, waba_id: str, token: AccessToken, method: str) -> str:
    if waba_id not in token.waba_ids:
        raise object_missing(waba_id, method)
    return waba_id
