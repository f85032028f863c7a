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
    *,
    kind: str,
    model: str,
    api_key: str,
    base_url: str = "",
    transcription_model: str = "",
    api_version: str = "",
    region: str = "",
    project_id: str = "",
) -> LLMProvider:
    """The provider for an agent's settings. `kind` is "openai" (any OpenAI-compatible server), "anthropic",
    or a cloud preset: "azure_openai" (needs api_version), "bedrock" (region), "vertex" (region, project_id),
    "gemini" (Gemini's OpenAI-compatible endpoint).

    Providers are kept per settings in the process: building an SDK client loads the TLS bundle
    (20-30 ms) and a kept client reuses its connections to the model server.
    """
    options = {"api_version": api_version, "region": region, "project_id": project_id}
    key = (kind, model, hashlib.sha256(api_key.encode()).hexdigest(), base_url, transcription_model, *options.values())
    # Built under the lock (cheap: the SDK client comes on first use), so a burst of turns shares one provider
    # and its connection pool instead of each building its own.
    with _PROVIDERS_LOCK:
        provider = _PROVIDERS.get(key)
        if provider is None:
            provider = _provider_build(
                kind=kind,
                model=model,
                api_key=api_key,
                base_url=base_url,
                transcription_model=transcription_model,
                **options,
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


def _provider_build(
    *,
    kind: str,
    model: str,
    api_key: str,
    base_url: str,
    transcription_model: str,
    api_version: str,
    region: str,
    project_id: str,
) -> LLMProvider:
    # The SDK-backed modules are imported here, when first needed: start-up cost, see the module's docstring.
    if kind in ("openai", "gemini", "azure_openai"):
        from agents_app.providers import openai_compatible

        if kind == "azure_openai":
            return openai_compatible.AzureOpenAIProvider(
                model=model,
                api_key=api_key,
                base_url=base_url,
                api_version=api_version,
                transcription_model=transcription_model,
            )
        if kind == "gemini":
            base_url = base_url or openai_compatible.GEMINI_BASE_URL
        return openai_compatible.OpenAICompatibleProvider(
            model=model, api_key=api_key, base_url=base_url, transcription_model=transcription_model
        )
    if kind in ("anthropic", "bedrock", "vertex"):
        from agents_app.providers import anthropic_provider

        if kind == "bedrock":
            return anthropic_provider.BedrockAnthropicProvider(
                model=model, api_key=api_key, region=region, base_url=base_url
            )
        if kind == "vertex":
            return anthropic_provider.VertexAnthropicProvider(
                model=model, api_key=api_key, region=region, project_id=project_id, base_url=base_url
            )
        return anthropic_provider.AnthropicProvider(model=model, api_key=api_key, base_url=base_url)
    raise ValueError(
        f"Unknown LLM provider kind {kind!r}: expected openai, anthropic, azure_openai, bedrock, vertex or gemini."
    )
