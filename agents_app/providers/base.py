"""The one interface through which the project talks to a language model.

Nothing outside `agents_app/providers/` imports an LLM SDK. Callers build `ChatMessage`s and
`ToolSpec`s, call `registry.provider_for(...)` and then `complete(...)` / `transcribe(...)`; every failure
comes back as a `ProviderError` whose message a workspace owner can act on and whose `retryable`
says whether trying again could help. Retrying is the caller's business: the SDKs are built with
`max_retries=0`.

`provider_for` never raises `ProviderError` (only `ValueError` for a kind it does not know), so a
caller can build a provider outside its error handling; a missing key or model surfaces on the
first call instead.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, Protocol, runtime_checkable

from whatsapp_platform.deadlines import DeadlineExceeded

logger = logging.getLogger(__name__)

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True)
class ImageInput:
    data: bytes
    mime_type: str


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: dict


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict  # a JSON schema for the arguments object


@dataclass
class ChatMessage:
    """One turn of the conversation as we keep it, whatever the provider.

    An assistant message that asked for tools carries `tool_calls`; each result goes back as a
    `role="tool"` message with the matching `tool_call_id` (and the tool's `name`).
    """

    role: Role
    content: str
    images: list[ImageInput] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None


@dataclass
class Completion:
    text: str
    tool_calls: list[ToolCall]
    input_tokens: int
    output_tokens: int
    model: str
    latency_ms: float
    raw: dict  # the provider's response as JSON, for the run log
    # Prompt caching: input tokens read from the cache and written to it. `input_tokens` counts only the
    # rest (billed at the full price), whatever the provider's own convention.
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


class ErrorKind(StrEnum):
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    AUTH = "auth"
    RATE_LIMIT = "rate_limit"
    BAD_REQUEST = "bad_request"
    SERVER = "server"
    INVALID_RESPONSE = "invalid_response"
    UNSUPPORTED = "unsupported"


RETRYABLE_KINDS = frozenset({ErrorKind.TIMEOUT, ErrorKind.CONNECTION, ErrorKind.RATE_LIMIT, ErrorKind.SERVER})


class ProviderError(Exception):
    """A model call failed. `str(error)` is written for the person who configured the agent."""

    def __init__(
        self, message: str, *, kind: ErrorKind | str, status: int | None = None, retryable: bool | None = None
    ):
        super().__init__(message)
        self.message = message
        self.kind = ErrorKind(kind)
        self.status = status
        self.retryable = self.kind in RETRYABLE_KINDS if retryable is None else retryable


@runtime_checkable
class LLMProvider(Protocol):
    def complete(
        self,
        *,
        system: str,
        messages: list[ChatMessage],
        tools: list[ToolSpec],
        temperature: float,
        max_output_tokens: int,
        timeout_seconds: float,
    ) -> Completion: ...

    def transcribe(self, *, audio: bytes, mime_type: str, filename: str, timeout_seconds: float) -> str:
        """Speech to text; raises ProviderError(kind="unsupported") where the provider has none."""
        ...


# --- helpers shared by the SDK-backed providers ------------------------------------------------


def tool_arguments_parse(raw: Any, *, tool_name: str) -> dict:
    """A tool call's arguments as a dict. Models do emit broken JSON now and then; the tool then sees {}."""
    if isinstance(raw, dict):
        return raw
    try:
        parsed = json.loads(raw or "{}")
    except (TypeError, ValueError):
        logger.warning("model sent unparsable tool arguments", extra={"tool": tool_name, "arguments": str(raw)[:500]})
        return {}
    return parsed if isinstance(parsed, dict) else {}


def sdk_error_translate(
    exc: Exception, *, sdk: Any, where: str, timeout_seconds: float, not_found_hint: str = ""
) -> ProviderError:
    """Map an `openai` or `anthropic` SDK exception to a ProviderError.

    Both SDKs are generated from the same template and share class names, so `sdk` is the module.
    `where` names the server for the message, e.g. "The OpenAI-compatible server at http://…/v1";
    `not_found_hint` is added to a 404's message after "Check the model name and the base URL".
    """
    if isinstance(exc, sdk.APITimeoutError | DeadlineExceeded):
        return ProviderError(f"{where} did not answer within {timeout_seconds:g} seconds.", kind=ErrorKind.TIMEOUT)
    if isinstance(exc, sdk.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        reason = f"{type(cause).__name__}: {cause}" if cause else exc.message
        return ProviderError(f"{where} could not be reached ({reason}).", kind=ErrorKind.CONNECTION)
    if isinstance(exc, sdk.APIStatusError):
        return status_error(
            where=where,
            status=exc.status_code,
            body=exc.body,
            headers=exc.response.headers,
            not_found_hint=not_found_hint,
        )
    if isinstance(exc, sdk.APIResponseValidationError):
        message = f"{where} sent a response we could not read: {exc.message}"
        return ProviderError(message, kind=ErrorKind.INVALID_RESPONSE)
    return ProviderError(f"{where}: {exc}", kind=ErrorKind.BAD_REQUEST)


def not_json_error(where: str) -> ProviderError:
    # The SDKs hand back a bare string when a 200 answer is not JSON: typically a web page.
    return ProviderError(
        f"{where} answered with something other than JSON. Check the base URL: it should be the API's, not a web page.",
        kind=ErrorKind.INVALID_RESPONSE,
    )


_HINTS = {
    ErrorKind.AUTH: "Check the agent's API key.",
    ErrorKind.RATE_LIMIT: "The account is over its rate or spending limit.",
}


def status_error(
    *, where: str, status: int, body: object, headers: Any = None, not_found_hint: str = ""
) -> ProviderError:
    if status in (401, 403):
        kind = ErrorKind.AUTH
    elif status == 408:
        kind = ErrorKind.TIMEOUT
    elif status == 429:
        kind = ErrorKind.RATE_LIMIT
    elif status == 409 or status >= 500:
        # Both SDKs retry 409 (a lock conflict on the provider's side) by default; so do we.
        kind = ErrorKind.SERVER
    else:
        kind = ErrorKind.BAD_REQUEST
    message = f"{where} answered {status}: {_error_detail(body)}"
    hint = _HINTS.get(kind)
    if status == 404:
        hint = f"Check the model name and the base URL{not_found_hint}."
    retry_after = headers.get("retry-after") if headers is not None else None
    if kind == ErrorKind.RATE_LIMIT and retry_after:
        hint = f"{hint} The server asks to retry after {retry_after} seconds."
    if hint:
        message = f"{message.rstrip('.')}. {hint}"
    return ProviderError(message, kind=kind, status=status)


def _error_detail(body: object) -> str:
    """The human part of an error body; OpenAI, Anthropic, vLLM, Ollama and llama.cpp each nest it differently."""
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str) and error:
            return error
        if body.get("message"):
            return str(body["message"])
        return json.dumps(body)[:300]
    if isinstance(body, str) and body.strip():
        return body.strip()[:300]
    return "no details given"
