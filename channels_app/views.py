import json
import uuid

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from audit_app.services import audit_record
from channels_app import services
from channels_app.forms import (
    BusinessProfileForm,
    ChannelCreateForm,
    ChannelSettingsForm,
    ManualConnectForm,
    TestMessageForm,
)
from channels_app.models import Channel, MessageTemplate, TemplateSync
from channels_app.selectors import (
    channels_list,
    channels_with_templates,
    template_channels,
    template_get,
    template_sync_get,
    template_syncs_latest,
    templates_approved,
    templates_list,
)
from channels_app.services import templates as template_services
from channels_app.services.profile import ProfileError, business_profile_get, business_profile_update
from channels_app.template_forms import TemplateCreateForm, TemplateSendForm
from channels_app.whatsapp.template_rules import TemplateDefinitionInvalid, template_placeholders, template_preview
from messaging_app.models import Contact, Conversation, Message
from messaging_app.services import template_sends
from messaging_app.services.outbound import channel_test_message_send
from whatsapp_platform.errors import PlatformError
from whatsapp_platform.security import policy_with
from workspaces_app.decorators import workspace_member_required
from workspaces_app.selectors import member_can


def _channel(request, channel_id) -> Channel:
    channels = Channel.objects.whatsapp().select_related("agent")
    return get_object_or_404(channels, workspace=request.workspace, public_id=channel_id)


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
    audit_record(action="channel.deleted", workspace=request.workspace, target=channel)
    messages.success(request, f"'{name}' and its conversations were deleted.")
    return redirect("channel_list", workspace_slug=request.workspace.slug)


# --- message templates -------------------------------------------------------------------------


