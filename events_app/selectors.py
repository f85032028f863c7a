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


def workspaces_subscribed(*, type: str, workspace_ids: set[int]) -> set[int]:
    """The workspaces among these with an enabled subscription that wants `type`: event_emit records
    nothing for the others, so a batch can skip asking per change (one query for the whole batch)."""
    return {
        workspace_id
        for workspace_id, event_types in WebhookSubscription.objects.filter(
            workspace_id__in=workspace_ids, enabled=True
        ).values_list("workspace_id", "event_types")
        if type in event_types
    }
