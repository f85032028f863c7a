from allauth.mfa.models import Authenticator
from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse

from workspaces_app.selectors import user_requires_mfa

# Paths a member without MFA may still reach: the sign-in and MFA setup pages, the
# API (keys, not people), webhooks, health probes and static files.
_EXEMPT_PREFIXES = (
    "/accounts/",
    "/api/",
    "/webhooks/",
    "/healthz",
    "/readyz",
    "/static/",
    "/emulator/",
    "/invitations/",
)


class WorkspaceMfaRequiredMiddleware:
    """A member of any workspace that requires MFA must activate TOTP before anything else."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not request.path.startswith(_EXEMPT_PREFIXES)
            and user_requires_mfa(user=user)
            and not _has_totp(user)
        ):
            messages.warning(
                request,
                "A workspace you belong to requires two-factor authentication. "
                "Set up an authenticator app to continue.",
            )
            return redirect(reverse("mfa_activate_totp"))
        return self.get_response(request)


def _has_totp(user) -> bool:
    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
