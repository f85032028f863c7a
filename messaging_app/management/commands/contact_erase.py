from django.core.management.base import BaseCommand, CommandError

from messaging_app.services import privacy
from whatsapp_platform.errors import PlatformError
from workspaces_app.models import Workspace


class Command(BaseCommand):
    help = (
        "Erase a contact: message contents, media files, agent logs, webhook bodies, events, scheduled messages "
        "and campaign values that name them. Rows analytics count stay, anonymous. This cannot be undone."
    )

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, help="The workspace's slug.")
        parser.add_argument("--contact", required=True, help="The contact's id, or phone number as +<digits>.")
        parser.add_argument("--yes", action="store_true", help="Do not ask to type the contact's id to confirm.")

    def handle(self, *args, workspace: str, contact: str, yes: bool, **options):
        ws = Workspace.objects.filter(slug=workspace).first()
        if ws is None:
            raise CommandError(f"No workspace {workspace!r}.")
        try:
            found = privacy.contact_find(workspace=ws, reference=contact)
        except PlatformError as exc:
            raise CommandError(exc.message) from None
        if not yes:
            typed = input(f"Erase contact {found.pk} ({found.phone_display}) for good? Type its id to confirm: ")
            if typed.strip() != str(found.pk):
                raise CommandError("Not confirmed; nothing was erased.")
        try:
            counts = privacy.contact_erase(contact=found, actor="system")
        except PlatformError as exc:
            raise CommandError(exc.message) from None
        summary = ", ".join(f"{name.replace('_', ' ')}: {count}" for name, count in counts.items())
        self.stdout.write(f"Contact {found.pk} erased ({summary}).")
