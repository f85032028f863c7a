"""A model's answer shaped into WhatsApp messages, as a person would send them.

- Text is packed into bubbles of about the agent's target length, broken between paragraphs, lines and
  sentences only: a sentence is never cut, so no orphan fragment ("will confirm.") is left on its own, and a
  short last sentence joins the bubble before it.
- At most BUBBLES_PER_ANSWER bubbles go out; past that, the last one shown carries a "More" reply button and the
  rest is held (with the run) until the customer taps it.
- Options become something to tap: 1–3 short ones reply buttons, up to 10 a list whose row titles (24 characters)
  are chosen to stay distinct, the full option in the row's description. A model that writes its options as a
  numbered or bulleted list after a question gets the same treatment.
"""

import re
import unicodedata

from channels_app.whatsapp.payloads import PayloadInvalid, buttons_content, list_content, text_content

BUBBLES_PER_ANSWER = 3
MORE_PREFIX = "more:"
MORE_TITLE = "More"
WHATSAPP_TEXT_LIMIT = 4096
BODY_LIMIT = 1024  # an interactive message's body
BUTTON_TITLE_LIMIT = 20
ROW_TITLE_LIMIT = 24
ROW_DESCRIPTION_LIMIT = 72
LIST_BUTTON_LIMIT = 20
MAX_BUTTONS = 3
MAX_ROWS = 10
# A bubble shorter than this joins its neighbour rather than go out on its own.
ORPHAN_CHARS = 40
# Words after which a full stop does not end a sentence.
_ABBREVIATIONS = frozenset(
    "e.g i.e etc vs approx mr mrs ms dr st no nr sr sra dra dr prof ca bzw z.b u.a p.ex ex tel".split()
)
_SENTENCE_END = re.compile(r"[.!?…]+[\"”’')\]]*\s+")
_OPTION_LINE = re.compile(r"^\s*(?:\d{1,2}[.)]|[-*•▪●]|[a-jA-J][.)])\s+(.+?)\s*$")
# What tells a list apart from an offer to choose: a question just before it, or a word asking for a choice.
_CHOICE_WORD = re.compile(
    r"\b(?:which|choose|select|pick|prefer|would you like|cu[aá]l|elige|elija|prefier\w*|qual|escolh\w*|"
    r"welche\w*|w[aä]hl\w*|quel\w*|choisi\w*|pr[ée]f[ée]r\w*|qual[ei]|scegli\w*|preferisc\w*|welk\w*|kies)\b",
    re.IGNORECASE,
)


# --- text into bubbles ----------------------------------------------------------------------


def _sentences(line: str) -> list[str]:
    """A line cut into sentences; a stop after an abbreviation or a list number does not end one."""
    out, start = [], 0
    for match in _SENTENCE_END.finditer(line):
        before = line[start : match.start()].split()
        word = before[-1].lower().rstrip(".") if before else ""
        if word in _ABBREVIATIONS or (len(before) == 1 and word.isdigit()) or len(word) == 1 and word.isalpha():
            continue
        out.append(line[start : match.end()].strip())
        start = match.end()
    if line[start:].strip():
        out.append(line[start:].strip())
    return out


def _units(text: str) -> list[tuple[str, str]]:
    """(separator before, sentence) pairs: paragraphs, then lines, then sentences."""
    units: list[tuple[str, str]] = []
    for p, paragraph in enumerate(re.split(r"\n\s*\n", text.strip())):
        for n, line in enumerate(line for line in paragraph.split("\n") if line.strip()):
            for s, sentence in enumerate(_sentences(line)):
                separator = " " if s else ("\n" if n else ("\n\n" if p else ""))
                units.append((separator, sentence))
    return units


def _word_split(sentence: str, limit: int) -> list[str]:
    """Only a sentence longer than WhatsApp allows in one message is cut, between words."""
    pieces, current = [], ""
    for word in sentence.split(" "):
        if current and len(current) + 1 + len(word) > limit:
            pieces.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
        while len(current) > limit:
            pieces.append(current[:limit])
            current = current[limit:]
    return [*pieces, current] if current else pieces


