"""Production mode refuses to start with insecure defaults."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD_KEY = "x" * 50
FERNET_KEY = "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE="


def _load_settings(**overrides) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "PLATFORM_ENV"}}
    env.update(overrides, DJANGO_SETTINGS_MODULE="whatsapp_platform.settings", TESTING="false")
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({'debug': s.DEBUG, 'secure_cookie': s.SESSION_COOKIE_SECURE, 'json_logs': s.LOG_JSON}))"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    "overrides, complaint",
    [
        ({"PLATFORM_ENV": "production", "FIELD_ENCRYPTION_KEYS": FERNET_KEY}, "SECRET_KEY"),
        ({"PLATFORM_ENV": "production", "SECRET_KEY": "short", "FIELD_ENCRYPTION_KEYS": FERNET_KEY}, "SECRET_KEY"),
        ({"PLATFORM_ENV": "production", "SECRET_KEY": GOOD_KEY}, "FIELD_ENCRYPTION_KEYS"),
        ({"PLATFORM_ENV": "staging"}, "PLATFORM_ENV"),
        ({"DEBUG": "perhaps"}, "DEBUG"),
        (
            {
                "PLATFORM_ENV": "production",
                "SECRET_KEY": GOOD_KEY,
                "FIELD_ENCRYPTION_KEYS": FERNET_KEY,
                "DEBUG": "true",
            },
            "DEBUG",
        ),
    ],
)
def test_the_app_refuses_to_start_with_an_unsafe_or_malformed_setting(overrides, complaint):
    result = _load_settings(**overrides)
    assert result.returncode != 0
    assert complaint in result.stderr


def test_production_with_real_secrets_starts_with_debug_off_and_secure_cookies():
    result = _load_settings(PLATFORM_ENV="production", SECRET_KEY=GOOD_KEY, FIELD_ENCRYPTION_KEYS=FERNET_KEY)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == {"debug": False, "secure_cookie": True, "json_logs": True}


def test_secrets_at_rest_are_encrypted_and_survive_key_rotation(settings, db):
    from cryptography.fernet import Fernet

    from tests.factories import ChannelFactory
    from whatsapp_platform.encryption import secret_reencrypt

    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    channel = ChannelFactory(access_token="EAAG-super-secret")
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token FROM channels_app_channel WHERE id = %s", [channel.id])
        stored = cursor.fetchone()[0]
    assert "super-secret" not in stored

    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    rotated = secret_reencrypt(stored)
    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    from whatsapp_platform.encryption import secret_decrypt

    assert secret_decrypt(rotated) == "EAAG-super-secret"


def test_every_role_of_the_production_procfile_runs_in_production():
    env = {k: v for k, v in os.environ.items() if k != "PLATFORM_ENV"}
    for line in (ROOT / "Procfile").read_text().splitlines():
        role, _, command = line.partition(":")
        # The role's own program replaced by one that shows the environment it would get.
        shown = command.split(".venv/bin/")[0] + "printenv PLATFORM_ENV"
        result = subprocess.run(["/bin/sh", "-c", shown], env=env, capture_output=True, text=True, timeout=10)
        assert result.stdout.strip() == "production", role
