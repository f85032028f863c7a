"""Serve only the Cloud API emulator on its own port, with one provisioned number.

    python manage.py run_emulator --port 8081 --webhook-url http://127.0.0.1:8000/webhooks/whatsapp/<id>/

The Graph API is then at http://127.0.0.1:8081/emulator/graph/v25.0/…; the webhook outbox is
delivered by the dispatcher thread of this process.
"""

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.management.base import BaseCommand, CommandError
from django.core.servers.basehttp import run
from django.db.utils import OperationalError

from cloudapi_emulator import services


class Command(BaseCommand):
    help = "Run the WhatsApp Cloud API emulator alone (threaded WSGI server) and provision a number."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8081)
        parser.add_argument("--webhook-url", required=True, help="Where this number's webhooks are POSTed.")
        parser.add_argument("--app-secret", default="emulator-app-secret", help="Signs the webhooks.")
        parser.add_argument("--access-token", default="emulator-access-token", help="Bearer token for Graph calls.")
        parser.add_argument("--display-phone-number", default="+1 555 010 0001")
        parser.add_argument("--verified-name", default="Emulated Business")
        parser.add_argument("--phone-number-id", default=None)
        parser.add_argument("--waba-id", default=None)
        parser.add_argument("--app-id", default=None)

    def handle(self, *args, **options):
        if not settings.WHATSAPP_EMULATOR_ENABLED:
            raise CommandError("The emulator is off (WHATSAPP_EMULATOR_ENABLED=false).")
        try:
            number = services.sandbox_number_provision(
                display_phone_number=options["display_phone_number"],
                verified_name=options["verified_name"],
                access_token=options["access_token"],
                app_secret=options["app_secret"],
                webhook_url=options["webhook_url"],
                phone_number_id=options["phone_number_id"],
                waba_id=options["waba_id"],
                app_id=options["app_id"],
            )
        except OperationalError as error:
            raise CommandError(f"{error}. Run `python manage.py migrate` first.")
        base = f"http://{options['host']}:{options['port']}/emulator"
        self.stdout.write(
            "\n".join(
                [
                    "WhatsApp Cloud API emulator",
                    f"  Graph API:        {base}/graph/{settings.GRAPH_API_VERSION}/",
                    f"  Control API:      {base}/control/",
                    f"  phone_number_id:  {number.phone_number_id}",
                    f"  waba_id:          {number.waba_id}",
                    f"  app_id:           {number.app.app_id}",
                    f"  display number:   {number.display_phone_number}",
                    f"  access token:     {number.access_token}",
                    f"  webhooks go to:   {number.webhook_url}",
                    "",
                ]
            )
        )
        # Only the emulator's URLs are served from this process.
        settings.ROOT_URLCONF = "cloudapi_emulator.standalone_urls"
        services.dispatcher_ensure_running()
        run(options["host"], options["port"], WSGIHandler(), ipv6=False, threading=True)
