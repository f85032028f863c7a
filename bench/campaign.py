"""A 10,000-recipient campaign against the emulator's throughput limit: achieved rate and errors.

    .venv/bin/python bench/campaign.py [--recipients 10000] [--mps 80]

It builds a throw-away PostgreSQL database, starts the real stack (gunicorn serving the platform and
the Cloud API emulator, a Celery worker on Redis), seeds one sandbox channel, 10,000 tagged contacts
(each an emulated WhatsApp user) and an approved template, sets the emulator's throughput limit to
`--mps` through its control API (and the channel's `throughput_mps` to match), launches the campaign
through the REST API and watches the emulator accept the sends. It prints the achieved rate, the
busiest second, every error the emulator answered (130429 above all), the funnel, and CPU by process.
It always exits 0: a benchmark reports, it does not gate. bench/README.md explains the figures.

gunicorn serves `bench.campaign:application`, the platform's WSGI app wrapped to count the Graph
errors the emulator answers to `/messages` (in Redis, shared by gunicorn's processes): the emulator
keeps no row for a refused send, so this is where a 130429 can be seen.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import psycopg
import redis

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))  # run as a script: `bench.webhook_ingest` must be importable

from bench.webhook_ingest import (  # noqa: E402 (after the path fix above)
    BIN,
    BenchRun,
    cpu_percent,
    free_port,
    manage_shell_printed,
    wait_healthy,
)

REDIS_URL = "redis://127.0.0.1:6379/13"
ERRORS_KEY = "campaign-bench:graph-errors"
APP_SECRET = "bench-campaign-secret"
ACCESS_TOKEN = "bench-campaign-token"


# --- the counting WSGI wrapper (runs inside gunicorn) ---------------------------------------------

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

SEED = """
import json
from channels_app.models import Channel, MessageTemplate
from cloudapi_emulator import ids
from cloudapi_emulator.models import Customer
from cloudapi_emulator.services import sandbox_number_provision, template_add
from messaging_app.models import Contact
from outreach_app.services import campaign_create
from workspaces_app.models import Workspace
from workspaces_app.services import api_key_create

RECIPIENTS, MPS, SITE = {recipients}, {mps}, "{site}"
COMPONENTS = [{{"type": "BODY", "text": "Hi {{{{1}}}}, your spring code is {{{{2}}}}. Reply STOP to opt out.",
               "example": {{"body_text": [["Pablo", "FERN20"]]}}}}]
workspace = Workspace.objects.create(name="Campaign bench", slug="campaign-bench")
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
phones = [f"1650{{i:07d}}" for i in range(RECIPIENTS)]
Customer.objects.bulk_create(
    [Customer(number=number, name=f"Customer {{i}}", phone=p, bsuid=ids.bsuid()) for i, p in enumerate(phones)],
    batch_size=2000,
)
Contact.objects.bulk_create(
    [Contact(workspace=workspace, channel=channel, wa_id=p, profile_name=f"Customer {{i}}", tags=["spring"])
     for i, p in enumerate(phones)],
    batch_size=2000,
)
template_add(waba_id=number.waba_id, name="spring_code", category="MARKETING", components=COMPONENTS)
MessageTemplate.objects.create(workspace=workspace, waba_id=number.waba_id, name="spring_code", language="en_US",
                               category="MARKETING", status="APPROVED", components=COMPONENTS)
campaign = campaign_create(workspace=workspace, channel=channel, name="Spring codes", template_name="spring_code",
                           template_language="en_US", parameter_values={{"1": "{{contact.name}}", "2": "FERN20"}},
                           audience_tags=["spring"])
print("SEEDED " + json.dumps({{"campaign": str(campaign.public_id), "phone_number_id": number.phone_number_id,
                               "key": api_key_create(workspace=workspace, name="bench").plaintext}}))
