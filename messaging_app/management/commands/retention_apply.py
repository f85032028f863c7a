from django.core.management.base import BaseCommand, CommandError

from messaging_app.services import privacy
from workspaces_app.models import Workspace


class Command(BaseCommand):
    help = (
        "Apply retention policies now (the daily job does it too): contents older than each workspace's limit "
        "are removed, rows stay. Safe to run repeatedly. Also retries stored files left to delete."
    )

    def add_arguments(self, parser):
        parser.add_argument("--workspace", help="Only this workspace (its slug).")

    def handle(self, *args, workspace: str | None, **options):
        if workspace:
            ws = Workspace.objects.filter(slug=workspace).first()
            if ws is None:
                raise CommandError(f"No workspace {workspace!r}.")
            counts = privacy.workspace_retention_apply(workspace=ws)
        else:
            counts = privacy.retention_apply_all(time_budget_seconds=24 * 3600)
        self.stdout.write(", ".join(f"{name.replace('_', ' ')}: {value}" for name, value in counts.items()))
