"""Settings → Webhooks: subscriptions, secrets shown once, and each subscription's delivery log."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from events_app import services
from events_app.forms import WebhookSubscriptionForm
from events_app.models import Delivery, WebhookSubscription
from events_app.selectors import deliveries_for_subscription, subscription_get, subscriptions_list
from whatsapp_platform.errors import PlatformError
from workspaces_app.decorators import workspace_member_required

DELIVERIES_PER_PAGE = 50


def _subscription(request, subscription_id) -> WebhookSubscription:
    try:
        return subscription_get(workspace=request.workspace, public_id=subscription_id)
    except WebhookSubscription.DoesNotExist:
        raise Http404("No such webhook subscription.") from None


def _list_page(request, *, form=None, new_secret=None, status=200):
    context = {
        "subscriptions": subscriptions_list(workspace=request.workspace),
        "form": form or WebhookSubscriptionForm(),
        "new_secret": new_secret,
    }
    return render(request, "events/webhook_list.html", context, status=status)


def _detail_page(request, subscription, *, form=None, new_secret=None, status=200):
    page = Paginator(deliveries_for_subscription(subscription=subscription), DELIVERIES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    initial = {
        "url": subscription.url,
        "event_types": subscription.event_types,
        "description": subscription.description,
    }
    context = {
        "subscription": subscription,
        "deliveries": page,
        "form": form or WebhookSubscriptionForm(initial=initial),
        "new_secret": new_secret,
    }
    return render(request, "events/webhook_detail.html", context, status=status)


@require_GET
@workspace_member_required("configure")
def webhook_list(request):
    return _list_page(request)


@require_POST
@workspace_member_required("configure")
def webhook_create(request):
    form = WebhookSubscriptionForm(request.POST)
    if form.is_valid():
        try:
            subscription, secret = services.subscription_create(
                workspace=request.workspace,
                url=form.cleaned_data["url"],
                event_types=form.cleaned_data["event_types"],
                description=form.cleaned_data["description"],
                created_by=request.user,
            )
        except PlatformError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            # Rendered directly (not redirected): the secret must never sit in a session or a URL.
            return _detail_page(request, subscription, new_secret=secret)
    return _list_page(request, form=form, status=400)


@require_GET
@workspace_member_required("configure")
def webhook_detail(request, subscription_id):
    return _detail_page(request, _subscription(request, subscription_id))


@require_POST
@workspace_member_required("configure")
def webhook_update(request, subscription_id):
    subscription = _subscription(request, subscription_id)
    form = WebhookSubscriptionForm(request.POST)
    if form.is_valid():
        try:
            services.subscription_update(subscription=subscription, values=form.cleaned_data)
        except PlatformError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, "Webhook saved.")
            return redirect("webhook_detail", workspace_slug=request.workspace.slug, subscription_id=subscription_id)
    return _detail_page(request, subscription, form=form, status=400)


@require_POST
@workspace_member_required("configure")
def webhook_toggle(request, subscription_id):
    subscription = _subscription(request, subscription_id)
    services.subscription_update(subscription=subscription, values={"enabled": not subscription.enabled})
    messages.success(request, "Webhook enabled." if subscription.enabled else "Webhook disabled.")
    return redirect("webhook_detail", workspace_slug=request.workspace.slug, subscription_id=subscription_id)


@require_POST
@workspace_member_required("configure")
def webhook_rotate_secret(request, subscription_id):
    subscription = _subscription(request, subscription_id)
    secret = services.subscription_secret_rotate(subscription=subscription)
    return _detail_page(request, subscription, new_secret=secret)


@require_POST
@workspace_member_required("configure")
def webhook_delete(request, subscription_id):
    subscription = _subscription(request, subscription_id)
    services.subscription_delete(subscription=subscription)
    messages.success(request, f"Webhook to {subscription.url} deleted.")
    return redirect("webhook_list", workspace_slug=request.workspace.slug)


@require_POST
@workspace_member_required("configure")
def webhook_delivery_resend(request, subscription_id, delivery_id: str):
    subscription = _subscription(request, subscription_id)
    delivery = Delivery.objects.filter(subscription=subscription, public_id=delivery_id).first()
    if delivery is None:
        raise Http404("No such delivery.")
    try:
        services.delivery_resend(delivery=delivery)
    except PlatformError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Delivery {delivery.public_id} queued to be sent again.")
    return redirect("webhook_detail", workspace_slug=request.workspace.slug, subscription_id=subscription_id)
