"""The webhook log: every POST WhatsApp sent, filtered, its payload readable, a failed one reprocessed.

Events are produced through the webhook URLs with real signatures. Cast: Lucky Shrub's owner (may
reprocess), Sam (answers chats: reads the log), an outsider who owns Globex.
"""

import hashlib
import hmac
import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from channels_app.models import WebhookEvent
from channels_app.services import webhook_event_receive
from messaging_app.models import Message
from tests.factories import ChannelFactory, WorkspaceFactory, member
from workspaces_app.models import Role

pytestmark = pytest.mark.django_db

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "whatsapp" / "text.json"
PHONE_NUMBER_ID = "106540352242922"  # the number the fixture's payload is for
CHANNEL_SECRET = "support-line-app-secret"


def _body(text: str = "Does it come in another color?") -> bytes:
    body = json.loads(FIXTURE.read_bytes())
    body["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] = text
    return json.dumps(body).encode()


def _signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture
def shop():
    return WorkspaceFactory(name="Lucky Shrub", slug="lucky-shrub")


@pytest.fixture
def support(shop):
    # Connected by hand with its own Meta app: webhooks come to its own URL, signed with its app secret.
    return ChannelFactory(
        workspace=shop, name="Support line", phone_number_id=PHONE_NUMBER_ID, app_secret=CHANNEL_SECRET
    )


@pytest.fixture
def owner(shop):
    return member(shop, Role.OWNER, email="owner@luckyshrub.test")


def _post(client, channel, body: bytes, secret: str = CHANNEL_SECRET):
    return client.post(
        f"/webhooks/whatsapp/{channel.public_id}/",
        data=body,
        content_type="application/json",
        headers={"X-Hub-Signature-256": _signature(body, secret)},
    )


def _log(client, **params):
    response = client.get(reverse("troubleshooting_webhooks", args=["lucky-shrub"]), params)
    assert response.status_code == 200
    return response


def test_a_post_with_a_bad_signature_is_logged_as_rejected_with_a_prefix_of_its_payload_and_its_signature_masked(
    client, support, owner
):
    body = b"<script>alert('x')</script>" + _body("Is the fern in stock?")
    assert len(body) > 256
    assert _post(client, support, body, secret="not-the-app-secret").status_code == 401

    client.force_login(owner)
    [event] = _log(client, signature="invalid").context["events"]
    assert event.state == WebhookEvent.State.REJECTED and event.body_bytes == 256  # a prefix, never the whole body
    assert _log(client, signature="valid").context["events"] == []

    page = client.get(reverse("troubleshooting_webhook_detail", args=["lucky-shrub", event.pk]))
    assert page.context["payload"].startswith("<script>alert('x')</script>{")
    html = page.content.decode()
    assert "&lt;script&gt;alert(" in html and "<script>alert(" not in html
    signature = _signature(body, "not-the-app-secret")
    assert signature not in html and signature[7:20] not in html
    assert "sha256=•••• (masked" in html
    assert "Reprocess" not in html  # a rejected POST is never processed


def test_an_event_for_a_number_not_connected_fails_then_is_reprocessed_once_the_number_is_fixed(
    client, support, owner, django_capture_on_commit_callbacks
):
    support.phone_number_id = "100000000000001"  # the channel was set up with the wrong number id
    support.save()
    assert _post(client, support, _body("Do you ship to Leeds?")).status_code == 200

    client.force_login(owner)
    [event] = _log(client, state="failed").context["events"]
    assert f"no channel has phone_number_id {PHONE_NUMBER_ID}" in event.error
    assert not Message.objects.exists()
    detail_url = reverse("troubleshooting_webhook_detail", args=["lucky-shrub", event.pk])
    assert "Reprocess" in client.get(detail_url).content.decode()

    teammate = member(support.workspace, Role.AGENT)
    client.force_login(teammate)
    reprocess_url = reverse("troubleshooting_webhook_reprocess", args=["lucky-shrub", event.pk])
    assert client.post(reprocess_url).status_code == 403

    support.phone_number_id = PHONE_NUMBER_ID
    support.save()
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reprocess_url)
    assert response.status_code == 302
    event.refresh_from_db()
    assert event.state == WebhookEvent.State.PROCESSED and event.error == "" and event.attempts == 2
    assert Message.objects.get().content["body"] == "Do you ship to Leeds?"
    assert client.get(detail_url).context["event"].state == WebhookEvent.State.PROCESSED


