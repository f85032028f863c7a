from django.apps import AppConfig


class WorkspacesAppConfig(AppConfig):
    name = "workspaces_app"
    verbose_name = "Workspaces"
