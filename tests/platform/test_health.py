"""Probes: liveness answers whenever the process does; readiness follows the database only, and shows
Redis and the background processes' heartbeats in its detail (and on /metrics)."""

import json
import subprocess
import sys

import pytest
from django.db import connection

from tests.conftest import wait_until
from tests.platform.processes import ROOT, Processes, celery_argv, manage_argv, process_env

pytestmark = pytest.mark.django_db
METRICS_TOKEN = "m" * 32
CLOSED_PORT_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def test_healthz_answers_while_the_process_is_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_probes_answer_a_load_balancer_that_addresses_the_node_by_its_ip(client, settings):
    settings.ALLOWED_HOSTS = ["chat.example.com"]
    assert client.get("/healthz", HTTP_HOST="10.0.3.7:8000").status_code == 200
    assert client.get("/readyz", HTTP_HOST="10.0.3.7").status_code == 200
    assert client.get("/accounts/login/", HTTP_HOST="10.0.3.7").status_code == 400  # the rest still checks


def test_prometheus_scrapes_a_node_by_its_ip_with_the_token_and_only_with_it(client, settings):
    settings.ALLOWED_HOSTS = ["chat.example.com"]
    settings.METRICS_TOKEN = METRICS_TOKEN
    scraped = client.get("/metrics", HTTP_HOST="10.0.3.7:8000", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}")
    assert scraped.status_code == 200
    assert "wap_processes_alive" in scraped.content.decode()
    assert client.get("/metrics", HTTP_HOST="10.0.3.7:8000").status_code == 401


def test_readyz_is_ok_when_database_cache_and_broker_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["database"] == "ok"
    assert response.json()["checks"]["cache"] == "ok"


def _readyz_in_a_process(**env: str) -> tuple[int, dict]:
    """GET /readyz in a process started with `env`, as a deployment starts the web with its settings."""
    code = (
        "import django, json; django.setup(); from django.test import Client; "
        "r = Client().get('/readyz'); print(json.dumps([r.status_code, r.json()]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=process_env(**env), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    status, body = json.loads(result.stdout.strip().splitlines()[-1])
    return status, body


def test_readyz_stays_ready_with_redis_down_and_says_so_in_its_detail():
    # Webhooks are stored in the database first: intake survives Redis, so the node stays in the pool.
    status, body = _readyz_in_a_process(REDIS_URL=CLOSED_PORT_REDIS, CELERY_BROKER_URL=CLOSED_PORT_REDIS)
    assert status == 200, body
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["cache"].startswith("down")
    assert body["checks"]["broker"].startswith("down")


def test_readyz_is_unready_when_the_database_is_down():
    status, body = _readyz_in_a_process(DATABASE_URL="postgres://postgres@127.0.0.1:1/nothing")
    assert status == 503
    assert list(body["failed"]) == ["database"]
    assert body["message"] == "Not ready: database unreachable."


def test_readyz_answers_503_naming_the_database_when_it_fails(client, monkeypatch):
    def broken_cursor(*args, **kwargs):
        raise ConnectionError("connection refused")

    monkeypatch.setattr(connection, "cursor", broken_cursor)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "database" in response.json()["failed"]


def _metric(text: str, name: str, role: str) -> float:
    line = next(line for line in text.splitlines() if line.startswith(f'{name}{{role="{role}"}}'))
    return float(line.split()[-1])


def test_a_running_worker_and_scheduler_show_their_heartbeats_on_readyz_and_metrics(client, settings, transactional_db):
    settings.METRICS_TOKEN = METRICS_TOKEN
    env = process_env(HEARTBEAT_SECONDS="1")
    processes = Processes()
    worker = celery_argv("worker", "-n", "heartbeat-probe@%h", "-Q", "intake,default", "--pool", "threads")
    processes.start("worker", [*worker, "--concurrency", "1", "--without-gossip", "--without-mingle"], env)
    processes.start("scheduler", manage_argv("run_scheduler"), env)

    def processes_alive() -> dict:
        detail = client.get("/readyz").json()["processes"]
        return detail if detail["worker"]["alive"] and detail["scheduler"]["alive"] else {}

    try:
        try:
            detail = wait_until(processes_alive, timeout=60)
        except AssertionError:
            pytest.fail(f"no heartbeats:\n{processes.logs()}")
        assert detail["worker"]["last_beat_seconds"] < 5
        scraped = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}").content.decode()
        assert _metric(scraped, "wap_processes_alive", "worker") == 1
        assert _metric(scraped, "wap_processes_alive", "scheduler") == 1
        assert _metric(scraped, "wap_process_heartbeat_age_seconds", "worker") < 5

        # A worker that stops cleanly takes its heartbeat away: nobody is left working the queues.
        assert processes.stop("worker") == 0
        assert client.get("/readyz").json()["processes"]["worker"] == {"alive": 0, "last_beat_seconds": None}
    finally:
        processes.stop_all()


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
