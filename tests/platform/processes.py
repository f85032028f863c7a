"""The platform's own processes (a Celery worker, the scheduler, a settings load) started as subprocesses on
the test database, as a deployment starts them: settings read from the environment at start-up."""

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def this_test_database_url() -> str:
    """The URL of the database this test runs on (pytest-django's test database)."""
    config = connection.settings_dict
    if config["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{config['NAME']}"
    credentials = config["USER"] + (f":{config['PASSWORD']}" if config["PASSWORD"] else "")
    return f"postgres://{credentials}@{config['HOST'] or '127.0.0.1'}:{config['PORT'] or 5432}/{config['NAME']}"


def process_env(**overrides: str) -> dict[str, str]:
    """A production-shaped environment on the test database: tasks through the broker, not in-process."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "whatsapp_platform.settings",
        "TESTING": "false",
        "DATABASE_URL": this_test_database_url(),
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "LOG_JSON": "false",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    if not os.environ.get("REDIS_URL"):
        env["CELERY_BROKER_URL"] = "memory://"  # a worker of its own, in its own process
    env.update(overrides)
    return env


class Processes:
    """Subprocesses in their own sessions, stopped (and their logs shown on demand) at the end of a test."""

    def __init__(self) -> None:
        self.log_dir = Path(tempfile.mkdtemp(prefix="wap-processes-"))
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        with open(self.log_dir / f"{name}.log", "ab") as log:
            process = subprocess.Popen(
                argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.running[name] = process
        return process

    def logs(self) -> str:
        logs = sorted(self.log_dir.glob("*.log"))
        return "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}" for path in logs)

    def stop(self, name: str, timeout: float = 20) -> int:
        """SIGTERM, as a supervisor stops a process; SIGKILL for whatever is left after `timeout`."""
        process = self.running.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            return process.wait(timeout=10)

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)


def manage_argv(*command: str) -> list[str]:
    return [sys.executable, "manage.py", *command]


def celery_argv(*command: str) -> list[str]:
    return [str(BIN / "celery"), "-A", "whatsapp_platform", *command]
