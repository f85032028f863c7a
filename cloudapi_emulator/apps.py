from django.apps import AppConfig


class CloudapiEmulatorConfig(AppConfig):
    name = "cloudapi_emulator"
    verbose_name = "Cloud API emulator"

    def ready(self) -> None:
        # Registers the handlers of the outbox rows its services defer to the dispatcher (template reviews).
        from cloudapi_emulator.services import templates  # noqa: F401
