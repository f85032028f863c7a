"""`/api/v1/webhook-subscriptions/`: a workspace's event webhooks, their secrets and delivery logs."""

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from events_app import services
from events_app.models import EVENT_TYPES, Delivery, DeliveryAttempt, WebhookSubscription
from events_app.selectors import deliveries_for_subscription, subscriptions_list
from events_app.services.subscriptions import MAX_OVERLAP_HOURS

EVENT_TYPE_CHOICES = [name for name, _label in EVENT_TYPES]


class SubscriptionOutputSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    secret_rotation_overlap_until = serializers.DateTimeField(source="previous_secret_expires_at", allow_null=True)

    class Meta:
        model = WebhookSubscription
        fields = [
            "id",
            "url",
            "description",
            "event_types",
            "enabled",
            "disabled_reason",
            "disabled_at",
            "failing_since",
            "secret_rotation_overlap_until",
            "created_at",
            "updated_at",
        ]


class SubscriptionWithSecretSerializer(SubscriptionOutputSerializer):
    """The subscription and its signing secret: returned on creation and rotation only, never again."""

    secret = serializers.CharField()

    class Meta(SubscriptionOutputSerializer.Meta):
        fields = [*SubscriptionOutputSerializer.Meta.fields, "secret"]


class SubscriptionInputSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=2000)
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_TYPE_CHOICES), allow_empty=False)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    enabled = serializers.BooleanField(required=False)


class RotateInputSerializer(serializers.Serializer):
    overlap_hours = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_OVERLAP_HOURS,
        help_text="How long the old secret keeps signing beside the new one (default: the platform's setting).",
    )


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["attempted_at", "status_code", "response_ms", "error", "response_excerpt", "succeeded"]


class DeliverySerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id", help_text="The webhook-id header, the same on every attempt.")
    event_id = serializers.CharField(source="event.public_id")
    event_type = serializers.CharField(source="event.type")
    attempts = AttemptSerializer(many=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "event_id",
            "event_type",
            "state",
            "attempt_count",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "delivered_at",
            "created_at",
            "attempts",
        ]


def _subscription(request, subscription_id) -> WebhookSubscription:
    return get_object_or_404(WebhookSubscription, workspace=request.auth.workspace, public_id=subscription_id)


def _with_secret(subscription: WebhookSubscription, secret: str) -> dict:
    data = SubscriptionOutputSerializer(subscription).data
    data["secret"] = secret
    return data


class SubscriptionListApi(ListAPIView):
    required_permissions = {"GET": "configure"}

    serializer_class = SubscriptionOutputSerializer

    def get_queryset(self):
        return subscriptions_list(workspace=self.request.auth.workspace)

    @extend_schema(summary="List the workspace's webhook subscriptions")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=SubscriptionInputSerializer,
        responses={201: SubscriptionWithSecretSerializer},
        summary="Subscribe a URL to events (the signing secret is in this answer only)",
    )
    def post(self, request):
        data = SubscriptionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        subscription, secret = services.subscription_create(
            workspace=request.auth.workspace,
            url=values["url"],
            event_types=values["event_types"],
            description=values.get("description", ""),
        )
        if values.get("enabled") is False:
            services.subscription_update(subscription=subscription, values={"enabled": False})
        return Response(_with_secret(subscription, secret), status=status.HTTP_201_CREATED)


class SubscriptionDetailApi(APIView):
    required_permissions = {"GET": "configure"}

    @extend_schema(responses=SubscriptionOutputSerializer, summary="One webhook subscription")
    def get(self, request, subscription_id):
        return Response(SubscriptionOutputSerializer(_subscription(request, subscription_id)).data)

    @extend_schema(
        request=SubscriptionInputSerializer,
        responses=SubscriptionOutputSerializer,
        summary="Change a subscription's URL, events, description, or enable/disable it",
    )
    def patch(self, request, subscription_id):
        subscription = _subscription(request, subscription_id)
        data = SubscriptionInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        subscription = services.subscription_update(subscription=subscription, values=dict(data.validated_data))
        return Response(SubscriptionOutputSerializer(subscription).data)

    @extend_schema(request=None, responses={204: None}, summary="Delete a subscription and its delivery log")
    def delete(self, request, subscription_id):
        services.subscription_delete(subscription=_subscription(request, subscription_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SubscriptionRotateSecretApi(APIView):
    @extend_schema(
        request=RotateInputSerializer,
        responses=SubscriptionWithSecretSerializer,
        summary="Rotate the signing secret (the new one is in this answer only; the old one overlaps)",
        description=(
            "During the overlap every delivery carries both signatures in `webhook-signature`, space-separated. "
            f"The overlap defaults to {settings.EVENT_WEBHOOK_SECRET_OVERLAP_HOURS} hours."
        ),
    )
    def post(self, request, subscription_id):
        subscription = _subscription(request, subscription_id)
        data = RotateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        secret = services.subscription_secret_rotate(
            subscription=subscription, overlap_hours=data.validated_data.get("overlap_hours")
        )
        return Response(_with_secret(subscription, secret))


class SubscriptionDeliveriesApi(ListAPIView):
    required_permissions = {"GET": "configure"}

    serializer_class = DeliverySerializer

    def get_queryset(self):
        subscription = _subscription(self.request, self.kwargs["subscription_id"])
        return deliveries_for_subscription(subscription=subscription)

    @extend_schema(summary="The subscription's delivery log, newest first, with every attempt")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class DeliveryResendApi(APIView):
    @extend_schema(
        request=None,
        responses={202: DeliverySerializer},
        summary="Send a delivery again now (same webhook-id, a fresh retry schedule)",
    )
    def post(self, request, subscription_id, delivery_id: str):
        subscription = _subscription(request, subscription_id)
        delivery = get_object_or_404(
            Delivery.objects.select_related("subscription"), subscription=subscription, public_id=delivery_id
        )
        delivery = services.delivery_resend(delivery=delivery)
        delivery = deliveries_for_subscription(subscription=subscription).get(pk=delivery.pk)
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
