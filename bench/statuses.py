"""Status webhooks folded by one worker process: rate, SQL statements per webhook, time from receipt to fold.

    .venv/bin/python bench/statuses.py [--webhooks 10000] [--rate 0] [--drains N]

Target 3 of issue 15: 10,000 status webhooks for stored outbound messages folded at >= 1,000 a second by one
worker process, <= 3 SQL statements per status webhook on average.

It builds a throw-away PostgreSQL database (`wap_statbench_<pid>`, Redis db 11), stores outbound messages
with their wamids (a third as many as webhooks), and starts ONE Celery worker with the Procfile's `worker`
command line, the app swapped for `bench.statuses_worker` (the same app, plus a statement counter). The
webhooks are Meta's: `sent`, `delivered` and `read` for every message, each its own POST cut from
tests/fixtures/whatsapp/, signed, carrying the callback data our sends carry. They are stored exactly as
intake stores them (`webhook_event_receive`, then the drain hint intake gives), not POSTed through gunicorn:
intake answers ~300-600 POSTs a second on this machine (bench/webhook_ingest.py measures it), so POSTs could
not show a fold rate above that. `--rate 0` (the default) stores them all in one transaction, then hints:
a backlog, the worker's top speed. `--rate R` stores them R a second (each with its hint, as intake does),
so receipt-to-fold latency shows what a steady stream sees.

Figures: webhooks folded per second (from the hint, or the first receipt, to the last fold), SQL statements
per webhook (every statement the worker's tasks sent, counted in the worker), receipt-to-fold p50/p99
(`processed_at - received_at`), worker and PostgreSQL CPU per webhook, and that every message ended `read`.
It prints PASS/MISS per target and always exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.webhook_ingest import (  # noqa: E402 (the bench runs as a script)
    APP_SECRET,
    BIN,
    DISPLAY_PHONE_NUMBER,
    FIXTURES,
    PHONE_NUMBER_ID,
    WABA_ID,
    BenchRun,
    _wamid,
    cpu_seconds,
    manage_shell_printed,
    sign,
)

BASE_DIR = Path(__file__).resolve().parent.parent
REDIS_URL = "redis://127.0.0.1:6379/11"
SQL_COUNTER_KEY = "bench:sql-statements"
STAGES = ("sent", "delivered", "read")
CUSTOMERS = 500
TARGET_RATE = 1000.0
TARGET_STATEMENTS = 3.0

SEED = """
import json
from django.utils import timezone
from channels_app.models import Channel
from messaging_app.models import Contact, Conversation, Message
from workspaces_app.models import Workspace

sends = json.load(open({sends!r}))
workspace = Workspace.objects.create(name="Bench shop", slug="bench-shop")
channel = Channel.objects.create(
    workspace=workspace, name="Bench line", status=Channel.Status.ACTIVE, waba_id={waba!r},
    phone_number_id={phone!r}, display_phone_number={display!r}, access_token="EAAG-bench-token",
)
contacts = Contact.objects.bulk_create(
    Contact(workspace=workspace, channel=channel, wa_id=f"1650555{{i:04d}}", profile_name=f"Customer {{i}}")
    for i in range({customers})
)
conversations = Conversation.objects.bulk_create(
    Conversation(workspace=workspace, channel=channel, contact=c, last_inbound_at=timezone.now()) for c in contacts
)
now = timezone.now()
Message.objects.bulk_create(
    (
        Message(
            workspace=workspace, channel=channel, conversation=conversations[i % {customers}],
            contact=contacts[i % {customers}], direction="out", message_type="text", content={{"body": "Thanks!"}},
            wamid=wamid, public_id=public_id, timestamp=now, sender="agent", status="accepted",
        )
        for i, (wamid, public_id) in enumerate(sends)
    ),
    batch_size=1000,
)
print("SEEDED", Message.objects.count())
"""

# Stores the webhooks as intake does (one INSERT each, then the drain hint), all at once or `rate` a second.
LOAD = """
import json, time
from django.db import transaction
from channels_app.services import webhook_event_receive
from messaging_app.services.webhooks import webhook_events_drain_schedule

