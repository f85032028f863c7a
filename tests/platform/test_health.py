import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def test_healthz_answers_while_the_process_is_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ok_when_database_cache_and_broker_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"] == ["database", "cache", "broker"]


def test_readyz_answers_503_naming_the_cache_when_it_is_unreachable(client, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
            "OPTIONS": {"socket_connect_timeout": 0.5},
        }
    }
    response = client.get("/readyz")
    assert response.status_code == 503
    assert list(response.json()["failed"]) == ["cache"]
    assert "cache" in response.json()["message"]


def test_readyz_answers_503_naming_the_broker_when_it_is_unreachable(client, settings):
    from whatsapp_platform.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        response = client.get("/readyz")
    finally:
        app.conf.broker_url = original
    assert response.status_code == 503
    assert "broker" in response.json()["failed"]


def test_readyz_answers_503_naming_the_database_when_it_fails(client, monkeypatch):
    def broken_cursor(*args, **kwargs):
        raise ConnectionError("connection refused")

    monkeypatch.setattr(connection, "cursor", broken_cursor)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "database" in response.json()["failed"]


def test_every_response_carries_a_request_id(client):
    response = client.get("/healthz")
    assert len(response["X-Request-ID"]) == 32
    echoed = client.get("/healthz", headers={"X-Request-ID": "lb-12345678"})
    assert echoed["X-Request-ID"] == "lb-12345678"
    refused = client.get("/healthz", headers={"X-Request-ID": "<script>"})
    assert refused["X-Request-ID"] != "<script>"


def test_console_pages_carry_a_strict_content_security_policy(client):
    response = client.get("/accounts/login/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert response["X-Content-Type-Options"] == "nosniff"
