"""Soak: minutes of mixed traffic against the production topology, then "nothing lost" checked end to end.

    .venv/bin/python bench/soak.py [--minutes 10] [--rate 320] [--api-rate 4]

It builds a throw-away PostgreSQL database, starts what the Procfile starts (gunicorn, a Celery worker at
nice 19 and Celery beat) on Redis, and drives it open-loop for --minutes: signed webhooks at --rate per
second (customers' messages, answered by an instant agent, and the sent/delivered/read statuses of every
message the platform sent) plus API sends (`POST /api/v1/conversations/<id>/messages/`). Graph and the
model are loopback fakes in this process that answer at once. It prints throughput, latency percentiles,
errors, the resident memory of the web and worker processes, the backlog, and then, once the worker has
drained, the reliability suite's invariants (tests/reliability/invariants.py) and PASS/MISS per target.
bench/README.md explains the figures. It always exits 0: a benchmark reports, it does not gate.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import itertools
import json
import math
import os
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.webhook_ingest import (  # noqa: E402 (the bench runs as a script)
    BIN,
    BenchRun,
    Client,
    CpuMeter,
    Stack,
    cpu_seconds,
    free_port,
    gunicorn_argv,
    manage_shell_printed,
    wait_healthy,
)

APP_SECRET = "soak-secret"
REDIS_URL = "redis://127.0.0.1:6379/12"
WABA_ID = "102290129340398"
PHONE_NUMBER_ID = "106540352242922"
DISPLAY_PHONE_NUMBER = "15550783881"
# Customers write in turn, so no conversation is hotter than in real traffic (and each stays far below the
# pair rate limit: one reply every ~13 s at 77 messages/s).
CUSTOMERS = 997

TARGET_RATE = 320.0
TARGET_P99_MS = 50.0
TARGET_RSS_MB = 250.0


def sign(body: bytes) -> str:
    return "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()


def customer_of(n: int) -> str:
    return f"1650555{n % CUSTOMERS:04d}"


def _envelope(value_parts: str) -> bytes:
    """A `messages` webhook, compact and ASCII-escaped as Meta sends it."""
    return (
        '{"object":"whatsapp_business_account","entry":[{"id":"' + WABA_ID + '","changes":[{"value":'
        '{"messaging_product":"whatsapp","metadata":{"display_phone_number":"' + DISPLAY_PHONE_NUMBER + '",'
        '"phone_number_id":"' + PHONE_NUMBER_ID + '"},' + value_parts + '},"field":"messages"}]}]}'
    ).encode()


def inbound_body(n: int, wamid: str) -> bytes:
    wa_id = customer_of(n)
    return _envelope(
        f'"contacts":[{{"profile":{{"name":"Customer {n % CUSTOMERS}"}},"wa_id":"{wa_id}","user_id":"US.{wa_id}"}}],'
        f'"messages":[{{"from":"{wa_id}","from_user_id":"US.{wa_id}","id":"{wamid}","timestamp":"{int(time.time())}",'
        f'"type":"text","text":{{"body":"Soak question {n}"}}}}]'
    )


def status_body(wamid: str, status: str, wa_id: str, callback: str) -> bytes:
    extra = f',"biz_opaque_callback_data":"{callback}"' if callback else ""
    return _envelope(
        f'"statuses":[{{"id":"{wamid}","status":"{status}","timestamp":"{int(time.time())}",'
        f'"recipient_id":"{wa_id}","recipient_user_id":"US.{wa_id}"{extra}}}]'
    )


# --- Meta and the model, as loopback fakes that answer at once ----------------------------------------


class _QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def _json(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")


# Graph's answer to a send over the number's throughput (cloud-api.md 9.1).
THROUGHPUT_REACHED = {
    "error": {
        "message": "(#130429) Rate limit hit",
        "type": "OAuthException",
        "code": 130429,
        "error_data": {"messaging_product": "whatsapp", "details": "Cloud API message throughput has been reached."},
        "fbtrace_id": "AbenchStandIn130429",
    }
}


@dataclass
class FakeGraph:
    """`POST /<version>/<phone_number_id>/messages`: accepts every send with a new wamid, and queues the
    statuses Meta would then report (sent, delivered, read) for the traffic to deliver as webhooks.

    With `mps`, it meters the number as Meta does: a send that finds `mps` accepted sends in the last
    second (a sliding window) is answered with error 130429 and counted in `refused`."""

    mps: int = 0
    sends: int = 0
    accepted_at: list[float] = field(default_factory=list)  # time.time() of each accepted send
    refused: int = 0
    window: deque = field(default_factory=deque)  # monotonic times of the sends accepted in the last second
    read_receipts: int = 0
    by_callback: dict[str, int] = field(default_factory=dict)  # biz_opaque_callback_data -> times received
    echoed_at: dict[int, float] = field(default_factory=dict)  # question n -> when its echo reached Graph
    statuses: list[deque] = field(default_factory=lambda: [deque(), deque(), deque()])  # sent, delivered, read
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> str:
        graph = self

        class Handler(_QuietHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                payload = self._body()
                if payload.get("status") == "read":
                    with graph.lock:
                        graph.read_receipts += 1
                    return self._json(200, {"success": True})
                if not graph.admit():
                    return self._json(400, THROUGHPUT_REACHED)
                wamid = f"wamid.soakout{uuid.uuid4().hex}"
                to = str(payload.get("to", "")).lstrip("+")
                callback = str(payload.get("biz_opaque_callback_data", ""))
                text = (payload.get("text") or {}).get("body", "")
                with graph.lock:
                    graph.sends += 1
                    graph.by_callback[callback] = graph.by_callback.get(callback, 0) + 1
                    if text.startswith("echo: Soak question "):
                        graph.echoed_at.setdefault(int(text.rsplit(" ", 1)[1]), time.perf_counter())
                    graph.statuses[0].append((wamid, to, callback))
                return self._json(
                    200,
                    {
                        "messaging_product": "whatsapp",
                        "contacts": [{"input": to, "wa_id": to}],
                        "messages": [{"id": wamid}],
                    },
                )

        return _serve(Handler)

    def admit(self) -> bool:
        """Count a send against the number's limit; False (and counted as refused) when the last second is full."""
        now = time.monotonic()
        with self.lock:
            if self.mps:
                while self.window and now - self.window[0] >= 1.0:
                    self.window.popleft()
                if len(self.window) >= self.mps:
                    self.refused += 1
                    return False
                self.window.append(now)
            self.accepted_at.append(time.time())
        return True

    def next_status(self) -> tuple[str, str, str, str] | None:
        """The next status to report: sent before delivered before read, each message in send order."""
        with self.lock:
            for stage, name in enumerate(("sent", "delivered", "read")):
                if self.statuses[stage]:
                    wamid, to, callback = self.statuses[stage].popleft()
                    if stage < 2:
                        self.statuses[stage + 1].append((wamid, to, callback))
                    return wamid, name, to, callback
        return None

    def owed(self) -> int:
        with self.lock:
            return 3 * len(self.statuses[0]) + 2 * len(self.statuses[1]) + len(self.statuses[2])


