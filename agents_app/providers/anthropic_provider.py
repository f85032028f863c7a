"""Claude through Anthropic's Messages API.

Since SDK 2.0 the client speaks API version 2026-10-21, which rejects `temperature`, `top_p` and
`top_k` (even at their defaults) with a 400. The SDK no longer accepts them, and we don't sneak
them in through `extra_body`: an agent's temperature is ignored here.
"""

from __future__ import annotations

import base64
import threading
import time

import anthropic

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

ANTHROPIC_BASE_URL = "https://api.anthropic.com"
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
NO_KEY_PLACEHOLDER = "no-key"
CLIENT_TIMEOUT_SECONDS = 60.0
CACHE_EPHEMERAL = {"type": "ephemeral"}


class AnthropicProvider:
    def __init__(self, *, model: str, api_key: str, base_url: str = ""):
        self.model = model.strip()
        self.api_key = api_key.strip()
        # Always explicit: left to the SDK, an empty base_url would follow ANTHROPIC_BASE_URL from our environment.
        self.base_url = base_url.strip().rstrip("/") or ANTHROPIC_BASE_URL
        self._client: anthropic.Anthropic | None = None
        # Dozens of turns may ask at once for the first client: one is built, and its connection pool shared.
        self._client_lock = threading.Lock()

    @property
    def _where(self) -> str:
        return f"The Anthropic API at {self.base_url}"

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
        extra_system, wire = wire_messages(messages)
        params: dict = {
            "model": self.model,
            "messages": wire,
            "max_tokens": max_output_tokens,
        }
        system = "\n\n".join(filter(None, [system, *extra_system]))
        # Prompt caching: the tools and the system prompt are the same from one turn of an agent to the next,
        # so a cache breakpoint after each lets later calls (tool rounds, the next customer) read them from the
        # cache at a tenth of the input price. Prompts under the model's minimum (1024 tokens for most) are
        # simply not cached; the API does not reject the marker.
        if system:
            params["system"] = [{"type": "text", "text": system, "cache_control": CACHE_EPHEMERAL}]
        if tools:
            params["tools"] = [
                {"name": spec.name, "description": spec.description, "input_schema": spec.parameters} for spec in tools
            ]
            params["tools"][-1]["cache_control"] = CACHE_EPHEMERAL
        started = time.monotonic()
        try:
            with total_deadline(timeout_seconds):
                response = self._sdk().messages.create(**params, timeout=timeout_seconds)
        except (anthropic.AnthropicError, DeadlineExceeded) as exc:
            raise sdk_error_translate(exc, sdk=anthropic, where=self._where, timeout_seconds=timeout_seconds) from exc
        latency_ms = round((time.monotonic() - started) * 1000, 1)
        if isinstance(response, str):
            raise not_json_error(self._where)
        if response.content is None:
            raise ProviderError(f"{self._where} answered without any content.", kind=ErrorKind.INVALID_RESPONSE)
        blocks = response.content
        texts = [block.text for block in blocks if block.type == "text" and block.text]
        tool_calls = [
            ToolCall(id=block.id, name=block.name, arguments=tool_arguments_parse(block.input, tool_name=block.name))
            for block in blocks
            if block.type == "tool_use"
        ]
        usage = response.usage
        return Completion(
            text="\n\n".join(texts).strip(),
            tool_calls=tool_calls,
            input_tokens=(usage.input_tokens or 0) if usage else 0,
            output_tokens=(usage.output_tokens or 0) if usage else 0,
            model=response.model or self.model,
            latency_ms=latency_ms,
            raw=response.to_dict(mode="json"),
            # Anthropic's input_tokens already leaves out the cached tokens.
            cache_read_tokens=(getattr(usage, "cache_read_input_tokens", 0) or 0) if usage else 0,
            cache_write_tokens=(getattr(usage, "cache_creation_input_tokens", 0) or 0) if usage else 0,
        )

    def transcribe(self, *, audio: bytes, mime_type: str, filename: str, timeout_seconds: float) -> str:
        raise ProviderError(
            "Anthropic has no speech-to-text: voice notes need an OpenAI-compatible transcription provider.",
            kind=ErrorKind.UNSUPPORTED,
        )

    def _sdk(self) -> anthropic.Anthropic:
        if not self.api_key and self.base_url == ANTHROPIC_BASE_URL:
            raise ProviderError("No Anthropic API key is set for this agent.", kind=ErrorKind.AUTH)
        with self._client_lock:
            if self._client is None:
                self._client = self._client_build()
        return self._client

    def _client_build(self) -> anthropic.Anthropic:
        # An explicit api_key also stops the SDK from looking for credentials in our
        # environment and in ~/.config/anthropic profiles.
        return anthropic.Anthropic(
            api_key=self.api_key or NO_KEY_PLACEHOLDER,
            base_url=self.base_url,
            timeout=CLIENT_TIMEOUT_SECONDS,
            max_retries=0,
            http_client=deadline_http_client(timeout=CLIENT_TIMEOUT_SECONDS),
        )


