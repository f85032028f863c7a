"""A 10,000-recipient campaign at the number's throughput limit: achieved rate, 130429s, statuses folded.

    .venv/bin/python bench/campaign.py [--recipients 10000] [--mps 80] [--graph standin|emulator]

It builds a throw-away PostgreSQL database, starts what the Procfile starts (gunicorn, the `worker` role at
nice 19 and Celery beat) on Redis, seeds one channel with `throughput_mps = --mps`, 10,000 tagged contacts and
an approved template, launches the campaign through the REST API and watches the sends reach Graph and every
status come back and fold.

Graph is, by default, a stand-in in this process (`bench.soak.FakeGraph`) that answers each send at once with
a real-shaped response, meters the number as Meta does (a send that finds `--mps` accepted sends in the last
second is answered with 130429 and counted) and posts the sent, delivered and read statuses back, signed, to
the platform's webhook URL: so the figures are the platform's, not an emulator's. `--graph emulator` runs the
Cloud API emulator inside gunicorn instead (its meter and its status webhooks), as this bench did at first.

It prints launch -> last send accepted, the achieved rate, the busiest second, every Graph error (130429
above all), the funnel, the time until every status is folded, CPU per group and per message, and PASS/MISS
for the target: the campaign done, every status folded and zero 130429 within 140 s for 10,000 at 80 msg/s
(112% of recipients / mps). It always exits 0: a benchmark reports, it does not gate. bench/README.md
explains the figures.

With `--graph emulator`, gunicorn serves `bench.campaign:application`, the platform's WSGI app wrapped to
count the Graph errors the emulator answers to `/messages` (in Redis, shared by gunicorn's processes): the
emulator keeps no row for a refused send, so this is where a 130429 can be seen.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

import psycopg
import redis

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))  # run as a script: `bench.webhook_ingest` must be importable

from bench.soak import (  # noqa: E402 (after the path fix above)
    APP_SECRET as STANDIN_APP_SECRET,
)
from bench.soak import (  # noqa: E402
    PHONE_NUMBER_ID,
    WABA_ID,
    CpuAccount,
    FakeGraph,
    sign,
    status_body,
)
from bench.webhook_ingest import (  # noqa: E402
    BIN,
    BenchRun,
    Client,
    free_port,
    manage_shell_printed,
    wait_healthy,
)

REDIS_URL = "redis://127.0.0.1:6379/13"
ERRORS_KEY = "campaign-bench:graph-errors"
APP_SECRET = "bench-campaign-secret"
ACCESS_TOKEN = "bench-campaign-token"
# The target: 10,000 recipients at 80 msg/s done, every status folded, within 140 s (112% of the ideal 125 s).
TARGET_SHARE_OF_IDEAL = 140 / 125


# --- the counting WSGI wrapper (runs inside gunicorn, with --graph emulator) ---------------------

_django_app = None
_counter = None


def application(environ, start_response):
    """The platform, with every non-200 answer to a `/messages` send counted by Graph error code."""
    global _django_app, _counter
    if _django_app is None:
        from whatsapp_platform.wsgi import application as django_app

        _django_app = django_app
        _counter = redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=2)
    path = environ.get("PATH_INFO", "")
    if not (path.startswith("/emulator/graph/") and path.endswith("/messages")):
        return _django_app(environ, start_response)
    seen = {}

    def capture(status, headers, exc_info=None):
        seen["status"] = status
        return start_response(status, headers, exc_info)

    result = _django_app(environ, capture)
    try:
        body = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    if not seen.get("status", "").startswith("200"):
        try:
            code = str(json.loads(body)["error"]["code"])
        except (ValueError, KeyError, TypeError):
            code = f"HTTP {seen.get('status', '?')[:3]}"
        _counter.hincrby(ERRORS_KEY, code, 1)
    return [body]


# --- seeding -------------------------------------------------------------------------------------

SEED_STANDIN_CHANNEL = """
channel = Channel.objects.create(
    workspace=workspace, name="Bench line", status=Channel.Status.ACTIVE, waba_id="{waba_id}",
    phone_number_id="{phone_number_id}", display_phone_number="+1 555 078 3881", access_token="{token}",
    throughput_mps=MPS,
)
"""

SEED_EMULATOR_CHANNEL = """
from cloudapi_emulator import ids
from cloudapi_emulator.models import Customer
from cloudapi_emulator.services import sandbox_number_provision, template_add

