"""The stand-in Embedded Signup: what Meta's popup does once the customer clicks through (reference §8).

Finishing creates (or, for a display number seen before, reuses) a business, a WABA and an
unregistered number, issues a code for the app as FB.login would, and says which session-info
event the popup posts to its opener. The customer's business token only comes into being
when the platform exchanges the code, as with Meta.
"""

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction

from cloudapi_emulator import clock, ids
from cloudapi_emulator.models import App, PhoneNumber, Signup
from cloudapi_emulator.services.onboarding import oauth_code_issue

# What the tester can make the signup do. The first three are the session-info events Meta
# sends; the next four finish normally but leave a condition the platform has to cope with.
SIMULATIONS: dict[str, str] = {
    "FINISH": "Finish normally",
    "FINISH_ONLY_WABA": "Share the WhatsApp Business Account only, no phone number (FINISH_ONLY_WABA)",
    "FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING": "Coexistence: a WhatsApp Business app number "
    "(FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING)",
    "NO_MESSAGING_SCOPE": "Grant without the whatsapp_business_messaging permission",
    "WABA_NOT_IN_TARGETS": "Grant without this WhatsApp Business Account among the token's targets",
    "TWO_STEP_PIN_SET": "The number already has two-step verification, PIN 123456",
    "NAME_PENDING_REVIEW": "The display name is pending review",
    "USER_REPORTED_ERROR": "The customer reports an error (CANCEL with error details)",
}
CANCEL_STEPS = ("BUSINESS_ACCOUNT_SELECTION", "WABA_CREATION", "PHONE_NUMBER_SETUP", "PHONE_NUMBER_VERIFICATION")
EXISTING_TWO_STEP_PIN = "123456"
# The stock login configuration is "WhatsApp Embedded Signup Configuration With 60 Expiration Token".
SIGNUP_TOKEN_LIFETIME = timedelta(days=60)
SIGNUP_SCOPES = ["whatsapp_business_management", "whatsapp_business_messaging"]
# Meta's example of a customer-reported error code; the platform should treat it as opaque.
REPORTED_ERROR_CODE = 524126


class SignupError(ValueError):
    """Something the tester can fix: an unknown app, a malformed or taken number."""


@dataclass(frozen=True)
class SignupResult:
    """What the popup posts: the session-info message, then FB.login's answer (a code, or none)."""

    session_info: dict[str, Any]
    code: str | None = None
    waba_id: str | None = None
    phone_number_id: str | None = None
    business_id: str | None = None

    @property
    def login_message(self) -> dict[str, Any]:
        """The emulator's stand-in for FB.login's callback argument, as the popup posts it."""
        return {"type": "EMULATOR_FB_LOGIN", "authResponse": {"code": self.code} if self.code else None}


