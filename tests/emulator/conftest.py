"""The cast of the emulator tests: one business number ("the shop"), its customer Sheena,
a second business with its own token ("the outsider"), and a Graph client speaking to them."""

import json
from typing import Any

import pytest

from cloudapi_emulator import services

SHOP_TOKEN = "shop-access-token"
SHOP_SECRET = "shop-app-secret"
OUTSIDER_TOKEN = "outsider-access-token"


class Graph:
    """Django's test client, speaking Graph: bearer token, version prefix, JSON bodies."""

    def __init__(self, client, token: str | None = SHOP_TOKEN, version: str = "v25.0"):
        self.client = client
        self.token = token
        self.version = version

    def url(self, path: str) -> str:
        return f"/emulator/graph/{self.version}/{path.lstrip('/')}"

    def headers(self, token: str | None = None) -> dict[str, str]:
        token = token if token is not None else self.token
        return {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}

    def get(self, path: str, params: dict | None = None, token: str | None = None):
        return self.client.get(self.url(path), params or {}, **self.headers(token))

    def post(self, path: str, body: Any = None, token: str | None = None):
        return self.client.post(
            self.url(path), json.dumps(body or {}), content_type="application/json", **self.headers(token)
        )

    def post_raw(self, path: str, raw: bytes):
        return self.client.post(self.url(path), raw, content_type="application/json", **self.headers())

    def upload(self, path: str, data: dict, token: str | None = None):
        return self.client.post(self.url(path), data, **self.headers(token))

    def delete(self, path: str, params: dict | None = None, token: str | None = None):
        query = "&".join(f"{k}={v}" for k, v in (params or {}).items())
        return self.client.delete(self.url(path) + (f"?{query}" if query else ""), **self.headers(token))

    def send(self, number, message: dict, token: str | None = None):
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", **message}
        return self.post(f"{number.phone_number_id}/messages", body, token=token)


@pytest.fixture
def shop(db):
    return services.sandbox_number_provision(
        display_phone_number="+1 555 078 3881",
        verified_name="Lucky Shrub",
        access_token=SHOP_TOKEN,
        app_secret=SHOP_SECRET,
        webhook_url="http://127.0.0.1:9/webhooks/whatsapp/shop/",
    )


@pytest.fixture
def outsider(db):
    return services.sandbox_number_provision(
        display_phone_number="+44 20 7946 0000",
        verified_name="Someone Else",
        access_token=OUTSIDER_TOKEN,
        app_secret="outsider-secret",
        webhook_url="http://127.0.0.1:9/webhooks/whatsapp/outsider/",
    )


@pytest.fixture
def sheena(shop):
    """A customer who wrote to the shop a moment ago, so her 24 h window is open."""
    customer = services.customer_get_or_create(number=shop, name="Sheena Nelson", phone="+1 650 555 1234")
    services.customer_message_send(number=shop, customer=customer, message_type="text", content={"body": "Hi!"})
    return customer


@pytest.fixture
def graph(client):
    return Graph(client)


def error_of(response) -> dict:
    body = response.json()
    assert "error" in body, body
    return body["error"]


def outbox_payloads(number=None) -> list[dict]:
    from cloudapi_emulator.models import WebhookDelivery

    rows = WebhookDelivery.objects.filter(kind=WebhookDelivery.Kind.WEBHOOK).order_by("due_at", "id")
    if number is not None:
        rows = rows.filter(number=number)
    return [json.loads(row.body) for row in rows]


def outbox_statuses(number=None) -> list[dict]:
    found = []
    for payload in outbox_payloads(number):
        for entry in payload["entry"]:
            for change in entry["changes"]:
                found.extend(change["value"].get("statuses", []))
    return found
