"""Reads for the console and the API."""

from django.db.models import Count, Prefetch, QuerySet

from events_app.models import Delivery, DeliveryAttempt, WebhookSubscription


def subscriptions_list(*, workspace) -> QuerySet[WebhookSubscription]:
    return WebhookSubscription.objects.filter(workspace=workspace).annotate(delivery_total=Count("deliveries"))


def subscription_get(*, workspace, public_id) -> WebhookSubscription:
    """The workspace's subscription; WebhookSubscription.DoesNotExist for another workspace's."""
    return WebhookSubscription.objects.get(workspace=workspace, public_id=public_id)


def deliveries_for_subscription(*, subscription: WebhookSubscription) -> QuerySet[Delivery]:
    """Newest first, with the event and every attempt (oldest first)."""
    return (
        Delivery.objects.filter(subscription=subscription)
        .select_related("event")
        .prefetch_related(Prefetch("attempts", queryset=DeliveryAttempt.objects.order_by("attempted_at", "pk")))
    )
