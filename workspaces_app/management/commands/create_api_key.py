from django.core.management.base import BaseCommand, CommandError

from whatsapp_platform.errors import PlatformError
from workspaces_app.models import Role, Workspace
from workspaces_app.services import api_key_create


class Command(BaseCommand):
    help = "Create a workspace API key and print it (it is shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, help="The workspace's slug, e.g. demo-shop.")
        parser.add_argument("--name", required=True, help="Where the key is used, e.g. 'CRM sync'.")
        parser.add_argument(
            "--role",
            choices=Role.values,
            default=Role.ADMIN,
            help="What the key may do, as a member of this role may in the console (default: admin).",
        )

    def handle(self, *args, workspace: str, name: str, role: str, **options):
        found = Workspace.objects.filter(slug=workspace).first()
        if found is None:
            slugs = ", ".join(Workspace.objects.values_list("slug", flat=True)[:20]) or "none yet"
            raise CommandError(f"No workspace with slug {workspace!r}. Existing slugs: {slugs}.")
        try:
            issued = api_key_create(workspace=found, name=name, role=role)
        except PlatformError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(issued.plaintext)
        self.stderr.write(f"Created API key '{name}' for {found.name}. Store it now; it is not shown again.")
