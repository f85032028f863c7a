"""Which provider serves an agent's settings, built once per settings and kept in the process.

The SDK-backed providers are imported when first needed, not at import time: the web process, which never
calls a model, then never loads the SDKs (about 60 MB).
"""

from __future__ import annotations

import hashlib
import threading

from agents_app.providers.base import LLMProvider

_PROVIDERS: dict[tuple, LLMProvider] = {}
_PROVIDERS_LOCK = threading.Lock()
_PROVIDERS_MAX = 64


def provider_for(
    *, kind: str, model: str, api_key: str, base_url: str = "", transcription_model: str = ""
) -> LLMProvider:
    """The provider for an agent's settings. `kind` is "openai" (any OpenAI-compatible server) or "anthropic".

    Providers are kept per settings in the process: building an SDK client loads the TLS bundle
    (20-30 ms) and a kept client reuses its connections to the model server.
    """
    key = (kind, model, hashlib.sha256(api_key.encode()).hexdigest(), base_url, transcription_model)
    # Built under the lock (cheap: the SDK client comes on first use), so a burst of turns shares one provider
    # and its connection pool instead of each building its own.
    with _PROVIDERS_LOCK:
        provider = _PROVIDERS.get(key)
        if provider is None:
            provider = _provider_build(
                kind=kind, model=model, api_key=api_key, base_url=base_url, transcription_model=transcription_model
            )
            if len(_PROVIDERS) >= _PROVIDERS_MAX:
                _PROVIDERS.clear()
            _PROVIDERS[key] = provider
    return provider


def providers_preload() -> None:
    """Import both SDK-backed providers now. The Celery worker calls this before its pool forks, so the
    task processes share one copy of the SDKs (about 60 MB) instead of each importing its own on its
    first agent turn."""
    from agents_app.providers.anthropic_provider import AnthropicProvider  # start-up cost: see the module
    from agents_app.providers.openai_compatible import OpenAICompatibleProvider

    # Building a client pulls in the SDKs' lazily imported resources and the TLS bundle.
    openai_client = OpenAICompatibleProvider(
        model="preload", api_key="preload", base_url="http://127.0.0.1:9/v1"
    )._sdk()
    openai_client.chat.completions, openai_client.audio.transcriptions  # noqa: B018
    AnthropicProvider(model="preload", api_key="preload", base_url="http://127.0.0.1:9")._sdk().messages  # noqa: B018


def _provider_build(*, kind: str, model: str, api_key: str, base_url: str, transcription_model: str) -> LLMProvider:
    if kind == "openai":
        from agents_app.providers.openai_compatible import OpenAICompatibleProvider  # start-up cost: see the module

        return OpenAICompatibleProvider(
            model=model, api_key=api_key, base_url=base_url, transcription_model=transcription_model
        )
    if kind == "anthropic":
        from agents_app.providers.anthropic_provider import AnthropicProvider  # start-up cost: see the module

        return AnthropicProvider(model=model, api_key=api_key, base_url=base_url)
    raise ValueError(f"Unknown LLM provider kind {kind!r}: expected 'openai' or 'anthropic'.")