def fake_model() -> str:
    """An OpenAI-compatible server whose answer is `echo: <the last customer message>`, at once."""

    class Handler(_QuietHandler):
        def do_POST(self):  # noqa: N802
            body = self._body()
            last = next((m for m in reversed(body.get("messages") or []) if m.get("role") == "user"), {})
            content = last.get("content") or ""
            if isinstance(content, list):
                content = " ".join(part.get("text", "") for part in content if isinstance(part, dict))
            message = {"role": "assistant", "content": f"echo: {content}", "refusal": None}
            self._json(
                200,
                {
                    "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body.get("model", ""),
                    "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 20, "completion_tokens": 4, "total_tokens": 24},
                },
            )

    return _serve(Handler) + "/v1"


def _serve(handler) -> str:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


# --- the traffic -------------------------------------------------------------------------------------


@dataclass
class Webhooks:
    """Open-loop webhooks at `rate`/s: request i is due at start + i/rate, and its latency runs from then,
    so a stall shows in the latency of every request it delayed (no coordinated omission). Inbound messages
    take `inbound_share` of the slots; the others carry the next owed status (or, before any is owed, the
    status of a message the platform does not know, which it keeps for when it does)."""

    port: int
    graph: FakeGraph
    rate: float
    inbound_share: float
    fill: bool = True  # with no status owed, send one for an unknown message (keeps the rate); else skip the slot
    threads: int = 64
    timeout: float = 10.0
    due: list[float] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    status: list[int] = field(default_factory=list)
    inbound_due: dict[int, float] = field(default_factory=dict)  # question n -> its due time
    inbound_acknowledged: list[str] = field(default_factory=list)  # wamids
    acknowledged_hashes: set[str] = field(default_factory=set)
    unacknowledged: deque = field(default_factory=deque)  # bodies Meta would send again
    drain_errors: int = 0  # non-200 answers while delivering the statuses owed after the load
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, *, seconds: float, first_index: int = 0) -> None:
        total = int(self.rate * seconds)
        start = time.perf_counter() + 0.1
        indexes = itertools.count()
        inbound_counter = itertools.count(first_index)

        def carry() -> None:
            client = Client(self.port, self.timeout)
            while (i := next(indexes)) < total:
                due = start + i / self.rate
                prepared = self._body_for(i, inbound_counter)
                if prepared is None:
                    continue
                body, question, wamid = prepared
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                code = client.post(body, sign(body))
                done = time.perf_counter()
                with self._lock:
                    self.due.append(due)
                    self.latency_ms.append((done - due) * 1000)
                    self.status.append(code)
                    if code == 200:
                        self.acknowledged_hashes.add(hashlib.sha256(body).hexdigest())
                        if question is not None:
                            self.inbound_due[question] = due
                            self.inbound_acknowledged.append(wamid)
                    else:
                        self.unacknowledged.append((body, question, wamid))
            client.close()

        threads = [threading.Thread(target=carry, daemon=True) for _ in range(self.threads)]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.5)

    def _body_for(self, i: int, inbound_counter) -> tuple[bytes, int | None, str] | None:
        with self._lock:
            if self.unacknowledged:
                return self.unacknowledged.popleft()
        # Slot i is inbound when the running share crosses a whole number: evenly spread, exact in total.
        if math.floor((i + 1) * self.inbound_share) > math.floor(i * self.inbound_share):
            n = next(inbound_counter)
            wamid = f"wamid.soakin{uuid.uuid4().hex}"
            return inbound_body(n, wamid), n, wamid
        owed = self.graph.next_status()
        if owed is None and not self.fill:
            return None
        if owed is None:
            wamid = f"wamid.soakunknown{uuid.uuid4().hex}"
            return status_body(wamid, "delivered", customer_of(i), ""), None, ""
        wamid, name, to, callback = owed
        return status_body(wamid, name, to, callback), None, ""


