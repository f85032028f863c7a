"""Send an approved template to a customer, then receive and verify the platform's signed events.

    # 1. Receive events (prints each verified event; answers 401 to anything unsigned or forged)
    WEBHOOK_SECRET=whsec_... python examples/send_template_and_verify_events.py listen --port 8099

    # 2. Send a template (the template's id is on its page and in GET /api/v1/templates/)
    PLATFORM_URL=https://agents.example.com API_KEY=wap_... \\
      python examples/send_template_and_verify_events.py send <template-id> +16505551234 1=Sheena 2=#1042

Subscribe the listener's public URL in Settings → Webhooks (or POST /api/v1/webhook-subscriptions/)
and you will see `message.sent`, then `message.status_updated` as the customer's phone receives
and reads the template. Needs only `requests`.
"""

import base64
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

TIMEOUT = (3.05, 15)


def template_send(*, base_url: str, api_key: str, template_id: str, to: str, parameters: dict[str, str]) -> dict:
    """Queue the template; returns {"message_id", "status"}. Safe to retry: the Idempotency-Key makes it send once."""
    key = hashlib.sha256(f"{template_id}|{to}|{sorted(parameters.items())}".encode()).hexdigest()
    response = requests.post(
        f"{base_url.rstrip('/')}/api/v1/templates/{template_id}/send/",
        json={"to": to, "parameters": parameters},
        headers={"Authorization": f"Bearer {api_key}", "Idempotency-Key": key},
        timeout=TIMEOUT,
    )
    if response.status_code >= 400:
        error = response.json().get("error", {})
        raise SystemExit(f"{response.status_code} {error.get('code')}: {error.get('message')}")
    return response.json()


def event_verify(secret: str, headers, body: bytes, tolerance: int = 300) -> bool:
    """True when a signature of the request was made with `secret` ("whsec_...") in the last few minutes."""
    msg_id, timestamp = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > tolerance:
        return False  # too old or too far ahead: a replay
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(digest).decode()
    return any(hmac.compare_digest(sig, expected) for sig in headers["webhook-signature"].split())


def listener(secret: str, on_event=print) -> type[BaseHTTPRequestHandler]:
    """An HTTP handler that verifies each delivery, drops duplicates by webhook-id, and hands events on."""
    seen: set[str] = set()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                valid = event_verify(secret, self.headers, body)
            except (KeyError, ValueError):
                valid = False
            if not valid:
                self.send_response(401)
                self.end_headers()
                return
            self.send_response(204)
            self.end_headers()
            if self.headers["webhook-id"] not in seen:  # a retry of one already handled
                seen.add(self.headers["webhook-id"])
                on_event(json.loads(body))

        def log_message(self, *args):
            pass

    return Handler


def main(argv: list[str]) -> None:
    if len(argv) >= 1 and argv[0] == "listen":
        port = int(argv[2]) if len(argv) > 2 and argv[1] == "--port" else 8099
        handler = listener(os.environ["WEBHOOK_SECRET"], on_event=_show)
        server = ThreadingHTTPServer(("0.0.0.0", port), handler)  # noqa: S104 (a webhook receiver must be reachable)
        print(f"Listening on :{port}; Ctrl-C to stop.")
        server.serve_forever()
    elif len(argv) >= 3 and argv[0] == "send":
        template_id, to, pairs = argv[1], argv[2], argv[3:]
        parameters = dict(pair.split("=", 1) for pair in pairs)
        sent = template_send(
            base_url=os.environ["PLATFORM_URL"],
            api_key=os.environ["API_KEY"],
            template_id=template_id,
            to=to,
            parameters=parameters,
        )
        print(f"Queued message {sent['message_id']} ({sent['status']}).")
    else:
        print(__doc__)
        raise SystemExit(2)


def _show(event: dict) -> None:
    message = event.get("data", {}).get("message") or {}
    print(f"{event['type']}: {message.get('status', '')} {message.get('wamid', '')}".rstrip())


if __name__ == "__main__":
    main(sys.argv[1:])
