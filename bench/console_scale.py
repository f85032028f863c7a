"""The console at scale: inbox, conversation and analytics timings over a million stored messages.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/console_scale.py \
        [--messages 1000000] [--conversations 50000] [--days 90] [--repeat 7] [--keep]

DATABASE_URL names the PostgreSQL server and credentials (SQLite is refused: the figures would say
nothing about production). The bench creates its own database beside the one named,
`wap_consolebench_<pid>`, and drops it at the end (also on Ctrl-C or an error) unless `--keep`.
It bulk-inserts a realistic workspace with COPY (several channels and an agent test console, ~50k
contacts and conversations, customer, agent, teammate, template and survey messages with delivery
statuses and failures by Graph error code, agent runs with response times, ratings), runs the
analytics rollup, then times the inbox list, a conversation and the analytics page through Django's
test client: the median of several warm requests each, with their SQL counted. It prints figures
and PASS/MISS per target and exits 0 (a benchmark reports, it does not gate; 130 on Ctrl-C, 2 when
refused). bench/README.md explains the figures.
"""

from __future__ import annotations

import argparse
import bisect
import cProfile
import io
import math
import os
import pstats
import random
import re
import signal
import statistics
import sys
import time
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))  # `python bench/console_scale.py` puts bench/ first, not the project

TARGETS_MS = {"inbox": 200.0, "conversation": 200.0, "analytics": 1000.0}
WORKSPACE_SLUG = "bench-plants"
WORKSPACE_TZ = "Europe/Madrid"
# Channel names and their share of the conversations; the test console's chats are never counted.
CHANNELS = (("Support ES", 0.45), ("Support UK", 0.25), ("Sales", 0.2), ("Orders", 0.1))
CONSOLE_CONVERSATIONS = 50

CUSTOMER_TEXTS = (
    "Hi! Is the fern in stock?",
    "Do you ship to Canada?",
    "Where is my order?",
    "Can I change the delivery address?",
    "What are your opening hours?",
    "How do returns work?",
    "Thanks!",
    "ok",
    "I want to talk to a person",
    "The pot arrived broken 😢",
)
AGENT_TEXTS = (
    "Yes! The Boston fern is in stock in 3 sizes 🌿",
    "We ship to Canada in 3–5 business days.",
    "Your order left our warehouse this morning 📦",
    "Sure, send me the new address and I'll update it.",
    "We're open 9am to 6pm, Monday to Saturday.",
    "Return any plant within 30 days with the prepaid label.",
    "You're welcome! 😊",
)
TEAMMATE_TEXTS = ("Hi, this is Sam from the team. Let me check that for you.", "Sorted! Anything else?")
# (status, weight) of settled outbound messages, and (code, title, weight) of their failures.
OUTBOUND_STATUSES = (("read", 60), ("delivered", 25), ("sent", 8), ("accepted", 2), ("failed", 5))
FAILURES = (
    (131026, "Message undeliverable", 40),
    (131047, "Re-engagement message", 25),
    (131049, "This message was not delivered to maintain healthy ecosystem engagement.", 15),
    (130472, "User's number is part of an experiment", 10),
    (None, "Channel unavailable", 10),
)
# Local hour of a session's first message: business hours are busier.
HOUR_WEIGHTS = [1, 1, 1, 1, 1, 2, 3, 5, 8, 10, 10, 9, 8, 8, 9, 10, 9, 8, 7, 6, 5, 4, 3, 2]


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000, help="messages to store (default 1,000,000)")
    parser.add_argument("--conversations", type=int, default=50_000, help="contacts and conversations")
    parser.add_argument("--days", type=int, default=90, help="the messages span this many days up to now")
    parser.add_argument("--repeat", type=int, default=7, help="measured requests per view, after 2 warm-ups")
    parser.add_argument("--seed", type=int, default=20261124, help="random seed of the data set")
    parser.add_argument("--keep", action="store_true", help="keep the database at the end (its URL is printed)")
    return parser.parse_args()


