from django.core.management.base import BaseCommand, CommandError

from analytics_app.services.rollup import daily_stats_rollup_days
from workspaces_app.models import Workspace


class Command(BaseCommand):
    help = (
        "Recompute the analytics' daily figures of the last N days (today included) from the messages, "
        "agent runs and ratings. Safe to run any time and repeatedly: each day is rewritten, never added to."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=3, help="How many local days back, today included.")
        parser.add_argument("--workspace", help="Only this workspace (its slug).")

    def handle(self, *args, days: int, workspace: str | None, **options):
        if days < 1:
            raise CommandError("--days must be at least 1.")
        workspaces = Workspace.objects.order_by("pk")
        if workspace:
            workspaces = workspaces.filter(slug=workspace)
            if not workspaces.exists():
                raise CommandError(f"No workspace {workspace!r}.")
        total = 0
        for ws in workspaces:
            rows = daily_stats_rollup_days(workspace=ws, days=days)
            total += rows
            if options["verbosity"] > 1:
                self.stdout.write(f"{ws.slug}: {rows} channel-days")
        self.stdout.write(f"Recomputed {days} day(s) of {workspaces.count()} workspace(s): {total} channel-day rows.")
