"""Sign-ins and two-factor changes, heard from django-allauth's signals (the flows are allauth's, not ours)."""

import logging

from allauth.account.signals import user_logged_in
from allauth.mfa.models import Authenticator
from allauth.mfa.signals import authenticator_added, authenticator_removed, authenticator_reset
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver

from audit_app.services import Anonymous, audit_record, audit_record_for_user
from workspaces_app.models import User

logger = logging.getLogger(__name__)


@receiver(user_logged_in, dispatch_uid="audit_app.signed_in")
def _signed_in(sender, request, user, **kwargs) -> None:
    audit_record_for_user(action="auth.signed_in", user=user, request=request)


@receiver(user_login_failed, dispatch_uid="audit_app.sign_in_failed")
def _sign_in_failed(sender, credentials, request=None, **kwargs) -> None:
    claimed = str(credentials.get("email") or credentials.get("username") or credentials.get("login") or "")[:254]
    user = User.objects.filter(email__iexact=claimed).first() if claimed else None
    actions = ["auth.sign_in_failed"]
    if request is not None and _now_locked_out(request, credentials):
        actions.append("auth.locked_out")
    for action in actions:
        if user is not None:
            audit_record_for_user(action=action, user=user, actor=Anonymous(claimed), request=request)
        else:
            audit_record(action=action, actor=Anonymous(claimed), target=("user", "", claimed), request=request)


def _now_locked_out(request, credentials: dict) -> bool:
    """True when this failure used up the allowance: allauth refuses the next attempt (ACCOUNT_RATE_LIMITS).

    Later attempts are refused before any password is checked, so no further failure is heard:
    each lockout is recorded once.
    """
    from allauth.account.adapter import get_adapter
    from allauth.core import ratelimit

    try:
        key = get_adapter(request)._get_login_attempts_cache_key(request, **credentials)
        return not ratelimit.consume(request, action="login_failed", key=key, dry_run=True)
    except Exception:  # allauth's internals moved: the failure itself is still recorded
        logger.warning("could not tell whether a sign-in is locked out", exc_info=True)
        return False


@receiver(authenticator_added, dispatch_uid="audit_app.authenticator_added")
def _authenticator_added(sender, request, user, authenticator, **kwargs) -> None:
    # Recovery codes are generated alongside an authenticator app; adding the app is the event.
    if authenticator.type != Authenticator.Type.RECOVERY_CODES:
        audit_record_for_user(
            action="mfa.authenticator_added",
            user=user,
            changes={"authenticator": [None, authenticator.type]},
            request=request,
        )


@receiver(authenticator_removed, dispatch_uid="audit_app.authenticator_removed")
def _authenticator_removed(sender, request, user, authenticator, **kwargs) -> None:
    if authenticator.type != Authenticator.Type.RECOVERY_CODES:
        audit_record_for_user(
            action="mfa.authenticator_removed",
            user=user,
            changes={"authenticator": [authenticator.type, None]},
            request=request,
        )


@receiver(authenticator_reset, dispatch_uid="audit_app.authenticator_reset")
def _authenticator_reset(sender, request, user, authenticator, **kwargs) -> None:
    if authenticator.type == Authenticator.Type.RECOVERY_CODES:
        audit_record_for_user(action="mfa.recovery_codes_regenerated", user=user, request=request)