lines = open({bodies!r}).read().splitlines()
rate = {rate}

HEADERS = {{"Content-Type": "application/json", "User-Agent": "facebookexternalua"}}

def receive(line):
    body, signature = line.split(" ")
    headers = {{**HEADERS, "X-Hub-Signature-256": signature}}
    webhook_event_receive(raw_body=bytes.fromhex(body), headers=headers, signature_valid=True, channel=None)

if rate <= 0:  # the bench gives the drain hint itself, once it has started measuring
    with transaction.atomic():
        for line in lines:
            receive(line)
    started = time.time()
else:
    started = time.time()
    for i, line in enumerate(lines):
        delay = started + i / rate - time.time()
        if delay > 0:
            time.sleep(delay)
        receive(line)
        webhook_events_drain_schedule()
print("LOADED", json.dumps({{"started": started, "finished": time.time()}}))
"""


def webhooks_build(count: int, folder: Path) -> tuple[Path, Path, int]:
    """The sends (wamid, public id) to store, `count` signed status webhooks for them, in the order Meta
    would send them (each message's sent, then delivered, then read, messages interleaved), and how many
    messages get their `read`."""
    run = f"{os.getpid() & 0xFFFF:04x}{int(time.time()) & 0xFFFF:04x}"
    messages = -(-count // len(STAGES))
    sends = [
        (_wamid(f"1650555{i % CUSTOMERS:04d}", f"{run}{i:012x}", inbound=False), str(uuid.uuid4()))
        for i in range(messages)
    ]
    templates = {stage: json.loads((FIXTURES / f"status_{stage}.json").read_text()) for stage in STAGES}
    now = int(time.time())
    lines = []
    # Meta reports a message's stages seconds apart, so a window of messages is in flight at once.
    window = 50
    order = sorted(
        ((i + stage * window, i, stage) for i in range(messages) for stage in range(len(STAGES))),
    )[:count]
    for _, i, stage in order:
        wamid, public_id = sends[i]
        doc = templates[STAGES[stage]]
        status = doc["entry"][0]["changes"][0]["value"]["statuses"][0]
        customer = f"1650555{i % CUSTOMERS:04d}"
        status.update(
            id=wamid,
            timestamp=str(now + stage),
            recipient_id=customer,
            recipient_user_id=f"US.{customer}{i:07d}",
            biz_opaque_callback_data=public_id,
        )
        for contact in doc["entry"][0]["changes"][0]["value"].get("contacts", []):
            contact.update(wa_id=customer, user_id=f"US.{customer}{i:07d}")
        body = json.dumps(doc, ensure_ascii=True, separators=(",", ":")).encode()
        lines.append(f"{body.hex()} {sign(body)}")
    sends_file, bodies_file = folder / "sends.json", folder / "bodies.txt"
    sends_file.write_text(json.dumps(sends))
    bodies_file.write_text("\n".join(lines))
    return sends_file, bodies_file, sum(1 for _, _, stage in order if STAGES[stage] == "read")


def worker_argv() -> list[str]:
    """The Procfile's line for the worker that takes the `intake` queue (where statuses are folded), with this
    bench's app (a statement counter added to the same app)."""
    line = next(
        line.partition(":")[2].strip()
        for line in (BASE_DIR / "Procfile").read_text().splitlines()
        if re.search(r"celery\b.*\bworker\b.*-Q\s+\S*\bintake\b", line)
    )
    line = line.replace(".venv/bin/", f"{BIN}/")
    line = re.sub(r"-A\s+whatsapp_platform\b", "-A bench.statuses_worker", line)
    line = re.sub(r"--loglevel\s+\S+", "--loglevel INFO", line)
    return ["/bin/sh", "-c", line]


def wait_ready(run: BenchRun, timeout: float = 60) -> None:
    """Until the worker answers a ping (it consumes its queues by then)."""
    from celery import Celery

    control = Celery("statuses-bench", broker=REDIS_URL, set_as_current=False).control
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not run.stack.alive("worker"):
            raise RuntimeError(f"the worker exited:\n{run.stack.log_tail('worker')}")
        if control.ping(timeout=1.0):
            return
    raise RuntimeError(f"the worker was not ready within {timeout:.0f} s:\n{run.stack.log_tail('worker')}")


def drain_hint() -> None:
    """What intake does after storing a webhook (webhook_events_drain_schedule): send the drain task, to the
    queue the settings route it to (`intake`)."""
    from celery import Celery

    Celery("statuses-bench", broker=REDIS_URL, set_as_current=False).send_task(
        "messaging.webhook_events_drain",
        queue="intake",  # CELERY_TASK_ROUTES in whatsapp_platform/settings.py
    )


def fold_wait(database_url: str, count: int, timeout: float) -> tuple[dict[str, int], float]:
    """Wait until no event is pending (all `count` stored); the events by state, and how long it took."""
    started = time.monotonic()
    with psycopg.connect(database_url, autocommit=True) as db:
        while True:
            states = dict(db.execute("SELECT state, count(*) FROM channels_app_webhookevent GROUP BY state"))
            if (sum(states.values()) >= count and not states.get("pending")) or time.monotonic() - started > timeout:
                return states, time.monotonic() - started
            time.sleep(0.25)


def figures(database_url: str) -> dict:
    with psycopg.connect(database_url, autocommit=True) as db:
        row = db.execute(
            """
            SELECT min(received_at), max(processed_at),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY processed_at - received_at),
                   percentile_cont(0.99) WITHIN GROUP (ORDER BY processed_at - received_at),
                   max(attempts)
            FROM channels_app_webhookevent WHERE state = 'processed'
            """
        ).fetchone()
        statuses = dict(db.execute("SELECT status, count(*) FROM messaging_app_message GROUP BY status"))
        receipts = db.execute("SELECT count(*) FROM messaging_app_statusreceipt").fetchone()[0]
    first_received, last_folded, p50, p99, attempts = row
    return {
        "first_received": first_received.timestamp() if first_received else None,
        "last_folded": last_folded.timestamp() if last_folded else None,
        "p50": p50.total_seconds() if p50 is not None else float("nan"),
        "p99": p99.total_seconds() if p99 is not None else float("nan"),
        "max_attempts": attempts,
        "statuses": statuses,
        "receipts": receipts,
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--webhooks", type=int, default=10_000, help="status webhooks to fold")
    parser.add_argument("--rate", type=float, default=0.0, help="webhooks stored a second; 0 = all at once")
    parser.add_argument("--drains", type=int, default=0, help="WHATSAPP_WEBHOOK_DRAINS (0: the settings' default)")
    parser.add_argument("--timeout", type=float, default=600.0, help="longest wait for the fold, seconds")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    settings = {"META_APP_SECRET": APP_SECRET, "BENCH_SQL_COUNTER_KEY": SQL_COUNTER_KEY}
    if args.drains:
        settings["WHATSAPP_WEBHOOK_DRAINS"] = str(args.drains)
    run = BenchRun("wap_statbench", REDIS_URL, **settings)
    folder = Path(tempfile.mkdtemp(prefix="wap-statbench-"))
    try:
        sends_file, bodies_file, expect_read = webhooks_build(args.webhooks, folder)
        run.database_create()
        seed = SEED.format(
            sends=str(sends_file),
            waba=WABA_ID,
            phone=PHONE_NUMBER_ID,
            display=DISPLAY_PHONE_NUMBER,
            customers=CUSTOMERS,
        )
        messages = int(manage_shell_printed(run.env, seed, "SEEDED "))
        run.redis_flush()
        run.stack.start("worker", worker_argv(), run.env)
        wait_ready(run)
        print(
            f"{messages} outbound messages stored; {args.webhooks} status webhooks "
            + ("stored as one backlog" if args.rate <= 0 else f"stored {args.rate:g} a second")
            + f"; one worker: {' '.join(worker_argv()[2:])}",
            flush=True,
        )

        load = LOAD.format(bodies=str(bodies_file), rate=args.rate)
        if args.rate <= 0:
            loaded = json.loads(manage_shell_printed(run.env, load, "LOADED "))
            cpu_before = run.meter.sample()
            loaded["started"] = time.time()
            drain_hint()
        else:
            cpu_before = run.meter.sample()  # the loader's CPU is then "other processes"
            loaded = json.loads(manage_shell_printed(run.env, load, "LOADED "))
        states, _ = fold_wait(run.database_url, args.webhooks, args.timeout)
        spent = cpu_seconds(cpu_before, run.meter.sample())
        statements = int(redis.Redis.from_url(REDIS_URL).get(SQL_COUNTER_KEY) or 0)
        result = figures(run.database_url)
        report(args, loaded, states, result, statements, spent, expect_read)
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        if os.environ.get("BENCH_KEEP_LOG"):
            print((run.log_dir / "worker.log").read_text(errors="replace")[-6000:])
        run.close()
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()


def report(args, loaded: dict, states: dict, result: dict, statements: int, spent: dict, expect_read: int) -> None:
    processed = states.get("processed", 0)
    start = loaded["started"] if args.rate <= 0 else result["first_received"]
    elapsed = (result["last_folded"] or start) - start
    rate = processed / elapsed if elapsed > 0 else float("nan")
    per_webhook = statements / processed if processed else float("nan")
    read = result["statuses"].get("read", 0)
    print()
    print(f"events by state: {', '.join(f'{n} {s}' for s, n in sorted(states.items()))}")
    if args.rate > 0:
        print(f"stored at {args.webhooks / (loaded['finished'] - loaded['started']):,.0f}/s (asked {args.rate:g}/s)")
    print(f"folded: {processed} webhooks in {elapsed:.2f} s = {rate:,.0f} webhooks/s")
    print(f"SQL statements sent by the worker: {statements} = {per_webhook:.2f} per webhook")
    print(f"receipt to fold: p50 {result['p50'] * 1000:,.0f} ms, p99 {result['p99'] * 1000:,.0f} ms")
    for group in ("worker", "postgres"):
        seconds = spent.get(group, 0.0)
        print(f"{group} CPU: {seconds:.1f} s = {1000 * seconds / max(processed, 1):.2f} ms per webhook")
    # The worker runs at nice 19, as in the Procfile: on a shared machine anything else goes first.
    others = spent.get("machine", 0.0) - sum(spent.get(group, 0.0) for group in ("worker", "postgres", "client"))
    wall = time.time() - (loaded["started"] if args.rate <= 0 else result["first_received"])
    print(f"CPU of other processes on this machine meanwhile: {others:.1f} s ({100 * others / wall:.0f}% of a core)")
    if others > 0.2 * wall:
        print("note: the machine was busy with other work; the worker (nice 19) got what was left")
    print(
        f"messages read: {read} (expected {expect_read}); receipts stored: {result['receipts']}; "
        f"most attempts on one event: {result['max_attempts']}"
    )
    complete = processed == args.webhooks and read == expect_read
    if not complete:
        print("warning: not every webhook was folded (see the counts above)")
    print()
    print(
        f"{'PASS' if rate >= TARGET_RATE and complete else 'MISS'}  folded >= {TARGET_RATE:,.0f}/s (got {rate:,.0f}/s)"
    )
    print(
        f"{'PASS' if per_webhook <= TARGET_STATEMENTS else 'MISS'}  <= {TARGET_STATEMENTS:g} SQL statements per "
        f"webhook (got {per_webhook:.2f})"
    )


if __name__ == "__main__":
    sys.exit(main())
