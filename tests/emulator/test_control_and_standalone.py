"""The JSON control API, and the standalone server's URL configuration."""

import json

from django.urls import resolve

from cloudapi_emulator.models import Fault, Message, PhoneNumber
from tests.emulator.conftest import SHOP_TOKEN


def post(client, path: str, body: dict | None = None, **headers):
    return client.post(f"/emulator/control/{path}", json.dumps(body or {}), content_type="application/json", **headers)


def test_a_number_is_provisioned_through_the_control_api(client, db):
    response = post(
        client,
        "numbers/",
        {
            "display_phone_number": "+1 555 000 1111",
            "access_token": "t",
            "app_secret": "s",
            "webhook_url": "http://127.0.0.1:9/hook/",
            "phone_number_id": "106540352242922",
            "waba_id": "524126980791429",
        },
    )

    assert response.status_code == 200
    assert response.json()["phone_number_id"] == "106540352242922"
    assert PhoneNumber.objects.get().waba_id == "524126980791429"


def test_a_customer_writes_through_the_control_api(client, shop):
    customer = post(client, f"numbers/{shop.phone_number_id}/customers/", {"name": "Sheena", "phone": "16505551234"})
    customer_id = customer.json()["id"]

    said = post(
        client,
        f"numbers/{shop.phone_number_id}/customers/{customer_id}/messages/",
        {"message_type": "text", "content": {"body": "Hello"}},
    )
    chat = client.get(f"/emulator/control/numbers/{shop.phone_number_id}/customers/{customer_id}/messages/")

    assert said.json()["wamid"].startswith("wamid.")
    assert chat.json()["data"][0]["content"] == {"body": "Hello"}


def test_faults_are_added_and_cleared_through_the_control_api(client, shop):
    post(client, "faults/", {"error_code": 131000, "count": 2})
    assert Fault.objects.get().remaining == 2

    client.delete("/emulator/control/faults/")

    assert not Fault.objects.exists()


def test_a_bad_control_call_answers_400_with_the_reason(client, db):
    response = post(client, "faults/", {"endpoint": "nowhere"})

    assert response.status_code == 400
    assert "Unknown endpoint" in response.json()["error"]


def test_the_control_api_can_require_a_token(client, db, settings):
    settings.WHATSAPP_EMULATOR_CONTROL_TOKEN = "let-me-in"

    refused = post(client, "faults/", {"error_code": 1})
    allowed = post(client, "faults/", {"error_code": 1}, HTTP_AUTHORIZATION="Bearer let-me-in")

    assert refused.status_code == 401
    assert allowed.status_code == 200


def test_without_a_token_the_control_api_refuses_cross_site_requests(client, db):
    evil = post(client, "faults/", {"error_code": 1}, HTTP_ORIGIN="https://attacker.example")
    fetched = post(client, "faults/", {"error_code": 1}, HTTP_SEC_FETCH_SITE="cross-site")
    own_page = post(client, "faults/", {"error_code": 1}, HTTP_ORIGIN="http://testserver")
    script = post(client, "faults/", {"error_code": 1})

    assert evil.status_code == 403 and "CONTROL_TOKEN" in evil.json()["error"]
    assert fetched.status_code == 403
    assert own_page.status_code == 200 and script.status_code == 200
    assert Fault.objects.count() == 2


def test_requests_received_are_listed_through_the_control_api(client, graph, shop, sheena):
    graph.send(shop, {"to": "+16505551234", "type": "text", "text": {"body": "Hi"}})

    listed = client.get(f"/emulator/control/numbers/{shop.phone_number_id}/requests/").json()["data"]

    assert listed[0]["text"] == {"body": "Hi"}
    assert Message.objects.filter(direction="outbound").count() == 1


def test_the_standalone_urlconf_serves_only_the_emulator():
    match = resolve("/emulator/graph/v25.0/123/messages", urlconf="cloudapi_emulator.standalone_urls")

    assert match.kwargs == {"version": "v25.0", "path": "123/messages"}


def test_the_graph_works_without_a_version_segment(client, shop):
    response = client.get(f"/emulator/graph/{shop.phone_number_id}", HTTP_AUTHORIZATION=f"Bearer {SHOP_TOKEN}")

    assert response.json()["id"] == shop.phone_number_id
