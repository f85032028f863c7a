import json
import pickle

import pytest

from channels_app.whatsapp.errors import (
    AUTH,
    OUTCOME_UNKNOWN,
    PAIR_RATE_LIMIT,
    PERMANENT,
    PLAIN_REASONS,
    RETRY_ONCE,
    RETRYABLE,
    GraphError,
    GraphOutcomeUnknown,
    GraphUnavailable,
    error_kind,
    graph_error_from_response,
    graph_error_from_webhook,
    pair_rate_limit_delay,
    retry_delay,
)


def envelope(code, message, *, details="", **extra):
    error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam"}
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    error.update(extra)
    return {"error": error}


@pytest.mark.parametrize(
    "code, kind",
    [
        (2, RETRYABLE),
        (4, RETRYABLE),
        (80007, RETRYABLE),
        (130429, RETRYABLE),
        (131000, RETRYABLE),
        (131016, RETRYABLE),
        (131057, RETRYABLE),
        (133004, RETRYABLE),
        (133015, RETRYABLE),
        (1, RETRY_ONCE),
        (131056, PAIR_RATE_LIMIT),
        (0, AUTH),
        (190, AUTH),
        (10, AUTH),
        (200, AUTH),
        (250, AUTH),
        (299, AUTH),
        (100, PERMANENT),
        (131026, PERMANENT),
        (131047, PERMANENT),
        (131048, PERMANENT),
        (131049, PERMANENT),
        (131050, PERMANENT),
        (132000, PERMANENT),
        (133016, PERMANENT),
        (368, PERMANENT),
        (300, PERMANENT),
        (999999, PERMANENT),
        (None, PERMANENT),
    ],
)
def test_each_code_is_classified_by_what_the_caller_should_do(code, kind):
    assert error_kind(code) == kind


@pytest.mark.parametrize("status", [400, 401, 403, 429, 500, 503])
def test_a_known_code_decides_the_kind_whatever_the_http_status(status):
    assert error_kind(131047, status) == PERMANENT
    assert error_kind(190, status) == AUTH
    assert error_kind(130429, status) == RETRYABLE


def test_a_5xx_without_a_code_or_with_an_unknown_code_is_retried():
    assert error_kind(None, 502) == RETRYABLE
    assert error_kind(987654, 500) == RETRYABLE
    assert error_kind(None, 404) == PERMANENT


def test_the_envelope_is_parsed_into_every_field():
    body = envelope(
        130429,
        "(#130429) Rate limit hit",
        details="Cloud API message throughput has been reached.",
        error_subcode=2494055,
        is_transient=True,
    )
    error = graph_error_from_response(429, json.dumps(body).encode())
    assert error.http_status == 429
    assert error.code == 130429
    assert error.title == "Rate limit hit"
    assert error.message == "(#130429) Rate limit hit"
    assert error.details == "Cloud API message throughput has been reached."
    assert error.subcode == 2494055
    assert error.fbtrace_id == "Az8or2yhqkZfEZ-_4Qn_Bam"
    assert error.is_transient is True
    assert error.kind == RETRYABLE


def test_the_message_of_a_re_engagement_error_tells_staff_to_use_a_template():
    error = graph_error_from_response(400, envelope(131047, "(#131047) Re-engagement message"))
    assert str(error).startswith("(#131047) Re-engagement message: more than 24 hours since the customer last wrote")
    assert "template" in str(error)


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>502 Bad Gateway</body></html>",
        b"",
        None,
        "not json",
        b"\xff\xfe",
        b"[1, 2]",
        {"error": "a string"},
    ],
)
def test_garbage_bodies_give_an_error_without_a_code(body):
    error = graph_error_from_response(502, body)
    assert error.code is None
    assert error.kind == RETRYABLE
    assert "502" in str(error)


def test_an_html_404_is_permanent_and_keeps_a_snippet_of_the_body():
    error = graph_error_from_response(404, "<html>\n  <h1>Not   Found</h1></html>")
    assert error.kind == PERMANENT
    assert "<h1>Not Found</h1>" in error.details


def test_a_code_sent_as_a_string_is_still_understood():
    error = graph_error_from_response(400, {"error": {"message": "x", "code": "131056"}})
    assert error.code == 131056
    assert error.kind == PAIR_RATE_LIMIT


def test_a_webhook_error_object_is_parsed():
    error = graph_error_from_webhook(
        {
            "code": 131049,
            "title": "This message was not delivered to maintain healthy ecosystem engagement.",
            "message": "This message was not delivered to maintain healthy ecosystem engagement.",
            "error_data": {"details": "In order to maintain a healthy ecosystem engagement, the message failed."},
            "href": "/documentation/business-messaging/whatsapp/support/error-codes",
        }
    )
    assert error.code == 131049
    assert error.http_status is None
    assert error.details.startswith("In order to")
    assert error.href.endswith("error-codes")
    assert error.kind == PERMANENT
    assert "24 hours" in str(error)


def test_a_malformed_webhook_error_does_not_raise():
    assert graph_error_from_webhook("oops").code is None  # type: ignore[arg-type]
    assert graph_error_from_webhook({}).kind == PERMANENT


def test_transport_errors_carry_their_own_kind():
    assert GraphUnavailable(title="refused").kind == RETRYABLE
    assert GraphOutcomeUnknown(title="read timeout").kind == OUTCOME_UNKNOWN
    assert isinstance(GraphUnavailable(), GraphError)


def test_an_error_survives_pickling_for_task_queues():
    error = graph_error_from_response(400, envelope(131026, "(#131026) Message Undeliverable"))
    again = pickle.loads(pickle.dumps(error))
    assert (again.code, again.kind, str(again)) == (error.code, error.kind, str(error))
    outcome = pickle.loads(pickle.dumps(GraphOutcomeUnknown(title="t")))
    assert type(outcome) is GraphOutcomeUnknown


@pytest.mark.parametrize(
    "code",
    [
        131026,
        131047,
        131049,
        131050,
        131053,
        131056,
        130429,
        132000,
        132001,
        132012,
        133005,
        133016,
        190,
        0,
        368,
        131031,
        131051,
        131052,
    ],
)
def test_common_failures_have_a_plain_english_reason(code):
    reason = PLAIN_REASONS[code]
    assert reason.endswith(".")
    assert len(reason) > 20


def test_pair_rate_limit_waits_four_to_the_power_of_the_attempt():
    assert [pair_rate_limit_delay(n) for n in range(4)] == [1, 4, 16, 64]


def test_retry_delay_is_jittered_below_the_exponential_ceiling_and_the_cap():
    for attempt in range(10):
        for _ in range(50):
            delay = retry_delay(attempt, base=0.5, cap=10)
            assert 0 <= delay <= min(10, 0.5 * 2**attempt)
    assert retry_delay(10_000, cap=3) <= 3
    assert len({retry_delay(5) for _ in range(20)}) > 1
