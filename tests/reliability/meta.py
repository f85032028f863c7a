"""Meta's side of a webhook, for tests that deliver webhooks themselves (duplicated, racing, replayed, late).

Bodies are shaped, serialised and signed as the emulator (and Meta) does it: ASCII-escaped JSON, signed
over the exact bytes sent. `captured_customer_message` lets the emulator record a customer's message
(so its own state, such as the customer-service window, is right) but hands the webhook to the test
instead of delivering it.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def new_wamid(prefix: str = "rel") -> str:
    return f"wamid.{prefix}{uuid.uuid4().hex}"


@dataclass
class MetaSender:
    """Builds signed webhook bodies for one business number."""

    phone_number_id: str
    waba_id: str
    display_digits: str
    app_secret: str

    def _envelope(self, **parts: Any) -> bytes:
        value = {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": self.display_digits, "phone_number_id": self.phone_number_id},
            **parts,
        }
        body = {
            "object": "whatsapp_business_account",
            "entry": [{"id": self.waba_id, "changes": [{"value": value, "field": "messages"}]}],
        }
        return json.dumps(body, ensure_ascii=True).encode("ascii")

    def inbound_text(
        self, *, wa_id: str, text: str, wamid: str | None = None, timestamp: float | None = None, name: str = "Customer"
    ) -> bytes:
        message = {
            "from": wa_id,
            "from_user_id": f"US.{wa_id}",
            "id": wamid or new_wamid(),
            "timestamp": str(int(timestamp if timestamp is not None else time.time())),
            "type": "text",
            "text": {"body": text},
        }
        contact = {"profile": {"name": name}, "wa_id": wa_id, "user_id": f"US.{wa_id}"}
        return self._envelope(contacts=[contact], messages=[message])

    def status(
        self, *, wamid: str, status: str, wa_id: str, timestamp: float | None = None, error_code: int | None = None
    ) -> bytes:
        item: dict[str, Any] = {
            "id": wamid,
            "status": status,
            "timestamp": str(int(timestamp if timestamp is not None else time.time())),
            "recipient_id": wa_id,
            "recipient_user_id": f"US.{wa_id}",
        }
        if error_code is not None:
            item["errors"] = [{"code": error_code, "title": "Message undeliverable", "error_data": {"details": "x"}}]
        return self._envelope(statuses=[item])

    def headers(self, body: bytes) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": sign(body, self.app_secret),
            "User-Agent": "facebookexternalua",
        }


def captured_customer_message(number, customer, text: str) -> tuple[str, bytes]:
    """The customer writes `text`; the emulator records it (opening the window) and the test gets the
    webhook body the emulator would have POSTed, to deliver itself. Returns (wamid, body)."""
    from cloudapi_emulator.models import Message as GraphMessage
    from cloudapi_emulator.models import PhoneNumber
    from cloudapi_emulator.services.customers import customer_message_send
    from cloudapi_emulator.services.webhooks import contact_of, envelope, messages_value
    from cloudapi_emulator.signatures import webhook_body

    number.refresh_from_db()
    webhook_url = number.webhook_url
    number.webhook_url = ""  # no route: nothing is queued for delivery
    PhoneNumber.objects.filter(pk=number.pk).update(webhook_url="")
    try:
        wamid = customer_message_send(number=number, customer=customer, message_type="text", content={"body": text})
    finally:
        number.webhook_url = webhook_url
        PhoneNumber.objects.filter(pk=number.pk).update(webhook_url=webhook_url)
    payload = GraphMessage.objects.get(wamid=wamid).payload
    body = envelope(
        waba_id=number.waba_id,
        field="messages",
        value=messages_value(number, contacts=[contact_of(customer)], messages=[payload]),
    )
    return wamid, webhook_body(body).encode("ascii")


class HttpPoster:
    """One kept-alive HTTP connection, as Meta's delivery workers keep them; 0 means no answer."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self._connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        for attempt in (1, 2):
            try:
                self._connection.request("POST", path, body=body, headers=headers)
                response = self._connection.getresponse()
                response.read()
                return response.status
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self._connection.close()  # a kept-alive connection the server had closed: reconnect once
                if attempt == 2:
                    return 0
            except (OSError, http.client.HTTPException):
                self._connection.close()
                return 0
        return 0

    def close(self) -> None:
        self._connection.close()
