"""Chat completions and speech-to-text over the OpenAI API, or any server that speaks it.

`base_url` points at OpenAI itself (left empty), an Azure-style gateway, Ollama, vLLM or a
llama.cpp server, e.g. "http://localhost:11434/v1". Local servers usually need no key; we then
send a placeholder, because the SDK refuses to start without one.
"""

from __future__ import annotations

import base64
import json
import threading
import time

import openai

from agents_app.providers.base import (
    ChatMessage,
    Completion,
    ErrorKind,
    ProviderError,
    ToolCall,
    ToolSpec,
    not_json_error,
    sdk_error_translate,
    tool_arguments_parse,
)
from whatsapp_platform.deadlines import DeadlineExceeded, total_deadline
from whatsapp_platform.deadlines_httpx import deadline_http_client

OPENAI_BASE_URL = "https://api.openai.com/v1"
# Gemini's OpenAI-compatible endpoint: https://ai.google.dev/gemini-api/docs/openai
GEMINI_BASE_URL = "https://generativelanguage.googleapis.com/v1beta/openai"
DEFAULT_TRANSCRIPTION_MODEL = "whisper-1"
# Sent as the bearer token to keyless local servers (Ollama, llama.cpp); they ignore it.
NO_KEY_PLACEHOLDER = "no-key"
# The client's own timeout; every request passes the caller's.
CLIENT_TIMEOUT_SECONDS = 60.0


class OpenAICompatibleProvider:
    def __init__(self, *, model: str, api_key: str, base_url: str = "", transcription_model: str = ""):
        self.model = model.strip()
        self.api_key = api_key.strip()
        # Always explicit: left to the SDK, an empty base_url would follow OPENAI_BASE_URL from our environment.
        self.base_url = base_url.strip().rstrip("/") or OPENAI_BASE_URL
        self.transcription_model = transcription_model.strip() or DEFAULT_TRANSCRIPTION_MODEL
        self._client: openai.OpenAI | None = None
        # Dozens of turns may ask at once for the first client: one is built, and its connection pool shared.
        self._client_lock = threading.Lock()

    @property
    def _is_openai(self) -> bool:
        return self.base_url == OPENAI_BASE_URL

    @property
    def _where(self) -> str:
        return f"The OpenAI-compatible server at {self.base_url}"

    def complete(
        self,
        *,
        system: str,
        messages: list[ChatMessage],
        tools: list[ToolSpec],
        temperature: float,
        max_output_tokens: int,
        timeout_seconds: float,
    ) -> Completion:
        if not self.model:
            raise ProviderError("No model is set for this agent.", kind=ErrorKind.BAD_REQUEST)
        params: dict = {
            "model": self.model,
            "messages": wire_messages(system, messages),
            "temperature": temperature,
        }
        # OpenAI deprecated max_tokens (its reasoning models reject it); the servers people run
        # themselves all understand max_tokens and not all of them the newer name.
        params["max_completion_tokens" if self._is_openai else "max_tokens"] = max_output_tokens
        if tools:
            # An empty tools list (or tool_choice without tools) is a 400 on several servers.
            params["tools"] = [wire_tool(spec) for spec in tools]
            params["tool_choice"] = "auto"
        started = time.monotonic()
        try:
            with total_deadline(timeout_seconds):
                response = self._sdk().chat.completions.create(**params, timeout=timeout_seconds)
        except (openai.OpenAIError, DeadlineExceeded) as exc:
            raise self._error(exc, timeout_seconds) from exc
        latency_ms = round((time.monotonic() - started) * 1000, 1)
        if isinstance(response, str):
            raise not_json_error(self._where)
        if not response.choices:
            raise ProviderError(f"{self._where} answered without any choices.", kind=ErrorKind.INVALID_RESPONSE)
        message = response.choices[0].message
        tool_calls = [
            ToolCall(
                id=call.id or f"call_{index}",
                name=call.function.name,
                arguments=tool_arguments_parse(call.function.arguments, tool_name=call.function.name),
            )
            for index, call in enumerate(message.tool_calls or [])
            # We offer function tools only; some servers leave out the "type" field, so look for "function".
            if getattr(call, "function", None) is not None
        ]
        usage = response.usage
        # OpenAI caches long prompts by itself and counts the tokens read from the cache inside prompt_tokens.
        details = getattr(usage, "prompt_tokens_details", None) if usage else None
        cached = (getattr(details, "cached_tokens", 0) or 0) if details else 0
        return Completion(
            text=(message.content or message.refusal or "").strip(),
            tool_calls=tool_calls,
            input_tokens=max(0, usage.prompt_tokens - cached) if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
            model=response.model or self.model,
            latency_ms=latency_ms,
            raw=response.to_dict(mode="json"),
            cache_read_tokens=cached,
        )

    def transcribe(self, *, audio: bytes, mime_type: str, filename: str, timeout_seconds: float) -> str:
        try:
            with total_deadline(timeout_seconds):
                response = self._sdk().audio.transcriptions.create(
                    model=self.transcription_model,
                    file=(filename, audio, mime_type),
                    timeout=timeout_seconds,
                )
        except (openai.OpenAIError, DeadlineExceeded) as exc:
            raise self._error(exc, timeout_seconds) from exc
        if isinstance(response, str):
            raise not_json_error(self._where)
        return (getattr(response, "text", "") or "").strip()

    def _error(self, exc: openai.OpenAIError | DeadlineExceeded, timeout_seconds: float) -> ProviderError:
        return sdk_error_translate(
            exc,
            sdk=openai,
            where=self._where,
            timeout_seconds=timeout_seconds,
            not_found_hint=" (OpenAI-compatible servers usually expect it to end in /v1)",
        )

    def _sdk(self) -> openai.OpenAI:
        if not self.api_key and self._is_openai:
            raise ProviderError("No OpenAI API key is set for this agent.", kind=ErrorKind.AUTH)
        with self._client_lock:
            if self._client is None:
                self._client = self._client_build()
        return self._client

    def _client_build(self) -> openai.OpenAI:
        return openai.OpenAI(
            api_key=self.api_key or NO_KEY_PLACEHOLDER,
            base_url=self.base_url,
            timeout=CLIENT_TIMEOUT_SECONDS,
            max_retries=0,
            http_client=deadline_http_client(timeout=CLIENT_TIMEOUT_SECONDS),
        )