def _bench_database_url(url: str, name: str) -> tuple[str, str]:
    """(admin URL on the same server, the bench database's URL); refuses anything but PostgreSQL."""
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql", "pgsql"}:
        raise SystemExit(
            f"DATABASE_URL must be a PostgreSQL URL (got scheme {parts.scheme!r}): this bench refuses SQLite "
            "and anything else, because its figures would say nothing about production."
        )
    admin = urlunsplit(("postgresql", parts.netloc, "/postgres", parts.query, ""))
    bench = urlunsplit(("postgresql", parts.netloc, f"/{name}", parts.query, ""))
    return admin, bench


# --- seeding -----------------------------------------------------------------------------------


class Copier:
    """Rows for COPY in a model's column order, starting from each field's default (prepared for the DB).

    Every column the bench does not set takes the model's default, so fields added later to a model
    keep the bench working; a NOT NULL column without a default that is left unset fails loudly.
    """

    def __init__(self, model) -> None:
        from django.db import connection

        self.model = model
        self.table = model._meta.db_table
        self.fields = list(model._meta.concrete_fields)
        self.index = {f.attname: i for i, f in enumerate(self.fields)}
        self.template = []
        self.required = set()
        for f in self.fields:
            default = f.get_default() if f.has_default() or f.null or f.empty_strings_allowed else None
            if default is None and not f.null:
                self.required.add(f.attname)
            self.template.append(f.get_db_prep_save(default, connection))

    def sql(self) -> str:
        columns = ", ".join(f'"{f.column}"' for f in self.fields)
        return f'COPY "{self.table}" ({columns}) FROM STDIN'

    def row(self, values: dict) -> list:
        missing = self.required - values.keys()
        if missing:
            raise ValueError(f"{self.table}: no value for NOT NULL column(s) {sorted(missing)}")
        row = list(self.template)
        for name, value in values.items():
            row[self.index[name]] = value
        return row


@dataclass
class ConversationSummary:
    channel_index: int
    last_message_at: datetime | None = None
    last_inbound_at: datetime | None = None
    latest_session_at: datetime | None = None
    state: str = "agent"
    closed_at: datetime | None = None
    waiting_since: datetime | None = None
    unread_count: int = 0


@dataclass
class Seeded:
    workspace_id: int
    user_id: int
    messages: int = 0
    inbound: int = 0
    outbound: int = 0
    runs: int = 0
    ratings: int = 0
    console_messages: int = 0
    seconds: float = 0.0
    by_table_seconds: dict = field(default_factory=dict)


