"""Analytics console URLs, included under /w/<workspace>/analytics/ by whatsapp_platform/urls.py."""

from django.urls import path

from analytics_app import views

console_urlpatterns = [
    path("", views.analytics_dashboard, name="analytics"),
    path("export/<slug:table>.csv", views.analytics_export, name="analytics_export"),
]
