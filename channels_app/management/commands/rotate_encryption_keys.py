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
        self.stdout.write(self.style.SUCCESS(f"Done: {total} row(s) now use the newest key."))
