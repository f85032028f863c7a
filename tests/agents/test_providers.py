"""The LLM providers against loopback servers that speak the OpenAI and Anthropic APIs over real HTTP."""

import base64
import json
import time

import pytest

from agents_app.providers.base import ChatMessage, ImageInput, ProviderError, ToolCall, ToolSpec
from agents_app.providers.registry import provider_for
from tests.agents.llm_servers import anthropic_server, openai_server  # noqa: F401

BUTTONS = ToolSpec(
    name="send_buttons",
    description="Send a question with reply buttons.",
    parameters={
        "type": "object",
        "properties": {"text": {"type": "string"}, "buttons": {"type": "array", "items": {"type": "string"}}},
        "required": ["text", "buttons"],
    },
)
LOOKUP = ToolSpec(
    name="order_lookup",
    description="Find an order by its number.",
    parameters={"type": "object", "properties": {"number": {"type": "string"}}, "required": ["number"]},
)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def _complete(provider, messages, *, system="You are Ana from Bolo Bakery.", tools=(), timeout=5.0, **kw):
    return provider.complete(
        system=system,
        messages=messages,
        tools=list(tools),
        temperature=kw.get("temperature", 0.3),
        max_output_tokens=kw.get("max_output_tokens", 600),
        timeout_seconds=timeout,
    )


def _customer(text, **kw):
    return ChatMessage(role="user", content=text, **kw)


@pytest.fixture
def gpt(openai_server):  # noqa: F811
    return provider_for(kind="openai", model="gpt-5.5-mini", api_key="sk-test", base_url=openai_server.base_url)


@pytest.fixture
def claude(anthropic_server):  # noqa: F811
    return provider_for(
        kind="anthropic", model="claude-sonnet-5-5", api_key="sk-ant-test", base_url=anthropic_server.base_url
    )


# --- OpenAI-compatible ---------------------------------------------------------------------------


def test_openai_sends_the_prompt_as_chat_completions_json_and_reads_the_answer(gpt, openai_server):  # noqa: F811
    openai_server.reply_text("We open at 8 ☀️", input_tokens=42, output_tokens=7)

    completion = _complete(gpt, [_customer("When do you open?")], temperature=0.2, max_output_tokens=300)

    request = openai_server.last
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.json["model"] == "gpt-5.5-mini"
    assert request.json["messages"] == [
        {"role": "system", "content": "You are Ana from Bolo Bakery."},
        {"role": "user", "content": "When do you open?"},
    ]
    assert request.json["temperature"] == 0.2
    assert request.json["max_tokens"] == 300  # a self-hosted server: the name every one of them knows
    assert "tools" not in request.json and "tool_choice" not in request.json
    assert completion.text == "We open at 8 ☀️"
    assert completion.tool_calls == []
    assert (completion.input_tokens, completion.output_tokens) == (42, 7)
    assert completion.model == "gpt-5.5-mini"
    assert completion.raw["choices"][0]["finish_reason"] == "stop"


def test_openai_records_how_long_the_model_took(gpt, openai_server):  # noqa: F811
    openai_server.delay(0.25)

    completion = _complete(gpt, [_customer("Hi")])

    assert completion.latency_ms >= 250
    assert completion.text == "echo: Hi"


def test_openai_tool_call_round_trip(gpt, openai_server):  # noqa: F811
    openai_server.reply_tool_call("send_buttons", {"text": "Which size?", "buttons": ["S", "M"]}, call_id="abc")
    openai_server.reply_text("Great choice!")
    chat = [_customer("I want a cake")]

    first = _complete(gpt, chat, tools=[BUTTONS])

    assert first.text == ""
    assert first.tool_calls == [
        ToolCall(id="call_abc", name="send_buttons", arguments={"text": "Which size?", "buttons": ["S", "M"]})
    ]
    sent = openai_server.last.json
    assert sent["tool_choice"] == "auto"
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {"name": "send_buttons", "description": BUTTONS.description, "parameters": BUTTONS.parameters},
        }
    ]

    chat.append(ChatMessage(role="assistant", content=first.text, tool_calls=first.tool_calls))
    chat.append(ChatMessage(role="tool", content='{"ok": true}', tool_call_id="call_abc", name="send_buttons"))
    final = _complete(gpt, chat, tools=[BUTTONS])

    assistant, tool = openai_server.last.json["messages"][-2:]
    assert assistant["role"] == "assistant" and assistant["content"] is None
    assert assistant["tool_calls"][0]["id"] == "call_abc"
    assert assistant["tool_calls"][0]["function"]["name"] == "send_buttons"
    arguments = json.loads(assistant["tool_calls"][0]["function"]["arguments"])
    assert arguments == {"text": "Which size?", "buttons": ["S", "M"]}
    assert tool == {"role": "tool", "tool_call_id": "call_abc", "content": '{"ok": true}'}
    assert final.text == "Great choice!"
    assert final.tool_calls == []


