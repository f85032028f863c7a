"""Managing webhook subscriptions through the API and in Settings → Webhooks."""

import pytest
from django.urls import reverse

from events_app import services
from events_app.models import Delivery, WebhookSubscription
from tests.events.test_delivery import readme_verify
from tests.factories import WorkspaceFactory, api_key_for, member
from workspaces_app.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    return WorkspaceFactory(name="Lucky Shrub", slug="lucky-shrub")


@pytest.fixture
def api(client, shop):
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {api_key_for(shop)}"
    return client


@pytest.fixture
def owner(client, shop):
    client.force_login(member(shop, Role.OWNER))
    return client


def test_the_api_creates_a_subscription_and_shows_its_secret_once(api, receiver):
    created = api.post(
        "/api/v1/webhook-subscriptions/",
        {"url": receiver.url, "event_types": ["message.received", "csat.received"], "description": "CRM"},
        content_type="application/json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["enabled"] is True
    assert body["event_types"] == ["csat.received", "message.received"]

    detail = api.get(f"/api/v1/webhook-subscriptions/{body['id']}/").json()
    listed = api.get("/api/v1/webhook-subscriptions/").json()["results"]
    assert "secret" not in detail and [row["id"] for row in listed] == [body["id"]]
    assert all("secret" not in row for row in listed)
    assert WebhookSubscription.objects.get().secret == body["secret"]


def test_the_api_refuses_a_private_address_with_a_clear_error(api, settings):
    settings.EVENT_WEBHOOK_ALLOWED_HOSTS = []
    answer = api.post(
        "/api/v1/webhook-subscriptions/",
        {"url": "http://10.0.0.1/hooks", "event_types": ["message.received"]},
        content_type="application/json",
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid" and error["field"] == "url"
    assert error["message"].startswith("10.0.0.1 resolves to a private address; webhooks go to public addresses only")


def test_the_api_refuses_an_unknown_event_type(api, receiver):
    answer = api.post(
        "/api/v1/webhook-subscriptions/",
        {"url": receiver.url, "event_types": ["message.exploded"]},
        content_type="application/json",
    )
    assert answer.status_code == 400 and answer.json()["error"]["field"].startswith("event_types")


def test_the_api_patches_rotates_lists_deliveries_resends_and_deletes(
    api, shop, receiver, django_capture_on_commit_callbacks
):
    subscription, first_secret = services.subscription_create(
        workspace=shop, url=receiver.url, event_types=["conversation.closed"]
    )
    url = f"/api/v1/webhook-subscriptions/{subscription.public_id}/"
    patched = api.patch(url, {"enabled": False, "description": "Paused"}, content_type="application/json")
    assert patched.status_code == 200 and patched.json()["enabled"] is False
    assert patched.json()["disabled_reason"] == "Disabled by a teammate."
    assert api.patch(url, {"enabled": True}, content_type="application/json").json()["disabled_reason"] == ""

    rotated = api.post(f"{url}rotate-secret/", {"overlap_hours": 2}, content_type="application/json")
    assert rotated.status_code == 200
    new_secret = rotated.json()["secret"]
    assert new_secret != first_secret and rotated.json()["secret_rotation_overlap_until"]

    with django_capture_on_commit_callbacks(execute=True):
        services.event_emit(workspace_id=shop.pk, type="conversation.closed", data={"conversation": {"id": 1}})
    deliveries = api.get(f"{url}deliveries/").json()["results"]
    [delivery] = deliveries
    assert delivery["state"] == "delivered" and delivery["event_type"] == "conversation.closed"
    assert delivery["attempts"][0]["status_code"] == 200 and delivery["attempts"][0]["response_ms"] >= 0

    with django_capture_on_commit_callbacks(execute=True):
        resent = api.post(f"{url}deliveries/{delivery['id']}/resend/")
    assert resent.status_code == 202 and resent.json()["state"] == "pending"  # sent after the answer
    [again] = api.get(f"{url}deliveries/").json()["results"]
    assert again["state"] == "delivered" and len(again["attempts"]) == 2
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery["id"]
    assert first.body == second.body
    verify = readme_verify()
    assert verify(new_secret, second.headers, second.body) and verify(first_secret, second.headers, second.body)

    assert api.delete(url).status_code == 204
    assert not WebhookSubscription.objects.exists() and not Delivery.objects.exists()


def test_the_api_does_not_show_another_workspaces_subscription(api, receiver):
    foreign, _secret = services.subscription_create(
        workspace=WorkspaceFactory(), url=receiver.url, event_types=["message.received"]
    )
    url = f"/api/v1/webhook-subscriptions/{foreign.public_id}/"
    assert api.get(url).status_code == 404
    assert api.post(f"{url}rotate-secret/").status_code == 404
    assert api.delete(url).status_code == 404
    assert api.get(f"{url}deliveries/").status_code == 404
    assert WebhookSubscription.objects.count() == 1


def test_the_schema_documents_the_webhook_api(api):
    schema = api.get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    text = schema.content.decode()
    assert "/api/v1/webhook-subscriptions/{subscription_id}/rotate-secret/" in text
    assert "/api/v1/webhook-subscriptions/{subscription_id}/deliveries/{delivery_id}/resend/" in text


def test_the_settings_page_links_to_webhooks(owner):
    page = owner.get(reverse("workspace_settings", args=["lucky-shrub"]))
    assert reverse("webhook_list", args=["lucky-shrub"]) in page.content.decode()


def test_the_console_creates_a_webhook_and_shows_the_secret_once(owner, receiver):
    answer = owner.post(
        reverse("webhook_create", args=["lucky-shrub"]),
        {"url": receiver.url, "event_types": ["message.received", "conversation.handoff"], "description": "CRM"},
    )
    assert answer.status_code == 200
    subscription = WebhookSubscription.objects.get()
    assert subscription.secret in answer.content.decode()
    assert subscription.event_types == ["conversation.handoff", "message.received"]

    detail = owner.get(reverse("webhook_detail", args=["lucky-shrub", subscription.public_id]))
    assert detail.status_code == 200 and subscription.secret not in detail.content.decode()
    listing = owner.get(reverse("webhook_list", args=["lucky-shrub"])).content.decode()
    assert receiver.url in listing and subscription.secret not in listing


def test_the_console_shows_a_private_address_error_on_the_url(owner, settings):
    settings.EVENT_WEBHOOK_ALLOWED_HOSTS = []
    answer = owner.post(
        reverse("webhook_create", args=["lucky-shrub"]),
        {"url": "http://localhost:9000/hooks", "event_types": ["message.received"]},
    )
    assert answer.status_code == 400
    assert "localhost resolves to a private address" in answer.content.decode()
    assert not WebhookSubscription.objects.exists()


def test_the_console_rotates_disables_resends_and_deletes(owner, shop, receiver, django_capture_on_commit_callbacks):
    subscription, secret = services.subscription_create(
        workspace=shop, url=receiver.url, event_types=["conversation.closed"]
    )
    receiver.plan = [500]
    with django_capture_on_commit_callbacks(execute=True):
        services.event_emit(workspace_id=shop.pk, type="conversation.closed", data={})
    delivery = Delivery.objects.get()
    args = ["lucky-shrub", subscription.public_id]

    log = owner.get(reverse("webhook_detail", args=args)).content.decode()
    assert delivery.public_id in log and "HTTP 500" in log and "the order service is down" in log

    with django_capture_on_commit_callbacks(execute=True):
        owner.post(reverse("webhook_delivery_resend", args=[*args, delivery.public_id]))
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.DELIVERED and delivery.attempts.count() == 2

    rotated = owner.post(reverse("webhook_rotate_secret", args=args)).content.decode()
    subscription.refresh_from_db()
    assert subscription.secret != secret and subscription.secret in rotated and subscription.previous_secret == secret

    owner.post(reverse("webhook_toggle", args=args))
    subscription.refresh_from_db()
    assert not subscription.enabled
    owner.post(reverse("webhook_delivery_resend", args=[*args, delivery.public_id]))
    assert delivery.attempts.count() == 2  # refused while disabled

    owner.post(reverse("webhook_delete", args=args))
    assert not WebhookSubscription.objects.exists()


def test_an_outsider_gets_404_and_an_agent_role_403(client, shop, receiver):
    subscription, _secret = services.subscription_create(
        workspace=shop, url=receiver.url, event_types=["message.received"]
    )
    client.force_login(member(WorkspaceFactory(), Role.OWNER))
    assert client.get(reverse("webhook_detail", args=["lucky-shrub", subscription.public_id])).status_code == 404
    client.force_login(member(shop, Role.AGENT))
    assert client.get(reverse("webhook_list", args=["lucky-shrub"])).status_code == 403
    assert client.post(reverse("webhook_delete", args=["lucky-shrub", subscription.public_id])).status_code == 403
    assert WebhookSubscription.objects.exists()
