"""Secrets never reach the logs, even when code logs them by mistake."""

import io
import json
import logging

import pytest

from whatsapp_platform.log_redaction import SecretRedactionFilter, redact


class _EverythingFormatter(logging.Formatter):
    """The message and every attribute of the record, as a JSON log formatter would write them."""

    def format(self, record):
        return f"{record.getMessage()} {vars(record)}"


@pytest.fixture
def captured():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(SecretRedactionFilter())
    handler.setFormatter(_EverythingFormatter())
    logger = logging.getLogger("tests.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield logger, stream
    logger.removeHandler(handler)


@pytest.mark.parametrize(
    ("leaked", "secret"),
    [
        (
            "Authorization: Bearer EAAGm0PX4ZCpsBAKZAZ0sIPhjZCbcj5HhJZBqkZB8ZC",
            "EAAGm0PX4ZCpsBAKZAZ0sIPhjZCbcj5HhJZBqkZB8ZC",
        ),
        ("GET /v25.0/me?access_token=EAAGm0PX4ZCpsBAKZAZ0sIPhjZCbcj5", "EAAGm0PX4ZCpsBAKZAZ0sIPhjZCbcj5"),
        ("key wap_d34bb9e9_9mcicLimmL_nd-gokmk6YUS-refRbO", "9mcicLimmL_nd-gokmk6YUS-refRbO"),
        ('"GET /accounts/password/reset/key/1-cz4k2b-5f1e0a9c2d/ HTTP/1.1" 200', "cz4k2b-5f1e0a9c2d"),
        ("https://app.test/accounts/confirm-email/MQ:1tA2bC:xYz0123456789/", "MQ:1tA2bC:xYz0123456789"),
        ("secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        ("openai sk-proj-abcdefghijklmnopqrstuvwx", "abcdefghijklmnopqrstuvwx"),
        ("anthropic sk-ant-api03-abcdefghijklmnopqrstuvwx", "abcdefghijklmnopqrstuvwx"),
        ("client_secret=f00dfeedf00dfeed&code=abc", "f00dfeedf00dfeed"),
    ],
)
def test_known_secret_shapes_are_masked_in_messages_and_arguments(captured, leaked, secret):
    logger, stream = captured
    logger.info("calling %s", leaked)
    assert secret not in stream.getvalue() and "[redacted]" in stream.getvalue()


def test_extra_fields_named_like_secrets_are_masked(captured):
    logger, stream = captured
    logger.warning("connect failed", extra={"access_token": "plain-looking-value", "channel_id": 7})
    output = stream.getvalue()
    assert "plain-looking-value" not in output and "'channel_id': 7" in output


def test_ordinary_text_is_left_alone():
    text = "Customer asked about order 1042; token bucket waited 0.4 s"
    assert redact(text) == text


def test_the_configured_console_handler_redacts(settings):
    handlers = settings.LOGGING["handlers"]["console"]["filters"]
    assert "secrets" in handlers
    assert json.dumps(settings.LOGGING["filters"]["secrets"]).find("SecretRedactionFilter") > 0
