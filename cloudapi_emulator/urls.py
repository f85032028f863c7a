from django.urls import path, re_path

from cloudapi_emulator import control, signup_views, views

app_name = "cloudapi_emulator"

urlpatterns = [
    # Graph API, with or without a version segment (Meta treats the version as optional).
    re_path(r"^graph/(?P<version>v\d+\.\d+)/(?P<path>.+)$", views.graph, name="graph"),
    re_path(r"^graph/(?P<path>(?!v\d+\.\d+/).+)$", views.graph, name="graph_unversioned"),
    path("media/<str:key>/", views.media_download, name="media_download"),
    path("profile-pictures/<str:key>/", views.profile_picture, name="profile_picture"),
    # The stand-in Embedded Signup popup (HTML, CSRF-protected).
    path("signup/", signup_views.signup, name="signup"),
    # Control API (JSON).
    path("control/apps/", control.apps, name="control_apps"),
    path("control/signups/", control.signups, name="control_signups"),
    path("control/numbers/", control.numbers, name="control_numbers"),
    path("control/numbers/<str:phone_number_id>/customers/", control.customers, name="control_customers"),
    path(
        "control/numbers/<str:phone_number_id>/customers/<int:customer_id>/messages/",
        control.customer_messages,
        name="control_customer_messages",
    ),
    path("control/numbers/<str:phone_number_id>/requests/", control.requests_received, name="control_requests"),
    path("control/numbers/<str:phone_number_id>/limits/", control.limits, name="control_limits"),
    path("control/numbers/<str:phone_number_id>/webhook-mode/", control.webhook_mode, name="control_webhook_mode"),
    path("control/faults/", control.faults, name="control_faults"),
    path("control/tokens/revoke/", control.token_revoke, name="control_token_revoke"),
    path("control/media/expire/", control.media_expire, name="control_media_expire"),
    path("control/oauth-codes/", control.oauth_codes, name="control_oauth_codes"),
    path("control/templates/", control.templates, name="control_templates"),
    path("control/clock/advance/", control.clock_advance, name="control_clock_advance"),
]