def bubbles_pack(text: str, *, target: int, hard_limit: int = WHATSAPP_TEXT_LIMIT) -> list[str]:
    """`text` as WhatsApp bubbles of about `target` characters, never cutting a sentence (see the module)."""
    bubbles: list[tuple[str, str]] = []  # (the separator before it, the bubble)
    current, opened_by = "", ""
    for separator, sentence in _units(text):
        for piece in _word_split(sentence, hard_limit) if len(sentence) > hard_limit else [sentence]:
            joined = f"{current}{separator}{piece}" if current else piece
            if current and (len(joined) > target or "\n\n" in separator and len(current) >= ORPHAN_CHARS):
                bubbles.append((opened_by, current))
                current, opened_by = piece, separator
            else:
                current = joined
            separator = " "
    if current:
        bubbles.append((opened_by, current))
    # A short bubble joins its neighbour when the two still fit comfortably (a short last sentence included).
    merged: list[str] = []
    for separator, bubble in bubbles:
        if merged and (len(bubble) < ORPHAN_CHARS or len(merged[-1]) < ORPHAN_CHARS):
            candidate = f"{merged[-1]}{separator or ' '}{bubble}"
            if len(candidate) <= min(hard_limit, max(2 * target, target + ORPHAN_CHARS)):
                merged[-1] = candidate
                continue
        merged.append(bubble)
    return [bubble.strip() for bubble in merged if bubble.strip()]


# --- options ------------------------------------------------------------------------------------


def _fit(text: str, limit: int) -> str:
    """`text` within `limit` characters, cut at a word where that keeps most of it, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut and cut.rfind(" ") >= limit // 2:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:-–—") + "…"


def _tail(text: str, limit: int) -> str:
    """The end of `text` within `limit` characters, from a word, with a leading ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[-(limit - 1) :]
    if " " in cut and len(cut) - cut.find(" ") - 1 >= 4:
        cut = cut[cut.find(" ") + 1 :]
    return "…" + cut.lstrip(" ,;:-–—")


def _key(title: str) -> str:
    return unicodedata.normalize("NFKC", title).casefold().strip(" .…")


def distinct_titles(options: list[str], limit: int) -> list[str]:
    """Titles of at most `limit` characters, one per option, no two alike (WhatsApp refuses duplicate titles,
    and a customer cannot tell two "Appointment on Mon…" apart). Options that only differ late keep their
    distinguishing end; failing that, they are numbered."""
    titles = [_fit(option, limit) for option in options]
    for attempt in ("tail", "number"):
        seen: dict[str, list[int]] = {}
        for i, title in enumerate(titles):
            seen.setdefault(_key(title), []).append(i)
        clashes = [i for group in seen.values() if len(group) > 1 for i in group]
        if not clashes:
            return titles
        for i in clashes:
            if attempt == "tail":
                titles[i] = _tail(options[i], limit)
            else:
                prefix = f"{i + 1}. "
                titles[i] = prefix + _fit(options[i], limit - len(prefix))
    return titles


def _clean_option(text: str) -> str:
    return re.sub(r"[*_`]+", "", text).strip().rstrip(";,")


def options_content(body: str, options: list[str], *, button: str = "") -> tuple[str, dict] | None:
    """Options as reply buttons (1–3 that fit) or a list (up to 10); None when they cannot be tappable."""
    unique: list[str] = []
    for option in (_clean_option(str(o)) for o in options):
        if option and _key(option) not in {_key(u) for u in unique}:
            unique.append(option)
    body = body.strip() or "👇"
    if not unique or len(unique) > MAX_ROWS or len(body) > BODY_LIMIT:
        return None
    try:
        if len(unique) <= MAX_BUTTONS and all(len(o) <= BUTTON_TITLE_LIMIT for o in unique):
            return "interactive", buttons_content(body, [(f"opt_{i}", o) for i, o in enumerate(unique)])
        titles = distinct_titles(unique, ROW_TITLE_LIMIT)
        rows = [
            (f"opt_{i}", title, None if title == option else _fit(option, ROW_DESCRIPTION_LIMIT))
            for i, (title, option) in enumerate(zip(titles, unique, strict=True))
        ]
        label = _fit(button.strip() or "Options", LIST_BUTTON_LIMIT)
        return "interactive", list_content(body, label, [(None, rows)])
    except PayloadInvalid:
        return None


