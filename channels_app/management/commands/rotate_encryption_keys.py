"""Re-encrypt every secret at rest with the newest key in FIELD_ENCRYPTION_KEYS.

Rotation: put a new key first in FIELD_ENCRYPTION_KEYS (keep the old ones after it), run
this command, then remove the old keys.
"""

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from whatsapp_platform.encryption import EncryptedTextField


class Command(BaseCommand):
    help = "Re-encrypt every secret at rest with the newest FIELD_ENCRYPTION_KEYS key."

    def handle(self, *args, **options):
        total = 0
        for model in apps.get_models():
            fields = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
            if not fields:
                continue
            count = 0
            for row in model._default_manager.only("pk", *fields).iterator(chunk_size=500):
                # Reading decrypts with whichever key fits; update() encrypts with the newest.
                values = {name: getattr(row, name) for name in fields}
                with transaction.atomic():
                    model._default_manager.filter(pk=row.pk).update(**values)
                count += 1
            total += count
            self.stdout.write(f"{model._meta.label}: {count} row(s) re-encrypted ({', '.join(fields)})")
        total += self._authenticators()
        self.stdout.write(self.style.SUCCESS(f"Done: {total} row(s) now use the newest key."))

    def _authenticators(self) -> int:
        """allauth's TOTP seeds sit in a JSON field, encrypted by our MFA adapter: re-encrypt them too."""
        from allauth.mfa.adapter import get_adapter
        from allauth.mfa.models import Authenticator

        adapter, count = get_adapter(), 0
        for authenticator in Authenticator.objects.filter(type=Authenticator.Type.TOTP).iterator(chunk_size=500):
            data = dict(authenticator.data)
            if not data.get("secret"):
                continue
            data["secret"] = adapter.encrypt(adapter.decrypt(data["secret"]))
            Authenticator.objects.filter(pk=authenticator.pk).update(data=data)
            count += 1
        self.stdout.write(f"mfa.Authenticator: {count} TOTP seed(s) re-encrypted")
        return count