def test_openai_gets_an_image_as_a_data_url_part(gpt, openai_server):  # noqa: F811
    _complete(gpt, [_customer("Is this cake still available?", images=[ImageInput(data=PNG, mime_type="image/png")])])

    content = openai_server.last.json["messages"][-1]["content"]
    assert content[0] == {"type": "text", "text": "Is this cake still available?"}
    assert content[1]["type"] == "image_url"
    url = content[1]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == PNG


def test_openai_rejected_key_is_not_retryable_and_says_what_to_fix(gpt, openai_server):  # noqa: F811
    openai_server.fail(401)

    with pytest.raises(ProviderError) as caught:
        _complete(gpt, [_customer("Hi")])

    error = caught.value
    assert (error.kind, error.status, error.retryable) == ("auth", 401, False)
    assert str(error) == (
        f"The OpenAI-compatible server at {openai_server.base_url} answered 401: "
        "Incorrect API key provided: sk-te***st. Check the agent's API key."
    )
    assert len(openai_server.requests) == 1  # the SDK did not retry behind our back


def test_openai_unknown_model_or_path_points_at_both_settings(gpt, openai_server):  # noqa: F811
    openai_server.fail(404, "The model `gpt-5.5-mini` does not exist.")

    with pytest.raises(ProviderError) as caught:
        _complete(gpt, [_customer("Hi")])

    assert (caught.value.kind, caught.value.retryable) == ("bad_request", False)
    assert str(caught.value).endswith(
        "answered 404: The model `gpt-5.5-mini` does not exist. Check the model name and the base URL "
        "(OpenAI-compatible servers usually expect it to end in /v1)."
    )


@pytest.mark.parametrize(("status", "kind"), [(429, "rate_limit"), (500, "server"), (503, "server")])
def test_openai_rate_limits_and_server_errors_are_retryable(gpt, openai_server, status, kind):  # noqa: F811
    openai_server.fail(status, headers={"retry-after": "0"})

    with pytest.raises(ProviderError) as caught:
        _complete(gpt, [_customer("Hi")])

    assert (caught.value.kind, caught.value.retryable) == (kind, True)
    assert f"answered {status}" in str(caught.value)
    assert len(openai_server.requests) == 1


def test_openai_bad_request_is_not_retryable(gpt, openai_server):  # noqa: F811
    openai_server.fail(400, "Invalid value for 'temperature'.")

    with pytest.raises(ProviderError) as caught:
        _complete(gpt, [_customer("Hi")])

    assert (caught.value.kind, caught.value.retryable) == ("bad_request", False)
    assert "Invalid value for 'temperature'." in str(caught.value)


def test_openai_slow_server_is_a_retryable_timeout(gpt, openai_server):  # noqa: F811
    openai_server.delay(3)

    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        _complete(gpt, [_customer("Hi")], timeout=0.3)

    assert time.monotonic() - started < 2
    assert (caught.value.kind, caught.value.retryable) == ("timeout", True)
    assert str(caught.value) == (
        f"The OpenAI-compatible server at {openai_server.base_url} did not answer within 0.3 seconds."
    )


def test_openai_unreachable_server_is_retryable():
    provider = provider_for(kind="openai", model="llama3", api_key="", base_url="http://127.0.0.1:9/v1")

    with pytest.raises(ProviderError) as caught:
        _complete(provider, [_customer("Hi")], timeout=2)

    assert (caught.value.kind, caught.value.retryable) == ("connection", True)
    assert "http://127.0.0.1:9/v1 could not be reached" in str(caught.value)


def test_openai_keyless_local_server_works_without_an_api_key(openai_server):  # noqa: F811
    provider = provider_for(kind="openai", model="llama3.3", api_key="", base_url=openai_server.base_url)

    assert _complete(provider, [_customer("Hola")]).text == "echo: Hola"


def test_openai_itself_without_a_key_fails_before_any_request():
    provider = provider_for(kind="openai", model="gpt-5.5-mini", api_key="")

    with pytest.raises(ProviderError) as caught:
        _complete(provider, [_customer("Hi")])

    assert (caught.value.kind, caught.value.retryable) == ("auth", False)
    assert str(caught.value) == "No OpenAI API key is set for this agent."


