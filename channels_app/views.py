import json

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from channels_app import services
from channels_app.forms import ChannelCreateForm, ChannelSettingsForm, ManualConnectForm, TestMessageForm
from channels_app.models import Channel
from channels_app.selectors import channels_list, templates_approved
from messaging_app.models import Message
from messaging_app.services.outbound import channel_test_message_send
from whatsapp_platform.errors import PlatformError
from whatsapp_platform.security import policy_with
from workspaces_app.decorators import workspace_member_required
from workspaces_app.selectors import member_can


def _channel(request, channel_id) -> Channel:
    return get_object_or_404(Channel.objects.whatsapp().select_related("agent"), workspace=request.workspace, public_id=channel_id)


def _form_error(form, exc: PlatformError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


@workspace_member_required("view")
def channel_list(request):
    return render(request, "channels/channel_list.html", {"channels": channels_list(workspace=request.workspace)})


@workspace_member_required("configure")
def channel_create(request):
    form = ChannelCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            channel = services.channel_create(workspace=request.workspace, name=form.cleaned_data["name"])
        except PlatformError as exc:
            _form_error(form, exc)
        else:
            return redirect("channel_detail", workspace_slug=request.workspace.slug, channel_id=channel.public_id)
    return render(request, "channels/channel_create.html", {"form": form}, status=400 if form.errors else 200)


def _detail_context(request, channel: Channel, **extra) -> dict:
    templates = templates_approved(channel=channel) if channel.waba_id else []
    context = {
        "channel": channel,
        "settings_form": ChannelSettingsForm(
            initial={"name": channel.name, "agent": channel.agent_id}, workspace=request.workspace
        ),
        "manual_form": ManualConnectForm(),
        "test_form": TestMessageForm(templates=templates),
        "setup_events": channel.setup_events.all()[:12],
        "signup_mode": "emulator" if services.embedded_signup_uses_emulator() else "meta",
        "meta_app_id": settings.META_APP_ID,
        "meta_config_id": settings.META_LOGIN_CONFIG_ID,
        "graph_version": settings.GRAPH_API_VERSION,
        "webhook_url": settings.SITE_URL + reverse("webhook_channel", args=[channel.public_id]),
        "shared_webhook_url": settings.SITE_URL + reverse("webhook_meta_app"),
        "last_test": Message.objects.filter(channel=channel, sender__in=["teammate", "template"])
        .order_by("-id")
        .first(),
    }
    context.update(extra)
    return context


def _render_detail(request, channel: Channel, status: int = 200, **extra):
    response = render(
        request, "channels/channel_detail.html", _detail_context(request, channel, **extra), status=status
    )
    # Meta's login window (or the emulator's stand-in) must keep `window.opener` to report back.
    response["Cross-Origin-Opener-Policy"] = "same-origin-allow-popups"
    if not services.embedded_signup_uses_emulator() and settings.META_APP_ID:
        # Meta's JS SDK, its login popup and its frames; nothing else is added.
        response["Content-Security-Policy"] = policy_with(
            script="https://connect.facebook.net",
            frame="https://www.facebook.com https://web.facebook.com",
            connect="https://www.facebook.com https://graph.facebook.com",
        )
    return response


@workspace_member_required("view")
def channel_detail(request, channel_id):
    return _render_detail(request, _channel(request, channel_id))


@require_POST
@workspace_member_required("configure")
def channel_settings_update(request, channel_id):
    channel = _channel(request, channel_id)
    form = ChannelSettingsForm(request.POST, workspace=request.workspace)
    if form.is_valid():
        try:
            services.channel_update(
                channel=channel, name=form.cleaned_data["name"], agent=form.cleaned_data["agent"], agent_given=True
            )
        except PlatformError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, "Channel settings saved.")
            return redirect("channel_detail", workspace_slug=request.workspace.slug, channel_id=channel.public_id)
    return _render_detail(request, channel, status=400, settings_form=form)


@require_POST
@workspace_member_required("configure")
def channel_embedded_signup(request, channel_id):
    """Called by the page's script the moment Meta's popup reports back (the code lives 30 s)."""
    channel = _channel(request, channel_id)
    try:
        payload = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"error": {"code": "invalid", "message": "Send JSON."}}, status=400)
    event = str(payload.get("event") or "")
    if event not in services.onboarding.SIGNUP_EVENTS:
        message = services.channel_signup_cancelled(channel=channel, event=event, data=payload.get("data") or {})
        return JsonResponse({"error": {"code": "signup_cancelled", "message": message}}, status=400)
    try:
        result = services.channel_embedded_signup_complete(
            channel=channel,
            code=str(payload.get("code") or ""),
            waba_id=str(payload.get("waba_id") or ""),
            phone_number_id=str(payload.get("phone_number_id") or ""),
            pin=str(payload.get("pin") or "") or None,
        )
    except services.ChannelSetupFailed as exc:
        return JsonResponse({"error": {"code": exc.code, "step": exc.step, "message": exc.message}}, status=400)
    messages.success(request, f"{result.channel.display_phone_number} is connected.")
    if result.generated_pin:
        messages.warning(
            request,
            f"We registered the number with the two-step verification PIN {result.generated_pin}. "
            "Write it down now: it is shown only this once.",
        )
    url = reverse("channel_detail", args=[request.workspace.slug, channel.public_id])
    return JsonResponse({"redirect": url})


