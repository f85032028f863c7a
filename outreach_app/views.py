"""Console pages for campaigns, scheduled messages and welcome templates. Services do the work."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from channels_app.selectors import channels_list
from outreach_app import selectors, services
from outreach_app.api import campaign_outcomes_csv
from outreach_app.forms import (
    CampaignForm,
    CsvImportForm,
    LaunchForm,
    RescheduleForm,
    ScheduledMessageForm,
    WelcomeForm,
)
from outreach_app.models import Campaign, ScheduledMessage
from whatsapp_platform.errors import PlatformError
from workspaces_app.decorators import workspace_member_required
from workspaces_app.selectors import member_can


def _form_error(form, exc: PlatformError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def _campaign(request, campaign_id) -> Campaign:
    return get_object_or_404(selectors.campaigns_list(workspace=request.workspace), public_id=campaign_id)


def _to_detail(request, campaign: Campaign):
    return redirect("campaign_detail", workspace_slug=request.workspace.slug, campaign_id=campaign.public_id)


def _welcome_rows(request) -> list[dict]:
    welcomes = selectors.welcome_templates_for(workspace=request.workspace)
    rows = []
    for channel in channels_list(workspace=request.workspace):
        welcome = welcomes.get(channel.pk)
        initial = {}
        if welcome:
            initial = {
                "template": f"{welcome.template.name}|{welcome.template.language}",
                "parameter_values": "\n".join(f"{k} = {v}" for k, v in welcome.parameter_values.items()),
                "enabled": welcome.enabled,
            }
        rows.append(
            {
                "channel": channel,
                "welcome": welcome,
                "form": WelcomeForm(initial=initial, workspace=request.workspace, prefix=f"w{channel.pk}"),
            }
        )
    return rows


@workspace_member_required("view")
def campaign_list(request):
    form = CampaignForm(request.POST or None, workspace=request.workspace)
    if request.method == "POST":
        if not member_can(membership=request.membership, permission="configure"):
            raise PermissionDenied("Your role cannot create campaigns.")
        if form.is_valid():
            data = form.cleaned_data
            name, language = data["template"]
            try:
                campaign = services.campaign_create(
                    workspace=request.workspace,
                    channel=data["channel"],
                    name=data["name"],
                    template_name=name,
                    template_language=language,
                    parameter_values=data["parameter_values"],
                    header_media_link=data["header_media_link"],
                    audience_tags=data["audience_tags"],
                    audience_attributes=data["audience_attributes"],
                    user=request.user,
                )
            except PlatformError as exc:
                _form_error(form, exc)
            else:
                return _to_detail(request, campaign)
    context = {
        "campaigns": selectors.campaigns_list(workspace=request.workspace)[:200],
        "form": form,
        "welcome_rows": _welcome_rows(request),
    }
    return render(request, "outreach/campaign_list.html", context, status=400 if form.errors else 200)


def _detail(request, campaign: Campaign, status: int = 200, **extra):
    context = {
        "campaign": campaign,
        "funnel": selectors.campaign_funnel(campaign=campaign),
        "import_form": CsvImportForm(),
        "launch_form": LaunchForm(),
        "previews": [],
        "preview_error": "",
    }
    if campaign.is_editable:
        try:
            context["previews"] = services.campaign_preview(campaign=campaign, count=3)
        except PlatformError as exc:
            context["preview_error"] = exc.message
    context.update(extra)
    return render(request, "outreach/campaign_detail.html", context, status=status)


@workspace_member_required("view")
def campaign_detail(request, campaign_id):
    return _detail(request, _campaign(request, campaign_id))


@workspace_member_required("view")
def campaign_funnel(request, campaign_id):
    """The live funnel, polled by htmx while the campaign runs."""
    campaign = _campaign(request, campaign_id)
    context = {"campaign": campaign, "funnel": selectors.campaign_funnel(campaign=campaign)}
    return render(request, "outreach/_funnel.html", context)


@workspace_member_required("view")
def campaign_export(request, campaign_id):
    return campaign_outcomes_csv(_campaign(request, campaign_id))


@require_POST
@workspace_member_required("configure")
def campaign_import(request, campaign_id):
    campaign = _campaign(request, campaign_id)
    form = CsvImportForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            report = services.campaign_recipients_import_csv(
                campaign=campaign, text=form.cleaned_data["file"], default_region=form.cleaned_data["default_region"]
            )
        except PlatformError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"{report['imported']} recipients imported, {report['rejected']} rows rejected.")
            return _to_detail(request, campaign)
    return _detail(request, campaign, status=400, import_form=form)


@require_POST
@workspace_member_required("configure")
def campaign_launch(request, campaign_id):
    campaign = _campaign(request, campaign_id)
    form = LaunchForm(request.POST)
    if form.is_valid():
        try:
            campaign = services.campaign_launch(campaign=campaign, start_at=form.cleaned_data["start_at"])
        except PlatformError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"Campaign {campaign.get_state_display().lower()}.")
            return _to_detail(request, campaign)
    return _detail(request, campaign, status=400, launch_form=form)


def _campaign_action(action):
    @require_POST
    @workspace_member_required("configure")
    def view(request, campaign_id):
        campaign = _campaign(request, campaign_id)
        try:
            campaign = action(campaign=campaign)
        except PlatformError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Campaign {campaign.get_state_display().lower()}.")
        return _to_detail(request, campaign)

    return view


campaign_pause = _campaign_action(services.campaign_pause)
campaign_resume = _campaign_action(services.campaign_resume)
campaign_cancel = _campaign_action(services.campaign_cancel)


@require_POST
@workspace_member_required("configure")
def welcome_update(request, channel_id):
    channel = get_object_or_404(channels_list(workspace=request.workspace), public_id=channel_id)
    form = WelcomeForm(request.POST, workspace=request.workspace, prefix=f"w{channel.pk}")
    if form.is_valid():
        name, language = form.cleaned_data["template"] or ("", "")
        try:
            services.welcome_template_set(
                channel=channel,
                template_name=name,
                language=language,
                parameter_values=form.cleaned_data["parameter_values"],
                enabled=form.cleaned_data["enabled"],
            )
        except PlatformError as exc:
            messages.error(request, f"{channel.name}: {exc.message}")
        else:
            messages.success(request, f"Welcome message for {channel.name} saved.")
    else:
        messages.error(request, f"{channel.name}: " + " ".join(e for errors in form.errors.values() for e in errors))
    return redirect("campaign_list", workspace_slug=request.workspace.slug)


# --- scheduled messages --------------------------------------------------------------------------


@workspace_member_required("view")
def scheduled_list(request):
    form = ScheduledMessageForm(request.POST or None, workspace=request.workspace)
    if request.method == "POST":
        if not member_can(membership=request.membership, permission="reply"):
            raise PermissionDenied("Your role cannot schedule messages.")
        if form.is_valid():
            data = form.cleaned_data
            try:
                contact = services.scheduled_contact_resolve(channel=data["channel"], to=data["to"])
                template = None
                if data["template"]:
                    name, language = data["template"]
                    template = {"name": name, "language": language, "values": data["template_values"]}
                services.scheduled_message_create(
                    workspace=request.workspace,
                    channel=data["channel"],
                    contact=contact,
                    send_at=data["send_at"],
                    message_type="" if template else "text",
                    content=None if template else {"body": data["body"]},
                    template=template,
                    user=request.user,
                )
            except PlatformError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, "Message scheduled.")
                return redirect("scheduled_list", workspace_slug=request.workspace.slug)
    context = {
        "form": form,
        "upcoming": selectors.scheduled_messages_list(workspace=request.workspace, state="scheduled"),
        "past": selectors.scheduled_messages_list(workspace=request.workspace)
        .exclude(state="scheduled")
        .order_by("-send_at")[:100],
        "reschedule_form": RescheduleForm(),
    }
    return render(request, "outreach/scheduled_list.html", context, status=400 if form.errors else 200)


def _scheduled(request, scheduled_id) -> ScheduledMessage:
    return get_object_or_404(selectors.scheduled_messages_list(workspace=request.workspace), public_id=scheduled_id)


@require_POST
@workspace_member_required("reply")
def scheduled_cancel(request, scheduled_id):
    try:
        services.scheduled_message_cancel(scheduled=_scheduled(request, scheduled_id))
    except PlatformError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Scheduled message cancelled.")
    return redirect("scheduled_list", workspace_slug=request.workspace.slug)


@require_POST
@workspace_member_required("reply")
def scheduled_reschedule(request, scheduled_id):
    scheduled = _scheduled(request, scheduled_id)
    form = RescheduleForm(request.POST)
    if form.is_valid():
        try:
            services.scheduled_message_reschedule(scheduled=scheduled, send_at=form.cleaned_data["send_at"])
        except PlatformError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Rescheduled.")
    else:
        messages.error(request, "Give the new time.")
    return redirect("scheduled_list", workspace_slug=request.workspace.slug)
