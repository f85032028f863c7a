"""The runtime-only smoke, run by .ci/runtime_smoke with the python of a venv holding requirements.txt alone.

It proves that the runtime pins run the platform as production does: a fresh PostgreSQL database migrated
by the release step, gunicorn and a real Celery worker on Redis started from that venv with pooled database
connections, a signed webhook with a customer's text, and the default (offline, knowledge-base) agent's
reply arriving at a loopback Graph API. Anything missing from requirements.txt (say `packaging`, which
kombu's Redis transport imports when the first task is sent) fails it loudly, with the processes' logs.
It removes its processes, its database and its Redis keys whatever happens.
"""

import base64
import hashlib
import hmac
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import redis
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ADMIN_URL = os.environ.get("SMOKE_POSTGRES_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("SMOKE_REDIS_URL", "redis://127.0.0.1:6379/13")  # flushed: a database of its own
TIMEOUT = float(os.environ.get("SMOKE_TIMEOUT_SECONDS", "90"))

PHONE_NUMBER_ID = "109870000000777"
CUSTOMER = "15550001234"
QUESTION = "What are your opening hours?"
ANSWER = "We're open Monday to Saturday, 9am to 6pm."


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LoopbackGraph(BaseHTTPRequestHandler):
    """Meta's Graph API as far as a reply needs it: every POST is recorded and answered like Meta does."""

    received: list[dict] = []
    lock = threading.Lock()

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        with self.lock:
            self.received.append({"path": self.path, "body": body})
        if body.get("status") == "read":
            answer = {"success": True}
        else:
            to = body.get("to", "")
            answer = {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to}],
                "messages": [{"id": f"wamid.SMOKE{secrets.token_hex(8)}"}],
            }
        payload = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self):  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def http(method: str, url: str, *, body: bytes | None = None, headers: dict | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


class Smoke:
    def __init__(self) -> None:
        self.work = Path(tempfile.mkdtemp(prefix="wap-runtime-smoke-"))
        self.database = f"wap_smoke_{os.getpid()}"
        self.processes: dict[str, subprocess.Popen] = {}
        self.web_port = free_port()
        self.graph = ThreadingHTTPServer(("127.0.0.1", 0), LoopbackGraph)
        threading.Thread(target=self.graph.serve_forever, daemon=True).start()
        graph_url = f"http://127.0.0.1:{self.graph.server_address[1]}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "CELERY_", "DJANGO_"))},
            "DJANGO_SETTINGS_MODULE": "whatsapp_platform.settings",
            "PLATFORM_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(48),
            "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "DATABASE_URL": f"{ADMIN_URL.rsplit('/', 1)[0]}/{self.database}",
            # Pooled, as production should run: psycopg_pool must be a runtime pin, and the pool must serve
            # gunicorn's threads and the worker's alike.
            "DATABASE_POOL": "true",
            "REDIS_URL": REDIS_URL,
            "CACHE_KEY_PREFIX": "wap-smoke",
            "ALLOWED_HOSTS": "127.0.0.1",
            "SITE_URL": f"http://127.0.0.1:{self.web_port}",
            "GRAPH_API_BASE_URL": graph_url,
            "STATIC_ROOT": str(self.work / "static"),
            "MEDIA_ROOT": str(self.work / "media"),
            "TESTING": "false",
            "LOG_JSON": "false",
            "LOG_LEVEL": "INFO",
            "HEARTBEAT_SECONDS": "2",
            "PYTHONUNBUFFERED": "1",
        }

    # --- steps -------------------------------------------------------------------------------------

    def database_create(self) -> None:
        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{self.database}"')
        redis.Redis.from_url(REDIS_URL, socket_timeout=5).flushdb()

    def release(self) -> None:
        """The release step of a deploy: migrate once, collect the static files."""
        for command in (["migrate", "--noinput"], ["collectstatic", "--noinput", "-v0"]):
            result = subprocess.run(
                [str(BIN / "python"), "manage.py", *command],
                cwd=ROOT,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            if result.returncode != 0:
                self.fail(f"manage.py {command[0]} failed:\n{result.stdout}\n{result.stderr}")

    def seed(self) -> dict:
        """A workspace whose WhatsApp number is answered by the default agent, seeded through the ORM."""
        os.environ.update(self.env)
        sys.path.insert(0, str(ROOT))
        # Imported here, not at the top: Django reads its settings from the environment set just above.
        import django

        django.setup()
        from agents_app.services import agent_default_ensure
        from channels_app.models import Channel
        from workspaces_app.models import Workspace

        workspace = Workspace.objects.create(name="Smoke Shop", slug="smoke-shop")
        agent = agent_default_ensure(workspace=workspace)
        agent.knowledge.create(title=QUESTION, body=ANSWER)
        channel = Channel.objects.create(
            workspace=workspace,
            name="Smoke line",
            provider=Channel.Provider.CLOUD_API,
            connection=Channel.Connection.MANUAL,
            status=Channel.Status.ACTIVE,
            phone_number_id=PHONE_NUMBER_ID,
            waba_id="109870000000778",
            display_phone_number="+1 555 010 0777",
            access_token=secrets.token_urlsafe(24),
            app_secret=secrets.token_urlsafe(24),
            agent=agent,
        )
        return {"public_id": str(channel.public_id), "app_secret": channel.app_secret}

    def start(self, name: str, argv: list[str]) -> None:
        with open(self.work / f"{name}.log", "ab") as log:
            self.processes[name] = subprocess.Popen(
                argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def start_platform(self) -> None:
        self.start(
            "web",
            [
                str(BIN / "gunicorn"),
                "whatsapp_platform.wsgi",
                "--bind",
                f"127.0.0.1:{self.web_port}",
                "--worker-class",
                "gthread",
                "--workers",
                "1",
                "--threads",
                "4",
                "--timeout",
                "30",
            ],
        )
        self.start(
            "worker",
            [
                str(BIN / "celery"),
                "-A",
                "whatsapp_platform",
                "worker",
                "-n",
                "smoke@%h",
                "-Q",
                "intake,turns,outbox,campaigns,default",
                "--pool",
                "threads",
                "--concurrency",
                "4",
                "--without-gossip",
                "--without-mingle",
            ],
        )

    def wait(self, what: str, condition, timeout: float = TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    self.fail(f"{name} exited with {process.returncode} while waiting for {what}")
            value = condition()
            if value:
                return value
            time.sleep(0.2)
        self.fail(f"timed out after {timeout:.0f} s waiting for {what}")

    def readyz(self) -> dict:
        # Addressed as a load balancer does: by IP, with a Host header outside ALLOWED_HOSTS.
        status, body = http("GET", f"http://127.0.0.1:{self.web_port}/readyz", headers={"Host": "10.0.0.9"})
        return json.loads(body) if status == 200 else {}

    def webhook_post(self, channel: dict) -> None:
        payload = {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "109870000000778",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {"display_phone_number": "15550100777", "phone_number_id": PHONE_NUMBER_ID},
                                "contacts": [{"profile": {"name": "Smoke Customer"}, "wa_id": CUSTOMER}],
                                "messages": [
                                    {
                                        "from": CUSTOMER,
                                        "id": "wamid." + base64.b64encode(secrets.token_bytes(18)).decode(),
                                        "timestamp": str(int(time.time())),
                                        "type": "text",
                                        "text": {"body": QUESTION},
                                    }
                                ],
                            },
                        }
                    ],
                }
            ],
        }
        body = json.dumps(payload).encode()
        signature = hmac.new(channel["app_secret"].encode(), body, hashlib.sha256).hexdigest()
        status, answer = http(
            "POST",
            f"http://127.0.0.1:{self.web_port}/webhooks/whatsapp/{channel['public_id']}/",
            body=body,
            headers={"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={signature}"},
        )
        if status != 200:
            self.fail(f"the signed webhook was answered {status}: {answer[:500]!r}")

    def reply_sent(self) -> dict | None:
        with LoopbackGraph.lock:
            for request in LoopbackGraph.received:
                body = request["body"]
                to_customer = body.get("to", "").lstrip("+") == CUSTOMER
                if request["path"].endswith(f"/{PHONE_NUMBER_ID}/messages") and to_customer:
                    if body.get("type") == "text" and "9am" in body.get("text", {}).get("body", ""):
                        return request
        return None

    # --- the run ------------------------------------------------------------------------------------

    def run(self) -> None:
        started = time.monotonic()
        self.database_create()
        self.release()
        print(f"   migrated a fresh database and collected static files ({time.monotonic() - started:.1f} s)")
        channel = self.seed()
        self.start_platform()
        detail = self.wait(
            "gunicorn ready and the worker's heartbeat",
            lambda: (lambda r: r if r and r["processes"]["worker"]["alive"] else None)(self.readyz()),
        )
        print(f"   gunicorn and the Celery worker are up (pooled connections); /readyz by IP: {detail['checks']}")
        self.webhook_post(channel)
        reply = self.wait("the agent's reply at the loopback Graph", self.reply_sent)
        print(f"   the default agent answered through Graph: {reply['body']['text']['body']!r}")
        from messaging_app.models import Message  # Django is set up by seed()

        sent = self.wait(
            "the reply stored with the wamid Graph gave it",
            Message.objects.filter(direction=Message.Direction.OUTBOUND, wamid__startswith="wamid.SMOKE").first,
        )
        print(f"   stored as {sent.status} (wamid {sent.wamid}); smoke passed in {time.monotonic() - started:.1f} s")

    def fail(self, message: str) -> None:
        print(f"\nRUNTIME SMOKE FAILED: {message}\n", file=sys.stderr)
        for path in sorted(self.work.glob("*.log")):
            print(f"--- {path.name} (last 60 lines)", file=sys.stderr)
            print("\n".join(path.read_text(errors="replace").splitlines()[-60:]), file=sys.stderr)
        with LoopbackGraph.lock:
            print(f"--- loopback Graph received: {json.dumps(LoopbackGraph.received)[:2000]}", file=sys.stderr)
        raise SystemExit(1)

    def cleanup(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        self.graph.shutdown()
        if "django.db" in sys.modules:  # the seed set Django up: its connection must not keep the database open
            from django.db import connections

            connections.close_all()
        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        redis.Redis.from_url(REDIS_URL, socket_timeout=5).flushdb()
        shutil.rmtree(self.work, ignore_errors=True)


def main() -> None:
    smoke = Smoke()
    try:
        smoke.run()
    finally:
        smoke.cleanup()


if __name__ == "__main__":
    main()
