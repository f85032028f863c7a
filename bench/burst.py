"""Customers at once: a burst against a slow model, a steady stream, a slow workspace beside a fast one, scale-out.

    .venv/bin/python bench/burst.py --mode burst [--customers 200] [--within 10] [--model-delay 2]
    .venv/bin/python bench/burst.py --mode steady [--rate 100] [--seconds 20]
    .venv/bin/python bench/burst.py --mode isolation [--customers 100] [--slow-delay 30]
    .venv/bin/python bench/burst.py --mode scaleout

It starts every role the Procfile lists, with the Procfile's own command lines (`--workers N` starts N copies of
each Celery worker role), on a throw-away PostgreSQL database and Redis db 12. This process plays Meta and the
customers: a loopback Graph that accepts each send at once and posts its sent / delivered / read statuses back,
signed, 0.2 / 0.5 / 1 s later; a loopback OpenAI-compatible model that answers after a set delay; and a driver that
posts each customer's signed message at its planned time (open loop). A reply's latency runs from that planned
time to the moment the Graph stand-in receives the reply. In burst and steady mode the same driver then does the
same to a bot written with pywa 4.5.0 (bench/peers/pywa_bot.py, in its own venv under bench/.peers-venv), and the
two are printed side by side with PASS/MISS per target of issue 15. It always exits 0: a benchmark reports.
bench/README.md explains the figures.
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import hmac
import http.client
import itertools
import json
import math
import os
import queue
import re
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))  # `python bench/burst.py` puts bench/ first, not the project

from bench.agent_turn import FAQ, QUESTIONS  # noqa: E402 (the bench runs as a script)
from bench.soak import CpuAccount, Database, Memory, _QuietHandler, percentile  # noqa: E402
from bench.webhook_ingest import BenchRun, Client, free_port, http_get_status, manage_shell_printed  # noqa: E402

PROCFILE = BASE_DIR / "Procfile"
PEERS_DIR = BASE_DIR / "bench" / "peers"
PEERS_VENV = BASE_DIR / "bench" / ".peers-venv"
REDIS_URL = "redis://127.0.0.1:6379/12"
DATABASE_PREFIX = "wap_burstbench"
APP_SECRET = "burst-bench-secret"
PEER_SECRET = "burst-bench-peer-secret"
WABA_ID = "102290129340398"
OURS_PHONES = ("106540352242901", "106540352242902")  # workspace A (and B in isolation mode)
PEER_PHONE = "206540352242901"
# When Meta reports a send's statuses, after Graph accepted it (seconds). Meta's own spacing varies; these keep
# every reply's three statuses inside the run.
STATUS_AFTER = (("sent", 0.2), ("delivered", 0.5), ("read", 1.0))
# Threads (each with its own kept-alive connection per system) that carry the driver's webhooks. A thread waits for
# each answer, so the driver keeps up only while threads >= webhooks/s x acknowledgement time: a 1,000-customer
# burst brings about 400 webhooks a second (each message and its three statuses), and a loaded server that takes a
# second to acknowledge would otherwise make the driver, not the server, set the pace. Meta keeps many in flight too.
DRIVER_THREADS = 400
MODEL_NAME = "burst-model"
FAST_MODEL, SLOW_MODEL = "fast-model", "slow-model"
# A ramp's step is flat when the customers waiting for a reply grew over its second half by at most this share of
# that half's arrivals, or by FLAT_SLACK (counts jitter by a customer or two as replies and arrivals interleave).
FLAT_SHARE, FLAT_SLACK = 0.1, 3
# A step whose messages left the driver later than this (p90 after their planned time) measured the driver: it
# fell behind throughout, not for one hiccup (on a shared machine a single late post is common).
DRIVER_LATE_S = 0.2
# The saturation ramp: customers/s from RAMP_START, times RAMP_FACTOR a step up to RAMP_TOP, then RAMP_REFINE
# steps between the last flat rate and the first growing one.
RAMP_START, RAMP_FACTOR, RAMP_TOP, RAMP_REFINE = 5.0, 1.5, 1000.0, 2

TARGETS = {
    "burst": {200: 5.0, 1000: 10.0},  # customers -> p99 reply (s)
    "memory_mb": 250.0,
    "steady_p99_s": 1.0,
    "fold_s": 5.0,
    "ack_p99_ms": 50.0,
    "isolation_s": 1.0,
    "scaleout": 1.7,
}


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# --- Meta's webhooks -------------------------------------------------------------------------------------------


def _webhook(phone_number_id: str, value: dict) -> bytes:
    """A `messages` webhook as Meta sends it: compact, ASCII-escaped."""
    metadata = {"display_phone_number": "1555" + phone_number_id[-7:], "phone_number_id": phone_number_id}
    change = {"value": {"messaging_product": "whatsapp", "metadata": metadata, **value}, "field": "messages"}
    document = {"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": [change]}]}
    return json.dumps(document, ensure_ascii=True, separators=(",", ":")).encode()


def text_webhook(phone_number_id: str, wa_id: str, text: str) -> bytes:
    contact = {"profile": {"name": f"Customer {wa_id[-4:]}"}, "wa_id": wa_id, "user_id": f"US.{wa_id}"}
    message = {
        "from": wa_id,
        "from_user_id": f"US.{wa_id}",
        "id": f"wamid.burstin{uuid.uuid4().hex}",
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": text},
    }
    return _webhook(phone_number_id, {"contacts": [contact], "messages": [message]})


def status_webhook(phone_number_id: str, wamid: str, status: str, wa_id: str, callback: str) -> bytes:
    item = {
        "id": wamid,
        "status": status,
        "timestamp": str(int(time.time())),
        "recipient_id": wa_id,
        "recipient_user_id": f"US.{wa_id}",
    }
    if callback:
        item["biz_opaque_callback_data"] = callback  # Meta echoes what the send carried
    return _webhook(phone_number_id, {"statuses": [item]})


@dataclass
class Side:
    """A system under test: where its webhooks go and which numbers it answers for."""

    name: str
    port: int
    secret: str
    phones: tuple[str, ...]
    digit: str  # customers' wa_ids of this side start with 1<digit>, so Graph tells the sides apart


@dataclass
class Post:
    due: float
    side: Side
    body: bytes
    kind: str  # "message" or "status"
    customer: str
    started: float = 0.0
    done: float = 0.0
    code: int = 0


class Meta:
    """Posts signed webhooks at their planned times, from a pool of threads each keeping its connections alive.

    A post's latency runs from its planned time, so a server that answers slowly delays the posts behind it and
    that delay is counted (no coordinated omission); `started - due` is the driver's own lateness."""

    def __init__(self, threads: int = DRIVER_THREADS, timeout: float = 10.0) -> None:
        self._heap: list = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._ready: queue.SimpleQueue = queue.SimpleQueue()
        self._timeout = timeout
        self._lock = threading.Lock()
        self._stopping = False
        self.finished: list[Post] = []
        self.outstanding = 0
        self._threads = [threading.Thread(target=self._dispatch, daemon=True)]
        self._threads += [threading.Thread(target=self._carry, daemon=True) for _ in range(threads)]
        for thread in self._threads:
            thread.start()

    def at(self, post: Post) -> None:
        with self._wake:
            heapq.heappush(self._heap, (post.due, next(self._order), post))
            self.outstanding += 1
            self._wake.notify()

    def _dispatch(self) -> None:
        while True:
            with self._wake:
                while not self._stopping:
                    wait = self._heap[0][0] - time.perf_counter() if self._heap else None
                    if wait is not None and wait <= 0:
                        break
                    self._wake.wait(wait)
                if self._stopping:
                    return
                _, _, post = heapq.heappop(self._heap)
            self._ready.put(post)

    def _carry(self) -> None:
        clients: dict[int, Client] = {}
        while (post := self._ready.get()) is not None:
            client = clients.setdefault(post.side.port, Client(post.side.port, self._timeout))
            post.started = time.perf_counter()
            post.code = client.post(post.body, sign(post.body, post.side.secret))
            post.done = time.perf_counter()
            with self._lock:
                self.finished.append(post)
                self.outstanding -= 1
        for client in clients.values():
            client.close()

    def posts(
        self, *, customers: set[str] | None = None, side: Side | None = None, kind: str | None = None
    ) -> list[Post]:
        """The posts answered so far, of these customers, this side, this kind (each: any when None)."""
        with self._lock:
            return [
                p
                for p in self.finished
                if (customers is None or p.customer in customers)
                and (side is None or p.side is side)
                and (kind is None or p.kind == kind)
            ]

    def close(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        for _ in self._threads:
            self._ready.put(None)


# --- Graph and the model, as loopback stand-ins -----------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    # Hundreds of workers connect at once in a burst; the default backlog of 5 would turn that into SYN retries
    # (a second each), and the stand-in, not the platform, would be what was measured.
    request_queue_size = 2048
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        # A client closing its kept-alive connection (a worker stopping, a pool trimming) is not news.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _serve(handler) -> str:
    server = _Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


class Graph:
    """`POST /<version>/<phone_number_id>/messages`: accepts each send at once with a new wamid, notes when the
    first reply to each customer arrived, and has Meta post the send's statuses back to the side that sent it.
    A mark-as-read (`"status": "read"`) is answered `{"success": true}` and counted."""

    def __init__(self, meta: Meta) -> None:
        self.meta = meta
        self.sides: dict[str, Side] = {}  # phone_number_id -> side
        self.replied_at: dict[str, float] = {}  # customer wa_id -> when its first reply arrived
        self.sends = 0
        self.read_receipts = 0
        self.lock = threading.Lock()

    def start(self) -> str:
        return _serve(_answering(self.answer))

    def answer(self, path: str, payload: dict) -> dict:
        if payload.get("status") == "read":  # a mark-as-read, with or without a typing indicator
            with self.lock:
                self.read_receipts += 1
            return {"success": True}
        received = time.perf_counter()
        parts = path.strip("/").split("/")  # <version>/<phone_number_id>/messages
        phone = parts[1] if len(parts) == 3 else ""
        # pywa addresses a customer by BSUID ("recipient": "US.<wa_id>" here) when it has one.
        to = str(payload.get("to") or payload.get("recipient") or "")
        customer = to.lstrip("+").removeprefix("US.")
        wamid = f"wamid.burstout{uuid.uuid4().hex}"
        with self.lock:
            self.sends += 1
            self.replied_at.setdefault(customer, received)
        side = self.sides.get(phone)
        if side is not None:
            callback = str(payload.get("biz_opaque_callback_data") or "")
            for status, after in STATUS_AFTER:
                body = status_webhook(phone, wamid, status, customer, callback)
                self.meta.at(Post(received + after, side, body, "status", customer))
        return {
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": customer}],
            "messages": [{"id": wamid}],
        }

    def answered(self, customers) -> int:
        with self.lock:
            return sum(1 for customer in customers if customer in self.replied_at)


def _answering(answer):
    """A request handler whose every POST is answered 200 with `answer(path, JSON body)`."""

    class Handler(_QuietHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            self._json(200, answer(self.path, self._body()))

    return Handler


class FakeModel:
    """An OpenAI-compatible `/v1/chat/completions` that answers a short text after the model's delay.

    One thread per connection (a burst holds hundreds at once, all asleep); it counts how many requests it held
    at once and how late each answer left beyond its delay, so a run shows whether the stand-in kept up."""

    def __init__(self, delays: dict[str, float], default_delay: float) -> None:
        self.delays = delays
        self.default_delay = default_delay
        self.in_flight = 0
        self.peak = 0
        self.calls = 0
        self.late_s: list[float] = []
        self.lock = threading.Lock()

    def start(self) -> str:
        return _serve(_answering(self.complete)) + "/v1"

    def complete(self, path: str, request: dict) -> dict:
        started = time.perf_counter()
        name = str(request.get("model") or "")
        delay = self.delays.get(name, self.default_delay)
        with self.lock:
            self.in_flight += 1
            self.calls += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            time.sleep(delay)
        finally:
            with self.lock:
                self.in_flight -= 1
                self.late_s.append(time.perf_counter() - started - delay)
        message = {"role": "assistant", "content": "Thanks for writing! A plant expert will follow up."}
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": name,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 40, "completion_tokens": 12, "total_tokens": 52},
        }

    def reset(self) -> None:
        with self.lock:
            self.peak = self.in_flight
            self.late_s = []


def model_check(url: str, concurrent: int, delay: float) -> list[float]:
    """`concurrent` requests at once from this process: how long each took beyond the delay (s)."""
    host, port = url.split("/")[2].split(":")
    took: list[float] = []
    body = json.dumps({"model": "check", "messages": [{"role": "user", "content": "hi"}]}).encode()

    def ask() -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=delay + 30)
        started = time.perf_counter()
        try:
            connection.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
            connection.getresponse().read()
            took.append(time.perf_counter() - started - delay)
        except (OSError, http.client.HTTPException) as exc:
            print(f"  fake model check: a request failed: {exc}", file=sys.stderr)
            took.append(math.inf)
        finally:
            connection.close()

    threads = [threading.Thread(target=ask, daemon=True) for _ in range(concurrent)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(delay + 40)
    return took


# --- the stacks -------------------------------------------------------------------------------------------------


def procfile_roles() -> dict[str, str]:
    """The Procfile's roles and their command lines, as written."""
    roles = {}
    for line in PROCFILE.read_text().splitlines():
        name, colon, command = line.partition(":")
        if colon and name.strip().isidentifier() and not line.lstrip().startswith("#"):
            roles[name.strip()] = command.strip()
    return roles


def role_kind(command: str) -> str:
    if "gunicorn" in command:
        return "web"
    if re.search(r"celery\b.*\bworker\b", command):
        return "worker"
    if re.search(r"celery\b.*\bbeat\b", command):
        return "beat"
    return "other"


def ours_start(run: BenchRun, *, port: int, copies: int) -> dict[str, str]:
    """Start every Procfile role, each with its own command line, through `sh -c` as a Procfile runner does.

    Only what must differ on a shared machine is changed: gunicorn's bind address (a free port), beat's schedule
    file (in the run's folder), and each Celery worker's node name (`-n <role><copy>@%h`, so copies are told
    apart). Returns each process's name and its role's kind."""
    started = {}
    # The Procfile defaults to production, which refuses the emulator this bench drives.
    env = {"PLATFORM_ENV": "development", **run.env}
    for role, command in procfile_roles().items():
        if role == "release":
            continue  # the release step (migrate) ran when the bench created the database
        kind = role_kind(command)
        if kind == "web":
            command = re.sub(r"(--bind[= ]|-b )\S+", rf"\g<1>127.0.0.1:{port}", command)
        if kind == "beat":
            schedule = run.log_dir / "celerybeat-schedule"
            if re.search(r"--schedule[= ]|-s ", command):
                command = re.sub(r"(--schedule[= ]|-s )\S+", rf"\g<1>{schedule}", command)
            else:
                command += f" --schedule {schedule}"
        if kind == "worker":
            # A node name the Procfile gives is replaced; only celery's own options are looked at ("nice -n 19").
            before, celery, options = command.partition("celery ")
            command = before + celery + re.sub(r"(^|\s)(-n|--hostname)[= ]\S+", "", options)
            for copy in range(1, copies + 1):
                name = role if copies == 1 else f"{role}-{copy}"
                run.stack.start(name, ["/bin/sh", "-c", f"{command} -n {role}{copy}@%h"], env)
                started[name] = kind
            continue
        run.stack.start(role, ["/bin/sh", "-c", command], {**env, "PORT": str(port)})
        started[role] = kind
    deadline = time.monotonic() + 60
    while http_get_status(port, "/healthz") != 200:
        dead = [name for name in started if not run.stack.alive(name)]
        if dead or time.monotonic() > deadline:
            name = (dead or ["web"])[0]
            raise RuntimeError(f"{name} did not start:\n{run.stack.log_tail(name)}")
        time.sleep(0.25)
    return started


def peers_venv() -> Path | None:
    """bench/.peers-venv with bench/peers/requirements.txt installed; None (and why, on stderr) when it cannot be.

    Made once and kept (it is in .gitignore); made again when the requirements change."""
    requirements = PEERS_DIR / "requirements.txt"
    marker = PEERS_VENV / "installed-requirements.txt"
    python = PEERS_VENV / "bin" / "python"
    if python.exists() and marker.exists() and marker.read_text() == requirements.read_text():
        return PEERS_VENV
    print("peers: creating bench/.peers-venv with pywa 4.5.0 (pip, up to 10 minutes) ...", flush=True)
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(PEERS_VENV)],
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--timeout", "30"]
        + ["--retries", "2", "-r", str(requirements)],
    ]
    for step in steps:
        try:
            done = subprocess.run(step, capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            print(f"peers: gave up after 600 s: {' '.join(step)}", file=sys.stderr)
            return None
        if done.returncode != 0:
            print(f"peers: {' '.join(step)} failed:\n{done.stderr[-2000:]}", file=sys.stderr)
            return None
    marker.write_text(requirements.read_text())
    return PEERS_VENV


def peer_start(run: BenchRun, venv: Path, *, port: int, mode: str, graph_url: str, model_url: str) -> None:
    """The pywa bot under pywa's own production server (`pywa run`, uvicorn), two worker processes like our web."""
    env = {
        **os.environ,
        "PYWA_BOT_MODE": mode,
        "PYWA_BOT_PHONE_ID": PEER_PHONE,
        "PYWA_BOT_APP_SECRET": PEER_SECRET,
        "PYWA_BOT_GRAPH_URL": graph_url,
        "PYWA_BOT_MODEL_URL": model_url,
        "PYWA_BOT_MODEL": MODEL_NAME,
        "PYTHONUNBUFFERED": "1",
    }
    argv = [str(venv / "bin" / "pywa"), "run", str(PEERS_DIR / "pywa_bot.py"), "--host", "127.0.0.1"]
    run.stack.start("pywa", [*argv, "--port", str(port), "--workers", "2", "--log-level", "warning"], env)
    deadline = time.monotonic() + 60
    while http_get_status(port, "/webhooks/whatsapp/?hub.mode=subscribe&hub.verify_token=pywa-peer") != 200:
        if not run.stack.alive("pywa") or time.monotonic() > deadline:
            raise RuntimeError(f"the pywa peer did not start:\n{run.stack.log_tail('pywa')}")
        time.sleep(0.25)


SEED = """
import json
from agents_app.models import Agent, KnowledgeEntry
from channels_app.models import Channel
from workspaces_app.models import Workspace

spec = json.loads('@@SPEC@@')
fields = {f.name for f in Agent._meta.get_fields()}
seeded = {}
for n, line in enumerate(spec["lines"]):
    workspace = Workspace.objects.create(name=f"Burst shop {n}", slug=f"burst-shop-{n}")
    agent = Agent(
        workspace=workspace, name="Assistant", instructions="Answer in one short message.",
        provider=line["provider"], model=line["model"], api_key="sk-burst", base_url=line["base_url"],
        request_timeout_seconds=line["timeout"],
    )
    if line["debounce"] is not None:
        agent.debounce_seconds = line["debounce"]
    if "max_concurrent_turns" in fields:
        agent.max_concurrent_turns = spec["cap"]
    agent.save()
    for title, body in spec["faq"]:
        KnowledgeEntry.objects.create(agent=agent, kind=KnowledgeEntry.Kind.FAQ, title=title, body=body)
    Channel.objects.create(
        workspace=workspace, name=f"Burst line {n}", status=Channel.Status.ACTIVE, waba_id=spec["waba_id"],
        phone_number_id=line["phone"], display_phone_number="+1 555 078 " + line["phone"][-4:],
        access_token="EAAG-burst-token", throughput_mps=1000, agent=agent,
    )
    seeded[line["phone"]] = {"debounce": agent.debounce_seconds, "cap": getattr(agent, "max_concurrent_turns", None)}
print("SEEDED=" + json.dumps(seeded))
"""


def seed(run: BenchRun, lines: list[dict], *, cap: int) -> dict:
    spec = {"lines": lines, "cap": cap, "faq": FAQ, "waba_id": WABA_ID}
    text = json.dumps(spec, ensure_ascii=True).replace("\\", "\\\\").replace("'", "\\'")
    return json.loads(manage_shell_printed(run.env, SEED.replace("@@SPEC@@", text), "SEEDED="))


# --- customers and what they saw --------------------------------------------------------------------------------


@dataclass
class Wave:
    """Customers of one side who each write once, at planned times; what came back to them."""

    side: Side
    phone: str
    due: dict[str, float] = field(default_factory=dict)  # wa_id -> planned time of their message

    @property
    def customers(self) -> set[str]:
        return set(self.due)

    def latencies(self, graph: Graph) -> list[float]:
        """Seconds from each customer's message to their reply at Graph; inf for one not answered."""
        with graph.lock:
            return [graph.replied_at.get(wa_id, math.inf) - due for wa_id, due in self.due.items()]


class Driver:
    """The customers: new ones, each writing one text, at evenly spread planned times (open loop)."""

    def __init__(self, meta: Meta, graph: Graph) -> None:
        self.meta = meta
        self.graph = graph
        self._waves = itertools.count(1)

    def wave(self, side: Side, phone: str, *, count: int, start: float, spread: float) -> Wave:
        """`count` customers, the i-th writing at start + i * spread / count."""
        wave = Wave(side, phone)
        number = next(self._waves)
        for i in range(count):
            wa_id = f"1{side.digit}{number:03d}{i:07d}"
            due = start + i * spread / count
            wave.due[wa_id] = due
            body = text_webhook(phone, wa_id, QUESTIONS[i % len(QUESTIONS)])
            self.meta.at(Post(due, side, body, "message", wa_id))
        return wave

    def wait_answered(self, wave: Wave, *, until: float) -> bool:
        while time.perf_counter() < until:
            if self.graph.answered(wave.due) == len(wave.due):
                return True
            time.sleep(0.1)
        return self.graph.answered(wave.due) == len(wave.due)

    def warm_up(self, side: Side, phone: str, *, count: int = 8, timeout: float = 120) -> None:
        """A few customers answered end to end: every process has imported, connected and served once."""
        wave = self.wave(side, phone, count=count, start=time.perf_counter() + 0.1, spread=1.0)
        if not self.wait_answered(wave, until=time.perf_counter() + timeout):
            raise RuntimeError(f"{side.name} answered {self.graph.answered(wave.due)} of {count} warm-up customers")
        self.wait_statuses(wave, timeout=15)

    def wait_statuses(self, wave: Wave, *, timeout: float) -> float:
        """Wait until Meta has posted every status it owes these customers; when the last one was answered."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            owed = 3 * self.graph.answered(wave.due) - len(self.meta.posts(customers=wave.customers, kind="status"))
            if owed <= 0:
                break
            time.sleep(0.1)
        return max((p.done for p in self.meta.posts(customers=wave.customers, kind="status")), default=math.nan)


@dataclass
class Result:
    """One side's figures for one wave."""

    customers: int = 0
    answered: int = 0
    latencies: list[float] = field(default_factory=list)
    ack_ms: list[float] = field(default_factory=list)
    ack_errors: int = 0
    driver_late_ms: list[float] = field(default_factory=list)
    model_peak: int = 0
    model_late_s: list[float] = field(default_factory=list)
    fold_s: float = math.nan  # last status acknowledged -> every reply read in the database
    fold_from_end_s: float = math.nan  # last customer message -> every reply read in the database
    unfolded: int = 0
    cpu: dict[str, float] = field(default_factory=dict)  # % of one core by group over the wave
    memory: dict[str, dict[str, float]] = field(default_factory=dict)  # role -> peak figures (MB)
    seconds: float = 0.0


def wave_result(driver: Driver, wave: Wave, *, model: FakeModel | None = None) -> Result:
    posts = driver.meta.posts(customers=wave.customers)
    result = Result(customers=len(wave.due), answered=driver.graph.answered(wave.due))
    result.latencies = wave.latencies(driver.graph)
    result.ack_ms = [(p.done - p.due) * 1000 for p in posts]
    result.ack_errors = sum(1 for p in posts if p.code != 200)
    result.driver_late_ms = [(p.started - p.due) * 1000 for p in posts]
    if model is not None:
        result.model_peak, result.model_late_s = model.peak, list(model.late_s)
    return result


def unfolded_replies(db: Database, wave: Wave) -> int:
    """Replies to these customers whose status is not `read` yet (none stored counts as one, per customer)."""
    prefix = next(iter(wave.due))[:-7] + "%"
    (not_read,) = db.one(
        "SELECT count(*) FROM messaging_app_message m JOIN messaging_app_contact c ON c.id = m.contact_id "
        "WHERE m.direction = 'out' AND m.status <> 'read' AND c.wa_id LIKE %s",
        (prefix,),
    )
    (replied,) = db.one(
        "SELECT count(DISTINCT m.contact_id) FROM messaging_app_message m JOIN messaging_app_contact c "
        "ON c.id = m.contact_id WHERE m.direction = 'out' AND c.wa_id LIKE %s",
        (prefix,),
    )
    return not_read + len(wave.due) - replied


# Where a reply's time goes, read back from the rows the turn left: (label, from, to) over each customer's row.
STAGES = (
    ("message planned -> stored (intake, drain)", "due", "stored"),
    ("stored -> run started (debounce, queue, read receipt)", "stored", "turn"),
    ("run started -> model called", "turn", "model_start"),
    ("the model call", "model_start", "model_end"),
    ("model answered -> reply queued", "model_end", "queued"),
    ("reply queued -> reply at Graph (outbox)", "queued", "graph"),
)


def stage_lines(db: Database, driver: Driver, wave: Wave) -> list[tuple[str, float, float]]:
    """Median and p99 seconds of each stage of ours' replies (STAGES), from the database and the Graph stand-in."""
    prefix = next(iter(wave.due))[:-7] + "%"
    rows = db.all(
        "SELECT c.wa_id, extract(epoch FROM i.created_at), extract(epoch FROM r.started_at), r.model_latency_ms, "
        "extract(epoch FROM o.created_at) FROM messaging_app_contact c "
        "JOIN messaging_app_message i ON i.contact_id = c.id AND i.direction = 'in' "
        "JOIN LATERAL (SELECT min(started_at) AS started_at, max(model_latency_ms) AS model_latency_ms "
        "  FROM agents_app_agentrun WHERE conversation_id = i.conversation_id) r ON true "
        "JOIN LATERAL (SELECT min(created_at) AS created_at FROM messaging_app_message "
        "  WHERE contact_id = c.id AND direction = 'out') o ON true "
        "WHERE c.wa_id LIKE %s",
        (prefix,),
    )
    wall_to_perf = time.perf_counter() - time.time()
    with driver.graph.lock:
        at_graph = dict(driver.graph.replied_at)
    spans: dict[str, list[float]] = {label: [] for label, _, _ in STAGES}
    for wa_id, stored, turn, model_ms, queued in rows:
        if None in (stored, turn, queued) or wa_id not in at_graph or wa_id not in wave.due:
            continue
        points = {
            "due": wave.due[wa_id],
            "stored": float(stored) + wall_to_perf,
            "turn": float(turn) + wall_to_perf,
            "queued": float(queued) + wall_to_perf,
            "graph": at_graph[wa_id],
        }
        # The model call's place in the turn is not stored; its length is, and it ends just before the reply
        # is queued (the reply's shaping takes microseconds).
        model_s = (model_ms or 0) / 1000
        points["model_end"] = points["queued"]
        points["model_start"] = points["queued"] - model_s
        for label, start, end in STAGES:
            spans[label].append(points[end] - points[start])
    return [(label, percentile(values, 50), percentile(values, 99)) for label, values in spans.items() if values]


def fold_wait(driver: Driver, db: Database, wave: Wave, result: Result, *, timeout: float) -> None:
    """When every reply's statuses had been folded (read in the database), from the last status posted and from
    the last customer message."""
    last_status = driver.wait_statuses(wave, timeout=timeout)
    deadline = time.perf_counter() + timeout
    while (left := unfolded_replies(db, wave)) and time.perf_counter() < deadline:
        time.sleep(0.1)
    folded_at = time.perf_counter()
    result.unfolded = left
    if not left:
        result.fold_s = max(0.0, folded_at - last_status)
        result.fold_from_end_s = folded_at - max(wave.due.values())


class Meters:
    """CPU by group and memory by role, sampled every 2 s in the background, read per wave."""

    def __init__(self, run: BenchRun) -> None:
        self.run = run
        self.cpu = CpuAccount(run.meter)
        self.memory = Memory({})
        self._stop = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()

    def watch(self) -> None:
        """Meter every process the stack runs now (call after starting or restarting roles)."""
        self.memory.roles = {name: process.pid for name, process in self.run.stack.processes.items()}

    def _sample(self) -> None:
        while not self._stop.wait(2.0):
            self.cpu.sample()
            self.memory.sample()

    def begin(self) -> tuple[float, dict]:
        return time.perf_counter(), self.cpu.snapshot()

    def end(self, began: tuple[float, dict], result: Result) -> None:
        started, cpu_before = began
        self.memory.sample()
        result.seconds = time.perf_counter() - started
        after = self.cpu.snapshot()
        result.cpu = {g: 100 * (v - cpu_before.get(g, 0.0)) / result.seconds for g, v in after.items()}
        known = sum(v for g, v in result.cpu.items() if g != "machine")
        result.cpu["other"] = max(0.0, result.cpu.get("machine", 0.0) - known)
        for role in self.memory.roles:
            samples = [r[role] for t, r in self.memory.samples if t >= started and role in r]
            result.memory[role] = {
                "rss_max": max((s["rss_max"] for s in samples), default=0.0),
                "pss": max((s["pss"] for s in samples), default=0.0),
            }

    def close(self) -> None:
        self._stop.set()


# --- the saturation ramp ----------------------------------------------------------------------------------------


@dataclass
class Step:
    rate: float
    flat: bool
    answered_per_s: float
    waiting_mid: int
    waiting_end: int
    pending_events: int | None
    driver_late_ms: float
    reply_p50_s: float


def ramp(
    driver: Driver, side: Side, phone: str, *, step_seconds: float, db: Database | None, wait: float
) -> list[Step]:
    """New customers at RAMP_START/s, then 1.5 times more each step, until a step's backlog grows; then two more
    steps between the last flat rate and that one (geometric halves, each after the backlog drained), so the
    saturation point is known to about 10 %. A step where the driver itself fell behind ends the ramp: what it
    measured then was this process, not the system."""
    steps: list[Step] = []
    low, high = 0.0, None
    rate = RAMP_START
    while rate <= RAMP_TOP:
        step = ramp_step(driver, side, phone, rate=rate, step_seconds=step_seconds, db=db)
        steps.append(step)
        if step.driver_late_ms > DRIVER_LATE_S * 1000:
            return steps
        if not step.flat:
            high = rate
            break
        low = rate
        rate *= RAMP_FACTOR
    for _ in range(RAMP_REFINE):
        if high is None:
            break
        if not drain_side(driver, side, timeout=wait):
            print(f"  {side.name}: backlog not drained after {wait:g} s; the ramp stops here", flush=True)
            break
        rate = math.sqrt(max(low, high / RAMP_FACTOR) * high)
        step = ramp_step(driver, side, phone, rate=rate, step_seconds=step_seconds, db=db)
        steps.append(step)
        if step.driver_late_ms > DRIVER_LATE_S * 1000:
            break
        low, high = (rate, high) if step.flat else (low, rate)
    return steps


def ramp_step(driver: Driver, side: Side, phone: str, *, rate: float, step_seconds: float, db) -> Step:
    """`rate` new customers a second for `step_seconds`. Flat when the customers waiting for a reply grew by at
    most FLAT_SHARE of the second half's arrivals (or FLAT_SLACK) over that half."""
    start = time.perf_counter() + 0.2
    wave = driver.wave(side, phone, count=round(rate * step_seconds), start=start, spread=step_seconds)
    middle, end = start + step_seconds / 2, start + step_seconds
    waiting_mid = waiting(driver, wave, at=middle)
    answered_mid = driver.graph.answered(wave.due)
    waiting_end = waiting(driver, wave, at=end)
    answered_end = driver.graph.answered(wave.due)
    pending = None
    if db is not None:
        (pending,) = db.one("SELECT count(*) FROM channels_app_webhookevent WHERE state = 'pending'")
    posts = driver.meta.posts(customers=wave.customers, kind="message")
    late = percentile([(p.started - p.due) * 1000 for p in posts], 90) if posts else math.nan
    step = Step(
        rate=rate,
        flat=waiting_end - waiting_mid <= max(FLAT_SLACK, FLAT_SHARE * rate * step_seconds / 2),
        answered_per_s=(answered_end - answered_mid) / (step_seconds / 2),
        waiting_mid=waiting_mid,
        waiting_end=waiting_end,
        pending_events=pending,
        driver_late_ms=late,
        reply_p50_s=percentile(wave.latencies(driver.graph), 50),
    )
    pending_text = "" if pending is None else f", {pending} events pending"
    print(
        f"  {side.name} {rate:>5.0f}/s: {'flat' if step.flat else 'GROWING'}; answered {step.answered_per_s:.0f}/s "
        f"over the second half; waiting for a reply {waiting_mid} -> {waiting_end}{pending_text}; "
        f"driver late p90 {late:.0f} ms",
        flush=True,
    )
    return step


def waiting(driver: Driver, wave: Wave, *, at: float) -> int:
    """At time `at` (waited for): the wave's customers who had written by then and have no reply."""
    time.sleep(max(0.0, at - time.perf_counter()))
    written = [wa_id for wa_id, due in wave.due.items() if due <= at]
    return len(written) - driver.graph.answered(written)


def saturation(steps: list[Step]) -> tuple[float, str]:
    """The highest rate whose backlog stayed flat, and what bounds it."""
    driver_limited = [s for s in steps if s.driver_late_ms > DRIVER_LATE_S * 1000]
    best = max((s.rate for s in steps if s.flat and s not in driver_limited), default=0.0)
    growing = [s.rate for s in steps if not s.flat and s not in driver_limited]
    if driver_limited:
        late = driver_limited[0]
        return best, (
            f"a floor: the driver fell behind at {late.rate:.0f}/s (p90 {late.driver_late_ms:.0f} ms late), "
            "so this process, not the system, was measured there"
        )
    if growing:
        return best, f"the backlog grew at {min(growing):.0f}/s"
    return best, f"a floor: flat up to the ramp's top ({RAMP_TOP:.0f}/s)"


def drain_side(driver: Driver, side: Side, *, timeout: float) -> bool:
    """Wait until Meta has posted everything it planned and every customer of this side has a reply."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        written = [p.customer for p in driver.meta.posts(side=side, kind="message")]
        if driver.meta.outstanding == 0 and driver.graph.answered(written) == len(written):
            return True
        time.sleep(0.2)
    return False


# --- report -----------------------------------------------------------------------------------------------------


def _s(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return "not answered" if math.isinf(value) else f"{value:.2f}"


def _seconds(value: float) -> str:
    """A figure in seconds for a sentence: "not answered" (within the wait) and "-" (not measured) stay words."""
    text = _s(value)
    return text if text in ("-", "not answered") else f"{text} s"


def _pass(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def table(rows: list[tuple[str, str, str]]) -> None:
    print(f"{'':50}{'ours':>20}{'pywa':>20}")
    for label, ours, peer in rows:
        print(f"{label:50}{ours:>20}{peer:>20}")


def wave_rows(results: dict[str, Result]) -> list[tuple[str, str, str]]:
    def cell(name: str, render) -> str:
        return render(results[name]) if name in results else "-"

    def rows(label: str, render) -> tuple[str, str, str]:
        return label, cell("ours", render), cell("pywa", render)

    return [
        rows("answered", lambda r: f"{r.answered} / {r.customers}"),
        rows("reply p50 (s)", lambda r: _s(percentile(r.latencies, 50))),
        rows("reply p90 (s)", lambda r: _s(percentile(r.latencies, 90))),
        rows("reply p99 (s)", lambda r: _s(percentile(r.latencies, 99))),
        rows("reply max (s)", lambda r: _s(percentile(r.latencies, 100))),
        rows("webhook ack p99 (ms)", lambda r: f"{percentile(r.ack_ms, 99):.1f}"),
        rows("webhooks not answered 200", lambda r: str(r.ack_errors)),
        rows("driver late p99 (ms)", lambda r: f"{percentile(r.driver_late_ms, 99):.1f}"),
    ]


def cpu_lines(results: dict[str, Result]) -> None:
    print("CPU over each wave, % of one core (2 cores = 200%):")
    for name, result in results.items():
        ordered = sorted((g for g in result.cpu if g not in ("machine", "other")), key=lambda g: -result.cpu[g])
        cells = "  ".join(f"{g} {result.cpu[g]:.0f}" for g in ordered if result.cpu[g] >= 0.5)
        print(f"  {name:<10} {cells}  other {result.cpu['other']:.0f}  machine {result.cpu.get('machine', 0):.0f}")


def memory_lines(results: dict[str, Result], kinds: dict[str, str]) -> list[tuple[str, float]]:
    """Print each role's peak memory; the (role, PSS MB) of ours' web and worker roles, for the target."""
    checked = []
    print("memory peak over each wave (MB): PSS of the role's processes / RSS of its largest process")
    for name, result in results.items():
        cells = []
        for role, peak in result.memory.items():
            if (name == "pywa") != (role == "pywa"):
                continue
            cells.append(f"{role} {peak['pss']:.0f} / {peak['rss_max']:.0f}")
            if name == "ours" and kinds.get(role) in ("web", "worker"):
                checked.append((role, peak["pss"]))
        print(f"  {name:<5} " + ", ".join(cells))
    return checked


def header(args) -> None:
    roles = procfile_roles()
    print(f"Procfile roles started ({PROCFILE}):")
    for role, command in roles.items():
        copies = f" x{args.workers} copies" if role_kind(command) == "worker" and args.workers > 1 else ""
        print(f"  {role}{copies}: {command}")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=BASE_DIR, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=BASE_DIR, capture_output=True)
    code = commit.stdout.strip() or "? (not a git checkout)"
    if dirty.stdout.strip():
        code += " with uncommitted changes"
    load = os.getloadavg()
    print(
        f"code at {code}; {os.cpu_count()} cores; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        flush=True,
    )


# --- modes ------------------------------------------------------------------------------------------------------


@dataclass
class Bench:
    """What every mode shares: the run, Meta, Graph, the model, the customers and the meters."""

    args: argparse.Namespace
    run: BenchRun
    meta: Meta
    graph: Graph
    model: FakeModel
    model_url: str
    graph_url: str
    driver: Driver
    meters: Meters
    db: Database | None = None
    kinds: dict[str, str] = field(default_factory=dict)
    ours: Side | None = None
    peer: Side | None = None

    def ours_up(self, lines: list[dict], *, copies: int) -> dict:
        lines = [{**line, "phone": phone} for line, phone in zip(lines, OURS_PHONES, strict=False)]
        self.run.database_create()
        seeded = seed(self.run, lines, cap=self.args.max_concurrent_turns)
        self.run.redis_flush()
        self.db = Database(self.run.database_url)
        port = free_port()
        self.kinds = ours_start(self.run, port=port, copies=copies)
        self.ours = Side("ours", port, APP_SECRET, tuple(line["phone"] for line in lines), "6")
        for phone in self.ours.phones:
            self.graph.sides[phone] = self.ours
        self.meters.watch()
        return seeded

    def peer_up(self, mode: str) -> None:
        if self.args.no_peer:
            return
        venv = peers_venv()
        if venv is None:
            print("peers: the pywa peer is not measured in this run (see above)", file=sys.stderr)
            return
        port = free_port()
        peer_start(self.run, venv, port=port, mode=mode, graph_url=self.graph_url, model_url=self.model_url)
        self.peer = Side("pywa", port, PEER_SECRET, (PEER_PHONE,), "7")
        self.graph.sides[PEER_PHONE] = self.peer
        self.meters.watch()

    def sides(self) -> list[Side]:
        """The sides in the order they are measured: the peer first, because ours may still be working through
        a backlog when its wait ends, and that work would take the peer's CPU."""
        return [s for s in (self.peer, self.ours) if s is not None]


def complaints(bench: Bench, side: Side, lines: int = 8) -> None:
    """The last warnings and errors the side's processes logged: the first place to look when replies are missing."""
    names = ["pywa"] if side is bench.peer else [n for n in bench.run.stack.processes if n != "pywa"]
    for name in names:
        logged = (bench.run.log_dir / f"{name}.log").read_text(errors="replace").splitlines()
        worrying = [line for line in logged if re.search(r"ERROR|WARNING|CRITICAL|Traceback|Error:", line)]
        if worrying:
            print(f"    {name} logged {len(worrying)} warnings/errors; the last:", flush=True)
            for line in worrying[-lines:]:
                print(f"      {line[:300]}", flush=True)


def mode_burst(bench: Bench) -> None:
    args = bench.args
    line = {"provider": "openai", "model": MODEL_NAME, "base_url": bench.model_url, "timeout": 30.0, "debounce": None}
    seeded = bench.ours_up([line], copies=args.workers)[OURS_PHONES[0]]
    bench.peer_up("model")
    header(args)
    check = model_check(bench.model_url, min(args.customers, 500), args.model_delay)
    print(
        f"fake model: {len(check)} requests at once from this process came back {percentile(check, 50) * 1000:.0f} ms "
        f"(p50) / {percentile(check, 99) * 1000:.0f} ms (p99) after its {args.model_delay:g} s delay",
        flush=True,
    )
    print(
        f"burst: {args.customers} new customers each write one text within {args.within:g} s (evenly spread, open "
        f"loop); the agent is OpenAI-compatible, model answers after {args.model_delay:g} s; agent debounce "
        f"{seeded['debounce']:g} s (the model's default); max_concurrent_turns "
        f"{seeded['cap'] if seeded['cap'] is not None else 'absent (field not in this build)'}; statuses posted "
        f"{' / '.join(f'{s} +{a:g} s' for s, a in STATUS_AFTER)} after each send; waiting up to {args.wait:g} s "
        "after the last message",
        flush=True,
    )
    results: dict[str, Result] = {}
    stages: list[tuple[str, float, float]] = []
    for side in bench.sides():
        phone = side.phones[0]
        bench.driver.warm_up(side, phone)
        bench.model.reset()
        began = bench.meters.begin()
        start = time.perf_counter() + 0.5
        wave = bench.driver.wave(side, phone, count=args.customers, start=start, spread=args.within)
        done = bench.driver.wait_answered(wave, until=start + args.within + args.wait)
        result = wave_result(bench.driver, wave, model=bench.model)
        bench.meters.end(began, result)
        print(f"  {side.name}: {result.answered} of {result.customers} answered{'' if done else ' (gave up)'}")
        if not done:
            complaints(bench, side)
        if side is bench.ours and done:
            fold_wait(bench.driver, bench.db, wave, result, timeout=30)
            stages = stage_lines(bench.db, bench.driver, wave)
            limit = TARGETS["burst"].get(args.customers)
            if limit is not None and percentile(result.latencies, 99) > limit:
                complaints(bench, side)  # a target missed: what the processes said about it
        results[side.name] = result

    print()
    rows = wave_rows(results)
    fold = results["ours"].fold_s if "ours" in results else math.nan
    rows.append(("statuses folded after the last one (s)", _s(fold), "no store"))
    rows.append(
        (
            "peak model requests at once",
            *(str(results[s].model_peak) if s in results else "-" for s in ("ours", "pywa")),
        )
    )
    late = {s: percentile(results[s].model_late_s, 99) * 1000 for s in results}
    rows.append(
        (
            "model answer late p99 (ms, beyond delay)",
            *(f"{late[s]:.1f}" if s in late else "-" for s in ("ours", "pywa")),
        )
    )
    table(rows)
    if stages:
        print("\nwhere ours' reply time went (s, each customer's own stages; the model's delay included):")
        print(f"  {'':54}{'p50':>8}{'p99':>8}")
        for label, p50, p99 in stages:
            print(f"  {label:54}{p50:8.2f}{p99:8.2f}")
    print()
    cpu_lines(results)
    checked = memory_lines(results, bench.kinds)
    print()
    limit = TARGETS["burst"].get(args.customers)
    for name, result in results.items():
        p99 = percentile(result.latencies, 99)
        every = result.answered == result.customers
        if limit is None:
            print(f"      {name}: no target for {args.customers} customers (targets: 200 -> 5 s, 1000 -> 10 s)")
            continue
        print(
            f"{_pass(every and p99 <= limit)}  {name}: every one of {args.customers} answered, "
            f"p99 reply <= {limit:g} s "
            f"(got {result.answered} answered, p99 {_seconds(p99)})"
        )
    if args.customers == 1000 and "ours" in results:
        for role, pss in checked:
            limit_mb = TARGETS["memory_mb"]
            print(f"{_pass(pss < limit_mb)}  ours: {role} memory < {limit_mb:g} MB (got {pss:.0f} MB PSS)")


def steady_wave(bench: Bench, side: Side, *, rate: float, seconds: float) -> Result:
    args = bench.args
    phone = side.phones[0]
    began = bench.meters.begin()
    start = time.perf_counter() + 0.5
    wave = bench.driver.wave(side, phone, count=int(rate * seconds), start=start, spread=seconds)
    done = bench.driver.wait_answered(wave, until=start + seconds + args.wait)
    result = wave_result(bench.driver, wave)
    bench.meters.end(began, result)
    print(f"  {side.name}: {result.answered} of {result.customers} answered{'' if done else ' (gave up)'}", flush=True)
    if not done:
        complaints(bench, side)
    if side is bench.ours and done:
        fold_wait(bench.driver, bench.db, wave, result, timeout=args.wait)
    else:
        bench.driver.wait_statuses(wave, timeout=10)
    return result


def mode_steady(bench: Bench) -> None:
    args = bench.args
    line = {"provider": "knowledge_base", "model": "", "base_url": "", "timeout": 30.0, "debounce": args.debounce}
    seeded = bench.ours_up([line], copies=args.workers)[OURS_PHONES[0]]
    bench.peer_up("echo")
    header(args)
    print(
        f"steady: {args.rate:g} new customers/s for {args.seconds:g} s, each one FAQ question the offline "
        f"knowledge-base agent answers with one text (debounce {seeded['debounce']:g} s); pywa is an echo bot. "
        f"Saturation first: {args.step_seconds:g} s at each rate from {RAMP_START:g}/s, x{RAMP_FACTOR:g} a step "
        f"until the backlog grows, then {RAMP_REFINE} steps between",
        flush=True,
    )
    results: dict[str, Result] = {}
    ramps: dict[str, list[Step]] = {}
    for side in bench.sides():
        phone = side.phones[0]
        bench.driver.warm_up(side, phone)
        print(f"{side.name}: saturation ramp ...", flush=True)
        ramps[side.name] = ramp(
            bench.driver,
            side,
            phone,
            step_seconds=args.step_seconds,
            db=bench.db if side is bench.ours else None,
            wait=args.wait,
        )
        if not drain_side(bench.driver, side, timeout=args.wait):
            print(f"  {side.name}: the ramp's backlog had not drained after {args.wait:g} s", flush=True)
        print(f"{side.name}: {args.rate:g} customers/s for {args.seconds:g} s ...", flush=True)
        results[side.name] = steady_wave(bench, side, rate=args.rate, seconds=args.seconds)

    print()
    rows = wave_rows(results)
    rows.append(
        ("statuses folded after the last one (s)", _s(results["ours"].fold_s) if "ours" in results else "-", "no store")
    )
    rows.append(
        (
            "... after the last message (s)",
            _s(results["ours"].fold_from_end_s) if "ours" in results else "-",
            "no store",
        )
    )
    sat = {name: saturation(steps) for name, steps in ramps.items()}
    rows.append(
        (
            "saturation: highest flat rate (customers/s)",
            *(f"{sat[s][0]:.0f}" if s in sat else "-" for s in ("ours", "pywa")),
        )
    )
    table(rows)
    for name, (_, why) in sat.items():
        print(f"  {name} ramp ended: {why}")
    print()
    cpu_lines(results)
    memory_lines(results, bench.kinds)
    print()
    for name, result in results.items():
        p99 = percentile(result.latencies, 99)
        every = result.answered == result.customers
        ack = percentile(result.ack_ms, 99)
        print(
            f"{_pass(every and p99 <= TARGETS['steady_p99_s'])}  {name}: every customer answered, p99 reply <= "
            f"{TARGETS['steady_p99_s']:g} s (got {result.answered}/{result.customers}, p99 {_seconds(p99)})"
        )
        print(
            f"{_pass(ack < TARGETS['ack_p99_ms'] and not result.ack_errors)}  {name}: webhook ack p99 < "
            f"{TARGETS['ack_p99_ms']:g} ms (got {ack:.1f} ms, {result.ack_errors} not answered 200)"
        )
    if "ours" in results:
        ours = results["ours"]
        print(
            f"{_pass(ours.fold_s <= TARGETS['fold_s'])}  ours: every status folded within {TARGETS['fold_s']:g} s "
            f"(got {_seconds(ours.fold_s)} after the last status webhook; {ours.unfolded} replies not read)"
        )
    if "ours" in sat and "pywa" in sat:
        print(
            f"      saturation: ours {sat['ours'][0]:.0f}/s, pywa {sat['pywa'][0]:.0f}/s (no target; issue 15 compares)"
        )


def mode_scaleout(bench: Bench) -> None:
    args = bench.args
    line = {"provider": "knowledge_base", "model": "", "base_url": "", "timeout": 30.0, "debounce": args.debounce}
    lines = [line]
    seeded = bench.ours_up(lines, copies=1)[OURS_PHONES[0]]
    header(args)
    print(
        f"scale-out: the saturation ramp ({args.step_seconds:g} s per rate) with 1, then 2 copies of every Celery "
        f"worker role; knowledge-base agent, debounce {seeded['debounce']:g} s",
        flush=True,
    )
    rates, peaks = {}, {}
    results: dict[str, Result] = {}
    for copies in (1, 2):
        if copies == 2:
            bench.run.stack.stop()
            bench.run.stack.processes.clear()
            bench.run.redis_flush()
            bench.kinds = ours_start(bench.run, port=bench.ours.port, copies=2)
            bench.meters.watch()
        bench.driver.warm_up(bench.ours, OURS_PHONES[0])
        print(f"{copies} worker cop{'y' if copies == 1 else 'ies'}: saturation ramp ...", flush=True)
        began = bench.meters.begin()
        steps = ramp(
            bench.driver, bench.ours, OURS_PHONES[0], step_seconds=args.step_seconds, db=bench.db, wait=args.wait
        )
        result = Result()
        bench.meters.end(began, result)
        results[f"x{copies}"] = result
        rates[copies] = saturation(steps)
        peaks[copies] = max((step.answered_per_s for step in steps), default=0.0)
        print(
            f"  highest flat rate {rates[copies][0]:.0f}/s ({rates[copies][1]}); most answered in a second-half "
            f"{peaks[copies]:.0f}/s",
            flush=True,
        )
        drain_side(bench.driver, bench.ours, timeout=args.wait)
    print()
    cpu_lines(results)
    ratio = rates[2][0] / rates[1][0] if rates[1][0] else math.nan
    peak_ratio = peaks[2] / peaks[1] if peaks[1] else math.nan
    print()
    print(
        f"{_pass(ratio >= TARGETS['scaleout'])}  two worker copies answer >= {TARGETS['scaleout']:g}x the steady "
        f"rate of one (got {rates[2][0]:.0f}/s vs {rates[1][0]:.0f}/s = {ratio:.2f}x; the most answered a second "
        f"{peaks[2]:.0f}/s vs {peaks[1]:.0f}/s = {peak_ratio:.2f}x)"
    )


def mode_isolation(bench: Bench) -> None:
    args = bench.args
    lines = [
        {
            "provider": "openai",
            "model": SLOW_MODEL,
            "base_url": bench.model_url,
            "timeout": args.slow_delay + 30,
            "debounce": None,
        },
        {"provider": "openai", "model": FAST_MODEL, "base_url": bench.model_url, "timeout": 30.0, "debounce": None},
    ]
    seeded = bench.ours_up(lines, copies=args.workers)
    header(args)
    phone_a, phone_b = OURS_PHONES
    print(
        f"isolation: workspace A's model answers in {args.slow_delay:g} s, B's in {args.model_delay:g} s; "
        f"{args.customers} new customers of B within {args.within:g} s, alone and then with {args.customers} of A's "
        f"in the same {args.within:g} s; debounce {seeded[phone_b]['debounce']:g} s; max_concurrent_turns "
        f"{seeded[phone_b]['cap'] if seeded[phone_b]['cap'] is not None else 'absent (field not in this build)'}",
        flush=True,
    )
    bench.driver.warm_up(bench.ours, phone_b)
    results: dict[str, Result] = {}
    for label in ("B alone", "B beside A"):
        if results and not drain_side(bench.driver, bench.ours, timeout=args.wait):
            print(f"  B alone left customers unanswered after {args.wait:g} s more; the next phase starts behind")
        print(f"{label} ...", flush=True)
        bench.model.reset()
        began = bench.meters.begin()
        start = time.perf_counter() + 0.5
        if label == "B beside A":
            bench.driver.wave(bench.ours, phone_a, count=args.customers, start=start, spread=args.within)
        wave = bench.driver.wave(bench.ours, phone_b, count=args.customers, start=start, spread=args.within)
        done = bench.driver.wait_answered(wave, until=start + args.within + args.wait)
        result = wave_result(bench.driver, wave, model=bench.model)
        bench.meters.end(began, result)
        if done:
            fold_wait(bench.driver, bench.db, wave, result, timeout=30)
        print(f"  B: {result.answered} of {result.customers} answered{'' if done else ' (gave up)'}", flush=True)
        if not done:
            complaints(bench, bench.ours)
        results[label] = result
    print()
    alone, beside = results["B alone"], results["B beside A"]
    print(f"{'':44}{'B alone':>16}{'B beside A':>16}{'difference':>14}")
    for label, value in (
        ("answered", lambda r: r.answered),
        ("reply p50 (s)", lambda r: percentile(r.latencies, 50)),
        ("reply p99 (s)", lambda r: percentile(r.latencies, 99)),
        ("statuses folded after the last one (s)", lambda r: r.fold_s),
        ("webhook ack p99 (ms)", lambda r: percentile(r.ack_ms, 99)),
        ("peak model requests at once (A's and B's)", lambda r: r.model_peak),
    ):
        a, b = value(alone), value(beside)
        difference = b - a
        cell = str if isinstance(a, int) else _s
        print(f"{label:44}{cell(a):>16}{cell(b):>16}{cell(difference):>14}")
    print()
    cpu_lines(results)
    print()
    for label, figure in (("reply p99", lambda r: percentile(r.latencies, 99)), ("status fold", lambda r: r.fold_s)):
        delay = figure(beside) - figure(alone)
        print(
            f"{_pass(delay <= TARGETS['isolation_s'])}  A's slow model delays B's {label} by <= "
            f"{TARGETS['isolation_s']:g} s (got {_seconds(delay)}: "
            f"{_seconds(figure(alone))} -> {_seconds(figure(beside))})"
        )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["burst", "steady", "isolation", "scaleout"], default="burst")
    parser.add_argument("--customers", type=int, default=None, help="burst: 200; isolation: 100 per workspace")
    parser.add_argument("--within", type=float, default=10.0, help="burst/isolation: seconds the customers spread over")
    parser.add_argument("--model-delay", type=float, default=2.0, help="seconds the fake model takes to answer")
    parser.add_argument("--slow-delay", type=float, default=30.0, help="isolation: workspace A's model, seconds")
    parser.add_argument("--rate", type=float, default=100.0, help="steady: new customers per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="steady: how long")
    parser.add_argument("--step-seconds", type=float, default=4.0, help="saturation ramp: seconds per rate")
    parser.add_argument(
        "--debounce", type=float, default=0.0, help="steady/scaleout: the knowledge-base agent's debounce (s)"
    )
    parser.add_argument("--workers", type=int, default=1, help="copies of every Celery worker role in the Procfile")
    parser.add_argument("--max-concurrent-turns", type=int, default=500, help="Agent.max_concurrent_turns, if any")
    parser.add_argument("--wait", type=float, default=None, help="longest wait for replies after the last message")
    parser.add_argument("--no-peer", action="store_true", help="measure ours only")
    args = parser.parse_args()
    if args.customers is None:
        args.customers = 100 if args.mode == "isolation" else 200
    if args.wait is None:
        args.wait = 120.0 if args.mode == "burst" else 45.0
    return args


def main() -> int:
    args = parse_args()
    meta = Meta()
    graph = Graph(meta)
    graph_url = graph.start()
    delays = {FAST_MODEL: args.model_delay, SLOW_MODEL: args.slow_delay}
    model = FakeModel(delays, args.model_delay)
    model_url = model.start()
    run = BenchRun(
        DATABASE_PREFIX,
        REDIS_URL,
        META_APP_SECRET=APP_SECRET,
        GRAPH_API_BASE_URL=graph_url,
        WHATSAPP_EMULATOR_GRAPH_URL=graph_url,
        TESTING="false",
    )
    meters = Meters(run)
    bench = Bench(args, run, meta, graph, model, model_url, graph_url, Driver(meta, graph), meters)
    try:
        {"burst": mode_burst, "steady": mode_steady, "isolation": mode_isolation, "scaleout": mode_scaleout}[args.mode](
            bench
        )
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
    except Exception as exc:  # a benchmark reports what stopped it and still cleans up
        print(f"\nthe bench stopped: {exc!r}", file=sys.stderr)
        for name in run.stack.processes:
            print(f"\nlast lines of {name}'s log:\n{run.stack.log_tail(name, 20)}", file=sys.stderr)
    finally:
        meters.close()
        meta.close()
        if bench.db is not None:
            bench.db.close()
        run.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
