"""Throwaway PostgreSQL and Redis servers, and the platform's production processes running on them.

The outage tests stop and restart these servers, so they are never the shared ones: each is started
here on a spare port with its data in a temporary folder. PostgreSQL refuses to run as root, so when
the tests run as root (CI does) its commands run as the `postgres` system user (or `nobody`).

`Platform` starts what the Procfile starts in production (gunicorn serving whatsapp_platform.wsgi and
a Celery worker) as subprocesses pointed at a database and a Redis given to it, with the Graph API
pointed at the emulator of the test process. `sweep()` hands the periodic sweepers to that worker the
way Celery beat does.
"""

from __future__ import annotations

import contextlib
import glob
import http.client
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

# The channel every platform under test has (seeded once into the template database).
PHONE_NUMBER_ID = "109870000000001"
WABA_ID = "109870000000900"
DISPLAY_PHONE_NUMBER = "+1 555 010 0987"
APP_SECRET = "reliability-app-secret"
ACCESS_TOKEN = "reliability-access-token"
API_KEY_NAME = "reliability"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def binary_or_skip(name: str, *extra_dirs: str) -> str:
    """The path of a server binary. Missing: a skip on a developer's machine, a failure in CI."""
    for directory in extra_dirs:
        candidate = Path(directory) / name
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    message = f"{name} is not installed; the reliability suite starts its own throwaway servers with it"
    if _in_ci():
        pytest.fail(message + " (CI must run every reliability test).")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, *, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not met after {timeout:.0f} s")
        time.sleep(interval)


# --- PostgreSQL ----------------------------------------------------------------------------------


class PostgresServer:
    """A PostgreSQL cluster in a temporary folder, on a spare port, that a test may stop and start."""

    def __init__(self) -> None:
        pg_dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
        self._initdb = binary_or_skip("initdb", *pg_dirs)
        self._pg_ctl = binary_or_skip("pg_ctl", *pg_dirs)
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="wap-reliability-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._user = None
        if os.geteuid() == 0:  # PostgreSQL will not run as root
            for name in ("postgres", "nobody"):
                try:
                    pwd.getpwnam(name)
                except KeyError:
                    continue
                self._user = name
                break
            if self._user is None:
                pytest.fail("running as root with neither a 'postgres' nor a 'nobody' user to run PostgreSQL as")
            shutil.chown(self.root, user=self._user)
            self.root.chmod(0o700)

    def _run(self, *argv: str, timeout: float = 60) -> None:
        command = list(argv)
        if self._user is not None:
            command = ["runuser", "-u", self._user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed:\n{result.stdout}\n{result.stderr}\n{self.log_tail()}")

    def init(self) -> None:
        self._run(self._initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        # No fsync: the data need not survive the machine crashing, only this server being killed, and WAL
        # written at each commit (synchronous_commit stays on) is enough for that. With synchronous_commit
        # off, a killed server would lose commits it had acknowledged: exactly what the tests look for.
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off -c max_connections=120"
        )
        self._run(self._pg_ctl, "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "-t", "30", "start")

    def stop(self) -> None:
        """Stop the server the way an outage does: every connection is cut at once."""
        self._run(self._pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "-t", "30", "stop")

    def running(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            return False
        return True

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True, connect_timeout=5) as connection:
            connection.execute(sql)

    def destroy(self) -> None:
        if self.running():
            with contextlib.suppress(Exception):
                self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


# --- Redis ---------------------------------------------------------------------------------------


class RedisServer:
    """A Redis without persistence on a spare port: stopping it loses everything it held, as a crash does."""

    def __init__(self) -> None:
        self._binary = binary_or_skip("redis-server")
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self._binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for(self._answers, timeout=10, interval=0.02, what="redis-server answering PING")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def flush(self) -> None:
        import redis

        redis.Redis(port=self.port, socket_timeout=5).flushall()

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"


# --- the platform's processes --------------------------------------------------------------------


def manage(env: dict[str, str], *command: str, timeout: float = 300) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *command], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(command[:1])} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def platform_env(*, database_url: str, redis_url: str, graph_url: str, **overrides: str) -> dict[str, str]:
    """The environment of the platform's processes: production-like, but with short recovery timers."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "whatsapp_platform.settings",
        "TESTING": "false",
        "DEBUG": "false",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CACHE_KEY_PREFIX": "wap-reliability",
        "LOG_LEVEL": "WARNING",
        "LOG_JSON": "false",  # read by people, in a failing test's output
        "PYTHONUNBUFFERED": "1",
        "GRAPH_API_BASE_URL": graph_url,
        "WHATSAPP_EMULATOR_GRAPH_URL": graph_url,
        "GRAPH_READ_TIMEOUT": "5",
        # Recovery timers in seconds instead of minutes, so a test sees the sweepers do their work.
        "WHATSAPP_RETRY_DELAY_SCALE": "0.01",
        "WHATSAPP_SENDING_LEASE_SECONDS": "3",
        "WHATSAPP_UNKNOWN_OUTCOME_GRACE_SECONDS": "3",
        "WHATSAPP_OUTBOX_STALE_SECONDS": "1",
        "WHATSAPP_INBOUND_STALE_SECONDS": "2",
        "WHATSAPP_WEBHOOK_EVENTS_STALE_SECONDS": "2",
        "AGENT_TURN_LEASE_SECONDS": "8",
    }
    for name in ("CELERY_BROKER_URL", "DATABASE_CONN_MAX_AGE"):
        env.pop(name, None)
    env.update(overrides)
    return env


SEED = f"""
import json
from agents_app.models import Agent
from channels_app.models import Channel
from workspaces_app.models import Workspace
from workspaces_app.services import api_key_create