class Seeder:
    """Generates the data set from one seeded random stream and streams it into PostgreSQL with COPY."""

    def __init__(self, args: argparse.Namespace, conninfo: str) -> None:
        from psycopg.types.json import Jsonb

        self.args = args
        self.rng = random.Random(args.seed)
        self.conninfo = conninfo
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.start = self.now - timedelta(days=args.days)
        self.jsonb = Jsonb
        self.next_message_id = 1
        self.next_run_id = 1
        self.next_rating_id = 1
        self.runs: list[list] = []
        self.ratings: list[list] = []
        self.customer_contents = [Jsonb({"body": text}) for text in CUSTOMER_TEXTS]
        self.agent_contents = [Jsonb({"body": text}) for text in AGENT_TEXTS]
        self.teammate_contents = [Jsonb({"body": text}) for text in TEAMMATE_TEXTS]
        self.template_content = Jsonb({"name": "order_update", "language": {"code": "en"}})
        self.survey_content = Jsonb(
            {"type": "button", "body": {"text": "How did we do today?"}, "action": {"buttons": []}}
        )
        self.status_cum = self._cumulative(OUTBOUND_STATUSES)
        self.failure_cum = self._cumulative([(f[:2], f[2]) for f in FAILURES])
        self.hour_cum = list(_accumulate(HOUR_WEIGHTS))

    @staticmethod
    def _cumulative(pairs):
        values = [value for value, _ in pairs]
        return values, list(_accumulate([weight for _, weight in pairs]))

    def _pick(self, cumulative):
        values, cum = cumulative
        return values[bisect.bisect_right(cum, self.rng.random() * cum[-1])]

    def run(self) -> Seeded:
        from agents_app.models import Agent, AgentRun
        from channels_app.models import Channel
        from messaging_app.models import Contact, Conversation, ConversationRating, Message
        from workspaces_app.models import Membership, Role, User, Workspace

        started = time.perf_counter()
        workspace = Workspace.objects.create(
            name="Bench Plants", slug=WORKSPACE_SLUG, timezone=WORKSPACE_TZ, csat_enabled=True
        )
        user = User.objects.create_user("owner@bench-plants.test", password=None)
        Membership.objects.create(workspace=workspace, user=user, role=Role.OWNER)
        agent = Agent.objects.create(workspace=workspace, name="Fern", instructions="Be helpful.")
        self.workspace_id, self.user_id, self.agent_id = workspace.pk, user.pk, agent.pk
        self.channels = [
            Channel.objects.create(
                workspace=workspace,
                name=name,
                provider=Channel.Provider.CLOUD_API,
                status=Channel.Status.ACTIVE,
                phone_number_id=f"1065403522{n:05d}",
                display_phone_number=f"+34 600 000 {n:03d}",
                access_token="bench-token",
                agent=agent,
            )
            for n, (name, _) in enumerate(CHANNELS)
        ]
        console = Channel.objects.create(
            workspace=workspace,
            name="Fern test console",
            provider=Channel.Provider.TEST_CONSOLE,
            status=Channel.Status.ACTIVE,
            connection=Channel.Connection.TEST_CONSOLE,
            agent=agent,
        )
        seeded = Seeded(workspace_id=workspace.pk, user_id=user.pk)

        conversation_count = self.args.conversations + CONSOLE_CONVERSATIONS
        channel_cum = list(_accumulate([share for _, share in CHANNELS]))
        summaries: list[ConversationSummary] = []
        for n in range(conversation_count):
            if n >= self.args.conversations:
                summaries.append(ConversationSummary(channel_index=len(self.channels)))
            else:
                index = bisect.bisect_right(channel_cum, self.rng.random() * channel_cum[-1])
                summaries.append(ConversationSummary(channel_index=min(index, len(self.channels) - 1)))
        all_channels = [*self.channels, console]
        self.channel_ids = [channel.pk for channel in all_channels]
        self.summaries = summaries

        # Chatty customers: a heavy-tailed weight per conversation (a few write a lot).
        weights = [self.rng.paretovariate(1.6) for _ in range(self.args.conversations)]
        conversation_cum = list(_accumulate(weights))

        copiers = {model: Copier(model) for model in (Contact, Conversation, Message, AgentRun, ConversationRating)}
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            tick = time.perf_counter()
            with conn.cursor() as cur, cur.copy(copiers[Contact].sql()) as copy:
                for n, summary in enumerate(summaries):
                    channel = all_channels[summary.channel_index]
                    copy.write_row(
                        copiers[Contact].row(
                            {
                                "id": n + 1,
                                "workspace_id": workspace.pk,
                                "channel_id": channel.pk,
                                "wa_id": f"3461{n:08d}",
                                "profile_name": f"Customer {n + 1}",
                                "created_at": self.start,
                                "updated_at": self.start,
                            }
                        )
                    )
            # Conversations first with their final fields left empty; they are set once the messages are out.
            with conn.cursor() as cur, cur.copy(copiers[Conversation].sql()) as copy:
                for n, summary in enumerate(summaries):
                    channel = all_channels[summary.channel_index]
                    copy.write_row(
                        copiers[Conversation].row(
                            {
                                "id": n + 1,
                                "workspace_id": workspace.pk,
                                "channel_id": channel.pk,
                                "contact_id": n + 1,
                                "assigned_agent_id": agent.pk,
                                "created_at": self.start,
                                "updated_at": self.start,
                            }
                        )
                    )
            seeded.by_table_seconds["contacts + conversations"] = time.perf_counter() - tick

            tick = time.perf_counter()
            self.message_copier = copiers[Message]
            with conn.cursor() as cur, cur.copy(copiers[Message].sql()) as copy:
                self.copy = copy
                for n in range(self.args.conversations, conversation_count):
                    self._console_session(n, seeded)
                while seeded.messages < self.args.messages:
                    n = bisect.bisect_right(conversation_cum, self.rng.random() * conversation_cum[-1])
                    self._session(min(n, self.args.conversations - 1), seeded)
            seeded.by_table_seconds["messages"] = time.perf_counter() - tick

            tick = time.perf_counter()
            with conn.cursor() as cur, cur.copy(copiers[AgentRun].sql()) as copy:
                for values in self.runs:
                    copy.write_row(copiers[AgentRun].row(values))
            with conn.cursor() as cur, cur.copy(copiers[ConversationRating].sql()) as copy:
                for values in self.ratings:
                    copy.write_row(copiers[ConversationRating].row(values))
            seeded.runs, seeded.ratings = len(self.runs), len(self.ratings)
            seeded.by_table_seconds["agent runs + ratings"] = time.perf_counter() - tick

            tick = time.perf_counter()
            with conn.cursor() as cur:
                cur.execute(
                    "CREATE TEMP TABLE bench_summary (id bigint, last_message_at timestamptz, "
                    "last_inbound_at timestamptz, state text, closed_at timestamptz, waiting_since timestamptz, "
                    "unread_count int)"
                )
                with cur.copy("COPY bench_summary FROM STDIN") as copy:
                    for n, s in enumerate(summaries):
                        copy.write_row(
                            (
                                n + 1,
                                s.last_message_at,
                                s.last_inbound_at,
                                s.state,
                                s.closed_at,
                                s.waiting_since,
                                s.unread_count,
                            )
                        )
                cur.execute(
                    f'UPDATE "{Conversation._meta.db_table}" c SET last_message_at = s.last_message_at, '
                    "last_inbound_at = s.last_inbound_at, state = s.state, closed_at = s.closed_at, "
                    "waiting_since = s.waiting_since, unread_count = s.unread_count, "
                    "updated_at = COALESCE(s.last_message_at, c.updated_at) FROM bench_summary s WHERE c.id = s.id"
                )
                for model in (Contact, Conversation, Message, AgentRun, ConversationRating):
                    table = model._meta.db_table
                    cur.execute(
                        f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                        f'(SELECT COALESCE(MAX(id), 1) FROM "{table}"))'
                    )
                cur.execute("VACUUM ANALYZE")
            seeded.by_table_seconds["conversation fields + VACUUM ANALYZE"] = time.perf_counter() - tick
        seeded.seconds = time.perf_counter() - started
        return seeded

    # --- one session: a customer's questions, the agent's answers, maybe a handoff, a close, a rating

    def _message(self, conversation: int, at: datetime, seeded: Seeded, **values) -> int:
        at = min(at, self.now)  # a session that started shortly before now is cut at now
        summary = self.summaries[conversation]
        message_id = self.next_message_id
        self.next_message_id += 1
        inbound = values["direction"] == "in"
        row = {
            "id": message_id,
            "public_id": uuid.uuid4(),
            "workspace_id": self.workspace_id,
            "channel_id": self.channel_ids[summary.channel_index],
            "conversation_id": conversation + 1,
            "contact_id": conversation + 1,
            "wamid": f"wamid.BENCH{message_id:012d}",
            "timestamp": at,
            "created_at": at,
            "updated_at": at,
            **values,
        }
        if inbound:
            row.setdefault("status", "received")
            row.setdefault("sender", "customer")
            row["handled_at"] = at
        else:
            self._settle(row, at)
        self.copy.write_row(self.message_copier.row(row))
        seeded.messages += 1
        if summary.channel_index == len(self.channels):
            seeded.console_messages += 1
        elif inbound:
            seeded.inbound += 1
        else:
            seeded.outbound += 1
        summary.last_message_at = max(summary.last_message_at or at, at)
        if inbound:
            summary.last_inbound_at = max(summary.last_inbound_at or at, at)
        return message_id

    def _settle(self, row: dict, at: datetime) -> None:
        """A delivery status as the fold leaves it; messages of the last minute may still be on their way."""
        status = row.get("status") or self._pick(self.status_cum)
        if self.now - at < timedelta(minutes=1):
            status = self.rng.choice(("queued", "sending", "accepted"))
        row["status"] = status
        if status in ("sent", "delivered", "read"):
            row["sent_at"] = at + timedelta(seconds=1)
        if status in ("delivered", "read"):
            row["delivered_at"] = at + timedelta(seconds=2)
        if status == "read":
            row["read_at"] = at + timedelta(seconds=self.rng.randint(5, 3600))
        if status == "failed":
            code, title = self._pick(self.failure_cum)
            row.update(failed_at=at + timedelta(seconds=1), error_code=code, error_title=title)
        row["attempts"] = 1

    def _session_start(self) -> datetime:
        day = self.start + timedelta(days=self.rng.randrange(self.args.days + 1))
        hour = bisect.bisect_right(self.hour_cum, self.rng.random() * self.hour_cum[-1])
        at = day.replace(hour=0, minute=0, second=0) + timedelta(hours=hour, seconds=self.rng.randrange(3600))
        return min(at, self.now - timedelta(seconds=self.rng.randrange(30, 7200)))

    def _session(self, conversation: int, seeded: Seeded) -> None:
        summary = self.summaries[conversation]
        at = self._session_start()
        outcome = "agent"
        if self.rng.random() < 0.02:  # a template the business started the conversation with
            self._message(
                conversation,
                at,
                seeded,
                direction="out",
                sender="template",
                message_type="template",
                content=self.template_content,
            )
            at += timedelta(minutes=self.rng.randint(1, 120))
        turns = 1 + min(int(self.rng.expovariate(0.9)), 5)
        for _ in range(turns):
            first_in = at
            trigger = []
            for _ in range(self.rng.choices((1, 2, 3), weights=(70, 25, 5))[0]):
                trigger.append(
                    self._message(
                        conversation,
                        at,
                        seeded,
                        direction="in",
                        message_type="text",
                        content=self.rng.choice(self.customer_contents),
                    )
                )
                at += timedelta(seconds=self.rng.randint(2, 20))
            response_ms = min(self.rng.lognormvariate(math.log(2500), 0.8), 600_000)
            status = self.rng.choices(("answered", "handed_off", "failed", "skipped"), weights=(88, 7, 2, 3))[0]
            run_at = first_in + timedelta(seconds=1)
            replied = status != "skipped"
            if replied:
                at = first_in + timedelta(milliseconds=response_ms)
                contents = self.agent_contents if status == "answered" else [self.agent_contents[0]]
                for _ in range(1 if status != "answered" else self.rng.choices((1, 2), weights=(75, 25))[0]):
                    self._message(
                        conversation,
                        at,
                        seeded,
                        direction="out",
                        sender="agent",
                        message_type="text",
                        sender_agent_id=self.agent_id,
                        content=self.rng.choice(contents),
                    )
                    at += timedelta(seconds=1)
            self.runs.append(
                {
                    "id": self.next_run_id,
                    "workspace_id": self.workspace_id,
                    "agent_id": self.agent_id,
                    "conversation_id": conversation + 1,
                    "status": status,
                    "provider": "knowledge_base",
                    "trigger_message_ids": self.jsonb(trigger),
                    "response_ms": response_ms if replied else None,
                    "slow": replied and response_ms > 30_000,
                    "started_at": min(run_at, self.now),
                    "finished_at": min(at, self.now),
                }
            )
            self.next_run_id += 1
            at += timedelta(seconds=self.rng.randint(20, 600))
            if status in ("handed_off", "failed"):
                outcome = "handed"
                break
        if outcome == "handed" and self.rng.random() < 0.8:  # a teammate answers (takes it over)
            for content in self.teammate_contents:
                at += timedelta(minutes=self.rng.randint(1, 30))
                self._message(
                    conversation,
                    at,
                    seeded,
                    direction="out",
                    sender="teammate",
                    message_type="text",
                    sender_user_id=self.user_id,
                    content=content,
                )
            outcome = "human"
        if self.rng.random() < 0.15:  # the team closes it and asks for a rating
            at = min(at + timedelta(minutes=self.rng.randint(1, 60)), self.now)
            closed_at = at
            question = self._message(
                conversation,
                at,
                seeded,
                direction="out",
                sender="system",
                message_type="interactive",
                content=self.survey_content,
            )
            answered_at = None
            score = None
            comment = ""
            if self.rng.random() < 0.6:
                score = self.rng.choices((5, 3, 1), weights=(60, 25, 15))[0]
                answered_at = min(at + timedelta(minutes=self.rng.randint(1, 90)), self.now)
                self._message(
                    conversation,
                    answered_at,
                    seeded,
                    direction="in",
                    message_type="interactive",
                    content=self.jsonb({"type": "button_reply", "button_reply": {"id": f"csat:{score}"}}),
                )
                if self.rng.random() < 0.2:
                    comment = "Great service, thanks!" if score == 5 else "It took a while."
            self.ratings.append(
                {
                    "id": self.next_rating_id,
                    "workspace_id": self.workspace_id,
                    "conversation_id": conversation + 1,
                    "question_id": question,
                    "score": score,
                    "comment": comment,
                    "asked_at": closed_at,
                    "answered_at": answered_at,
                }
            )
            self.next_rating_id += 1
            outcome = "closed"
        else:
            closed_at = None
        at = min(at, self.now)
        if summary.latest_session_at is None or at > summary.latest_session_at:
            summary.latest_session_at = at
            summary.closed_at = closed_at
            summary.waiting_since = None
            summary.unread_count = 0
            recent = self.now - at < timedelta(days=2)
            if outcome == "closed":
                summary.state = "closed"
            elif outcome == "handed" and recent:
                summary.state, summary.waiting_since = "waiting_human", at
                summary.unread_count = self.rng.randint(1, 3)
            elif outcome == "human" and recent:
                summary.state = "human"
            elif outcome in ("handed", "human"):
                summary.state, summary.closed_at = "closed", at
            else:
                summary.state = "agent"

    def _console_session(self, conversation: int, seeded: Seeded) -> None:
        """A tester chatting with the agent in its test console: stored like any chat, never counted."""
        at = self._session_start()
        for _ in range(20):
            self._message(
                conversation, at, seeded, direction="in", message_type="text", content=self.customer_contents[0]
            )
            self._message(
                conversation,
                at + timedelta(seconds=1),
                seeded,
                direction="out",
                sender="agent",
                message_type="text",
                status="read",
                content=self.agent_contents[0],
            )
            at += timedelta(minutes=1)