@require_POST
@workspace_member_required("configure")
def channel_manual_connect(request, channel_id):
    channel = _channel(request, channel_id)
    form = ManualConnectForm(request.POST)
    if form.is_valid():
        try:
            services.channel_connect_manual(channel=channel, **form.cleaned_data)
        except PlatformError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, "Credentials work. Paste the webhook URL and verify token below into Meta.")
            return redirect("channel_detail", workspace_slug=request.workspace.slug, channel_id=channel.public_id)
    return _render_detail(request, channel, status=400, manual_form=form, show_manual=True)


@require_POST
@workspace_member_required("reply")
def channel_test_message(request, channel_id):
    channel = _channel(request, channel_id)
    templates = templates_approved(channel=channel)
    form = TestMessageForm(request.POST, templates=templates)
    if form.is_valid():
        template = None
        if form.cleaned_data["template"]:
            name, language = form.cleaned_data["template"].split("|", 1)
            params = [p.strip() for p in form.cleaned_data["parameters"].splitlines() if p.strip()]
            template = {"name": name, "language": {"code": language}}
            if params:
                template["components"] = [{"type": "body", "parameters": [{"type": "text", "text": p} for p in params]}]
        try:
            channel_test_message_send(
                channel=channel,
                to_phone=form.cleaned_data["to"],
                body=form.cleaned_data["body"],
                template=template,
                user=request.user,
            )
        except PlatformError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, "Test message queued; watch its ticks below.")
            return redirect(
                reverse("channel_detail", args=[request.workspace.slug, channel.public_id]) + "#test-message"
            )
    return _render_detail(request, channel, status=400, test_form=form)


@workspace_member_required("view")
def channel_live_status(request, channel_id):
    """The parts of the configuration page that change by themselves (polled)."""
    channel = _channel(request, channel_id)
    return render(request, "channels/_live_status.html", _detail_context(request, channel))


@require_POST
@workspace_member_required("configure")
def channel_deactivate(request, channel_id):
    channel = services.channel_deactivate(channel=_channel(request, channel_id))
    messages.success(request, f"'{channel.name}' is deactivated. Its conversations are kept.")
    return redirect("channel_detail", workspace_slug=request.workspace.slug, channel_id=channel.public_id)


@require_POST
@workspace_member_required("configure")
def channel_delete(request, channel_id):
    channel = _channel(request, channel_id)
    if request.POST.get("confirm") != channel.name:
        messages.error(request, f"Type the channel's label ({channel.name}) to confirm deleting it.")
        return redirect("channel_detail", workspace_slug=request.workspace.slug, channel_id=channel.public_id)
    if channel.status == Channel.Status.ACTIVE:
        services.channel_deactivate(channel=channel)
    name = channel.name
    channel.delete()
    messages.success(request, f"'{name}' and its conversations were deleted.")
    return redirect("channel_list", workspace_slug=request.workspace.slug)


@workspace_member_required("view")
def template_list(request):
    return render(request, "channels/template_list.html", {"channels": channels_list(workspace=request.workspace)})


@workspace_member_required("view")
def channel_profile(request, channel_id):
    from channels_app.forms import BusinessProfileForm
    from channels_app.services.profile import ProfileError, business_profile_get, business_profile_update

    channel = _channel(request, channel_id)
    if channel.status != Channel.Status.ACTIVE:
        messages.error(request, "Connect the channel before editing its WhatsApp profile.")
        return redirect("channel_detail", workspace_slug=request.workspace.slug, channel_id=channel.public_id)
    profile, load_error = {}, None
    try:
        profile = business_profile_get(channel=channel)
    except ProfileError as exc:
        load_error = exc.message
    websites = list(profile.get("websites") or []) + ["", ""]
    initial = {
        "about": profile.get("about", ""),
        "description": profile.get("description", ""),
        "address": profile.get("address", ""),
        "email": profile.get("email", ""),
        "website_1": websites[0],
        "website_2": websites[1],
        "vertical": profile.get("vertical", ""),
    }
    form = BusinessProfileForm(request.POST or None, request.FILES or None, initial=initial)
    status = 200
    if request.method == "POST":
        if not member_can(membership=request.membership, permission="configure"):
            raise PermissionDenied("Your role cannot change the business profile.")
        if form.is_valid():
            data = form.cleaned_data
            upload = data.get("photo")
            photo = (upload.read(), upload.content_type, upload.name) if upload else None
            try:
                business_profile_update(
                    channel=channel,
                    profile={
                        "about": data["about"] or None,
                        "description": data["description"],
                        "address": data["address"],
                        "email": data["email"],
                        "websites": [w for w in (data["website_1"], data["website_2"]) if w],
                        "vertical": data["vertical"] or None,
                    },
                    photo=photo,
                )
            except ProfileError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, "Business profile saved on WhatsApp.")
                return redirect("channel_profile", workspace_slug=request.workspace.slug, channel_id=channel.public_id)
        status = 400
    photo_url = str(profile.get("profile_picture_url") or "")
    return render(
        request,
        "channels/channel_profile.html",
        {
            "channel": channel,
            "form": form,
            "load_error": load_error,
            "photo_url": photo_url,
            "photo_is_local": photo_url.startswith(("/", settings.SITE_URL)),
        },
        status=status,
    )