"""


def seed(env: dict[str, str], *, recipients: int, mps: int, site: str) -> dict:
    script = SEED.format(recipients=recipients, mps=mps, site=site, token=ACCESS_TOKEN, secret=APP_SECRET)
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


# --- measuring ------------------------------------------------------------------------------------


class Database:
    def __init__(self, url: str, phone_number_id: str) -> None:
        self._db = psycopg.connect(url, autocommit=True)
        self._pnid = phone_number_id

    def accepted(self) -> int:
        sql = "SELECT count(*) FROM cloudapi_emulator_sendrequest WHERE phone_number_id = %s"
        return self._db.execute(sql, [self._pnid]).fetchone()[0]

    def accepted_times(self) -> list[float]:
        sql = (
            "SELECT extract(epoch FROM created_at) FROM cloudapi_emulator_sendrequest "
            "WHERE phone_number_id = %s ORDER BY created_at"
        )
        return [float(row[0]) for row in self._db.execute(sql, [self._pnid])]

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
    """The most sends the emulator accepted within any sliding 1-second window (what its meter counts)."""
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def report(*, args, seeded, launched_at, times, errors, funnel_done, funnel_end, drain_s, cpu, wall, state) -> None:
    n = len(times)
    first, last = (times[0], times[-1]) if times else (launched_at, launched_at)
    span = last - first
    from_launch = last - launched_at
    rate = (n - 1) / span if n > 1 and span > 0 else 0.0
    print()
    print(f"recipients                                   {args.recipients}")
    print(f"sends accepted by the emulator               {n}")
    print(f"emulator limit / channel throughput_mps      {args.mps} msg/s / {args.mps} msg/s")
    print(
        f"launch -> last send accepted                 {from_launch:.1f} s (ideal {args.recipients / args.mps:.1f} s)"
    )
    print(f"first -> last send accepted                  {span:.1f} s")
    print(f"achieved rate                                {rate:.1f} msg/s ({100 * rate / args.mps:.0f}% of the limit)")
    print(f"busiest second (sliding 1 s window)          {busiest_second(times)} sends")
    total = sum(errors.values())
    listed = ", ".join(f"{code}: {count}" for code, count in sorted(errors.items())) or "none"
    print(f"errors answered by the emulator              {total} ({listed})")
    print(f"130429 responses                             {errors.get('130429', 0)}")
    print(f"campaign state when the sends were done      {state}")
    print()
    print("funnel (messages)          when the last send was accepted   after waiting for statuses")
    for key in ("queued", "sent", "delivered", "read", "failed", "retried", "in_outbox", "unknown", "pending"):
        print(f"  {key:<26}{funnel_done[key]:>30}{funnel_end[key]:>29}")
    print(f"  (waited {drain_s:.0f} s for status webhooks after the last send)")
    print()
    cores = os.cpu_count()
    print(f"CPU over launch -> last send ({wall:.0f} s), % of one core ({cores} cores = {100 * cores}%):")
    groups = ("web", "worker", "postgres", "redis", "client")
    own = sum(cpu.get(g, 0.0) for g in groups)
    print(
        "  "
        + "  ".join(f"{g} {cpu.get(g, 0.0):.0f}" for g in groups)
        + f"  other {max(0.0, cpu.get('machine', 0.0) - own):.0f}"
        + f"  machine {cpu.get('machine', 0.0):.0f}"
    )
    print()
    ok = errors.get("130429", 0) == 0
    got = errors.get("130429", 0)
    print(f"{'PASS' if ok else 'MISS'}  zero 130429 (got {got}; {n} of {args.recipients} sends accepted)")
    close = from_launch <= 1.25 * args.recipients / args.mps
    print(
        f"{'PASS' if close else 'MISS'}  finished within 125% of {args.recipients}/{args.mps} s "
        f"(got {from_launch:.1f} s, ideal {args.recipients / args.mps:.1f} s)"
    )


# --- main ----------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=10_000, help="contacts in the campaign's audience")
    parser.add_argument("--mps", type=int, default=80, help="the emulator's throughput limit and the channel's")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (gthread)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument(
        "--worker-concurrency",
        type=int,
        default=4,
        help="Celery worker processes (the campaign dispatcher holds one for each 10 s slice)",
    )
    parser.add_argument(
        "--worker-nice", type=int, default=19, help="the worker's niceness (19 as in the Procfile: web answers first)"
    )
    parser.add_argument("--drain-wait", type=float, default=60.0, help="longest wait for status webhooks at the end")
    parser.add_argument(
        "--timeout", type=float, default=0.0, help="give up on the sends after this (0: 3x ideal + 60 s)"
    )
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    port = free_port()
    site = f"http://127.0.0.1:{port}"
    run = BenchRun(
        "wap_campaignbench",
        REDIS_URL,
        SITE_URL=site,
        WHATSAPP_EMULATOR_ENABLED="true",
        WHATSAPP_EMULATOR_GRAPH_URL=f"{site}/emulator/graph",
    )
    database_url, meter, stack, env = run.database_url, run.meter, run.stack, run.env
    db = None
    counter = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        run.database_create()
        counter.flushdb()
        print(f"seeding {args.recipients} contacts and emulated customers ...", flush=True)
        seeded = seed(env, recipients=args.recipients, mps=args.mps, site=site)
        gunicorn = [str(BIN / "gunicorn"), "bench.campaign:application", "--bind", f"127.0.0.1:{port}"]
        gunicorn += ["--workers", str(args.workers), "--worker-class", "gthread", "--threads", str(args.threads)]
        gunicorn += ["--timeout", "30", "--log-level", "warning"]
        stack.start("web", gunicorn, env)
        wait_healthy(stack, "web", port)
        status, body = http_json(
            port, "POST", f"/emulator/control/numbers/{seeded['phone_number_id']}/limits/", {"mps": args.mps}
        )
        if status != 200:
            raise RuntimeError(f"the emulator's control API refused the limit: {status} {body}")
        # As in the Procfile: the worker yields the CPU to the web processes.
        worker = ["nice", "-n", str(args.worker_nice), str(BIN / "celery"), "-A", "whatsapp_platform", "worker"]
        worker += ["--concurrency", str(args.worker_concurrency), "--loglevel", "WARNING"]
        stack.start("worker", worker, env)
        time.sleep(3)  # the worker connects to the broker
        db = Database(database_url, seeded["phone_number_id"])
        print(
            f"gunicorn {args.workers}x{args.threads} gthread (platform + emulator), Celery worker prefork "
            f"x{args.worker_concurrency} at nice {args.worker_nice}, PostgreSQL, Redis; "
            f"emulator limit {args.mps} msg/s; {os.cpu_count()} cores",
            flush=True,
        )

        cpu_before = meter.sample()
        launched_at = time.time()
        status, body = http_json(port, "POST", f"/api/v1/campaigns/{seeded['campaign']}/launch/", {}, seeded["key"])
        if status != 200:
            raise RuntimeError(f"launch refused: {status} {body}")
        print(
            f"launched; watching the emulator accept sends (ideal {args.recipients / args.mps:.0f} s) ...", flush=True
        )
        deadline = launched_at + (args.timeout or 3 * args.recipients / args.mps + 60)
        last_print, accepted = launched_at, 0
        while time.time() < deadline:
            accepted = db.accepted()
            if accepted >= args.recipients:
                break
            # Every recipient handled and nothing left in the outbox: a send whose answer was lost
            # waits (as "unknown") for the outbox sweeper's grace period, which this run does not.
            if db.campaign()[0] != "running":
                funnel = db.funnel()
                if not funnel["pending"] and not funnel["in_outbox"]:
                    break
            if time.time() - last_print >= 10:
                print(f"  {time.time() - launched_at:5.0f} s: {accepted} accepted", flush=True)
                last_print = time.time()
            for name in stack.processes:
                if not stack.alive(name):
                    raise RuntimeError(f"{name} died:\n{stack.log_tail(name)}")
            time.sleep(0.5)
        wall = time.time() - launched_at
        cpu = cpu_percent(cpu_before, meter.sample(), wall)
        times = db.accepted_times()
        state = db.campaign()[0]
        funnel_done = db.funnel()
        drain_started = time.time()
        funnel_end = funnel_done
        while time.time() - drain_started < args.drain_wait:
            funnel_end = db.funnel()
            if funnel_end["read"] + funnel_end["failed"] >= funnel_end["queued"] and not funnel_end["in_outbox"]:
                break
            time.sleep(1)
        errors = {k.decode(): int(v) for k, v in counter.hgetall(ERRORS_KEY).items()}
        report(
            args=args,
            seeded=seeded,
            launched_at=launched_at,
            times=times,
            errors=errors,
            funnel_done=funnel_done,
            funnel_end=funnel_end,
            drain_s=time.time() - drain_started,
            cpu=cpu,
            wall=wall,
            state=state,
        )
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        if db is not None:
            db.close()
        run.close()


if __name__ == "__main__":
    sys.exit(main())