def _session_info(event: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": "WA_EMBEDDED_SIGNUP", "event": event, "data": data}


def signup_app(app_id: str) -> App:
    """The app a signup is for; it must have been set up with `app_register` first."""
    app = App.objects.filter(app_id=app_id).first() if app_id else None
    if app is None:
        raise SignupError(
            f"App {app_id or '(none)'} is not registered with the emulator. Register it first with "
            "services.app_register (emulator.app_register in tests, POST /emulator/control/apps/ otherwise)."
        )
    return app


def _number_with_digits(digits: str) -> PhoneNumber | None:
    # Display numbers are stored as typed ("+1 555 010 0001"); an emulator holds few, so compare in Python.
    return next((n for n in PhoneNumber.objects.all() if n.display_digits == digits), None)


def display_number_suggest() -> str:
    """A fresh test number, +1 555 01x xxxx, that no number or signup uses yet."""
    while True:
        digits = f"155501{secrets.randbelow(10)}{secrets.randbelow(10_000):04d}"
        if not Signup.objects.filter(display_phone_number=digits).exists() and not _number_with_digits(digits):
            return f"+1 555 {digits[4:7]} {digits[7:]}"


def _digits_checked(display_phone_number: str) -> str:
    digits = ids.digits(display_phone_number)
    if not 8 <= len(digits) <= 15 or any(ch not in "+0123456789 -()." for ch in display_phone_number):
        raise SignupError("Enter the phone number in international format, e.g. +1 555 010 1234.")
    return digits


def signup_finish(
    *,
    app_id: str,
    simulate: str = "FINISH",
    display_phone_number: str | None = None,
    business_name: str = "Emulated Business",
    verified_name: str = "",
) -> SignupResult:
    """The customer clicked Continue on the last screen, under the `simulate` condition (see SIMULATIONS).

    Idempotent per display number: its business, WABA and number are reused, and the simulated
    conditions (two-step PIN, name review) re-applied. Every call issues a new code for a new token.
    """
    app = signup_app(app_id)
    if simulate not in SIMULATIONS:
        raise SignupError(f"Unknown simulation {simulate!r}; choose one of {', '.join(SIMULATIONS)}.")
    if simulate == "USER_REPORTED_ERROR":
        return signup_error_report()
    display_phone_number = (display_phone_number or display_number_suggest()).strip()
    digits = _digits_checked(display_phone_number)
    business_name = business_name.strip() or "Emulated Business"
    verified_name = verified_name.strip() or business_name
    now = clock.now()
    with transaction.atomic():
        signup = Signup.objects.select_for_update().filter(display_phone_number=digits).first()
        if signup is None:
            if _number_with_digits(digits) is not None:
                raise SignupError(f"{display_phone_number} is already in use by another emulated number.")
            signup = Signup(display_phone_number=digits, business_id=ids.numeric_id(16), waba_id=ids.numeric_id(15))
            signup.created_at = now
        signup.app = app
        signup.business_name = business_name
        signup.simulate = simulate
        signup.updated_at = now
        token = "EAAG" + secrets.token_urlsafe(96)
        if simulate != "FINISH_ONLY_WABA":
            signup.number = _number_onboard(
                signup, app=app, display=display_phone_number, verified_name=verified_name, token=token
            )
        signup.save()
        number = signup.number if simulate != "FINISH_ONLY_WABA" else None
        scopes = [s for s in SIGNUP_SCOPES if not (simulate == "NO_MESSAGING_SCOPE" and s.endswith("messaging"))]
        # A token granted for some other WABA: the platform's debug_token check must notice.
        targets = [ids.numeric_id(15)] if simulate == "WABA_NOT_IN_TARGETS" else [signup.waba_id]
        code = oauth_code_issue(
            app_id=app.app_id,
            app_secret=app.app_secret,
            access_token=token,
            waba_id=signup.waba_id,
            scopes=scopes,
            target_ids=targets,
            token_expires_in=int(SIGNUP_TOKEN_LIFETIME.total_seconds()),
        )
    if simulate in {"FINISH_ONLY_WABA", "FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING"}:
        # Only the WABA travels in these events; the platform lists /<waba_id>/phone_numbers for the rest.
        session_info = _session_info(simulate, {"waba_id": signup.waba_id})
    else:
        session_info = _session_info(
            "FINISH",
            {"phone_number_id": number.phone_number_id, "waba_id": signup.waba_id, "business_id": signup.business_id},
        )
    return SignupResult(
        session_info=session_info,
        code=code,
        waba_id=signup.waba_id,
        phone_number_id=number.phone_number_id if number else None,
        business_id=signup.business_id,
    )


def _number_onboard(signup: Signup, *, app: App, display: str, verified_name: str, token: str) -> PhoneNumber:
    """Create or refresh the signup's number: verified by SMS in the popup, not yet registered.

    A coexistence number is already live on the WhatsApp Business app, so it needs no /register.
    """
    simulate = signup.simulate
    number = signup.number or PhoneNumber(
        phone_number_id=ids.numeric_id(15),
        waba_id=signup.waba_id,
        display_phone_number=display,
        status="PENDING",
        code_verification_status="VERIFIED",
        account_mode="LIVE",
    )
    number.app = app
    number.access_token = token
    number.verified_name = verified_name
    number.name_status = "PENDING_REVIEW" if simulate == "NAME_PENDING_REVIEW" else "APPROVED"
    if simulate == "TWO_STEP_PIN_SET":
        number.two_step_pin = EXISTING_TWO_STEP_PIN
    if simulate == "FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING" and number.registered_at is None:
        number.status = "CONNECTED"
        number.registered_at = clock.now()
    number.save()
    return number


def signup_cancel(*, current_step: str) -> SignupResult:
    """The customer closed the flow early, at `current_step` (one of CANCEL_STEPS)."""
    if current_step not in CANCEL_STEPS:
        raise SignupError(f"Unknown step {current_step!r}; choose one of {', '.join(CANCEL_STEPS)}.")
    return SignupResult(session_info=_session_info("CANCEL", {"current_step": current_step}))


def signup_error_report() -> SignupResult:
    """The customer hit an error and reported it: CANCEL carrying the error and a session id."""
    return SignupResult(
        session_info=_session_info(
            "CANCEL",
            {
                "error_message": "The display name does not follow WhatsApp's display name guidelines.",
                "error_code": REPORTED_ERROR_CODE,
                "session_id": secrets.token_hex(8)[:15],
                "timestamp": int(clock.now().timestamp()),
            },
        )
    )
