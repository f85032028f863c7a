"""PostgreSQL connection pooling, switched on from the environment, reaches Django as a pool it can use."""

import json
import subprocess
import sys

import pytest
from django.db import connection

from tests.platform.processes import ROOT, process_env, this_test_database_url

SHOW = (
    "import django, json; django.setup(); from django.conf import settings as s; from django.db import connection; "
    "d = s.DATABASES['default']; connection.ensure_connection() if d['OPTIONS'].get('pool') else None; "
    "print(json.dumps({'pool': d['OPTIONS'].get('pool'), 'conn_max_age': d['CONN_MAX_AGE'], "
    "'pooled': getattr(connection, 'pool', None) is not None}))"
)


def _settings_loaded(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", SHOW], cwd=ROOT, env=process_env(**env), capture_output=True, text=True, timeout=60
    )


def _loaded(**env: str) -> dict:
    result = _settings_loaded(**env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def postgres_url(db) -> str:
    if connection.vendor != "postgresql":
        pytest.skip("connection pooling is PostgreSQL's (DATABASE_URL=postgres://...)")
    return this_test_database_url()


def test_pool_true_in_the_database_url_becomes_a_pool_django_opens(postgres_url):
    loaded = _loaded(DATABASE_URL=f"{postgres_url}?pool=true")
    assert loaded["pool"] == {"min_size": 1, "max_size": 10, "timeout": 20.0, "max_idle": 300}
    assert loaded["conn_max_age"] == 0  # Django refuses a pool with persistent connections
    assert loaded["pooled"] is True


def test_database_pool_and_its_size_come_from_the_environment(postgres_url):
    loaded = _loaded(DATABASE_URL=postgres_url, DATABASE_POOL="true", DATABASE_POOL_MAX_SIZE="4")
    assert loaded["pool"]["max_size"] == 4
    assert loaded["pooled"] is True


def test_without_a_pool_each_thread_keeps_its_own_persistent_connection(postgres_url):
    loaded = _loaded(DATABASE_URL=postgres_url, DATABASE_POOL="false")
    assert loaded == {"pool": None, "conn_max_age": 60, "pooled": False}


@pytest.mark.parametrize(
    "env, complaint",
    [
        ({"DATABASE_POOL": "perhaps"}, "DATABASE_POOL"),
        ({"DATABASE_URL": "postgres://postgres@127.0.0.1:1/x?pool=sometimes"}, "pool"),
        ({"DATABASE_URL": "sqlite:////tmp/wap-pool.sqlite3", "DATABASE_POOL": "true"}, "needs PostgreSQL"),
    ],
)
def test_a_malformed_or_impossible_pool_setting_stops_start_up(env, complaint):
    result = _settings_loaded(**env)
    assert result.returncode != 0
    assert complaint in result.stderr
