"""The prompt's token budget (`Agent.prompt_token_budget`): what of a turn's context is sent to the model.

Tokens are estimated, not counted (every provider tokenises differently and none is called to count):
one token per BYTES_PER_TOKEN bytes of UTF-8, which overestimates English (about 4 characters a token) and
roughly matches scripts whose characters take 2-3 bytes, so the budget errs on the cheap side.

What is kept, in order: the system message and the tools offered (the business's own text; past three
quarters of the budget its tail, the retrieved knowledge, is cut), then the conversation newest first,
each message whole while it fits; the first that does not is cut to what is left, and older ones are
left out. A document's text is given in full only in the turn it arrives; later turns see its start
(`document_recalled`), so one file is not paid for again in every turn after it.
"""

import json
from dataclasses import asdict, replace

from agents_app.providers.base import ChatMessage, ToolSpec

BYTES_PER_TOKEN = 3
# Each message costs a few tokens of framing (role, separators) besides its text.
MESSAGE_OVERHEAD_TOKENS = 4
# A tool offered costs its JSON and the provider's wrapping of it ({"type": "function", ...}).
TOOL_OVERHEAD_TOKENS = 16
# Below this, a cut message would be a meaningless fragment: it is left out instead.
SMALLEST_CUT_TOKENS = 32
EARLIER_DOCUMENT_CHARS = 600


def tokens_estimate(text: str) -> int:
    return -(-len(text.encode()) // BYTES_PER_TOKEN)


def document_recalled(text: str) -> str:
    """A document's text as turns after the one it arrived in see it: its start and how much was left out."""
    if len(text) <= EARLIER_DOCUMENT_CHARS:
        return text
    left_out = len(text) - EARLIER_DOCUMENT_CHARS
    return (
        f"{text[:EARLIER_DOCUMENT_CHARS]} … [{left_out} more characters of this document are not repeated; "
        "its full text was given when the customer sent it]"
    )


def prompt_fit(
    *, system: str, chat: list[ChatMessage], tools: list[ToolSpec], budget: int
) -> tuple[str, list[ChatMessage]]:
    """The system message and conversation to send, within `budget` estimated tokens (see the module)."""
    tools_cost = sum(tokens_estimate(json.dumps(asdict(t))) + TOOL_OVERHEAD_TOKENS for t in tools)
    system_room = max(SMALLEST_CUT_TOKENS, budget * 3 // 4 - tools_cost)
    if tokens_estimate(system) > system_room:
        system = _cut(system, system_room, what="the rest of the instructions and knowledge")
    room = budget - tools_cost - tokens_estimate(system)
    kept: list[ChatMessage] = []
    for message in reversed(chat):
        cost = tokens_estimate(message.content) + MESSAGE_OVERHEAD_TOKENS
        if cost <= room:
            kept.append(message)
            room -= cost
            continue
        if room - MESSAGE_OVERHEAD_TOKENS >= SMALLEST_CUT_TOKENS or not kept:
            # The newest message always goes, however little room the instructions left it.
            room_for_text = max(SMALLEST_CUT_TOKENS, room - MESSAGE_OVERHEAD_TOKENS)
            kept.append(replace(message, content=_cut(message.content, room_for_text, what="the rest")))
        break
    return system, kept[::-1]


def _cut(text: str, tokens: int, *, what: str) -> str:
    note = f" … [{what} left out to fit the prompt budget]"
    keep_bytes = max(0, (tokens - tokens_estimate(note)) * BYTES_PER_TOKEN)
    return text.encode()[:keep_bytes].decode(errors="ignore") + note