channel = Channel.objects.create(workspace=workspace, name="Bench line", provider="sandbox", status="active",
                                 connection="sandbox", throughput_mps=MPS)
number = sandbox_number_provision(
    display_phone_number="+1 555 010 0080", verified_name="Bench Shop", access_token="{token}",
    app_secret="{secret}", webhook_url=f"{{SITE}}/webhooks/whatsapp/{{channel.public_id}}/",
)
Channel.objects.filter(pk=channel.pk).update(
    phone_number_id=number.phone_number_id, waba_id=number.waba_id, meta_app_id=number.app.app_id,
    access_token="{token}", app_secret="{secret}",
)
channel.refresh_from_db()
Customer.objects.bulk_create(
    [Customer(number=number, name=f"Customer {{i}}", phone=p, bsuid=ids.bsuid()) for i, p in enumerate(phones)],
    batch_size=2000,
)
template_add(waba_id=number.waba_id, name="spring_code", category="MARKETING", components=COMPONENTS)
"""

SEED = """
import json
from channels_app.models import Channel, MessageTemplate
from messaging_app.models import Contact
from outreach_app.services import campaign_create
from workspaces_app.models import Workspace
from workspaces_app.services import api_key_create

RECIPIENTS, MPS, SITE = {recipients}, {mps}, "{site}"
COMPONENTS = [{{"type": "BODY", "text": "Hi {{{{1}}}}, your spring code is {{{{2}}}}. Reply STOP to opt out.",
               "example": {{"body_text": [["Pablo", "FERN20"]]}}}}]
workspace = Workspace.objects.create(name="Campaign bench", slug="campaign-bench")
phones = [f"1650{{i:07d}}" for i in range(RECIPIENTS)]
{channel}
Contact.objects.bulk_create(
    [Contact(workspace=workspace, channel=channel, wa_id=p, profile_name=f"Customer {{i}}", tags=["spring"])
     for i, p in enumerate(phones)],
    batch_size=2000,
)
MessageTemplate.objects.create(workspace=workspace, waba_id=channel.waba_id, name="spring_code", language="en_US",
                               category="MARKETING", status="APPROVED", components=COMPONENTS)
campaign = campaign_create(workspace=workspace, channel=channel, name="Spring codes", template_name="spring_code",
                           template_language="en_US", parameter_values={{"1": "{{contact.name}}", "2": "FERN20"}},
                           audience_tags=["spring"])
print("SEEDED " + json.dumps({{"campaign": str(campaign.public_id), "phone_number_id": channel.phone_number_id,
                               "key": api_key_create(workspace=workspace, name="bench").plaintext}}))