def _accumulate(values):
    total = 0
    for value in values:
        total += value
        yield total


# --- timing ------------------------------------------------------------------------------------


@dataclass
class Timing:
    label: str
    target: str
    url: str
    status: int = 0
    samples_ms: list[float] = field(default_factory=list)
    queries: int = 0
    sql_ms: float = 0.0
    slowest_sql: str = ""
    slowest_ms: float = 0.0
    size_kb: float = 0.0
    profile: str = ""

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_ms) if self.samples_ms else float("nan")


def measure(client, label: str, target: str, url: str, repeat: int, **headers) -> Timing:
    """Median of `repeat` warm requests; then one with its SQL captured, and one profiled when over target."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    timing = Timing(label=label, target=target, url=url)
    for _ in range(2):  # warm-up: templates compiled, connection open, caches filled
        response = client.get(url, **headers)
        timing.status = response.status_code
    if timing.status != 200:
        return timing
    for _ in range(repeat):
        tick = time.perf_counter()
        response = client.get(url, **headers)
        timing.samples_ms.append((time.perf_counter() - tick) * 1000)
    timing.size_kb = len(response.content) / 1024
    # One more, with every query captured (the capture's own cost stays out of the timings above).
    with CaptureQueriesContext(connection) as captured:
        client.get(url, **headers)
    timing.queries = len(captured.captured_queries)
    times = [(float(q["time"]) * 1000, q["sql"]) for q in captured.captured_queries]
    timing.sql_ms = sum(ms for ms, _ in times)
    if times:
        timing.slowest_ms, timing.slowest_sql = max(times, key=lambda t: t[0])
    if target and timing.median_ms >= TARGETS_MS[target] and timing.sql_ms < timing.median_ms / 2:
        # Most of the time is not SQL: say where it goes.
        profiler = cProfile.Profile()
        profiler.runcall(client.get, url, **headers)
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(12)
        timing.profile = out.getvalue()
    return timing


def explain(sql: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, _interrupt)
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        print("DATABASE_URL is required: a PostgreSQL server (this bench refuses SQLite).", file=sys.stderr)
        return 2
    database = f"wap_consolebench_{os.getpid()}"
    try:
        admin_url, bench_url = _bench_database_url(url, database)
    except SystemExit as refusal:
        print(refusal, file=sys.stderr)
        return 2
    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        print(f"cannot reach PostgreSQL ({exc})", file=sys.stderr)
        return 0
    created = django_ready = False
    try:
        print(f"database {database}: creating and migrating ...", flush=True)
        admin.execute(f'CREATE DATABASE "{database}"')
        created = True
        os.environ.update(
            {
                "DJANGO_SETTINGS_MODULE": "whatsapp_platform.settings",
                "DATABASE_URL": bench_url,
                "TESTING": "false",
                "DEBUG": "false",
                "LOG_LEVEL": "WARNING",
                "CELERY_TASK_ALWAYS_EAGER": "true",
                "DATABASE_CONN_MAX_AGE": "3600",
                "GRAPH_API_BASE_URL": "http://127.0.0.1:9",
                "METRICS_TOKEN": "console-bench-metrics-token-0123456789",
            }
        )
        for name in ("REDIS_URL", "CELERY_BROKER_URL"):
            os.environ.pop(name, None)

        import warnings

        import django

        # Whitenoise warns about a STATIC_ROOT nobody collected into; the test client serves no static files.
        warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
        django.setup()
        django_ready = True
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)

        print(
            f"seeding {args.messages:,} messages over {args.days} days in {args.conversations:,} conversations "
            f"(COPY) ...",
            flush=True,
        )
        seeded = Seeder(args, bench_url).run()
        print(
            f"seeded in {seeded.seconds:.0f} s: {seeded.messages:,} messages ({seeded.inbound:,} in, "
            f"{seeded.outbound:,} out, {seeded.console_messages:,} in the agent test console), "
            f"{seeded.runs:,} agent runs, {seeded.ratings:,} ratings asked; "
            + ", ".join(f"{name} {secs:.0f} s" for name, secs in seeded.by_table_seconds.items()),
            flush=True,
        )

        from django.db.models import Count
        from django.urls import reverse

        from analytics_app.services.rollup import daily_stats_rollup_days, daily_stats_rollup_recent, local_today
        from messaging_app.models import Conversation, Message
        from workspaces_app.models import User, Workspace

        workspace = Workspace.objects.get(slug=WORKSPACE_SLUG)
        tick = time.perf_counter()
        rows = daily_stats_rollup_days(workspace=workspace, days=args.days + 2)
        backfill_s = time.perf_counter() - tick
        recent = []
        for _ in range(3):
            tick = time.perf_counter()
            daily_stats_rollup_recent()
            recent.append(time.perf_counter() - tick)
        print(
            f"rollup: backfill of {args.days + 2} days {backfill_s:.1f} s ({rows} channel-day rows); "
            f"the 5-minute job (last 3 days, all workspaces) {statistics.median(recent) * 1000:.0f} ms (median of 3)",
            flush=True,
        )

        from django.test import Client

        client = Client()
        client.force_login(User.objects.get(email="owner@bench-plants.test"))
        inbox_url = reverse("inbox", args=[WORKSPACE_SLUG])
        # The conversation staff would open first: the first one the inbox links to (or the latest, without one).
        inbox_page = client.get(inbox_url)
        first_link = re.search(rf"/w/{WORKSPACE_SLUG}/inbox/(\d+)/", inbox_page.content.decode(errors="replace"))
        top_id = (
            int(first_link[1])
            if inbox_page.status_code == 200 and first_link
            else Conversation.objects.filter(workspace=workspace, last_message_at__isnull=False)
            .exclude(channel__provider="test_console")
            .latest("last_message_at")
            .pk
        )
        sizes = sorted(
            Message.objects.filter(workspace=workspace)
            .exclude(channel__provider="test_console")
            .values_list("conversation_id")
            .annotate(n=Count("pk"))
            .values_list("n", "conversation_id")
        )
        typical_count, typical_id = sizes[len(sizes) // 2]
        busiest_count, busiest_id = sizes[-1]
        today = local_today(workspace)
        analytics = reverse("analytics", args=[WORKSPACE_SLUG])
        full = f"start={(today - timedelta(days=args.days + 1)).isoformat()}&end={today.isoformat()}"
        plan = [
            ("inbox list", "inbox", inbox_url, {}),
            (
                f"conversation, top of the inbox ({Message.objects.filter(conversation_id=top_id).count()} msgs)",
                "conversation",
                reverse("conversation_detail", args=[WORKSPACE_SLUG, top_id]),
                {},
            ),
            (
                f"conversation, typical ({typical_count} msgs)",
                "conversation",
                reverse("conversation_detail", args=[WORKSPACE_SLUG, typical_id]),
                {},
            ),
            (
                f"conversation, busiest ({busiest_count} msgs)",
                "conversation",
                reverse("conversation_detail", args=[WORKSPACE_SLUG, busiest_id]),
                {},
            ),
            ("analytics, last 30 days", "analytics", analytics, {}),
            (f"analytics, all {args.days + 2} days", "analytics", f"{analytics}?{full}", {}),
            (
                "analytics CSV (volume), all days",
                "",
                reverse("analytics_export", args=[WORKSPACE_SLUG, "volume"]) + f"?{full}",
                {},
            ),
            ("/metrics", "", "/metrics", {"HTTP_AUTHORIZATION": f"Bearer {os.environ['METRICS_TOKEN']}"}),
        ]
        print(f"timing {len(plan)} views: 2 warm-up + {args.repeat} measured requests each ...", flush=True)
        load_before = os.getloadavg()[0]
        timings = [measure(client, label, target, u, args.repeat, **headers) for label, target, u, headers in plan]
        load = max(load_before, os.getloadavg()[0])
        report(timings, seeded, args)
        cores = os.cpu_count() or 1
        print(f"load average while timing: {load:.1f} on {cores} cores")
        if load > cores:
            print(
                "note: other processes kept the machine busier than its cores; the figures are skewed by that "
                "load (run again on a quiet machine)"
            )
        if args.keep:
            print(f"\nkept: DATABASE_URL={bench_url} (log in as owner@bench-plants.test after setting a password)")
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
        return 130
    except Exception:
        traceback.print_exc()
        print("the benchmark stopped early; no figures", file=sys.stderr)
        return 0
    finally:
        if django_ready:
            from django.db import connections

            connections.close_all()
        if created and not args.keep:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()


def report(timings: list[Timing], seeded: Seeded, args: argparse.Namespace) -> None:
    print()
    print(f"{'view':<44}{'HTTP':>6}{'median ms':>11}{'min':>8}{'max':>8}{'SQL q':>7}{'SQL ms':>8}{'KB':>8}")
    for t in timings:
        low = min(t.samples_ms) if t.samples_ms else float("nan")
        high = max(t.samples_ms) if t.samples_ms else float("nan")
        print(
            f"{t.label:<44}{t.status:>6}{t.median_ms:>11.1f}{low:>8.1f}{high:>8.1f}{t.queries:>7}{t.sql_ms:>8.1f}"
            f"{t.size_kb:>8.0f}"
        )
    print()
    for t in timings:
        if t.samples_ms and t.slowest_sql:
            sql = " ".join(t.slowest_sql.split())
            print(f"slowest query of {t.label}: {t.slowest_ms:.1f} ms: {sql[:300]}{'…' if len(sql) > 300 else ''}")
    print()
    for t in timings:
        if not t.target:
            continue
        goal = TARGETS_MS[t.target]
        if t.status != 200:
            print(f"MISS  {t.label} < {goal:.0f} ms (got HTTP {t.status}: the view does not answer)")
            continue
        verdict = "PASS" if t.median_ms < goal else "MISS"
        print(f"{verdict}  {t.label} < {goal:.0f} ms (got {t.median_ms:.1f} ms median)")
        if verdict == "MISS" and t.profile:
            print(f"      SQL is {t.sql_ms:.0f} ms of it ({t.queries} queries), the rest is Python; by own time:")
            for line in t.profile.splitlines():
                if line.strip() and not line.lstrip().startswith(("Ordered by", "List reduced")):
                    print(f"        {line.rstrip()[:150]}")
        elif verdict == "MISS" and t.slowest_sql:
            print("      its slowest query, EXPLAIN (ANALYZE, BUFFERS):")
            for line in explain(t.slowest_sql).splitlines():
                print(f"        {line}")
    print(
        f"\n{seeded.messages:,} messages in one workspace ({WORKSPACE_TZ}); Django test client in this process "
        f"(no HTTP server), DEBUG off, PostgreSQL on {os.cpu_count()} cores shared with the client."
    )


if __name__ == "__main__":
    sys.exit(main())