@dataclass
class ApiSends:
    """`POST /api/v1/conversations/<id>/messages/` at `rate`/s, open loop, to conversations customers opened."""

    port: int
    api_key: str
    rate: float
    conversation_ids: list[int] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run_until(self, stop: threading.Event) -> None:
        start = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        for i in itertools.count():
            due = start + i / self.rate
            while time.perf_counter() < due:
                if stop.wait(min(0.2, max(0.0, due - time.perf_counter()))):
                    connection.close()
                    return
            if not self.conversation_ids:
                continue
            conversation_id = self.conversation_ids[i % len(self.conversation_ids)]
            body = json.dumps({"type": "text", "content": {"body": f"Soak API message {i}"}}).encode()
            headers = {"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"}
            try:
                connection.request("POST", f"/api/v1/conversations/{conversation_id}/messages/", body, headers)
                response = connection.getresponse()
                response.read()
                code = response.status
            except (OSError, http.client.HTTPException):
                connection.close()
                code = 0
            self.latency_ms.append((time.perf_counter() - due) * 1000)
            self.statuses.append(code)


class CpuAccount:
    """CPU seconds by group, accumulated from frequent samples: a PostgreSQL backend that exits (connections
    are recycled every CONN_MAX_AGE) keeps what it spent up to its last sample."""

    def __init__(self, meter: CpuMeter) -> None:
        self.meter = meter
        self.totals: dict[str, float] = {}
        self._last = meter.sample()
        self._lock = threading.Lock()

    def sample(self) -> None:
        current = self.meter.sample()
        with self._lock:
            for group, spent in cpu_seconds(self._last, current).items():
                self.totals[group] = self.totals.get(group, 0.0) + spent
            self._last = current

    def snapshot(self) -> dict[str, float]:
        self.sample()
        with self._lock:
            return dict(self.totals)


# --- memory ------------------------------------------------------------------------------------------


