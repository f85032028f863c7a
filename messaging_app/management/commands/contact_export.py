from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from messaging_app.services import privacy
from whatsapp_platform.errors import PlatformError
from workspaces_app.models import Workspace


class Command(BaseCommand):
    help = (
        "Write everything stored about one contact to a zip: contact.json (conversations, messages, statuses, "
        "ratings, agent runs and tool calls, campaigns, scheduled messages, events) and media/<message id>.<ext>."
    )

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, help="The workspace's slug.")
        parser.add_argument("--contact", required=True, help="The contact's id, or phone number as +<digits>.")
        parser.add_argument("--output", required=True, help="Where to write the zip, e.g. contact.zip.")

    def handle(self, *args, workspace: str, contact: str, output: str, **options):
        ws = Workspace.objects.filter(slug=workspace).first()
        if ws is None:
            raise CommandError(f"No workspace {workspace!r}.")
        try:
            found = privacy.contact_find(workspace=ws, reference=contact)
        except PlatformError as exc:
            raise CommandError(exc.message) from None
        path = Path(output)
        if path.parent and not path.parent.exists():
            raise CommandError(f"The folder {path.parent} does not exist.")
        # Written beside the target and renamed at the end: a failed export never leaves half a zip behind.
        partial = path.with_name(path.name + ".partial")
        try:
            with partial.open("wb") as target:
                document = privacy.contact_export_write(contact=found, target=target)
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
        privacy.contact_export_audit(contact=found, document=document, actor="system")
        messages = sum(len(c["messages"]) for c in document["conversations"])
        self.stdout.write(f"Contact {found.pk}: {messages} message(s) written to {path}.")
