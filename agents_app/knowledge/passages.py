"""A document cut into passages a customer can be sent: whole paragraphs, or runs of whole sentences.

A passage is what the agent sends as an answer, so it must stand on its own: never the document's
title glued in front, never a heading alone, never a fragment of a sentence ("will confirm.").
A paragraph longer than PASSAGE_CHARS is cut between sentences; a last piece too short to stand
alone joins the one before it.
"""

import re

PASSAGE_CHARS = 600
# A piece shorter than this is a fragment: it joins its neighbour.
MIN_PASSAGE_CHARS = 80
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[\"'“(¿¡]?[A-ZÀ-ÖØ-Þ0-9])")


def sentences(text: str) -> list[str]:
    """`text` split after ., !, ? or … when a capital letter (or a digit) starts the next sentence."""
    return [s.strip() for s in _SENTENCE_END.split(" ".join(text.split())) if s.strip()]


def _is_heading(paragraph: str, title: str) -> bool:
    """A line that names what follows ("Plant care guide", "Price list 2026") rather than saying anything."""
    one_line = "\n" not in paragraph.strip()
    return one_line and (
        paragraph.strip().lower() == title.strip().lower()
        or (len(paragraph) <= 60 and not re.search(r"[.!?:;]$", paragraph.strip()))
    )


def document_passages(title: str, body: str) -> list[str]:
    """The passages of one document, in order."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", body or "") if p.strip()]
    pieces: list[str] = []
    for paragraph in paragraphs:
        if _is_heading(paragraph, title):
            continue
        if len(paragraph) <= PASSAGE_CHARS:
            pieces.append(" ".join(paragraph.split()))
            continue
        start, current = len(pieces), ""
        for sentence in sentences(paragraph):
            if current and len(current) + 1 + len(sentence) > PASSAGE_CHARS:
                pieces.append(current)
                current = sentence
            else:
                current = f"{current} {sentence}".strip()
        if current:
            if len(pieces) > start and len(current) < MIN_PASSAGE_CHARS:
                pieces[-1] = f"{pieces[-1]} {current}"
            else:
                pieces.append(current)
    return pieces
