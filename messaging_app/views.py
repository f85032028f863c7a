from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from channels_app.models import Channel
from channels_app.selectors import templates_approved
from messaging_app.business_hours_forms import BusinessHoursForm
from messaging_app.models import Message
from messaging_app.selectors import business_hours_document
from messaging_app.services.business_hours import business_hours_save
from whatsapp_platform.files import private_file_response
from workspaces_app.decorators import workspace_member_required
from workspaces_app.selectors import member_can


@require_GET
@workspace_member_required("view")
def message_media(request, message_id):
    """A customer's or the business's file, to members of the workspace only."""
    message = (
        Message.objects.filter(workspace=request.workspace, public_id=message_id)
        .exclude(media_file="")
        .only("media_file", "media_mime_type", "content", "public_id")
        .first()
    )
    if message is None:
        raise Http404("No such file.")
    try:
        with message.media_file.open("rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise Http404("This file is no longer stored.")
    filename = (message.content or {}).get("filename") or message.media_file.name.rsplit("/", 1)[-1]
    return private_file_response(
        data, mime_type=message.media_mime_type or "application/octet-stream", filename=filename
    )


@workspace_member_required("view")
def channel_business_hours(request, channel_id):
    """The channel's weekly hours, closed dates and what customers get outside them; saved all at once."""
    channel = get_object_or_404(Channel.objects.whatsapp(), workspace=request.workspace, public_id=channel_id)
    templates = templates_approved(channel=channel) if channel.waba_id else []
    if request.method == "POST":
        if not member_can(membership=request.membership, permission="configure"):
            raise PermissionDenied("Your role cannot change business hours.")
        form = BusinessHoursForm(request.POST, channel=channel, templates=templates)
        if form.is_valid():
            business_hours_save(channel=channel, document=form.document)
            messages.success(request, "Business hours saved.")
            return redirect(
                "channel_business_hours", workspace_slug=request.workspace.slug, channel_id=channel.public_id
            )
    document = business_hours_document(channel=channel, now=timezone.now())
    if request.method != "POST":
        form = BusinessHoursForm(initial=BusinessHoursForm.initial_from(document), channel=channel, templates=templates)
    return render(
        request,
        "messaging/business_hours.html",
        {"channel": channel, "form": form, "status": document["status"], "document": document},
        status=400 if form.errors else 200,
    )