class BedrockAnthropicProvider(AnthropicProvider):
    """Claude on Amazon Bedrock, authenticated with a Bedrock API key (sent as a bearer token).

    The SDK's other route, AWS access keys signed with SigV4, needs botocore, which is not installed;
    `model` is the Bedrock model id, e.g. anthropic.claude-sonnet-4-5-20250929-v1:0.
    """

    def __init__(self, *, model: str, api_key: str, region: str, base_url: str = ""):
        self.region = region.strip()
        super().__init__(
            model=model, api_key=api_key, base_url=base_url or f"https://bedrock-runtime.{self.region}.amazonaws.com"
        )

    @property
    def _where(self) -> str:
        return f"Amazon Bedrock ({self.region}) at {self.base_url}"

    def _sdk(self) -> anthropic.Anthropic:
        if not self.api_key:
            raise ProviderError("No Bedrock API key is set for this agent.", kind=ErrorKind.AUTH)
        if not self.region:
            raise ProviderError("No AWS region is set for this agent.", kind=ErrorKind.BAD_REQUEST)
        return super()._sdk()

    def _client_build(self) -> anthropic.AnthropicBedrock:
        return anthropic.AnthropicBedrock(
            api_key=self.api_key,
            aws_region=self.region,
            base_url=self.base_url,
            timeout=CLIENT_TIMEOUT_SECONDS,
            max_retries=0,
            http_client=deadline_http_client(timeout=CLIENT_TIMEOUT_SECONDS),
        )


class VertexAnthropicProvider(AnthropicProvider):
    """Claude on Google Vertex AI, authenticated with an OAuth access token given as the agent's key.

    Application Default Credentials (and refreshing the token) need google-auth, which is not installed:
    the token given is used as it is, so it must be renewed before it expires.
    """

    def __init__(self, *, model: str, api_key: str, region: str, project_id: str, base_url: str = ""):
        self.region = region.strip()
        self.project_id = project_id.strip()
        super().__init__(model=model, api_key=api_key, base_url=base_url or vertex_base_url(self.region))

    @property
    def _where(self) -> str:
        return f"Vertex AI ({self.project_id}, {self.region}) at {self.base_url}"

    def _sdk(self) -> anthropic.Anthropic:
        if not self.api_key:
            raise ProviderError("No Google Cloud access token is set for this agent.", kind=ErrorKind.AUTH)
        if not (self.region and self.project_id):
            raise ProviderError("Vertex needs a region and a project.", kind=ErrorKind.BAD_REQUEST)
        return super()._sdk()

    def _client_build(self) -> anthropic.AnthropicVertex:
        return anthropic.AnthropicVertex(
            access_token=self.api_key,
            region=self.region,
            project_id=self.project_id,
            base_url=self.base_url,
            timeout=CLIENT_TIMEOUT_SECONDS,
            max_retries=0,
            http_client=deadline_http_client(timeout=CLIENT_TIMEOUT_SECONDS),
        )


def vertex_base_url(region: str) -> str:
    """Vertex's endpoint for a region, as the SDK picks it."""
    if region in ("global", ""):
        return "https://aiplatform.googleapis.com/v1"
    if region in ("us", "eu"):
        return f"https://aiplatform.{region}.rep.googleapis.com/v1"
    return f"https://{region}-aiplatform.googleapis.com/v1"


def wire_messages(messages: list[ChatMessage]) -> tuple[list[str], list[dict]]:
    """Our messages as Messages API turns, plus any system texts found among them.

    Tool results become `tool_result` blocks in a user turn, and consecutive turns of one role are
    merged into one: the API wants every result of an assistant's tool calls in the single user turn
    that follows it, results first.
    """
    system: list[str] = []
    wire: list[dict] = []
    for message in messages:
        if message.role == "system":
            system.append(message.content)
            continue
        if message.role == "tool":
            role = "user"
            blocks = [{"type": "tool_result", "tool_use_id": message.tool_call_id or "", "content": message.content}]
        elif message.role == "assistant":
            role = "assistant"
            blocks = [{"type": "text", "text": message.content}] if message.content.strip() else []
            blocks += [
                {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
                for call in message.tool_calls
            ]
        else:
            role = "user"
            # Images before the text they illustrate, as Anthropic recommends.
            blocks = [image_block(image.data, image.mime_type) for image in message.images]
            if message.content.strip():
                blocks.append({"type": "text", "text": message.content})
        if not blocks:
            continue  # the API rejects empty text blocks and empty turns
        if wire and wire[-1]["role"] == role:
            wire[-1]["content"].extend(blocks)
        else:
            wire.append({"role": role, "content": blocks})
    for turn in wire:
        # Tool results must open the user turn that answers the tool calls.
        turn["content"].sort(key=lambda block: block["type"] != "tool_result")
    if wire and wire[0]["role"] == "assistant":
        # A WhatsApp history window can open on one of our own messages; the conversation given to
        # the model must open with the customer, so mark where the window starts.
        wire.insert(0, {"role": "user", "content": [{"type": "text", "text": "[earlier messages omitted]"}]})
    return system, wire


def image_block(data: bytes, mime_type: str) -> dict:
    media_type = "image/jpeg" if mime_type == "image/jpg" else mime_type
    if media_type not in IMAGE_TYPES:
        return {"type": "text", "text": f"[an image in {mime_type} format, which cannot be shown to the model]"}
    return {
        "type": "image",
        "source": {"type": "base64", "media_type": media_type, "data": base64.b64encode(data).decode("ascii")},
    }
