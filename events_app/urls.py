"""Event webhook URLs, included by whatsapp_platform/urls.py: console pages under /w/<workspace>/, and the API."""

from django.urls import path

from events_app import api, views

console_urlpatterns = [
    path("settings/webhooks/", views.webhook_list, name="webhook_list"),
    path("settings/webhooks/new/", views.webhook_create, name="webhook_create"),
    path("settings/webhooks/<uuid:subscription_id>/", views.webhook_detail, name="webhook_detail"),
    path("settings/webhooks/<uuid:subscription_id>/update/", views.webhook_update, name="webhook_update"),
    path("settings/webhooks/<uuid:subscription_id>/toggle/", views.webhook_toggle, name="webhook_toggle"),
    path(
        "settings/webhooks/<uuid:subscription_id>/rotate-secret/",
        views.webhook_rotate_secret,
        name="webhook_rotate_secret",
    ),
    path("settings/webhooks/<uuid:subscription_id>/delete/", views.webhook_delete, name="webhook_delete"),
    path(
        "settings/webhooks/<uuid:subscription_id>/deliveries/<str:delivery_id>/resend/",
        views.webhook_delivery_resend,
        name="webhook_delivery_resend",
    ),
]

api_urlpatterns = [
    path("webhook-subscriptions/", api.SubscriptionListApi.as_view(), name="api_webhook_subscription_list"),
    path(
        "webhook-subscriptions/<uuid:subscription_id>/",
        api.SubscriptionDetailApi.as_view(),
        name="api_webhook_subscription_detail",
    ),
    path(
        "webhook-subscriptions/<uuid:subscription_id>/rotate-secret/",
        api.SubscriptionRotateSecretApi.as_view(),
        name="api_webhook_subscription_rotate_secret",
    ),
    path(
        "webhook-subscriptions/<uuid:subscription_id>/deliveries/",
        api.SubscriptionDeliveriesApi.as_view(),
        name="api_webhook_subscription_deliveries",
    ),
    path(
        "webhook-subscriptions/<uuid:subscription_id>/deliveries/<str:delivery_id>/resend/",
        api.DeliveryResendApi.as_view(),
        name="api_webhook_delivery_resend",
    ),
]
