"""The URL configuration of `manage.py run_emulator`: only the emulator, under the same /emulator/ prefix."""

from django.urls import include, path

urlpatterns = [path("emulator/", include("cloudapi_emulator.urls"))]