def test_openai_transcription_uploads_the_voice_note_and_returns_its_text(openai_server):  # noqa: F811
    provider = provider_for(
        kind="openai",
        model="gpt-5.5-mini",
        api_key="sk-test",
        base_url=openai_server.base_url,
        transcription_model="gpt-4o-transcribe",
    )
    openai_server.reply_text("Do you deliver on Sundays?")
    voice_note = b"OggS\x00\x02" + b"\x01" * 64

    text = provider.transcribe(audio=voice_note, mime_type="audio/ogg", filename="voice.ogg", timeout_seconds=5)

    request = openai_server.last
    assert (request.method, request.path) == ("POST", "/v1/audio/transcriptions")
    assert request.headers["content-type"].startswith("multipart/form-data")
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.fields == {"model": "gpt-4o-transcribe"}
    upload = request.files["file"]
    assert (upload.filename, upload.content_type, upload.data) == ("voice.ogg", "audio/ogg", voice_note)
    assert text == "Do you deliver on Sundays?"


def test_openai_transcription_defaults_to_whisper(gpt, openai_server):  # noqa: F811
    gpt.transcribe(audio=b"OggS", mime_type="audio/ogg", filename="voice.ogg", timeout_seconds=5)

    assert openai_server.last.fields["model"] == "whisper-1"


def test_openai_transcription_failure_is_a_provider_error(gpt, openai_server):  # noqa: F811
    openai_server.fail(500)

    with pytest.raises(ProviderError) as caught:
        gpt.transcribe(audio=b"OggS", mime_type="audio/ogg", filename="voice.ogg", timeout_seconds=5)

    assert (caught.value.kind, caught.value.retryable) == ("server", True)


# --- Anthropic -----------------------------------------------------------------------------------


def test_anthropic_sends_the_prompt_as_a_messages_request_and_reads_the_answer(claude, anthropic_server):  # noqa: F811
    anthropic_server.reply_text("We open at 8 ☀️", input_tokens=51, output_tokens=9)
    history = [
        _customer("Hi!"),
        ChatMessage(role="assistant", content="Hello! How can I help?"),
        _customer("When do you open?"),
    ]

    completion = _complete(claude, history, temperature=0.2, max_output_tokens=300)

    request = anthropic_server.last
    assert (request.method, request.path) == ("POST", "/v1/messages")
    assert request.headers["authorization"] == "Bearer sk-ant-test"  # SDK 2.x sends the key as a bearer token
    assert request.headers["anthropic-version"] == "2026-10-21"
    assert request.json["model"] == "claude-sonnet-5-5"
    # A cache breakpoint after the system prompt: later turns read it from Anthropic's prompt cache.
    assert request.json["system"] == [
        {"type": "text", "text": "You are Ana from Bolo Bakery.", "cache_control": {"type": "ephemeral"}}
    ]
    assert request.json["max_tokens"] == 300
    assert "temperature" not in request.json  # API version 2026-10-21 rejects it
    assert request.json["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Hi!"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Hello! How can I help?"}]},
        {"role": "user", "content": [{"type": "text", "text": "When do you open?"}]},
    ]
    assert "tools" not in request.json
    assert completion.text == "We open at 8 ☀️"
    assert (completion.input_tokens, completion.output_tokens) == (51, 9)
    assert completion.model == "claude-sonnet-5-5"
    assert completion.raw["stop_reason"] == "end_turn"


def test_anthropic_records_how_long_the_model_took(claude, anthropic_server):  # noqa: F811
    anthropic_server.delay(0.25)

    assert _complete(claude, [_customer("Hi")]).latency_ms >= 250


def test_anthropic_tool_call_round_trip_merges_the_results_into_one_user_turn(claude, anthropic_server):  # noqa: F811
    anthropic_server.reply_tool_calls(
        [("order_lookup", {"number": "A-17"}), ("order_lookup", {"number": "A-18"})],
        text="Let me check both orders.",
        call_ids=["one", "two"],
    )
    anthropic_server.reply_text("Both are on their way!")
    chat = [_customer("Where are orders A-17 and A-18?")]

    first = _complete(claude, chat, tools=[LOOKUP])

    assert anthropic_server.last.json["tools"] == [
        {
            "name": "order_lookup",
            "description": LOOKUP.description,
            "input_schema": LOOKUP.parameters,
            "cache_control": {"type": "ephemeral"},
        }
    ]
    assert first.text == "Let me check both orders."
    assert first.tool_calls == [
        ToolCall(id="toolu_one", name="order_lookup", arguments={"number": "A-17"}),
        ToolCall(id="toolu_two", name="order_lookup", arguments={"number": "A-18"}),
    ]
    assert first.raw["stop_reason"] == "tool_use"

    chat.append(ChatMessage(role="assistant", content=first.text, tool_calls=first.tool_calls))
    for call, status in zip(first.tool_calls, ["shipped", "out for delivery"], strict=True):
        chat.append(ChatMessage(role="tool", content=json.dumps({"status": status}), tool_call_id=call.id))
    final = _complete(claude, chat, tools=[LOOKUP])

    assert anthropic_server.last.json["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me check both orders."},
                {"type": "tool_use", "id": "toolu_one", "name": "order_lookup", "input": {"number": "A-17"}},
                {"type": "tool_use", "id": "toolu_two", "name": "order_lookup", "input": {"number": "A-18"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_one", "content": '{"status": "shipped"}'},
                {"type": "tool_result", "tool_use_id": "toolu_two", "content": '{"status": "out for delivery"}'},
            ],
        },
    ]
    assert final.text == "Both are on their way!"
    assert final.tool_calls == []


