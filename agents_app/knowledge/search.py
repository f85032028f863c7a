"""Hybrid retrieval over an agent's knowledge: BM25 in each passage's language, plus sentence embeddings.

Each FAQ entry is one passage (its question is its title); each document is cut into passages
(`passages.py`). A query is scored against every passage three ways:
- BM25 over stemmed, stopword-free words, the query stemmed in each passage's language; a query word one
  typo away from a word of the knowledge counts as that word, and a price question ("how much", "custa")
  matches any passage with a price in it;
- coverage: the share of the query's words (weighted by how rare they are in this knowledge) that the
  passage holds. A word the knowledge never uses counts as uncovered, so "do you integrate with
  quickbooks?" covers little of anything even where "integrate" would match;
- with embeddings on (the default; AGENT_KNOWLEDGE_EMBEDDINGS), the best cosine between the query's
  embedding and the passage's: the whole passage, each of its sentences, and for an FAQ entry its
  question and its question with the answer.

`score` is a confidence in [0, 1] that the passage answers the query: coverage alone with BM25 only,
else a blend of the cosine and the coverage. BM25 orders candidates in the BM25-only mode. The
thresholds that turn a confidence into "answer", "offer choices" or "say it does not know" live with
the agent (`knowledge_agent.py`), calibrated on bench/agent_eval.py.

The index (words, statistics, embeddings) is built once per version of the agent's knowledge (the
number of entries and the latest change) and kept in the process; two workers racing to build the
same version both build it, and the last one kept wins, which is harmless.
"""

import math
import re
import threading
from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np
from django.conf import settings
from django.db.models import Count, Max

from agents_app.knowledge.embeddings import embed, embeddings_available
from agents_app.knowledge.language import language_guess, terms, words
from agents_app.knowledge.passages import document_passages, sentences
from agents_app.models import Agent, KnowledgeEntry

BM25_K1 = 1.2
BM25_B = 0.75
# The cosine of an unrelated pair of sentences is about 0.1 for this model, of a paraphrase 0.4 to 0.7:
# cosines are mapped from [COSINE_FLOOR, COSINE_CEILING] onto [0, 1] before blending.
COSINE_FLOOR = 0.10
COSINE_CEILING = 0.65
COSINE_WEIGHT = 0.40


# "How much is it?" is answered by a passage with a price in it, whatever words either uses: both get this word.
PRICE = "<price>"
_PRICE_IN_TEXT = re.compile(r"[$€£]\s?\d|\d\s?(?:€|\$|£|eur\b|euros?\b|dollars?\b|reais\b)", re.IGNORECASE)
_PRICE_WORDS = frozenset(
    "cost costs price prices pricing priced expensive cheap cheaper cheapest fee fees charge custa custam custo "
    "preço preços preco precos valor cuesta cuestan cuánto cuanto cuánta precio precios coûte coute combien prix "
    "tarif tarifs kostet kosten preis preise".split()
)


def _price_terms(text: str, *, question: bool) -> list[str]:
    if question:
        lowered = text.lower()
        asked = bool(_PRICE_WORDS & set(words(lowered))) or "how much" in lowered or "quanto" in lowered
        return [PRICE] if asked else []
    return [PRICE] if _PRICE_IN_TEXT.search(text) else []


@dataclass(frozen=True)
class Passage:
    entry_id: int
    kind: str
    title: str
    text: str
    score: float
    # Which passage of the entry (0 for an FAQ entry), and the language it is written in ("" unknown).
    index: int = 0
    language: str = ""
    cosine: float = 0.0
    coverage: float = 0.0
    bm25: float = 0.0

    @property
    def key(self) -> str:
        return f"{self.entry_id}.{self.index}"


@dataclass
class _Index:
    version: tuple
    passages: list[Passage]
    terms: list[Counter]
    lengths: np.ndarray
    idf: dict[str, float]
    unseen_idf: float
    languages: frozenset[str]
    # Embedding rows and, for each, the passage it belongs to; None until first needed (or with embeddings off).
    vectors: np.ndarray | None = None
    owners: np.ndarray | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Query words the knowledge does not have, and the word one typo away that it has (or the word itself).
    typos: dict[str, str] = field(default_factory=dict)


_lock = threading.Lock()
_indexes: dict[int, _Index] = {}


def embeddings_enabled() -> bool:
    return bool(getattr(settings, "AGENT_KNOWLEDGE_EMBEDDINGS", True)) and embeddings_available()


def _passages(agent: Agent) -> list[Passage]:
    passages = []
    for entry in KnowledgeEntry.objects.filter(agent=agent).order_by("pk"):
        if entry.kind == KnowledgeEntry.Kind.FAQ:
            language = language_guess(f"{entry.title} {entry.body}")
            passages.append(Passage(entry.pk, entry.kind, entry.title, entry.body.strip(), 0.0, 0, language))
        else:
            for n, text in enumerate(document_passages(entry.title, entry.body)):
                passages.append(Passage(entry.pk, entry.kind, entry.title, text, 0.0, n, language_guess(text)))
    return passages


def _passage_terms(passage: Passage) -> Counter:
    words = terms(passage.text, passage.language) + _price_terms(passage.text, question=False)
    if passage.kind == KnowledgeEntry.Kind.FAQ:
        words += terms(passage.title, passage.language) * 2  # the question weighs double
    return Counter(words)