workspace = Workspace.objects.create(name="Reliability shop", slug="reliability-shop")
agent = Agent.objects.create(
    workspace=workspace, name="Echo", instructions="Answer in one short message.", provider="openai",
    model="fake-model", api_key="sk-reliability", base_url="http://127.0.0.1:9/v1", debounce_seconds=0.3,
)
channel = Channel.objects.create(
    workspace=workspace, name="Reliability line", provider=Channel.Provider.SANDBOX,
    connection=Channel.Connection.SANDBOX, status=Channel.Status.ACTIVE, phone_number_id="{PHONE_NUMBER_ID}",
    waba_id="{WABA_ID}", display_phone_number="{DISPLAY_PHONE_NUMBER}", access_token="{ACCESS_TOKEN}",
    app_secret="{APP_SECRET}", agent=agent,
)
key = api_key_create(workspace=workspace, name="{API_KEY_NAME}")
print("SEED=" + json.dumps({{
    "workspace_id": workspace.pk, "agent_id": agent.pk, "channel_id": channel.pk,
    "channel_public_id": str(channel.public_id), "api_key": key.plaintext,
}}))
"""


def seed_parse(output: str) -> dict:
    line = next(line for line in output.splitlines() if line.startswith("SEED="))
    return json.loads(line.removeprefix("SEED="))


def http_status(port: int, method: str, path: str, *, body: bytes | None = None, headers=None, timeout=5.0) -> int:
    """The answer's status, or 0 when there was none (refused, reset, timed out)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return 0
    finally:
        connection.close()


