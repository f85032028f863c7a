from django.apps import AppConfig


class CloudapiEmulatorConfig(AppConfig):
    name = "cloudapi_emulator"
    verbose_name = "Cloud API emulator"
