"""How well the offline knowledge-base agent answers real customers: scored turns, BM25-only vs hybrid.

    .venv/bin/python bench/agent_eval.py [--postgres] [--mode both|bm25|hybrid] [--show failures|all]

Three businesses (bench/agent_eval/*.json: a plant shop, an invoicing SaaS's support desk, a dental
clinic in Lisbon) each have knowledge as they would write it (FAQ entries and a document or two) and
conversations as their customers write them: follow-ups, typos, small talk, out-of-scope questions,
requests for a person, photos, a voice note and a PDF, in English, Spanish, Portuguese, French and
German. Every conversation runs through the agent test console's service (`agent_test_message_send`),
which stores the customer's message and runs the real turn (Celery eager) exactly as for WhatsApp;
the harness then reads the messages the agent sent and whether the conversation went to a human.

Each turn's expected outcome is an entry (answered from it; for a document, the passage holding the
turn's `contains` fragment), `handoff`, `small_talk`, `dont_know` (no answer from the knowledge, a human
offered or brought in), `media_ack` (the file acknowledged, nothing unrelated answered) or
`silence_or_ack` (after a handoff). A reply "answers from" an entry when one of the entry's sentences
appears in it. Scores:
- answered well: the expected outcome;
- offered: the expected entry was among the choices offered (not counted as well);
- confidently wrong: an answer from another entry (or any entry when none was expected).

It runs in a throw-away database (SQLite in a temporary folder, or with --postgres a PostgreSQL
database on 127.0.0.1 that is dropped at the end) and exits 0: it reports, it does not gate.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))  # `python bench/agent_eval.py` puts bench/ first, not the project

DATA_DIR = Path(__file__).resolve().parent / "agent_eval"
PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
TARGET_WELL = 0.80
TARGET_WRONG = 0.05
HANDOFF_ID = "handoff_request"
# What the agent says when it has no answer, in the phrasings it has used (today's and earlier ones): a
# small-talk turn answered like this was not understood as small talk.
DONT_KNOW_MARKERS = (
    "i don't have an answer",
    "i'm not sure",
    "no estoy seguro",
    "não tenho a certeza",
    "je ne suis pas sûr",
)
MEDIA_TYPES = {"image": "image/jpeg", "audio": "audio/ogg", "document": "text/plain"}


@dataclass
class Turn:
    business: str
    customer: str
    index: int
    expect: str
    lang: str
    say: str = ""
    note: str = ""
    contains: str = ""
    type: str = "text"
    caption: str = ""
    filename: str = ""
    text: str = ""


@dataclass
class Outcome:
    turn: Turn
    verdict: str  # well | offered | wrong | miss
    replies: list[str] = field(default_factory=list)
    handed_off: bool = False
    # What the agent looked up (its run's steps), shown with --show to see why a turn went wrong.
    looked_up: list[str] = field(default_factory=list)
    # The customer's message stored and the whole turn run (Celery eager), in ms.
    turn_ms: float = 0.0


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _sentences(body: str) -> list[str]:
    parts = re.split(r"(?<=[.!?])\s+|\n+", body)
    return [_norm(p) for p in parts if len(p.strip()) >= 20]


def load() -> list[dict]:
    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted(DATA_DIR.glob("*.json"))]


def _reply_texts(message) -> tuple[str, list[str], bool]:
    """(text shown, option titles, offers a human) of one agent message."""
    content = message.content if isinstance(message.content, dict) else {}
    if message.message_type == "text":
        return content.get("body", ""), [], False
    if message.message_type == "interactive":
        body = (content.get("body") or {}).get("text", "")
        action = content.get("action") or {}
        options = [(b.get("reply") or {}) for b in action.get("buttons", [])]
        options += [row for section in action.get("sections", []) for row in section.get("rows", [])]
        titles = [o.get("title", "") + " " + o.get("description", "") for o in options if o.get("id") != HANDOFF_ID]
        return body, titles, any(o.get("id") == HANDOFF_ID for o in options)
    return "", [], False


def score(turn: Turn, business: dict, replies: list, handed_off: bool) -> Outcome:
    entries = {e["key"]: e for e in business["faq"] + business["documents"]}
    shown, titles, offers_human = [], [], False
    for message in replies:
        text, options, human = _reply_texts(message)
        shown.append(text)
        titles += options
        offers_human = offers_human or human
    said = _norm(" ".join(shown))
    used = {key for key, e in entries.items() if any(s in said for s in _sentences(e["body"]))}
    outcome = Outcome(turn=turn, verdict="miss", replies=[t for t in shown if t] + titles, handed_off=handed_off)
    expect = turn.expect
    if expect in entries:
        entry = entries[expect]
        hit = expect in used and (not turn.contains or _norm(turn.contains) in said)
        if hit and not handed_off:
            outcome.verdict = "well"
        elif used - {expect} or (expect in used and not hit):
            outcome.verdict = "wrong"
        elif any(_norm(entry["title"])[:20] in _norm(t) or (turn.contains and turn.contains in t) for t in titles):
            outcome.verdict = "offered"
        return outcome
    if used:
        outcome.verdict = "wrong"
    elif expect == "handoff":
        outcome.verdict = "well" if handed_off else "miss"
    elif expect == "small_talk":
        unsure = any(marker in said for marker in DONT_KNOW_MARKERS)
        outcome.verdict = "well" if replies and not handed_off and not unsure and not titles else "miss"
    elif expect == "dont_know":
        outcome.verdict = "well" if (handed_off or offers_human) and not titles else "miss"
    elif expect == "media_ack":
        outcome.verdict = "well" if replies else "miss"
    elif expect == "silence_or_ack":
        outcome.verdict = "well"
    return outcome


def run_mode(*, label: str, embeddings: bool, businesses: list[dict]) -> list[Outcome]:
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from agents_app.models import Agent, KnowledgeEntry
    from agents_app.services import agent_test_conversation
    from messaging_app.models import Conversation, Message
    from workspaces_app.models import Workspace

    settings.AGENT_KNOWLEDGE_EMBEDDINGS = embeddings
    outcomes = []
    users = iter(range(1, 10**6))
    for business in businesses:
        slug = re.sub(r"[^a-z0-9]+", "-", business["business"].lower()).strip("-")
        workspace = Workspace.objects.create(name=business["business"], slug=f"{slug}-{label}")
        agent = Agent.objects.create(
            workspace=workspace, name=business["agent"], provider=Agent.Provider.KNOWLEDGE_BASE, debounce_seconds=0
        )
        for entry in business["faq"]:
            KnowledgeEntry.objects.create(agent=agent, kind="faq", title=entry["title"], body=entry["body"])
        for entry in business["documents"]:
            KnowledgeEntry.objects.create(agent=agent, kind="document", title=entry["title"], body=entry["body"])
        for conversation_data in business["conversations"]:
            first, _, last = conversation_data["customer"].partition(" ")
            user = get_user_model().objects.create_user(
                email=f"eval-{label}-{next(users)}@eval.test",
                password=None,
                first_name=first,
                last_name=last,
            )
            conversation = agent_test_conversation(agent=agent, user=user)
            for index, data in enumerate(conversation_data["turns"]):
                turn = Turn(business=business["business"], customer=conversation_data["customer"], index=index, **data)
                mark = Message.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
                started = time.perf_counter()
                _customer_sends(agent, user, turn)
                turn_ms = (time.perf_counter() - started) * 1000
                replies = list(
                    Message.objects.filter(
                        conversation=conversation, pk__gt=mark, direction="out", sender="agent"
                    ).order_by("pk")
                )
                state = Conversation.objects.filter(pk=conversation.pk).values_list("state", flat=True).first()
                handed_off = state == Conversation.State.WAITING_HUMAN
                outcome = score(turn, business, replies, handed_off)
                outcome.looked_up = _looked_up(conversation, mark)
                outcome.turn_ms = turn_ms
                outcomes.append(outcome)
                time.sleep(0.001)  # strictly later timestamps for the next message
    return outcomes


def _looked_up(conversation, mark: int) -> list[str]:
    from agents_app.models import AgentRun

    lines = []
    for run in AgentRun.objects.filter(conversation=conversation).order_by("-pk")[:1]:
        for step in run.tool_calls or []:
            if step.get("name") == "knowledge_search":
                found = ", ".join(f"{r['title'][:28]}#{r['passage']} {r['score']}" for r in step["result"][:3])
                lines.append(f"{step['arguments'].get('read_as')} [{step['arguments'].get('language')}]: {found}")
    return lines


def _customer_sends(agent, user, turn: Turn) -> None:
    from agents_app.services import agent_test_message_send

    if turn.type == "text":
        agent_test_message_send(agent=agent, user=user, message_type="text", content={"body": turn.say})
        return
    mime_type = MEDIA_TYPES[turn.type]
    content: dict = {"caption": turn.caption} if turn.caption else {}
    if turn.type == "audio":
        content["voice"] = True
        data = b"OggS" + bytes(400)  # a voice note: the offline agent has no speech-to-text
    elif turn.type == "image":
        data = b"\xff\xd8\xff\xe0" + bytes(400)
    else:
        data = turn.text.encode("utf-8")
    filename = turn.filename or f"file.{mime_type.split('/')[1]}"
    agent_test_message_send(
        agent=agent, user=user, message_type=turn.type, content=content, file=(data, filename, mime_type)
    )


def summary(outcomes: list[Outcome]) -> dict:
    counts = Counter(o.verdict for o in outcomes)
    n = len(outcomes) or 1
    return {verdict: counts[verdict] / n for verdict in ("well", "offered", "wrong", "miss")} | {"n": len(outcomes)}


def report(results: dict[str, list[Outcome]], show: str) -> None:
    print()
    labels = list(results)
    header = f"{'':34}" + "".join(f"{label:>22}" for label in labels)
    print(header)
    rows = [("answered well", "well"), ("right answer among choices", "offered"), ("confidently wrong", "wrong")]
    rows.append(("other (unhelpful, missed)", "miss"))
    for title, key in rows:
        cells = []
        for label in labels:
            outcomes = results[label]
            share = summary(outcomes)[key]
            cells.append(f"{share * 100:5.1f}% ({sum(o.verdict == key for o in outcomes):3d})")
        print(f"{title:34}" + "".join(f"{c:>22}" for c in cells))
    print()
    for group, key_of in (("by expected outcome", _expect_group), ("by language", lambda o: o.turn.lang)):
        print(group + " (answered well / confidently wrong)")
        keys = sorted({key_of(o) for outcomes in results.values() for o in outcomes})
        for key in keys:
            cells = []
            for label in labels:
                part = [o for o in results[label] if key_of(o) == key]
                s = summary(part)
                cells.append(f"{s['well'] * 100:3.0f}% / {s['wrong'] * 100:3.0f}% of {s['n']:3d}")
            print(f"  {key:32}" + "".join(f"{c:>22}" for c in cells))
        print()
    cells = []
    for label in labels:
        timings = sorted(o.turn_ms for o in results[label])
        cells.append(f"{timings[len(timings) // 2]:.1f} / {timings[int(len(timings) * 0.9)]:.1f}")
    print(f"{'turn ms, p50 / p90 (whole turn)':34}" + "".join(f"{c:>22}" for c in cells))
    print()
    for label in labels:
        s = summary(results[label])
        verdict = "PASS" if s["well"] >= TARGET_WELL and s["wrong"] <= TARGET_WRONG else "MISS"
        print(
            f"{label}: answered well {s['well'] * 100:.1f}% (target >= {TARGET_WELL * 100:.0f}%), "
            f"confidently wrong {s['wrong'] * 100:.1f}% (target <= {TARGET_WRONG * 100:.0f}%): {verdict}"
        )
    if show != "none":
        for label in labels:
            print(f"\n--- {label}: {'every turn' if show == 'all' else 'turns not answered well'}")
            for o in results[label]:
                if show == "all" or o.verdict != "well":
                    t = o.turn
                    said = t.say or f"[{t.type}{': ' + t.caption if t.caption else ''}]"
                    print(f"[{o.verdict}] {t.business} / {t.customer} #{t.index} ({t.lang}) {said!r} -> {t.expect}")
                    print(f"      {' | '.join(r[:110] for r in o.replies)}{' [handed off]' if o.handed_off else ''}")
                    for line in o.looked_up:
                        print(f"        {line}")


def _expect_group(outcome: Outcome) -> str:
    expect = outcome.turn.expect
    if expect in ("handoff", "small_talk", "dont_know", "media_ack", "silence_or_ack"):
        return expect
    return "follow-up answer" if outcome.turn.note.startswith("follow-up") else "answer"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", action="store_true", help="a throw-away PostgreSQL database, not SQLite")
    parser.add_argument("--mode", choices=("both", "bm25", "hybrid"), default="both")
    parser.add_argument("--show", choices=("none", "failures", "all"), default="none")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    admin = database = None
    temporary = tempfile.TemporaryDirectory(prefix="agent-eval-")
    try:
        if args.postgres:
            import psycopg

            admin = psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True, connect_timeout=5)
            database = f"wap_agenteval_{os.getpid()}"
            admin.execute(f'CREATE DATABASE "{database}"')
            url = f"{PG_SERVER}/{database}"
        else:
            url = f"sqlite:///{temporary.name}/eval.sqlite3"
        os.environ.update(
            {
                "DJANGO_SETTINGS_MODULE": "whatsapp_platform.settings",
                "DATABASE_URL": url,
                "TESTING": "false",
                "DEBUG": "false",
                "LOG_LEVEL": "ERROR",
                "CELERY_TASK_ALWAYS_EAGER": "true",  # the turn runs inline, as in the test console without a worker
                "MEDIA_ROOT": f"{temporary.name}/media",
                "GRAPH_API_BASE_URL": "http://127.0.0.1:9",  # nothing leaves the machine
            }
        )
        for name in ("REDIS_URL", "CELERY_BROKER_URL"):
            os.environ.pop(name, None)
        import django

        django.setup()
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        from django.core.management import call_command

        print(f"database: {'PostgreSQL ' + database if database else 'SQLite (temporary)'}; migrating ...", flush=True)
        call_command("migrate", interactive=False, verbosity=0)
        businesses = load()
        turns = sum(len(c["turns"]) for b in businesses for c in b["conversations"])
        print(f"{len(businesses)} businesses, {turns} customer turns", flush=True)
        modes = {"bm25": [("BM25 only", False)], "hybrid": [("hybrid", True)]}.get(
            args.mode, [("BM25 only", False), ("hybrid", True)]
        )
        results = {}
        for label, embeddings in modes:
            started = time.monotonic()
            results[label] = run_mode(label=label.split()[0].lower(), embeddings=embeddings, businesses=businesses)
            print(f"{label}: {turns} turns in {time.monotonic() - started:.1f} s", flush=True)
        report(results, args.show)
        return 0
    except KeyboardInterrupt:
        return 130
    except Exception:
        traceback.print_exc()
        print("the evaluation stopped early; no figures", file=sys.stderr)
        return 0
    finally:
        if database is not None:
            from django.db import connections

            connections.close_all()
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        if admin is not None:
            admin.close()
        temporary.cleanup()


if __name__ == "__main__":
    sys.exit(main())