def _uuid(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


def _template(request, template_id) -> MessageTemplate:
    template = template_get(workspace=request.workspace, template_id=template_id)
    if template is None:
        raise Http404("No such template in this workspace.")
    return template


TEMPLATE_STATUS_FILTERS = ["APPROVED", "PENDING", "REJECTED", "PAUSED", "DISABLED", "DELETED"]


@workspace_member_required("view")
def template_list(request):
    channels = channels_with_templates(workspace=request.workspace)
    channel = channels.filter(public_id=_uuid(request.GET.get("channel"))).first()
    status = request.GET.get("status", "").upper()
    status = status if status in TEMPLATE_STATUS_FILTERS else ""
    name = request.GET.get("name", "").strip()[:100]
    templates = templates_list(workspace=request.workspace, channel=channel, status=status, name=name)
    return render(
        request,
        "channels/template_list.html",
        {
            "channels": channels,
            "templates": templates,
            "syncs": template_syncs_latest(workspace=request.workspace),
            "filter_channel": channel,
            "filter_status": status,
            "filter_name": name,
            "statuses": TEMPLATE_STATUS_FILTERS,
        },
    )


@require_POST
@workspace_member_required("configure")
def template_sync(request):
    """Sync now: always requests (or joins) a sync and says how it went, or that it is on its way."""
    channel = (
        channels_with_templates(workspace=request.workspace)
        .filter(public_id=_uuid(request.POST.get("channel")))
        .first()
    )
    if channel is None:
        messages.error(request, "Choose a connected channel to sync its templates.")
        return redirect("template_list", workspace_slug=request.workspace.slug)
    try:
        sync = template_services.template_sync_request(channel=channel, trigger=TemplateSync.Trigger.MANUAL)
    except PlatformError as exc:
        messages.error(request, exc.message)
        return redirect("template_list", workspace_slug=request.workspace.slug)
    sync.refresh_from_db()  # without a broker the task has already run
    if sync.state == TemplateSync.State.SUCCEEDED:
        messages.success(
            request,
            f"Templates synced from {channel.name}: {sync.created_count} new, {sync.updated_count} changed, "
            f"{sync.removed_count} no longer on WhatsApp.",
        )
    elif sync.state == TemplateSync.State.FAILED:
        messages.error(request, f"The sync failed: {sync.error}")
    else:
        messages.info(request, "Syncing templates from WhatsApp… this page updates when it is done.")
    return redirect("template_list", workspace_slug=request.workspace.slug)


@workspace_member_required("view")
def template_sync_status(request, sync_id: int):
    sync = template_sync_get(workspace=request.workspace, sync_id=sync_id)
    if sync is None:
        raise Http404("No such sync.")
    return render(request, "channels/_template_sync.html", {"sync": sync})


@workspace_member_required("configure")
def template_create(request):
    form = TemplateCreateForm(request.POST or None, request.FILES or None, workspace=request.workspace)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data.get("header_file")
        header_file = (upload.read(), upload.content_type, upload.name) if upload else None
        try:
            template = template_services.template_create(
                channel=form.cleaned_data["channel"], draft=form.draft(), header_file=header_file
            )
        except TemplateDefinitionInvalid as exc:
            for problem in exc.problems:
                form.add_problem(problem.field, problem.message)
        except PlatformError as exc:
            form.add_problem(exc.field or "", exc.message)
        else:
            messages.success(request, f"{template.name} was submitted to Meta; review can take up to 24 hours.")
            return redirect("template_detail", workspace_slug=request.workspace.slug, template_id=template.public_id)
    return render(request, "channels/template_form.html", {"form": form}, status=400 if form.errors else 200)


@workspace_member_required("configure")
def template_create_examples(request):
    """The example inputs for the body's current parameters (htmx, as the body is typed)."""
    form = TemplateCreateForm(request.POST or None, workspace=request.workspace)
    return render(request, "channels/_template_examples.html", {"form": form})


def _send_form(request, template: MessageTemplate, data=None, conversation=None) -> TemplateSendForm:
    channels = template_channels(template=template)
    contacts = (
        Contact.objects.filter(channel__in=channels).order_by("-updated_at")[:200] if conversation is None else ()
    )
    return TemplateSendForm(data, template=template, channels=channels, contacts=contacts, conversation=conversation)


def _render_template_detail(request, template: MessageTemplate, *, send_form=None, status: int = 200):
    placeholders = template_placeholders(template.components, template.parameter_format)
    return render(
        request,
        "channels/template_detail.html",
        {
            "template": template,
            "preview": template_preview(template.components, {p.key: p.example for p in placeholders if p.example}),
            "channels": template_channels(template=template),
            "send_form": send_form or (_send_form(request, template) if template.status == "APPROVED" else None),
        },
        status=status,
    )


@workspace_member_required("view")
def template_detail(request, template_id):
    return _render_template_detail(request, _template(request, template_id))


def _conversation(request, conversation_id) -> Conversation | None:
    if not str(conversation_id or "").isdigit():
        return None
    return (
        Conversation.objects.select_related("channel", "contact")
        .filter(workspace=request.workspace, pk=int(conversation_id))
        .first()
    )


@require_POST
@workspace_member_required("reply")
def template_send(request, template_id):
    template = _template(request, template_id)
    conversation = _conversation(request, request.POST.get("conversation"))
    form = _send_form(request, template, request.POST, conversation=conversation)
    sent = None
    if form.is_valid():
        try:
            if conversation is not None:
                sent = template_sends.template_send(
                    template=template,
                    conversation=conversation,
                    values=form.values(),
                    header_media=form.header_media(),
                    sender=Message.Sender.TEMPLATE,
                    sender_user=request.user,
                )
            else:
                channel = form.cleaned_data["channel"]
                contact_id = form.cleaned_data.get("contact")
                contact = Contact.objects.filter(channel=channel, pk=contact_id).first() if contact_id else None
                if contact_id and contact is None:
                    raise PlatformError("That contact wrote to another channel: choose the channel it wrote to.")
                sent = template_sends.template_send_to(
                    template=template,
                    channel=channel,
                    values=form.values(),
                    to_phone=form.cleaned_data.get("to", ""),
                    contact=contact,
                    header_media=form.header_media(),
                    user=request.user,
                )
        except PlatformError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
    if request.htmx:  # the picker: answer with itself, the outcome shown in place
        channel = conversation.channel if conversation else getattr(form, "cleaned_data", {}).get("channel")
        channel = channel or template_channels(template=template).first()
        return render(
            request,
            "channels/_template_picker.html",
            _picker_context(request, channel, template, conversation, form=None if sent else form, sent=sent),
            status=200 if sent else 400,
        )
    if sent is not None:
        messages.success(
            request, f"{template.name} queued to {sent.contact.phone_display}; watch its ticks in the inbox."
        )
        return redirect("template_detail", workspace_slug=request.workspace.slug, template_id=template.public_id)
    return _render_template_detail(request, template, send_form=form, status=400)


@require_POST
@workspace_member_required("configure")
def template_delete(request, template_id):
    template = _template(request, template_id)
    try:
        template_services.template_delete(template=template)
    except PlatformError as exc:
        messages.error(request, exc.message)
        return redirect("template_detail", workspace_slug=request.workspace.slug, template_id=template.public_id)
    messages.success(request, f"{template.name} ({template.language}) was deleted on WhatsApp. Its history is kept.")
    return redirect("template_list", workspace_slug=request.workspace.slug)


def _picker_context(request, channel, template, conversation, *, form=None, sent=None) -> dict:
    approved = list(templates_approved(channel=channel)) if channel is not None else []
    if template is not None and form is None and template.status == "APPROVED":
        form = _send_form(request, template, conversation=conversation)
    placeholders = template_placeholders(template.components, template.parameter_format) if template else []
    return {
        "channel": channel,
        "conversation": conversation,
        "approved": approved,
        "chosen": template,
        "form": form,
        "sent": sent,
        "preview": template_preview(template.components, {p.key: p.example for p in placeholders if p.example})
        if template
        else None,
    }


@workspace_member_required("reply")
def template_picker(request):
    """Choose an approved template, then fill its parameters: embedded where free text is not allowed.

    `?conversation=<id>` sends into that conversation (the inbox composer when the window is closed);
    `?channel=<uuid>` alone lists that number's templates and asks for a recipient.
    """
    conversation = _conversation(request, request.GET.get("conversation"))
    if conversation is not None:
        channel = conversation.channel
    else:
        channel = (
            channels_with_templates(workspace=request.workspace)
            .filter(public_id=_uuid(request.GET.get("channel")))
            .first()
        )
    template = None
    if channel is not None and _uuid(request.GET.get("template")):
        template = templates_approved(channel=channel).filter(public_id=_uuid(request.GET.get("template"))).first()
    return render(request, "channels/_template_picker.html", _picker_context(request, channel, template, conversation))


@workspace_member_required("view")
def channel_profile(request, channel_id):
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