def test_an_event_on_the_platforms_shared_url_shows_in_the_log_of_the_workspace_whose_number_it_is_for(
    client, support, owner, settings
):
    settings.META_APP_SECRET = "platform-app-secret"
    body = _body()
    response = client.post(
        "/webhooks/whatsapp/",
        data=body,
        content_type="application/json",
        headers={"X-Hub-Signature-256": _signature(body, "platform-app-secret")},
    )
    assert response.status_code == 200
    client.force_login(owner)
    [event] = _log(client).context["events"]
    assert event.state == WebhookEvent.State.PROCESSED and event.channel is None
    assert event.summary == "1 InboundMessage"


def test_the_log_filters_and_pages_newest_first_without_counting_rows_or_loading_bodies(client, shop, support, owner):
    sales = ChannelFactory(workspace=shop, name="Sales line")
    for n in range(55):
        webhook_event_receive(raw_body=_body(f"message {n}"), headers={}, signature_valid=True, channel=support)
    for _ in range(2):
        webhook_event_receive(raw_body=b"{}", headers={}, signature_valid=False, channel=sales)
    old = list(WebhookEvent.objects.filter(channel=support).order_by("pk").values_list("pk", flat=True)[:5])
    WebhookEvent.objects.filter(pk__in=old).update(received_at=timezone.now() - timedelta(days=3))
    client.force_login(owner)

    with CaptureQueriesContext(connection) as queries:
        first = _log(client)
    events = first.context["events"]
    assert len(events) == 50 and events[0].pk == WebhookEvent.objects.order_by("-received_at", "-pk").first().pk
    assert [e.received_at for e in events] == sorted((e.received_at for e in events), reverse=True)
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert "COUNT(" not in sql.upper()
    assert sql.count('."body"') == sql.count('LENGTH("channels_app_webhookevent"."body")')
    assert len(queries.captured_queries) <= 10  # a constant few, whatever the page holds

    second = _log(client, before=first.context["next_before"]).context
    assert len(second["events"]) == 7 and second["next_before"] is None
    assert {e.pk for e in events}.isdisjoint(e.pk for e in second["events"])

    assert len(_log(client, channel=str(sales.public_id)).context["events"]) == 2
    assert len(_log(client, signature="invalid").context["events"]) == 2
    assert len(_log(client, state="rejected", channel=str(support.public_id)).context["events"]) == 0
    today = timezone.localdate().isoformat()
    recent = _log(client, channel=str(support.public_id), date_from=today).context
    assert len(recent["events"]) == 50 and recent["next_before"] is None
    three_days_ago = (timezone.localdate() - timedelta(days=3)).isoformat()
    assert sorted(e.pk for e in _log(client, date_to=three_days_ago).context["events"]) == old


def test_an_outsider_gets_404_and_never_sees_another_workspaces_webhooks(client, support):
    event = webhook_event_receive(raw_body=_body(), headers={}, signature_valid=True, channel=support)
    globex = WorkspaceFactory(name="Globex", slug="globex")
    client.force_login(member(globex, Role.OWNER))
    assert client.get(reverse("troubleshooting_webhooks", args=["lucky-shrub"])).status_code == 404
    assert client.get(reverse("troubleshooting_webhook_detail", args=["lucky-shrub", event.pk])).status_code == 404
    assert client.get(reverse("troubleshooting_webhook_detail", args=["globex", event.pk])).status_code == 404
    assert client.post(reverse("troubleshooting_webhook_reprocess", args=["globex", event.pk])).status_code == 404
    assert client.get(reverse("troubleshooting_webhooks", args=["globex"])).context["events"] == []