def test_anthropic_gets_an_image_as_a_base64_image_block(claude, anthropic_server):  # noqa: F811
    _complete(claude, [_customer("Is this cake available?", images=[ImageInput(data=PNG, mime_type="image/png")])])

    assert anthropic_server.last.json["messages"] == [
        {
            "role": "user",
            "content": [
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": base64.b64encode(PNG).decode()},
                },
                {"type": "text", "text": "Is this cake available?"},
            ],
        }
    ]


def test_anthropic_conversation_always_opens_with_the_customer(claude, anthropic_server):  # noqa: F811
    history = [ChatMessage(role="assistant", content="Your order shipped!"), _customer("Thanks! When will it arrive?")]

    _complete(claude, history)

    roles = [turn["role"] for turn in anthropic_server.last.json["messages"]]
    assert roles == ["user", "assistant", "user"]


def test_anthropic_rejected_key_is_not_retryable_and_says_what_to_fix(claude, anthropic_server):  # noqa: F811
    anthropic_server.fail(401)

    with pytest.raises(ProviderError) as caught:
        _complete(claude, [_customer("Hi")])

    assert (caught.value.kind, caught.value.status, caught.value.retryable) == ("auth", 401, False)
    assert str(caught.value) == (
        f"The Anthropic API at {anthropic_server.base_url} answered 401: invalid x-api-key. Check the agent's API key."
    )
    assert len(anthropic_server.requests) == 1


@pytest.mark.parametrize(("status", "kind"), [(429, "rate_limit"), (500, "server"), (529, "server")])
def test_anthropic_rate_limits_and_overload_are_retryable(claude, anthropic_server, status, kind):  # noqa: F811
    anthropic_server.fail(status, headers={"retry-after": "7"})

    with pytest.raises(ProviderError) as caught:
        _complete(claude, [_customer("Hi")])

    assert (caught.value.kind, caught.value.retryable) == (kind, True)
    assert f"answered {status}" in str(caught.value)
    assert len(anthropic_server.requests) == 1
    if status == 429:
        assert "retry after 7 seconds" in str(caught.value)


def test_anthropic_slow_server_is_a_retryable_timeout(claude, anthropic_server):  # noqa: F811
    anthropic_server.delay(3)

    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        _complete(claude, [_customer("Hi")], timeout=0.3)

    assert time.monotonic() - started < 2
    assert (caught.value.kind, caught.value.retryable) == ("timeout", True)
    assert "did not answer within 0.3 seconds" in str(caught.value)


def test_anthropic_cannot_transcribe(claude, anthropic_server):  # noqa: F811
    with pytest.raises(ProviderError) as caught:
        claude.transcribe(audio=b"OggS", mime_type="audio/ogg", filename="voice.ogg", timeout_seconds=5)

    assert (caught.value.kind, caught.value.retryable) == ("unsupported", False)
    assert anthropic_server.requests == []


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_a_web_page_instead_of_an_api_is_a_clear_error(kind, openai_server, anthropic_server):  # noqa: F811
    server = openai_server if kind == "openai" else anthropic_server
    server.fail(200, b"<html><body>Welcome to nginx!</body></html>")
    provider = provider_for(kind=kind, model="m", api_key="k", base_url=server.base_url)

    with pytest.raises(ProviderError) as caught:
        _complete(provider, [_customer("Hi")])

    assert (caught.value.kind, caught.value.retryable) == ("invalid_response", False)
    assert "answered with something other than JSON. Check the base URL" in str(caught.value)


# --- choosing a provider -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["knowledge_base", "mistral", ""])
def test_provider_for_rejects_kinds_it_does_not_know(kind):
    with pytest.raises(ValueError, match="Unknown LLM provider kind"):
        provider_for(kind=kind, model="m", api_key="k")


def test_provider_for_never_fails_on_missing_settings_but_the_call_explains(openai_server):  # noqa: F811
    provider = provider_for(kind="openai", model="", api_key="", base_url=openai_server.base_url)

    with pytest.raises(ProviderError, match="No model is set for this agent."):
        _complete(provider, [_customer("Hi")])
    assert openai_server.requests == []
