"""Retrieval over an agent's knowledge (FAQ entries and documents): see `search.py`."""

from agents_app.knowledge.language import language_guess
from agents_app.knowledge.passages import PASSAGE_CHARS, document_passages
from agents_app.knowledge.search import (
    Passage,
    embeddings_enabled,
    knowledge_languages,
    knowledge_passage,
    knowledge_search,
)

__all__ = [
    "PASSAGE_CHARS",
    "Passage",
    "document_passages",
    "embeddings_enabled",
    "knowledge_languages",
    "knowledge_passage",
    "knowledge_search",
    "language_guess",
]
