"""Secrets at rest: Fernet with a key list, newest first (MultiFernet).

The newest key encrypts; every listed key decrypts, so rotation is: prepend a new key,
run `manage.py rotate_encryption_keys` (re-encrypts every secret with the newest key),
then drop the old key.
"""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@lru_cache(maxsize=4)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS holds a value that is not a Fernet key (32 url-safe base64 bytes)."
        ) from exc


def _fernet() -> MultiFernet:
    return _fernet_for(tuple(settings.FIELD_ENCRYPTION_KEYS))


def secret_encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def secret_decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS; was a key removed before rotation?"
        ) from exc


def secret_reencrypt(token: str) -> str:
    return _fernet().rotate(token.encode()).decode()


class EncryptedTextField(models.TextField):
    """Text stored encrypted; reads give the plaintext, '' stays '' (no secret set)."""

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return value
        return secret_decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return secret_encrypt(value)
