import hashlib
import hmac
from pathlib import Path

import pytest

from tests.factories import AgentFactory, ChannelFactory, WorkspaceFactory

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "whatsapp"
APP_SECRET = "platform-app-secret-for-tests"
PHONE_NUMBER_ID = "106540352242922"
WABA_ID = "102290129340398"
CUSTOMER_WA_ID = "16505551234"
CUSTOMER_BSUID = "US.13491208655302741918"
OUTBOUND_WAMID = "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def fixture_now(name: str) -> bytes:
    """The fixture with its messages timestamped now, so the customer-service window is open."""
    import json
    import time

    body = json.loads(fixture_bytes(name))
    for entry in body["entry"]:
        for change in entry["changes"]:
            for message in change["value"].get("messages", []):
                message["timestamp"] = str(int(time.time()))
    return json.dumps(body).encode()


def signature(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture(autouse=True)
def _platform_app_secret(settings):
    settings.META_APP_SECRET = APP_SECRET
    settings.WHATSAPP_VERIFY_TOKEN = "verify-me"


@pytest.fixture
def workspace():
    return WorkspaceFactory(name="Lucky Shrub", slug="lucky-shrub")


@pytest.fixture
def channel(workspace):
    return ChannelFactory(
        workspace=workspace,
        name="Lucky Shrub Support",
        phone_number_id=PHONE_NUMBER_ID,
        waba_id=WABA_ID,
        display_phone_number="+1 555-078-3881",
    )


@pytest.fixture
def agent(workspace):
    return AgentFactory(workspace=workspace, name="Shrubby")


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks):
    """POST a signed webhook; it is processed in-process (tasks are eager in tests).

    What processing enqueues on commit (media downloads, the agent's turn) is not run here: these
    tests look at what was stored; the downstream has tests of its own."""

    def _deliver(body: bytes | str, *, url: str = "/webhooks/whatsapp/", secret: str = APP_SECRET, sign: bool = True):
        raw = fixture_bytes(body) if isinstance(body, str) else body
        headers = {"X-Hub-Signature-256": signature(raw, secret)} if sign else {}
        with django_capture_on_commit_callbacks():
            return client.post(url, data=raw, content_type="application/json", headers=headers)

    return _deliver