def _session_processes(session_id: int) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                line = stat.read()
        except OSError:
            continue
        if int(line[line.rfind(")") + 2 :].split()[3]) == session_id:  # field 6: the session id
            found.append(int(entry.name))
    return found


def _kib(pid: int, path: str, key: str) -> int:
    try:
        with open(f"/proc/{pid}/{path}") as source:
            for line in source:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class Memory:
    """Resident memory of each role (web, worker, beat), sampled every few seconds.

    RSS counts pages shared with sibling processes (forked from one parent) once per process; PSS splits
    them, so a role's PSS total is the memory it really occupies."""

    roles: dict[str, int]  # role -> session id
    samples: list[tuple[float, dict]] = field(default_factory=list)

    def sample(self) -> dict:
        reading = {}
        for role, session in self.roles.items():
            pids = _session_processes(session)
            rss = [_kib(pid, "status", "VmRSS:") / 1024 for pid in pids]
            pss = [_kib(pid, "smaps_rollup", "Pss:") / 1024 for pid in pids]
            reading[role] = {"processes": len(pids), "rss_max": max(rss, default=0), "rss": sum(rss), "pss": sum(pss)}
        self.samples.append((time.perf_counter(), reading))
        return reading

    def peak(self, role: str, key: str) -> float:
        return max((reading[role][key] for _, reading in self.samples), default=0.0)

    def first(self, role: str, key: str) -> float:
        return self.samples[0][1][role][key] if self.samples else 0.0

    def last(self, role: str, key: str) -> float:
        return self.samples[-1][1][role][key] if self.samples else 0.0


# --- the database's view -----------------------------------------------------------------------------


class Database:
    def __init__(self, url: str) -> None:
        self._connection = psycopg.connect(url, autocommit=True)

    def one(self, sql: str, params=()) -> tuple:
        return self._connection.execute(sql, params).fetchone()

    def all(self, sql: str, params=()) -> list[tuple]:
        return self._connection.execute(sql, params).fetchall()

    def backlog(self) -> dict[str, int]:
        (events,) = self.one("SELECT count(*) FROM channels_app_webhookevent WHERE state = 'pending'")
        (inbound,) = self.one(
            "SELECT count(*) FROM messaging_app_message WHERE direction = 'in' "
            "AND (handled_at IS NULL OR next_attempt_at IS NOT NULL)"
        )
        (outbound,) = self.one(
            "SELECT count(*) FROM messaging_app_message WHERE direction = 'out' "
            "AND status IN ('queued', 'sending', 'unknown')"
        )
        (turns,) = self.one("SELECT count(*) FROM agents_app_agentrun WHERE status = 'running'")
        return {"events": events, "inbound": inbound, "outbound": outbound, "turns": turns}

    def conversation_ids(self, limit: int = 500) -> list[int]:
        rows = self._connection.execute(
            "SELECT id FROM messaging_app_conversation ORDER BY id LIMIT %s", (limit,)
        ).fetchall()
        return [row[0] for row in rows]

    def stored_hashes(self) -> set[str]:
        rows = self._connection.execute("SELECT encode(sha256(body), 'hex') FROM channels_app_webhookevent")
        return {row[0] for row in rows}

    def inbound_wamids(self) -> set[str]:
        rows = self._connection.execute("SELECT wamid FROM messaging_app_message WHERE direction = 'in'")
        return {row[0] for row in rows}

    def flagged_resends(self) -> set[str]:
        rows = self._connection.execute("SELECT public_id::text FROM messaging_app_message WHERE possible_duplicate")
        return {row[0] for row in rows}

    def counts(self) -> dict[str, int]:
        queries = {
            "webhook events": "SELECT count(*) FROM channels_app_webhookevent",
            "inbound messages": "SELECT count(*) FROM messaging_app_message WHERE direction = 'in'",
            "outbound messages": "SELECT count(*) FROM messaging_app_message WHERE direction = 'out'",
            "status receipts": "SELECT count(*) FROM messaging_app_statusreceipt",
            "agent turns": "SELECT count(*) FROM agents_app_agentrun",
        }
        return {name: self.one(sql)[0] for name, sql in queries.items()}

    def close(self) -> None:
        self._connection.close()


