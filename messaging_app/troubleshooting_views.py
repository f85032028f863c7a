"""Troubleshooting: what staff check when WhatsApp "doesn't work" — webhooks received, messages that failed
(and why, in plain words), the agent's turns, and each channel's health."""

from datetime import timedelta

from django.contrib import messages
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from channels_app.models import WebhookEvent
from messaging_app import selectors
from messaging_app.models import Message
from messaging_app.services.resend import message_resend
from messaging_app.services.webhooks import webhook_event_reprocess
from messaging_app.troubleshooting_forms import AgentLogFilterForm, DeliveryFilterForm, WebhookLogFilterForm
from whatsapp_platform.errors import PlatformError
from workspaces_app.decorators import workspace_member_required


def _query_without(request, *names: str) -> str:
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


@require_GET
@workspace_member_required("view")
def troubleshooting(request):
    overview = selectors.troubleshooting_overview(workspace=request.workspace, now=timezone.now())
    return render(request, "troubleshooting/index.html", {"overview": overview, "tab": "overview"})


@require_GET
@workspace_member_required("view")
def troubleshooting_webhooks(request):
    form = WebhookLogFilterForm(request.GET or None, workspace=request.workspace)
    events, next_before = selectors.webhook_events_log(workspace=request.workspace, **form.filters())
    return render(
        request,
        "troubleshooting/webhooks.html",
        {
            "form": form,
            "events": events,
            "next_before": next_before,
            "paged": bool(request.GET.get("before")),
            "query": _query_without(request, "before"),
            "tab": "webhooks",
        },
    )


def _event(request, event_id: int) -> WebhookEvent:
    event = selectors.webhook_event_get(workspace=request.workspace, event_id=event_id)
    if event is None:
        raise Http404("No such webhook in this workspace.")
    return event


@require_GET
@workspace_member_required("view")
def troubleshooting_webhook_detail(request, event_id: int):
    event = _event(request, event_id)
    payload, payload_is_json = selectors.webhook_payload_pretty(event.body)
    return render(
        request,
        "troubleshooting/webhook_detail.html",
        {
            "event": event,
            "payload": payload,
            "payload_is_json": payload_is_json,
            "headers": selectors.headers_masked(event.headers),
            "tab": "webhooks",
        },
    )


@require_POST
@workspace_member_required("configure")
def troubleshooting_webhook_reprocess(request, event_id: int):
    event = _event(request, event_id)
    if event.state != WebhookEvent.State.FAILED:
        messages.error(request, f"Only a failed webhook can be reprocessed; this one is {event.get_state_display()}.")
    else:
        webhook_event_reprocess(event_id=event.pk)
        messages.success(request, "The webhook is back in line and will be processed again in a moment.")
    return redirect("troubleshooting_webhook_detail", request.workspace.slug, event.pk)


@require_GET
@workspace_member_required("view")
def troubleshooting_delivery(request):
    form = DeliveryFilterForm(request.GET or None, workspace=request.workspace)
    filters = form.filters()
    since = timezone.now() - timedelta(days=filters["days"])
    groups = selectors.delivery_problems(workspace=request.workspace, since=since, channel_id=filters["channel_id"])
    return render(
        request,
        "troubleshooting/delivery.html",
        {
            "form": form,
            "groups": groups,
            "days": filters["days"],
            "total": sum(group["count"] for group in groups),
            "query": request.GET.urlencode(),
            "tab": "delivery",
        },
    )


@require_POST
@workspace_member_required("reply")
def troubleshooting_message_resend(request, message_id):
    message = (
        Message.objects.filter(workspace=request.workspace, public_id=message_id)
        .exclude(channel__provider="test_console")
        .select_related("conversation", "contact", "sender_user", "sender_agent", "reply_to")
        .first()
    )
    if message is None:
        raise Http404("No such message in this workspace.")
    try:
        message_resend(message=message, user=request.user)
    except PlatformError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"A copy of the message to {message.contact} is queued to be sent again.")
    back = reverse("troubleshooting_delivery", args=[request.workspace.slug])
    query = QueryDict(request.POST.get("query", "")).urlencode()  # only ever a query string on our own page
    return redirect(f"{back}?{query}" if query else back)


@require_GET
@workspace_member_required("view")
def troubleshooting_agent_runs(request):
    form = AgentLogFilterForm(request.GET or None, workspace=request.workspace)
    runs, next_before = selectors.agent_runs_log(workspace=request.workspace, **form.filters())
    return render(
        request,
        "troubleshooting/agent_runs.html",
        {
            "form": form,
            "runs": runs,
            "next_before": next_before,
            "paged": bool(request.GET.get("before")),
            "query": _query_without(request, "before"),
            "tab": "agent_runs",
        },
    )