class AzureOpenAIProvider(OpenAICompatibleProvider):
    """Azure OpenAI: `base_url` is the resource's endpoint (https://<resource>.openai.azure.com), `model` the
    deployment's name, and every request carries the API version, as Azure requires."""

    def __init__(self, *, model: str, api_key: str, base_url: str, api_version: str, transcription_model: str = ""):
        super().__init__(model=model, api_key=api_key, base_url=base_url, transcription_model=transcription_model)
        self.api_version = api_version.strip()

    @property
    def _where(self) -> str:
        return f"Azure OpenAI at {self.base_url} (API version {self.api_version})"

    def _sdk(self) -> openai.OpenAI:
        if not self.api_key:
            raise ProviderError("No Azure OpenAI API key is set for this agent.", kind=ErrorKind.AUTH)
        if not self.api_version:
            raise ProviderError("No Azure OpenAI API version is set for this agent.", kind=ErrorKind.BAD_REQUEST)
        return super()._sdk()

    def _client_build(self) -> openai.AzureOpenAI:
        return openai.AzureOpenAI(
            api_key=self.api_key,
            azure_endpoint=self.base_url,
            api_version=self.api_version,
            timeout=CLIENT_TIMEOUT_SECONDS,
            max_retries=0,
            http_client=deadline_http_client(timeout=CLIENT_TIMEOUT_SECONDS),
        )


def wire_tool(spec: ToolSpec) -> dict:
    return {
        "type": "function",
        "function": {"name": spec.name, "description": spec.description, "parameters": spec.parameters},
    }


def wire_messages(system: str, messages: list[ChatMessage]) -> list[dict]:
    """Our messages as chat-completions messages, the system prompt first."""
    wire: list[dict] = [{"role": "system", "content": system}] if system else []
    for message in messages:
        if message.role == "tool":
            wire.append({"role": "tool", "tool_call_id": message.tool_call_id or "", "content": message.content})
        elif message.role == "assistant":
            entry: dict = {"role": "assistant", "content": message.content}
            if message.tool_calls:
                # Per the API, an assistant turn that only calls tools has null content.
                entry["content"] = message.content or None
                entry["tool_calls"] = [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
                    }
                    for call in message.tool_calls
                ]
            wire.append(entry)
        elif message.images:
            parts: list[dict] = [{"type": "text", "text": message.content}] if message.content else []
            parts += [
                {"type": "image_url", "image_url": {"url": data_url(image.data, image.mime_type)}}
                for image in message.images
            ]
            wire.append({"role": message.role, "content": parts})
        else:
            wire.append({"role": message.role, "content": message.content})
    return wire


def data_url(data: bytes, mime_type: str) -> str:
    return f"data:{mime_type};base64,{base64.b64encode(data).decode('ascii')}"