def options_in_text(text: str) -> tuple[str, list[str]] | None:
    """A text that ends by offering 2–10 options as a numbered or bulleted list after a question: the text
    without the list, and the options. None for anything else (an informational list stays text)."""
    lines = text.strip().split("\n")
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    # At most one short line may follow the options ("Just tap one!").
    after: list[str] = []
    if end and not _OPTION_LINE.match(lines[end - 1]) and len(lines[end - 1]) <= 120:
        after = [lines[end - 1].strip()]
        end -= 1
    start = end
    while start and (_OPTION_LINE.match(lines[start - 1]) or not lines[start - 1].strip()):
        start -= 1
    options = [_clean_option(m.group(1)) for line in lines[start:end] if (m := _OPTION_LINE.match(line))]
    before = "\n".join(lines[:start]).strip()
    lead = before.split("\n")[-1] if before else ""
    if not 2 <= len(options) <= MAX_ROWS or not before:
        return None
    offered = lead.rstrip().endswith("?") or _CHOICE_WORD.search(" ".join([lead, *after]))
    if any(len(o) > ROW_DESCRIPTION_LIMIT for o in options) or not offered:
        return None
    return "\n".join([before, *after]), options


# --- the answer as WhatsApp messages -----------------------------------------------------------


def answer_shape(
    parts: list[tuple[str, dict]], *, target: int, max_bubbles: int = BUBBLES_PER_ANSWER, more_id: str = ""
) -> tuple[list[tuple[str, dict]], list[tuple[str, dict]]]:
    """(messages to send now, messages held for the "More" button). Parts are ("text", {"body": …}), WhatsApp
    interactive contents, or ("options", {"options": [...], "text": …, "button": …}), whose body is their "text" or
    else the text just before them."""
    bubbles: list[tuple[str, dict | str]] = []
    for message_type, content in parts:
        if message_type == "text":
            found = options_in_text(content["body"])
            text, options = found if found else (content["body"], None)
            bubbles += [("text", b) for b in bubbles_pack(text, target=target)]
            if options:
                bubbles.append(("options", {"options": options}))
        else:
            bubbles.append((message_type, content))
    shaped: list[tuple[str, dict]] = []
    for message_type, content in bubbles:
        if message_type == "text":
            shaped.append(("text", text_content(content)))
            continue
        if message_type != "options":
            shaped.append((message_type, content))
            continue
        # Without a question of their own, the text just before the options is theirs: it becomes the body.
        body = content.get("text", "")
        if not body and shaped and shaped[-1][0] == "text" and len(shaped[-1][1]["body"]) <= BODY_LIMIT:
            body = shaped.pop()[1]["body"]
        made = options_content(body, content["options"], button=content.get("button", ""))
        if made is None:
            numbered = "\n".join(f"{i + 1}. {o}" for i, o in enumerate(content["options"]))
            shaped.append(("text", text_content("\n".join(filter(None, [body, numbered]))[:WHATSAPP_TEXT_LIMIT])))
        else:
            shaped.append(made)
    limit = max(1, max_bubbles)
    if len(shaped) <= limit or not more_id:
        return shaped, []
    shown, last, held = shaped[: limit - 1], shaped[limit - 1], shaped[limit:]
    if last[0] == "text" and len(last[1]["body"]) <= BODY_LIMIT:
        more = buttons_content(last[1]["body"], [(more_id, MORE_TITLE)])
    else:
        held = [last, *held]
        more = buttons_content("…", [(more_id, MORE_TITLE)])
    return [*shown, ("interactive", more)], held
