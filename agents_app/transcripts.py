"""Speech to text for voice notes, through the agent's own model provider.

Only OpenAI-compatible agents transcribe (with the provider's default transcription model,
whisper-1); Anthropic has no speech-to-text and the offline knowledge-base agent has no provider.
"""

import logging

from agents_app.models import Agent
from agents_app.providers.base import ErrorKind, ProviderError
from agents_app.providers.registry import provider_for
from whatsapp_platform.db import connection_lend

logger = logging.getLogger(__name__)

# OpenAI refuses uploads above 25 MB; a longer recording fails the same way everywhere.
MAX_AUDIO_BYTES = 25 * 1024 * 1024


class TranscriptUnavailable(Exception):
    """No transcript. `str(error)` says why, for the model; `lasting` is False when a later try could work."""

    def __init__(self, reason: str, *, lasting: bool):
        super().__init__(reason)
        self.lasting = lasting


def agent_transcribes(agent: Agent | None) -> bool:
    return agent is not None and agent.provider == Agent.Provider.OPENAI_COMPATIBLE


def audio_transcribe(*, agent: Agent | None, audio: bytes, mime_type: str, filename: str) -> str:
    """The words spoken in `audio`, or TranscriptUnavailable. Makes one provider call and never retries:
    the customer is waiting for the turn this runs in."""
    if not agent_transcribes(agent):
        raise TranscriptUnavailable("this agent's model provider has no speech-to-text", lasting=True)
    if len(audio) > MAX_AUDIO_BYTES:
        raise TranscriptUnavailable(f"it is longer than {MAX_AUDIO_BYTES // (1024 * 1024)} MB", lasting=True)
    provider = provider_for(kind=agent.provider, model=agent.model, api_key=agent.api_key, base_url=agent.base_url)
    connection_lend()  # no connection held while the recording is transcribed
    try:
        text = provider.transcribe(
            audio=audio,
            mime_type=mime_type.split(";")[0].strip() or "application/octet-stream",
            filename=filename,
            timeout_seconds=agent.request_timeout_seconds,
        )
    except ProviderError as exc:
        logger.warning(
            "voice note not transcribed", extra={"agent_id": agent.pk, "kind": str(exc.kind), "error": exc.message}
        )
        reason = "speech-to-text is not available" if exc.kind == ErrorKind.UNSUPPORTED else "speech-to-text failed"
        raise TranscriptUnavailable(reason, lasting=not exc.retryable) from exc
    if not text.strip():
        raise TranscriptUnavailable("no speech could be heard in it", lasting=True)
    return text.strip()
