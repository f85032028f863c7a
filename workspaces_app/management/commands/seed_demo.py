"""Seed the demo: the Demo Shop workspace, its owner, and its default agent. Idempotent."""

import secrets

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from agents_app.services import agent_default_ensure
from workspaces_app.models import Membership, Role, User, Workspace
from workspaces_app.services import membership_set, workspace_create

DEMO_EMAIL = "owner@demo.shop"
DEMO_WORKSPACE_SLUG = "demo-shop"
PASSWORD_FILE = settings.LOCAL_DIR / "demo-login.txt"


class Command(BaseCommand):
    help = "Create (or complete) the Demo Shop workspace and print its owner's login."

    def add_arguments(self, parser):
        parser.add_argument("--reset-password", action="store_true", help="Give the demo owner a new password.")

    @transaction.atomic
    def handle(self, *args, reset_password: bool = False, **options):
        user = User.objects.filter(email=DEMO_EMAIL).first()
        password = None
        if user is None:
            password = secrets.token_urlsafe(12)
            user = User.objects.create_user(DEMO_EMAIL, password, first_name="Demo", last_name="Owner")
        elif reset_password:
            password = secrets.token_urlsafe(12)
            user.set_password(password)
            user.save(update_fields=["password"])
        if password:
            PASSWORD_FILE.parent.mkdir(parents=True, exist_ok=True)
            PASSWORD_FILE.write_text(password)
        else:
            stored = PASSWORD_FILE.read_text().strip() if PASSWORD_FILE.exists() else ""
            password = stored if stored and user.check_password(stored) else None

        workspace = Workspace.objects.filter(slug=DEMO_WORKSPACE_SLUG).first()
        if workspace is None:
            workspace = workspace_create(name="Demo Shop", owner=user, slug=DEMO_WORKSPACE_SLUG)
        elif not Membership.objects.filter(workspace=workspace, user=user).exists():
            membership_set(workspace=workspace, user=user, role=Role.OWNER)
        agent_default_ensure(workspace=workspace)

        shown = password or "(unchanged; run `python manage.py seed_demo --reset-password` for a new one)"
        self.stdout.write(
            "\n"
            "  ┌──────────────────────────────────────────────────────────\n"
            f"  │ Demo Shop console: {settings.SITE_URL}/accounts/login/\n"
            f"  │ email:    {DEMO_EMAIL}\n"
            f"  │ password: {shown}\n"
            "  └──────────────────────────────────────────────────────────\n"
        )
