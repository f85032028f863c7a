from django.apps import AppConfig


class OutreachAppConfig(AppConfig):
    name = "outreach_app"
    verbose_name = "Outreach"
