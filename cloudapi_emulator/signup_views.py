"""The stand-in Embedded Signup popup at `/emulator/signup/`: what "Login with Facebook" opens in emulator mode.

The platform opens `/emulator/signup/?app_id=…&config_id=…&origin=<its origin>` with
window.open and listens for `message` events as it would with Meta. The consent page posts
back here; the page that answers carries the messages in data- attributes and
static/cloudapi_emulator/signup.js posts them to `window.opener` at `origin`, then closes:

    1. JSON.stringify({type: "WA_EMBEDDED_SIGNUP", event, data})   (a string, as Meta sends it)
    2. {type: "EMULATOR_FB_LOGIN", authResponse: {code} | null}     (an object: FB.login's callback)
"""

import json
import re
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from cloudapi_emulator.models import App
from cloudapi_emulator.services.signup import (
    CANCEL_STEPS,
    SIMULATIONS,
    SignupError,
    SignupResult,
    display_number_suggest,
    signup_app,
    signup_cancel,
    signup_finish,
)

# scheme://host[:port] and nothing else: postMessage's targetOrigin, never a path or a wildcard.
ORIGIN_SHAPE = re.compile(
    r"^https?://(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$"
)


class SignupForm(forms.Form):
    app_id = forms.CharField(max_length=32, widget=forms.HiddenInput)
    config_id = forms.CharField(max_length=64, required=False, widget=forms.HiddenInput)
    origin = forms.CharField(max_length=300, widget=forms.HiddenInput)
    business_name = forms.CharField(max_length=200, label="Business name")
    display_phone_number = forms.CharField(max_length=32, label="Phone number")
    verified_name = forms.CharField(max_length=200, label="Display name")
    simulate = forms.ChoiceField(choices=list(SIMULATIONS.items()), widget=forms.RadioSelect, initial="FINISH")
    current_step = forms.ChoiceField(
        choices=[(step, step) for step in CANCEL_STEPS], initial="PHONE_NUMBER_SETUP", label="Cancel at step"
    )


def _origin_valid(origin: str) -> bool:
    return bool(ORIGIN_SHAPE.match(origin or ""))


def _page(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    response = render(request, f"cloudapi_emulator/{template}", context, status=status)
    # The opener may be on another origin (the emulator on its own port); keep window.opener.
    response["Cross-Origin-Opener-Policy"] = "unsafe-none"
    response["Cache-Control"] = "no-store"
    return response


def _error(request: HttpRequest, message: str, status: int = 400) -> HttpResponse:
    return _page(request, "signup_error.html", {"message": message}, status=status)


def _done(request: HttpRequest, result: SignupResult, *, origin: str) -> HttpResponse:
    return _page(
        request,
        "signup_done.html",
        {
            "result": result,
            "origin": origin,
            # Stringified as the browser's JSON.stringify would: no spaces.
            "session_info": json.dumps(result.session_info, separators=(",", ":")),
            "login": json.dumps(result.login_message, separators=(",", ":")),
        },
    )


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    params = request.POST if request.method == "POST" else request.GET
    origin = params.get("origin", "")
    if not _origin_valid(origin):
        return _error(request, "The origin parameter must be the opener's origin: http(s)://host[:port].")
    try:
        app = signup_app(params.get("app_id", ""))
    except SignupError as error:
        return _error(request, str(error), status=404)
    if request.method == "GET":
        form = SignupForm(
            initial={
                "app_id": app.app_id,
                "config_id": params.get("config_id", ""),
                "origin": origin,
                "business_name": "Lucky Shrub",
                "display_phone_number": display_number_suggest(),
                "verified_name": "Lucky Shrub",
            }
        )
        return _consent(request, form, app)
    if request.POST.get("action") == "cancel":
        try:
            result = signup_cancel(current_step=request.POST.get("current_step", ""))
        except SignupError as error:
            return _error(request, str(error))
        return _done(request, result, origin=origin)
    form = SignupForm(request.POST)
    if not form.is_valid():
        return _consent(request, form, app, status=400)
    try:
        result = signup_finish(
            app_id=app.app_id,
            simulate=form.cleaned_data["simulate"],
            display_phone_number=form.cleaned_data["display_phone_number"],
            business_name=form.cleaned_data["business_name"],
            verified_name=form.cleaned_data["verified_name"],
        )
    except SignupError as error:
        form.add_error("display_phone_number", str(error))
        return _consent(request, form, app, status=400)
    return _done(request, result, origin=origin)


def _consent(request: HttpRequest, form: SignupForm, app: App, status: int = 200) -> HttpResponse:
    context = {
        "form": form,
        "app": app,
        "origin": form["origin"].value(),
        "business_fields": [form["business_name"], form["display_phone_number"], form["verified_name"]],
    }
    return _page(request, "signup.html", context, status=status)
