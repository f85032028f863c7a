from django.apps import AppConfig


class AuditAppConfig(AppConfig):
    name = "audit_app"
    verbose_name = "Audit log"

    def ready(self) -> None:
        from audit_app import guard, receivers  # noqa: F401 (connect signal receivers)

        guard.connect()