"""


def seed(env: dict[str, str], *, graph: str, recipients: int, mps: int, site: str) -> dict:
    if graph == "standin":
        channel = SEED_STANDIN_CHANNEL.format(waba_id=WABA_ID, phone_number_id=PHONE_NUMBER_ID, token=ACCESS_TOKEN)
    else:
        channel = SEED_EMULATOR_CHANNEL.format(token=ACCESS_TOKEN, secret=APP_SECRET)
    script = SEED.format(recipients=recipients, mps=mps, site=site, channel=channel)
    return json.loads(manage_shell_printed(env, script, "SEEDED "))


def http_json(port: int, method: str, path: str, body: dict | None = None, token: str = "") -> tuple[int, dict]:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        connection.request(method, path, body=json.dumps(body or {}), headers=headers)
        response = connection.getresponse()
        raw = response.read()
        return response.status, (json.loads(raw) if raw else {})
    finally:
        connection.close()


# --- Graph: the stand-in, or the emulator ----------------------------------------------------------


class StatusPoster:
    """Meta's side of the statuses: each send's sent, delivered and read webhooks, signed, posted to the
    platform as soon as they are owed (several at a time, as Meta delivers concurrently). A webhook that is
    not answered 200 is posted again a second later, as Meta retries."""

    def __init__(self, graph: FakeGraph, port: int, threads: int = 8) -> None:
        self.graph = graph
        self.port = port
        self.posted = 0
        self.errors = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._post, daemon=True) for _ in range(threads)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(15)

    def _post(self) -> None:
        client = Client(self.port, timeout=10)
        while not self._stop.is_set():
            owed = self.graph.next_status()
            if owed is None:
                time.sleep(0.01)
                continue
            wamid, name, to, callback = owed
            body = status_body(wamid, name, to, callback)
            while not self._stop.is_set():
                code = client.post(body, sign(body))
                with self._lock:
                    if code == 200:
                        self.posted += 1
                        break
                    self.errors += 1
                time.sleep(1)
        client.close()


class StandInGraph:
    def __init__(self, graph: FakeGraph) -> None:
        self.graph = graph

    def accepted(self) -> int:
        return len(self.graph.accepted_at)

    def accepted_times(self) -> list[float]:
        return sorted(self.graph.accepted_at)

    def errors(self) -> dict[str, int]:
        return {"130429": self.graph.refused} if self.graph.refused else {}

    def statuses_owed(self) -> int:
        return self.graph.owed()


class EmulatorGraph:
    def __init__(self, database_url: str, phone_number_id: str) -> None:
        self._db = psycopg.connect(database_url, autocommit=True)
        self._pnid = phone_number_id
        self._counter = redis.Redis.from_url(REDIS_URL, socket_timeout=5)

    def accepted(self) -> int:
        sql = "SELECT count(*) FROM cloudapi_emulator_sendrequest WHERE phone_number_id = %s"
        return self._db.execute(sql, [self._pnid]).fetchone()[0]

    def accepted_times(self) -> list[float]:
        sql = (
            "SELECT extract(epoch FROM created_at) FROM cloudapi_emulator_sendrequest "
            "WHERE phone_number_id = %s ORDER BY created_at"
        )
        return [float(row[0]) for row in self._db.execute(sql, [self._pnid])]

    def errors(self) -> dict[str, int]:
        return {k.decode(): int(v) for k, v in self._counter.hgetall(ERRORS_KEY).items()}

    def statuses_owed(self) -> int:
        return 0  # the emulator schedules its own; the funnel shows when they are all in

    def close(self) -> None:
        self._db.close()


# --- measuring ------------------------------------------------------------------------------------


class Database:
    def __init__(self, url: str) -> None:
        self._db = psycopg.connect(url, autocommit=True)

    def campaign(self) -> tuple[str, float | None, float | None]:
        sql = "SELECT state, extract(epoch FROM started_at), extract(epoch FROM finished_at) FROM outreach_app_campaign"
        state, started, finished = self._db.execute(sql).fetchone()
        return state, (float(started) if started else None), (float(finished) if finished else None)

    def funnel(self) -> dict[str, int]:
        sql = """
            SELECT count(m.id), count(m.sent_at), count(m.delivered_at), count(m.read_at),
                   count(*) FILTER (WHERE m.status = 'failed'), count(*) FILTER (WHERE m.attempts > 1),
                   count(*) FILTER (WHERE m.status IN ('queued', 'sending')),
                   count(*) FILTER (WHERE m.status = 'unknown'),
                   count(*) FILTER (WHERE r.state = 'pending')
            FROM outreach_app_campaignrecipient r LEFT JOIN messaging_app_message m ON m.id = r.message_id
        """
        row = self._db.execute(sql).fetchone()
        keys = ("queued", "sent", "delivered", "read", "failed", "retried", "in_outbox", "unknown", "pending")
        return dict(zip(keys, row, strict=True))

    def close(self) -> None:
        self._db.close()


def busiest_second(times: list[float]) -> int:
    """The most sends Graph accepted within any sliding 1-second window (what its meter counts)."""
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def all_folded(funnel: dict[str, int], owed: int) -> bool:
    """Every recipient handled, nothing left in the outbox, every message read or failed, no status owed."""
    settled = funnel["read"] + funnel["failed"] >= funnel["queued"]
    return not funnel["pending"] and not funnel["in_outbox"] and settled and not owed


GROUPS = ("web", "worker", "beat", "postgres", "redis", "client")


def cpu_lines(cpu: dict[str, float], wall: float, messages: int, client_is: str) -> list[str]:
    own = sum(cpu.get(g, 0.0) for g in GROUPS)
    other = max(0.0, cpu.get("machine", 0.0) - own)
    percent = "  ".join(f"{g} {100 * cpu.get(g, 0.0) / wall:.0f}" for g in GROUPS)
    per_message = "  ".join(f"{g} {1000 * cpu.get(g, 0.0) / messages:.1f}" for g in GROUPS)
    ours = sum(cpu.get(g, 0.0) for g in ("web", "worker", "beat", "postgres", "redis"))
    return [
        f"  % of one core ({os.cpu_count()} cores = {100 * (os.cpu_count() or 1)}%):",
        f"    {percent}  other {100 * other / wall:.0f}  machine {100 * cpu.get('machine', 0.0) / wall:.0f}",
        f"  ms of CPU per message ({messages} messages; client = {client_is}):",
        f"    {per_message}  platform (web + worker + beat + postgres + redis) {1000 * ours / messages:.1f}",
    ]


def report(*, args, launched_at, times, errors, funnel_sent, funnel_end, folded_at, cpu_sent, cpu_all, state) -> None:
    n = len(times)
    first, last = (times[0], times[-1]) if times else (launched_at, launched_at)
    span = last - first
    from_launch = last - launched_at
    rate = (n - 1) / span if n > 1 and span > 0 else 0.0
    ideal = args.recipients / args.mps
    target = TARGET_SHARE_OF_IDEAL * ideal
    graph = "the stand-in" if args.graph == "standin" else "the emulator"
    print()
    print(f"recipients                                   {args.recipients}")
    print(f"sends accepted by {graph:<27}{n}")
    print(f"Graph limit / channel throughput_mps         {args.mps} msg/s / {args.mps} msg/s")
    print(f"launch -> first send accepted                {first - launched_at:.1f} s")
    print(f"launch -> last send accepted                 {from_launch:.1f} s (ideal {ideal:.1f} s)")
    print(f"achieved rate (first -> last send)           {rate:.1f} msg/s ({100 * rate / args.mps:.0f}% of the limit)")
    print(f"busiest second (sliding 1 s window)          {busiest_second(times)} sends")
    total = sum(errors.values())
    listed = ", ".join(f"{code}: {count}" for code, count in sorted(errors.items())) or "none"
    print(f"errors answered by {graph:<26}{total} ({listed})")
    print(f"130429 responses                             {errors.get('130429', 0)}")
    print(f"campaign state when the sends were done      {state}")
    if folded_at:
        folded = f"{folded_at - launched_at:.1f} s"
    elif args.no_statuses:
        folded = "no status posted (--no-statuses)"
    else:
        folded = f"not within --drain-wait {args.drain_wait:.0f} s"
    print(f"launch -> every status folded                {folded}")
    print()
    print("funnel (messages)          when the last send was accepted   at the end")
    for key in ("queued", "sent", "delivered", "read", "failed", "retried", "in_outbox", "unknown", "pending"):
        print(f"  {key:<26}{funnel_sent[key]:>30}{funnel_end[key]:>15}")
    print()
    client_is = "this bench: Graph stand-in + status webhooks" if args.graph == "standin" else "this bench's polling"
    sent_wall = max(from_launch, 1e-6)
    print(f"CPU, launch -> last send ({sent_wall:.0f} s):")
    print("\n".join(cpu_lines(cpu_sent, sent_wall, max(n, 1), client_is)))
    if folded_at:
        print(f"CPU, launch -> every status folded ({folded_at - launched_at:.0f} s):")
        print("\n".join(cpu_lines(cpu_all, folded_at - launched_at, max(n, 1), client_is)))
    print()
    got = errors.get("130429", 0)
    within = folded_at is not None and folded_at - launched_at <= target and n >= args.recipients
    ok = within and got == 0 and state == "completed"
    print(
        f"{'PASS' if ok else 'MISS'}  {args.recipients} recipients at {args.mps} msg/s done with every status folded "
        f"and zero 130429 within {target:.0f} s (got {folded}, {got} x 130429, {n} sent, campaign {state})"
    )


# --- main ----------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=10_000, help="contacts in the campaign's audience")
    parser.add_argument("--mps", type=int, default=80, help="Graph's throughput limit and the channel's")
    parser.add_argument(
        "--graph",
        choices=("standin", "emulator"),
        default="standin",
        help="Graph: a stand-in in this process that answers at once (default), or the emulator in gunicorn",
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (gthread)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument(
        "--worker-concurrency", type=int, default=8, help="threads of the `worker` role (as in the Procfile)"
    )
    parser.add_argument(
        "--worker-nice", type=int, default=19, help="the worker's niceness (19 as in the Procfile: web answers first)"
    )
    parser.add_argument(
        "--no-statuses",
        action="store_true",
        help="the stand-in posts no status webhooks: the sends' own cost, to tell it from the folding's",
    )
    parser.add_argument("--drain-wait", type=float, default=120.0, help="longest wait for the statuses after the sends")
    parser.add_argument(
        "--timeout", type=float, default=0.0, help="give up on the sends after this (0: 3x ideal + 60 s)"
    )
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    port = free_port()
    site = f"http://127.0.0.1:{port}"
    fake = None
    if args.graph == "standin":
        fake = FakeGraph(mps=args.mps)
        graph_url = fake.start()
        run = BenchRun(
            "wap_campaignbench",
            REDIS_URL,
            SITE_URL=site,
            META_APP_SECRET=STANDIN_APP_SECRET,
            GRAPH_API_BASE_URL=graph_url,
            WHATSAPP_EMULATOR_GRAPH_URL=graph_url,
        )
    else:
        run = BenchRun(
            "wap_campaignbench",
            REDIS_URL,
            SITE_URL=site,
            WHATSAPP_EMULATOR_ENABLED="true",
            WHATSAPP_EMULATOR_GRAPH_URL=f"{site}/emulator/graph",
        )
    database_url, meter, stack, env = run.database_url, run.meter, run.stack, run.env
    db = graph = poster = None
    try:
        run.database_create()
        run.redis_flush()
        print(f"seeding {args.recipients} contacts ...", flush=True)
        seeded = seed(env, graph=args.graph, recipients=args.recipients, mps=args.mps, site=site)
        run.redis_flush()  # tasks the seeding queued (none expected) are not this run's
        app = "whatsapp_platform.wsgi" if args.graph == "standin" else "bench.campaign:application"
        gunicorn = [str(BIN / "gunicorn"), app, "--bind", f"127.0.0.1:{port}"]
        gunicorn += ["--workers", str(args.workers), "--worker-class", "gthread", "--threads", str(args.threads)]
        gunicorn += ["--timeout", "30", "--log-level", "warning"]
        stack.start("web", gunicorn, env)
        # The Procfile's `worker` role, niced so the web processes answer first; and beat for the sweepers.
        worker = ["nice", "-n", str(args.worker_nice), str(BIN / "celery"), "-A", "whatsapp_platform", "worker"]
        worker += ["-n", "worker@%h", "-Q", "intake,outbox,campaigns,default", "--pool", "threads"]
        worker += ["--concurrency", str(args.worker_concurrency), "--loglevel", "WARNING"]
        stack.start("worker", worker, env)
        beat = [str(BIN / "celery"), "-A", "whatsapp_platform", "beat", "--loglevel", "WARNING"]
        stack.start("beat", [*beat, "--schedule", str(run.log_dir / "celerybeat-schedule")], env)
        wait_healthy(stack, "web", port)
        if fake is not None:
            graph = StandInGraph(fake)
            if not args.no_statuses:
                poster = StatusPoster(fake, port)
                poster.start()
        else:
            status, body = http_json(
                port, "POST", f"/emulator/control/numbers/{seeded['phone_number_id']}/limits/", {"mps": args.mps}
            )
            if status != 200:
                raise RuntimeError(f"the emulator's control API refused the limit: {status} {body}")
            graph = EmulatorGraph(database_url, seeded["phone_number_id"])
        time.sleep(3)  # the worker connects to the broker
        db = Database(database_url)
        print(
            f"gunicorn {args.workers}x{args.threads} gthread; Celery `worker` role (threads x{args.worker_concurrency}"
            f", -Q intake,outbox,campaigns,default) at nice {args.worker_nice}; beat; PostgreSQL, Redis; Graph: "
            f"{'stand-in in the bench' if fake else 'the emulator in gunicorn'}, limit {args.mps} msg/s; "
            f"{os.cpu_count()} cores",
            flush=True,
        )

        cpu = CpuAccount(meter)
        launched_at = time.time()
        status, body = http_json(port, "POST", f"/api/v1/campaigns/{seeded['campaign']}/launch/", {}, seeded["key"])
        if status != 200:
            raise RuntimeError(f"launch refused: {status} {body}")
        ideal = args.recipients / args.mps
        print(f"launched; watching the sends (ideal {ideal:.0f} s) ...", flush=True)
        deadline = launched_at + (args.timeout or 3 * ideal + 60)
        last_print = launched_at
        while time.time() < deadline:
            cpu.sample()
            if graph.accepted() >= args.recipients:
                break
            # Every recipient handled and nothing left in the outbox: a send whose answer was lost
            # waits (as "unknown") for the outbox sweeper's grace period, longer than this run.
            if db.campaign()[0] != "running":
                funnel = db.funnel()
                if not funnel["pending"] and not funnel["in_outbox"]:
                    break
            if time.time() - last_print >= 10:
                folded = db.funnel()["read"]
                print(f"  {time.time() - launched_at:5.0f} s: {graph.accepted()} sent, {folded} read", flush=True)
                last_print = time.time()
            for name in stack.processes:
                if not stack.alive(name):
                    raise RuntimeError(f"{name} died:\n{stack.log_tail(name)}")
            time.sleep(0.25)
        cpu_sent = cpu.snapshot()
        times = graph.accepted_times()
        state = db.campaign()[0]
        funnel_sent = funnel_end = db.funnel()
        folded_at = None
        # Sends that timed out leave recipients to go (or no status comes): no point waiting for every status.
        waits = funnel_sent["pending"] == 0 and not args.no_statuses
        drain_deadline = time.time() + (args.drain_wait if waits else 0)
        while time.time() < drain_deadline:
            funnel_end = db.funnel()
            if all_folded(funnel_end, graph.statuses_owed()):
                folded_at = time.time()
                break
            cpu.sample()
            time.sleep(0.25)
        cpu_all = cpu.snapshot()
        state = db.campaign()[0]
        report(
            args=args,
            launched_at=launched_at,
            times=times,
            errors=graph.errors(),
            funnel_sent=funnel_sent,
            funnel_end=funnel_end,
            folded_at=folded_at,
            cpu_sent=cpu_sent,
            cpu_all=cpu_all,
            state=state,
        )
        if poster is not None and poster.errors:
            print(f"(status webhooks not answered 200 and posted again: {poster.errors})")
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        if poster is not None:
            poster.stop()
        if isinstance(graph, EmulatorGraph):
            graph.close()
        if db is not None:
            db.close()
        run.close()


if __name__ == "__main__":
    sys.exit(main())