def _index_for(agent: Agent) -> _Index:
    stats = KnowledgeEntry.objects.filter(agent=agent).aggregate(n=Count("pk"), at=Max("updated_at"))
    version = (stats["n"], stats["at"])
    with _lock:
        cached = _indexes.get(agent.pk)
    if cached is not None and cached.version == version:
        return cached
    passages = _passages(agent)
    counted = [_passage_terms(p) for p in passages]
    n = len(passages)
    documents_with = Counter(t for c in counted for t in c)
    idf = {t: math.log(1 + (n - k + 0.5) / (k + 0.5)) for t, k in documents_with.items()}
    index = _Index(
        version=version,
        passages=passages,
        terms=counted,
        lengths=np.array([sum(c.values()) for c in counted], dtype=np.float32),
        idf=idf,
        unseen_idf=math.log(1 + (n + 0.5) / 0.5) if n else 0.0,
        languages=frozenset(p.language for p in passages if p.language),
    )
    with _lock:
        _indexes[agent.pk] = index
    return index


def _vectors(index: _Index) -> tuple[np.ndarray, np.ndarray]:
    """The passages' embedding rows, computed once per index."""
    with index.lock:
        if index.vectors is None:
            texts, owners = [], []
            for position, p in enumerate(index.passages):
                # The whole passage and each of its sentences: a short question is closest to the one
                # sentence that answers it ("how much is teeth whitening" to "In-office teeth whitening: €280.").
                keys = [p.text, *(s for s in sentences(p.text) if len(s.split()) >= 3)]
                if p.kind == KnowledgeEntry.Kind.FAQ:
                    keys += [p.title, f"{p.title} {p.text}"]
                keys = list(dict.fromkeys(keys))
                texts += keys
                owners += [position] * len(keys)
            index.vectors = embed(texts)
            index.owners = np.array(owners, dtype=np.int64)
        return index.vectors, index.owners


def knowledge_languages(*, agent: Agent) -> frozenset[str]:
    """The languages the agent's knowledge is written in."""
    return _index_for(agent).languages


def knowledge_passage(*, agent: Agent, entry_id: int, index: int = 0) -> Passage | None:
    for p in _index_for(agent).passages:
        if p.entry_id == entry_id and p.index == index:
            return p
    return None


def knowledge_search(*, agent: Agent, query: str, limit: int = 3, language: str = "") -> list[Passage]:
    """The passages that best match `query`, best first, each with its confidence `score`; only those that
    share a word with the query or (with embeddings) are close in meaning at all."""
    index = _index_for(agent)
    if not index.passages or not query.strip():
        return []
    language = language or language_guess(query)
    hybrid = embeddings_enabled()
    scored = _scores(index, query, language, hybrid=hybrid)
    ranked = sorted(scored, key=lambda p: p.score if hybrid else p.bm25, reverse=True)
    return [p for p in ranked if p.score > 0][:limit]


def _known(index: _Index, term: str) -> str:
    """`term`, or the knowledge's word one typo away from it ("ordr" for "order", "acount" for "account"); the
    first letter is taken as typed. Remembered per index."""
    if term in index.idf or len(term) < 4:
        return term
    if term not in index.typos:
        index.typos[term] = next(
            (
                known
                for known in index.idf
                if known[:1] == term[:1]
                and abs(len(known) - len(term)) <= 1
                and len(known) >= 4
                and _one_edit(term, known)
            ),
            term,
        )
    return index.typos[term]


def _one_edit(a: str, b: str) -> bool:
    """One letter added, dropped, changed, or two neighbours swapped."""
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (
            len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
        )
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def _scores(index: _Index, query: str, language: str, *, hybrid: bool) -> list[Passage]:
    n = len(index.passages)
    bm25 = np.zeros(n, dtype=np.float32)
    coverage = np.zeros(n, dtype=np.float32)
    average_length = float(index.lengths.mean()) or 1.0
    query_terms: dict[str, list[str]] = {}
    for position, passage in enumerate(index.passages):
        lang = passage.language or language
        if lang not in query_terms:
            # Stemmed like the passage; the query's own stopwords go too ("e", "ao" in Portuguese).
            # A price word becomes the price marker and nothing else: "custa" is not a topic the knowledge lacks.
            plain = " ".join(w for w in words(query) if w not in _PRICE_WORDS)
            asked = terms(plain, lang, written_in=language) + _price_terms(query, question=True)
            query_terms[lang] = [_known(index, term) for term in dict.fromkeys(asked)]
        wanted = query_terms[lang]
        if not wanted:
            continue
        counts = index.terms[position]
        norm = BM25_K1 * (1 - BM25_B + BM25_B * index.lengths[position] / average_length)
        total = covered = 0.0
        for term in wanted:
            weight = index.idf.get(term, index.unseen_idf)
            total += weight
            tf = counts.get(term, 0)
            if tf:
                covered += weight
                bm25[position] += weight * tf * (BM25_K1 + 1) / (tf + norm)
        coverage[position] = covered / total if total else 0.0
    cosine = np.zeros(n, dtype=np.float32)
    if hybrid:
        vectors, owners = _vectors(index)
        similarity = vectors @ embed([query])[0]
        np.maximum.at(cosine, owners, similarity)
        rescaled = np.clip((cosine - COSINE_FLOOR) / (COSINE_CEILING - COSINE_FLOOR), 0.0, 1.0)
        confidence = COSINE_WEIGHT * rescaled + (1 - COSINE_WEIGHT) * coverage
    else:
        confidence = coverage
    return [
        replace(
            p, score=float(confidence[i]), cosine=float(cosine[i]), coverage=float(coverage[i]), bm25=float(bm25[i])
        )
        for i, p in enumerate(index.passages)
    ]
