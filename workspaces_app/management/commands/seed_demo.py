"""Seed the demo: the Demo Shop workspace, its owner, and its default agent. Idempotent."""

import secrets

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from agents_app.services import agent_default_ensure
from channels_app.models import Channel
from workspaces_app.models import Membership, Role, User, Workspace
from workspaces_app.services import membership_set, workspace_create

DEMO_EMAIL = "owner@demo.shop"
SANDBOX_NUMBER = "+1 555 010 0100"
# What the demo agent knows, so the sandbox phone has something real to answer.
DEMO_FAQ = [
    (
        "What are your opening hours?",
        "We're open Monday to Saturday, 9am to 6pm 🕘 Orders placed on Sunday ship on Monday.",
    ),
    (
        "Do you ship internationally?",
        "Yes! 🌍 We ship to the EU, UK, US and Canada in 3–7 business days. Shipping is free over €50.",
    ),
    (
        "How do returns work?",
        "You can return anything within 30 days. Use the prepaid label in your order email, drop the "
        "parcel at any post office, and your refund arrives within 5 business days after we receive it.",
    ),
    (
        "How can I track my order?",
        "Open the link in your shipping email, or send me your order number and a teammate will look it up for you 📦",
    ),
]
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
        agent = agent_default_ensure(workspace=workspace)
        if not agent.knowledge.exists():
            for question, answer in DEMO_FAQ:
                agent.knowledge.create(title=question, body=answer)
        sandbox = self._sandbox_channel_ensure(workspace, agent) if settings.WHATSAPP_EMULATOR_ENABLED else None

        if sandbox is not None:
            self.stdout.write(
                f"  Sandbox channel: {sandbox.display_phone_number}, answered by '{agent.name}'. "
                f"Chat as a customer at {settings.SITE_URL}/w/{workspace.slug}/channels/{sandbox.public_id}/sandbox/"
            )
        shown = password or "(unchanged; run `python manage.py seed_demo --reset-password` for a new one)"
        self.stdout.write(
            "\n"
            "  ┌──────────────────────────────────────────────────────────\n"
            f"  │ Demo Shop console: {settings.SITE_URL}/accounts/login/\n"
            f"  │ email:    {DEMO_EMAIL}\n"
            f"  │ password: {shown}\n"
            "  └──────────────────────────────────────────────────────────\n"
        )

    def _sandbox_channel_ensure(self, workspace, agent):
        """A channel wired to the local Cloud API emulator, so the demo needs no Meta account."""
        from cloudapi_emulator.services import app_register, sandbox_number_provision  # dev tooling only

        # The emulator plays the platform's own Meta app too, so Login with Facebook works locally.
        app_register(
            app_id=settings.META_APP_ID,
            app_secret=settings.META_APP_SECRET,
            callback_url=f"{settings.SITE_URL}/webhooks/whatsapp/",
            verify_token=settings.WHATSAPP_VERIFY_TOKEN,
        )

        channel = Channel.objects.filter(workspace=workspace, provider=Channel.Provider.SANDBOX, name="Sandbox").first()
        if channel is None:
            channel = Channel(
                workspace=workspace,
                name="Sandbox",
                provider=Channel.Provider.SANDBOX,
                access_token=secrets.token_urlsafe(24),
                app_secret=secrets.token_urlsafe(24),
                verify_token=secrets.token_urlsafe(16),
            )
            channel.save()
        number = sandbox_number_provision(
            display_phone_number=SANDBOX_NUMBER,
            verified_name=workspace.name,
            access_token=channel.access_token,
            app_secret=channel.app_secret,
            webhook_url=f"{settings.SITE_URL}/webhooks/whatsapp/{channel.public_id}/",
        )
        channel.phone_number_id = number.phone_number_id
        channel.waba_id = number.waba_id
        channel.meta_app_id = number.app.app_id
        channel.connection = Channel.Connection.SANDBOX
        channel.display_phone_number = SANDBOX_NUMBER
        channel.verified_name = workspace.name
        channel.status = Channel.Status.ACTIVE
        channel.status_reason = ""
        channel.agent = channel.agent or agent
        channel.save()
        return channel
