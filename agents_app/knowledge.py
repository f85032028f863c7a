"""Retrieval over an agent's knowledge: BM25 (bm25s) over FAQ entries and document passages.

BM25 over a few hundred passages per agent is instant, needs no model download and works the
same on SQLite and PostgreSQL; the index is built once per version of the agent's knowledge
and kept in the process.
"""

import threading
from dataclasses import dataclass

import bm25s
from django.db.models import Count, Max

from agents_app.models import Agent, KnowledgeEntry
from channels_app.whatsapp.payloads import text_split

PASSAGE_CHARS = 600


@dataclass(frozen=True)
class Passage:
    entry_id: int
    kind: str
    title: str
    text: str
    score: float


@dataclass
class _Index:
    version: tuple
    passages: list[Passage]
    retriever: bm25s.BM25 | None


_lock = threading.Lock()
_indexes: dict[int, _Index] = {}


def _passages(agent: Agent) -> list[Passage]:
    passages = []
    for entry in KnowledgeEntry.objects.filter(agent=agent).order_by("pk"):
        if entry.kind == KnowledgeEntry.Kind.FAQ:
            passages.append(Passage(entry.pk, entry.kind, entry.title, entry.body, 0.0))
        else:
            for chunk in text_split(entry.body, target=PASSAGE_CHARS):
                passages.append(Passage(entry.pk, entry.kind, entry.title, chunk, 0.0))
    return passages


def _index_for(agent: Agent) -> _Index:
    stats = KnowledgeEntry.objects.filter(agent=agent).aggregate(n=Count("pk"), at=Max("updated_at"))
    version = (stats["n"], stats["at"])
    with _lock:
        cached = _indexes.get(agent.pk)
        if cached is not None and cached.version == version:
            return cached
    passages = _passages(agent)
    retriever = None
    if passages:
        corpus = [f"{p.title} {p.title} {p.text}" for p in passages]  # titles (questions) weigh double
        retriever = bm25s.BM25()
        retriever.index(bm25s.tokenize(corpus, stopwords="en", show_progress=False), show_progress=False)
    index = _Index(version=version, passages=passages, retriever=retriever)
    with _lock:
        _indexes[agent.pk] = index
    return index


def knowledge_search(*, agent: Agent, query: str, limit: int = 3) -> list[Passage]:
    """The passages that best match `query`, best first; only those with some match at all."""
    index = _index_for(agent)
    if index.retriever is None or not query.strip():
        return []
    tokens = bm25s.tokenize([query], stopwords="en", show_progress=False)
    if not tokens.ids or not tokens.ids[0]:
        return []
    k = min(limit, len(index.passages))
    results, scores = index.retriever.retrieve(tokens, k=k, show_progress=False)
    found = []
    for position, score in zip(results[0], scores[0], strict=True):
        if score > 0:
            p = index.passages[int(position)]
            found.append(Passage(p.entry_id, p.kind, p.title, p.text, float(score)))
    return found