class Platform:
    """gunicorn + a Celery worker, as the Procfile runs them, each in its own session."""

    def __init__(self, *, env: dict[str, str], web_workers: int = 1, worker_concurrency: int = 4) -> None:
        self.env = env
        self.web_workers = web_workers
        self.worker_concurrency = worker_concurrency
        self.web_port = free_port()
        self.log_dir = Path(tempfile.mkdtemp(prefix="wap-reliability-logs-"))
        self.processes: dict[str, subprocess.Popen] = {}
        self.restarts: list[str] = []  # what `supervise` had to restart
        self._celery = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def _start(self, name: str, argv: list[str]) -> None:
        with open(self.log_dir / f"{name}.log", "ab") as log:
            self.processes[name] = subprocess.Popen(
                argv, cwd=BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def start_web(self) -> None:
        argv = [str(BIN / "gunicorn"), "whatsapp_platform.wsgi", "--bind", f"127.0.0.1:{self.web_port}"]
        argv += ["--worker-class", "gthread", "--workers", str(self.web_workers), "--threads", "4", "--timeout", "30"]
        self._start("web", argv)

    def start_worker(self, name: str = "worker") -> None:
        """A Celery worker consuming every queue; another `name` adds a second worker process beside it."""
        argv = [str(BIN / "celery"), "-A", "whatsapp_platform", "worker", "--loglevel", "WARNING", "-n", f"{name}@%h"]
        argv += ["--pool", "threads", "--concurrency", str(self.worker_concurrency)]  # as the Procfile
        argv += ["--without-gossip", "--without-mingle"]
        self._start(name, argv)

    def wait_web(self, timeout: float = 60) -> None:
        def healthy() -> bool:
            self._alive_or_raise("web")
            return http_status(self.web_port, "GET", "/healthz", timeout=2) == 200

        wait_for(healthy, timeout=timeout, interval=0.2, what="gunicorn answering /healthz")

    def wait_worker(self, timeout: float = 60) -> None:
        def answers() -> bool:
            self._alive_or_raise("worker")
            return bool(self.celery.control.ping(timeout=0.5))

        wait_for(answers, timeout=timeout, interval=0.2, what="the Celery worker answering a ping")

    def start(self) -> None:
        self.start_web()
        self.start_worker()
        self.wait_web()
        self.wait_worker()

    def supervise(self) -> None:
        """Restart a process that exited, as a process supervisor (systemd's Restart=always) does in production.

        Needed for the worker: when the Redis connection drops while it holds unacknowledged tasks, kombu's
        Redis transport fails to restore them and the worker exits ("Unrecoverable error: AttributeError:
        'NoneType' object has no attribute 'hostname'"). Restarts are counted in `restarts`.
        """
        for name, process in list(self.processes.items()):
            if process.poll() is not None:
                self.restarts.append(name)
                if name == "web":
                    self.start_web()
                else:
                    self.start_worker(name)

    def _alive_or_raise(self, name: str) -> None:
        process = self.processes[name]
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{self.log_tail(name)}")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Signal the process and every child in its session (for the worker: its pool processes too)."""
        process = self.processes[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        process.wait(timeout=30)

    @property
    def celery(self):
        """A Celery app on the platform's broker: what beat would use to hand out periodic tasks."""
        if self._celery is None:
            from celery import Celery

            self._celery = Celery("reliability-beat", broker=self.env["REDIS_URL"], set_as_current=False)
            self._celery.conf.update(
                task_default_queue="default",
                broker_connection_timeout=3,
                broker_transport_options={"socket_connect_timeout": 3, "socket_timeout": 5},
            )
        return self._celery

    def sweep(self, *task_names: str) -> None:
        """Run periodic jobs now, as Celery beat would (all the sweepers when no name is given)."""
        from django.conf import settings

        names = task_names or [job["task"] for job in settings.PERIODIC_JOBS.values() if job["task"].endswith("sweep")]
        for name in names:
            self.celery.send_task(name)

    def log_tail(self, name: str, lines: int = 40) -> str:
        try:
            text = (self.log_dir / f"{name}.log").read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # whatever ignored SIGTERM, and children left behind
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
        if self._celery is not None:
            self._celery.close()
        if not os.environ.get("RELIABILITY_KEEP_LOGS"):
            shutil.rmtree(self.log_dir, ignore_errors=True)


# --- a second database alias for the platform's database -----------------------------------------


@contextlib.contextmanager
def database_alias(alias: str, url: str):
    """Reach another database from the test process with the ORM (`Model.objects.using(alias)`).

    The connection is made, then its alias is taken out of the settings again: Django's test cases refuse
    connections to configured aliases they were not told about, and allow ones created on the fly. The
    connection lives in this thread only, so query it from the test's own thread.
    """
    import environ
    from django.db import connections

    config = environ.Env.db_url_config(url)
    config["CONN_MAX_AGE"] = 0
    configured = connections.configure_settings({"default": dict(connections.settings["default"]), alias: config})
    connections.settings[alias] = configured[alias]
    try:
        connection = connections[alias]
    finally:
        connections.settings.pop(alias, None)
    try:
        yield alias
    finally:
        connection.close()
        with contextlib.suppress(AttributeError):
            delattr(connections._connections, alias)
