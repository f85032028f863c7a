"""Bearer tokens on every Graph call, and the faults and limits a test can switch on."""

import time

import pytest

from cloudapi_emulator import services
from cloudapi_emulator.models import Message
from tests.emulator.conftest import OUTSIDER_TOKEN, SHOP_TOKEN, error_of

TEXT = {"to": "+16505551234", "type": "text", "text": {"body": "Hi"}}


def test_a_call_without_a_token_is_refused_with_190_and_401(graph, shop):
    response = graph.get(shop.phone_number_id, token="")

    assert response.status_code == 401
    error = error_of(response)
    assert error["code"] == 190
    assert error["type"] == "OAuthException"
    assert error["message"] == "(#190) Invalid OAuth access token"


def test_an_unknown_token_is_refused_with_190(graph, shop):
    response = graph.send(shop, TEXT, token="made-up")

    assert response.status_code == 401
    assert error_of(response)["code"] == 190


def test_a_revoked_token_is_refused_with_190(graph, shop, sheena):
    services.token_revoke(SHOP_TOKEN)

    response = graph.send(shop, TEXT)

    assert response.status_code == 401
    assert error_of(response)["code"] == 190
    assert "invalidated" in error_of(response)["error_data"]["details"]


def test_the_token_can_also_come_as_the_access_token_parameter(client, shop):
    response = client.get(f"/emulator/graph/v25.0/{shop.phone_number_id}?access_token={SHOP_TOKEN}")

    assert response.status_code == 200


def test_another_business_token_cannot_see_the_number(graph, shop, outsider):
    response = graph.send(shop, TEXT, token=OUTSIDER_TOKEN)

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == 100
    assert error["error_subcode"] == 33


@pytest.mark.parametrize("version", ["v25.0", "v23.0", "v9.1"])
def test_any_graph_version_is_accepted(client, shop, version):
    url = f"/emulator/graph/{version}/{shop.phone_number_id}"

    response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {SHOP_TOKEN}")

    assert response.status_code == 200


# --- faults ---------------------------------------------------------------------------------


def test_a_graph_error_fault_answers_the_next_call_with_that_code_then_clears(graph, shop, sheena):
    services.fault_add(phone_number_id=shop.phone_number_id, error_code=131000, details="Something broke")

    failed = graph.send(shop, TEXT)
    recovered = graph.send(shop, TEXT)

    assert failed.status_code == 500
    assert error_of(failed)["code"] == 131000
    assert error_of(failed)["error_data"]["details"] == "Something broke"
    assert recovered.status_code == 200


def test_a_fault_can_fail_several_calls_with_a_chosen_http_status(graph, shop, sheena):
    services.fault_add(error_code=4, count=2, http_status=400)

    statuses = [graph.send(shop, TEXT).status_code for _ in range(3)]

    assert statuses == [400, 400, 200]


def test_a_bare_http_fault_answers_without_a_graph_envelope(graph, shop, sheena):
    services.fault_add(http_status=502)

    response = graph.send(shop, TEXT)

    assert response.status_code == 502
    assert response["Content-Type"].startswith("text/html")


def test_a_fault_for_one_endpoint_leaves_the_others_alone(graph, shop, sheena):
    services.fault_add(endpoint="media", error_code=131016)

    assert graph.send(shop, TEXT).status_code == 200
    assert graph.get(shop.phone_number_id).status_code == 200


def test_a_fault_for_another_number_does_not_fire(graph, shop, outsider, sheena):
    services.fault_add(phone_number_id=outsider.phone_number_id, error_code=131000)

    assert graph.send(shop, TEXT).status_code == 200


def test_latency_delays_the_answer_but_the_call_succeeds(graph, shop, sheena):
    services.fault_add(latency_ms=200)

    started = time.monotonic()
    response = graph.send(shop, TEXT)

    assert response.status_code == 200
    assert time.monotonic() - started >= 0.2


def test_a_timeout_fault_sleeps_then_answers_504_without_accepting(graph, shop, sheena):
    services.fault_add(timeout_seconds=0.2)

    started = time.monotonic()
    response = graph.send(shop, TEXT)

    assert time.monotonic() - started >= 0.2
    assert response.status_code == 504
    assert not Message.objects.filter(direction="outbound").exists()


def test_a_timeout_fault_can_accept_the_message_although_the_answer_is_lost(graph, shop, sheena):
    services.fault_add(timeout_seconds=0.1, accepted_despite_timeout=True)

    response = graph.send(shop, TEXT)

    assert response.status_code == 200  # the client timed out long before; the work was done
    assert Message.objects.filter(direction="outbound").count() == 1
    assert len(services.requests_received(shop.phone_number_id)) == 1


def test_throughput_above_the_limit_is_refused_with_130429(graph, shop, sheena):
    services.throughput_limit_set(shop.phone_number_id, 2)
    other = services.customer_get_or_create(number=shop, name="Other", phone="+16505559999")
    services.customer_message_send(number=shop, customer=other, message_type="text", content={"body": "hi"})

    answers = [graph.send(shop, {**TEXT, "to": to}) for to in ("+16505551234", "+16505559999", "+16505551234")]

    assert [a.status_code for a in answers] == [200, 200, 400]
    assert error_of(answers[2])["code"] == 130429


def test_messaging_the_same_recipient_too_fast_is_refused_with_131056(graph, shop, sheena):
    services.pair_rate_limit_set(shop.phone_number_id, 6)
    other = services.customer_get_or_create(number=shop, name="Other", phone="+16505559999")
    services.customer_message_send(number=shop, customer=other, message_type="text", content={"body": "hi"})

    first = graph.send(shop, TEXT)
    again = graph.send(shop, TEXT)
    someone_else = graph.send(shop, {**TEXT, "to": "+16505559999"})

    assert first.status_code == 200
    assert error_of(again)["code"] == 131056
    assert someone_else.status_code == 200


def test_faults_clear_forgets_faults_and_limits(graph, shop, sheena):
    services.fault_add(error_code=131000, count=5)
    services.throughput_limit_set(shop.phone_number_id, 0)

    services.faults_clear()

    assert graph.send(shop, TEXT).status_code == 200


def test_an_unknown_fault_endpoint_is_a_mistake_in_the_test(db):
    with pytest.raises(ValueError, match="Unknown endpoint"):
        services.fault_add(endpoint="mesages")