SEED = """
import json
from agents_app.models import Agent
from channels_app.models import Channel
from workspaces_app.models import Workspace
from workspaces_app.services import api_key_create

workspace = Workspace.objects.create(name="Soak shop", slug="soak-shop")
agent = Agent.objects.create(
    workspace=workspace, name="Echo", instructions="Answer in one short message.", provider="openai",
    model="echo", api_key="sk-soak", base_url="{model_url}", debounce_seconds=0,
)
Channel.objects.create(
    workspace=workspace, name="Soak line", status=Channel.Status.ACTIVE, waba_id="{waba_id}",
    phone_number_id="{phone_number_id}", display_phone_number="+1 555 078 3881", access_token="EAAG-soak-token",
    throughput_mps=1000, agent=agent,
)
print("KEY=" + api_key_create(workspace=workspace, name="soak").plaintext)
"""

INVARIANTS = """
import json
from tests.reliability.invariants import invariants_violations
print("VIOLATIONS=" + json.dumps(invariants_violations()))
"""


# --- report ------------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:,.1f}"


def minute_rows(traffic: Webhooks, start: float) -> list[tuple[int, int, float, float, int]]:
    """(minute, requests answered 200, rate, p99 ms, errors) per minute of due time."""
    buckets: dict[int, list] = {}
    for due, latency, code in zip(traffic.due, traffic.latency_ms, traffic.status, strict=True):
        buckets.setdefault(int((due - start) // 60), []).append((latency, code))
    rows = []
    for minute in sorted(buckets):
        items = buckets[minute]
        ok = sum(1 for _, code in items if code == 200)
        rows.append((minute + 1, ok, ok / 60, percentile([lat for lat, _ in items], 99), len(items) - ok))
    return rows


def main() -> int:
    args = parse_args()
    graph = FakeGraph()
    graph_url = graph.start()
    model_url = fake_model()
    run = BenchRun(
        "wap_soak",
        REDIS_URL,
        META_APP_SECRET=APP_SECRET,
        GRAPH_API_BASE_URL=graph_url,
        WHATSAPP_EMULATOR_GRAPH_URL=graph_url,
        AGENT_TOOL_ALLOWED_HOSTS=model_url.split("/")[2],
        TESTING="false",
    )
    database_url, meter, stack, env, log_dir = run.database_url, run.meter, run.stack, run.env, run.log_dir
    db = None
    try:
        run.database_create()
        seed = SEED.format(model_url=model_url, waba_id=WABA_ID, phone_number_id=PHONE_NUMBER_ID)
        api_key = manage_shell_printed(env, seed, "KEY=")
        run.redis_flush()
        db = Database(database_url)

        port = free_port()
        web_args = argparse.Namespace(workers=args.web_workers, worker_class="gthread", threads=args.web_threads)
        stack.start("web", gunicorn_argv("whatsapp_platform.wsgi", port, web_args), env)
        worker = ["nice", "-n", "19", str(BIN / "celery"), "-A", "whatsapp_platform", "worker"]
        stack.start(
            "worker",
            [*worker, "--pool", args.pool, "--concurrency", str(args.concurrency), "--loglevel", "WARNING"],
            env,
        )
        beat = [str(BIN / "celery"), "-A", "whatsapp_platform", "beat", "--loglevel", "WARNING"]
        stack.start("beat", [*beat, "--schedule", str(log_dir / "celerybeat-schedule")], env)
        wait_healthy(stack, "web", port)
        memory = Memory({name: process.pid for name, process in stack.processes.items()})

        inbound_share = (args.rate - 3 * args.api_rate) / 4 / args.rate  # inbound + 3 statuses per send
        print(
            f"gunicorn: {args.web_workers} gthread workers x {args.web_threads} threads; Celery worker: {args.pool} "
            f"x{args.concurrency} at nice 19; Celery beat; webhooks {args.rate:g}/s open loop "
            f"({inbound_share * args.rate:.0f}/s customer messages answered by an instant agent, the rest "
            f"statuses of the messages sent); API sends {args.api_rate:g}/s; {args.minutes:g} min; "
            f"{os.cpu_count()} cores",
            flush=True,
        )
        warm = Webhooks(port, graph, rate=100, inbound_share=inbound_share)
        warm.run(seconds=3, first_index=10_000_000)
        api = ApiSends(port, api_key, rate=args.api_rate)
        api.conversation_ids = db.conversation_ids()

        traffic = Webhooks(port, graph, rate=args.rate, inbound_share=inbound_share)
        stop = threading.Event()
        api_thread = threading.Thread(target=api.run_until, args=(stop,), daemon=True)
        api_thread.start()
        monitor_rows = []

        def monitor() -> None:
            began = time.perf_counter()
            next_row = 60.0
            while not stop.wait(5):
                cpu.sample()
                reading = memory.sample()
                elapsed = time.perf_counter() - began
                if elapsed >= next_row:  # a row a minute (a sample takes a while, so no modulo test)
                    next_row += 60.0
                    backlog = db.backlog()
                    api.conversation_ids = db.conversation_ids()
                    monitor_rows.append((elapsed, backlog, reading))
                    print(
                        f"  {elapsed / 60:4.1f} min: backlog {backlog['events']} events, {backlog['inbound']} "
                        f"customer messages, {backlog['outbound']} sends; web {reading['web']['pss']:.0f} MB, "
                        f"worker {reading['worker']['pss']:.0f} MB (PSS)",
                        flush=True,
                    )

        memory.sample()
        cpu = CpuAccount(meter)
        cpu_before = cpu.snapshot()
        started = time.perf_counter()
        monitor_thread = threading.Thread(target=monitor, daemon=True)
        monitor_thread.start()
        traffic.run(seconds=args.minutes * 60)
        load_seconds = time.perf_counter() - started
        stop.set()
        api_thread.join(15)
        monitor_thread.join(15)
        cpu_after = cpu.snapshot()
        cpu_load = {group: cpu_after.get(group, 0.0) - cpu_before.get(group, 0.0) for group in cpu_after}
        memory.sample()
        backlog_at_end = db.backlog()

        print("\n".join(["load over:", *intake_lines(traffic, api, load_seconds)]), flush=True)
        print(
            f"memory peak (PSS): web {memory.peak('web', 'pss'):.0f} MB, worker {memory.peak('worker', 'pss'):.0f} MB; "
            "backlog: " + ", ".join(f"{n} {k}" for k, n in backlog_at_end.items()),
            flush=True,
        )
        # Meta still owes statuses for the last sends, and the worker has a backlog: let both finish.
        print(f"load over; delivering the {graph.owed()} statuses still owed and draining ...", flush=True)
        drain_started = time.perf_counter()
        next_progress = drain_started + 60
        while time.perf_counter() - drain_started < args.drain_wait:
            if time.perf_counter() >= next_progress:  # a long drain shows its pace
                next_progress += 60
                minutes = (time.perf_counter() - drain_started) / 60
                left = ", ".join(f"{n} {k}" for k, n in db.backlog().items())
                print(f"  draining, {minutes:4.1f} min: {left}", flush=True)
            if graph.owed():
                owed = Webhooks(port, graph, rate=args.rate, inbound_share=0.0, fill=False)
                owed.run(seconds=min(10, graph.owed() / args.rate + 1))
                traffic.acknowledged_hashes |= owed.acknowledged_hashes
                traffic.drain_errors += sum(1 for code in owed.status if code != 200)
                continue
            if not any(db.backlog().values()):
                break
            time.sleep(1)
        drain_seconds = time.perf_counter() - drain_started
        final_backlog = db.backlog()
        memory.sample()

        measured = Run(
            traffic=traffic,
            api=api,
            graph=graph,
            memory=memory,
            db=db,
            cpu_load=cpu_load,
            load_seconds=load_seconds,
            started=started,
            backlog_at_end=backlog_at_end,
            final_backlog=final_backlog,
            drain_seconds=drain_seconds,
            env=env,
            stack=stack,
            monitor_rows=monitor_rows,
        )
        report(args, measured)
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        if db is not None:
            db.close()
        run.close()


@dataclass
class Run:
    """What one soak measured, for the report."""

    traffic: Webhooks
    api: ApiSends
    graph: FakeGraph
    memory: Memory
    db: Database
    cpu_load: dict[str, float]
    load_seconds: float
    started: float
    backlog_at_end: dict[str, int]
    final_backlog: dict[str, int]
    drain_seconds: float
    env: dict[str, str]
    stack: Stack
    monitor_rows: list


def intake_lines(traffic: Webhooks, api: ApiSends, load_seconds: float) -> list[str]:
    """The intake's figures for the load: printed as soon as it ends (a long drain follows) and in the report."""
    ok = sum(1 for code in traffic.status if code == 200)
    errors = len(traffic.status) - ok + traffic.drain_errors
    codes = {code: traffic.status.count(code) for code in set(traffic.status) if code != 200}
    spread = " / ".join(_ms(percentile(traffic.latency_ms, q)) for q in (50, 90, 99, 99.9, 100))
    api_ok = sum(1 for code in api.statuses if code == 201)
    api_codes = {code: api.statuses.count(code) for code in set(api.statuses) if code != 201}
    return [
        f"webhooks answered 200            {ok:,} of {len(traffic.status):,} in {load_seconds:.1f} s "
        f"= {ok / load_seconds:.1f}/s",
        f"ack latency p50 / p90 / p99 / p99.9 / max (ms)   {spread}",
        f"webhook errors                   {errors}" + (f" ({codes})" if codes else ""),
        f"customer messages acknowledged   {len(traffic.inbound_acknowledged):,}",
        f"API sends                        {api_ok:,} answered 201 of {len(api.statuses):,}; latency p50 "
        f"{_ms(percentile(api.latency_ms, 50))} ms, p99 {_ms(percentile(api.latency_ms, 99))} ms"
        + (f"; errors {api_codes}" if api_codes else ""),
    ]


def report(args, run: Run) -> None:
    traffic, api, graph, memory, db = run.traffic, run.api, run.graph, run.memory, run.db
    cpu_load, load_seconds, started, env, stack = run.cpu_load, run.load_seconds, run.started, run.env, run.stack
    backlog_at_end, final_backlog, drain_seconds = run.backlog_at_end, run.final_backlog, run.drain_seconds
    monitor_rows = run.monitor_rows
    ok = sum(1 for code in traffic.status if code == 200)
    errors = len(traffic.status) - ok + traffic.drain_errors
    rate = ok / load_seconds
    p99 = percentile(traffic.latency_ms, 99)
    rows = minute_rows(traffic, started)

    print()
    print("per minute (due time):   answered   req/s   ack p99 ms   errors")
    for minute, answered, minute_rate, minute_p99, minute_errors in rows:
        cells = f"{answered:>8}  {minute_rate:>6.1f}   {_ms(minute_p99):>10}   {minute_errors:>6}"
        print(f"  minute {minute:>3}           {cells}")
    print()
    print("each minute of the load:  pending events   unhandled messages   sends on their way   web PSS   worker PSS")
    for elapsed, backlog, reading in monitor_rows:
        counts = f"{backlog['events']:>18,} {backlog['inbound']:>20,} {backlog['outbound']:>20,}"
        print(f"  at {elapsed / 60:4.1f} min {counts} {reading['web']['pss']:>9.0f} {reading['worker']['pss']:>12.0f}")
    print()
    print("\n".join(intake_lines(traffic, api, load_seconds)))
    answered = [graph.echoed_at[n] - due for n, due in traffic.inbound_due.items() if n in graph.echoed_at]
    if answered:
        print(
            f"customer message -> agent's reply at Graph: p50 {percentile(answered, 50) * 1000:,.0f} ms, "
            f"p99 {percentile(answered, 99) * 1000:,.0f} ms ({len(answered):,} echoes matched)"
        )
    print(f"Graph: {graph.sends:,} sends, {graph.read_receipts:,} read receipts")
    print()
    print("backlog when the load stopped:   " + ", ".join(f"{n} {k}" for k, n in backlog_at_end.items()))
    print(f"drained after {drain_seconds:.0f} s:           " + ", ".join(f"{n} {k}" for k, n in final_backlog.items()))
    print("rows at the end:                 " + ", ".join(f"{n:,} {k}" for k, n in db.counts().items()))
    print()
    print("CPU during the load, % of one core (2 cores = 200%):")
    groups = ("client", "web", "worker", "beat", "postgres", "redis")
    shares = {g: 100 * cpu_load.get(g, 0.0) / load_seconds for g in (*groups, "machine")}
    other = max(0.0, shares["machine"] - sum(shares[g] for g in groups))
    print(
        "  "
        + "  ".join(f"{g} {shares[g]:.0f}" for g in groups)
        + f"  other {other:.0f}  machine {shares['machine']:.0f}"
    )
    print()
    print("memory (MB)                    processes   RSS max/process   RSS total   PSS total   PSS start->end")
    for role in ("web", "worker", "beat"):
        print(
            f"  {role:<28} {memory.last(role, 'processes'):>9}   {memory.peak(role, 'rss_max'):>15.0f}   "
            f"{memory.peak(role, 'rss'):>9.0f}   {memory.peak(role, 'pss'):>9.0f}   "
            f"{memory.first(role, 'pss'):.0f} -> {memory.last(role, 'pss'):.0f}"
        )

    # Nothing lost: every acknowledged webhook stored, every customer message stored, no send twice.
    lost_webhooks = len(traffic.acknowledged_hashes - db.stored_hashes())
    lost_inbound = len(set(traffic.inbound_acknowledged) - db.inbound_wamids())
    flagged = db.flagged_resends()
    twice = sum(1 for callback, count in graph.by_callback.items() if count > 1 and callback not in flagged)
    try:
        violations = json.loads(manage_shell_printed(env, INVARIANTS, "VIOLATIONS=", timeout=1800))
    except RuntimeError as exc:
        violations = [f"invariants did not run: {str(exc)[-500:]}"]
    print()
    print(f"acknowledged webhooks missing from the database: {lost_webhooks}")
    print(f"acknowledged customer messages not stored:       {lost_inbound}")
    print(f"messages that reached Graph twice (not flagged): {twice}")
    at_rest = not any(final_backlog.values())
    print(
        "invariants (tests/reliability/invariants.py):    "
        + ("all hold" if not violations else "")
        + ("" if at_rest else "(checked before the backlog drained: work still in flight shows as broken)")
    )
    for violation in violations:
        print(f"  BROKEN  {violation}")
    for name in stack.processes:
        if not stack.alive(name):
            print(f"warning: {name} died during the run:\n{stack.log_tail(name)}")

    full_minutes = [r for r in rows if r[1] + r[4] >= 0.99 * 60 * args.rate] or rows
    sustained = min((r[2] for r in full_minutes), default=0.0)
    lost = lost_webhooks + lost_inbound + twice + len(violations) + sum(final_backlog.values())
    web_mb, worker_mb = memory.peak("web", "pss"), memory.peak("worker", "pss")
    worst_minute = max((r[3] for r in rows), default=math.nan)
    checks = [
        (
            f"{TARGET_RATE:g} webhooks/s sustained (got {rate:.1f}/s overall, slowest full minute {sustained:.1f}/s)",
            rate >= 0.99 * TARGET_RATE and sustained >= 0.97 * TARGET_RATE,
        ),
        (
            f"ack p99 < {TARGET_P99_MS:g} ms (got {_ms(p99)} ms; worst minute {_ms(worst_minute)} ms)",
            p99 < TARGET_P99_MS,
        ),
        (
            f"zero lost (webhook errors {errors}, missing {lost_webhooks + lost_inbound}, duplicates {twice}, "
            f"broken invariants {len(violations)}, left unprocessed {sum(final_backlog.values())})",
            lost == 0 and errors == 0,
        ),
        (
            f"web memory < {TARGET_RSS_MB:g} MB (got {web_mb:.0f} MB PSS for {memory.last('web', 'processes')} "
            f"processes; largest process {memory.peak('web', 'rss_max'):.0f} MB RSS)",
            web_mb < TARGET_RSS_MB,
        ),
        (
            f"worker memory < {TARGET_RSS_MB:g} MB (got {worker_mb:.0f} MB PSS for "
            f"{memory.last('worker', 'processes')} processes; largest process "
            f"{memory.peak('worker', 'rss_max'):.0f} MB RSS)",
            worker_mb < TARGET_RSS_MB,
        ),
    ]
    print()
    for label, passed in checks:
        print(f"{'PASS' if passed else 'MISS'}  {label}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long the load runs")
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="webhooks per second, open loop")
    parser.add_argument("--api-rate", type=float, default=4.0, help="API sends per second")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers (gthread)")
    parser.add_argument("--web-threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--pool", default="threads", help="Celery worker pool, as the Procfile (threads or prefork)")
    parser.add_argument("--concurrency", type=int, default=4, help="Celery worker threads (or processes)")
    parser.add_argument("--drain-wait", type=float, default=1800.0, help="longest wait for the backlog after the load")
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(main())
