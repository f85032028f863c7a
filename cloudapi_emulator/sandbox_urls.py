"""The sandbox phone, mounted under `/w/<workspace_slug>/channels/<channel_id>/sandbox/` by the root URLconf."""

from django.urls import path

from cloudapi_emulator import sandbox_views

urlpatterns = [
    path("", sandbox_views.sandbox_phone, name="sandbox_phone"),
    path("customers/", sandbox_views.sandbox_customer_add, name="sandbox_customer_add"),
    path("customers/<int:customer_id>/chat/", sandbox_views.sandbox_chat, name="sandbox_chat"),
    path("customers/<int:customer_id>/composer/", sandbox_views.sandbox_composer, name="sandbox_composer"),
    path("customers/<int:customer_id>/send/", sandbox_views.sandbox_send, name="sandbox_send"),
    path("customers/<int:customer_id>/location/", sandbox_views.sandbox_location, name="sandbox_location"),
    path("customers/<int:customer_id>/tap/", sandbox_views.sandbox_tap, name="sandbox_tap"),
    path("customers/<int:customer_id>/react/", sandbox_views.sandbox_react, name="sandbox_react"),
    path("media/<str:media_id>/", sandbox_views.sandbox_media, name="sandbox_media"),
]
