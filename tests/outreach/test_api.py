"""The outreach API with a workspace key: campaigns and scheduled messages, errors, and outsiders."""

from datetime import timedelta

import pytest
from django.utils import timezone

from outreach_app.models import Campaign, ScheduledMessage
from tests.factories import WorkspaceFactory, api_key_for


@pytest.fixture
def api(shop, client):
    headers = {"Authorization": f"Bearer {api_key_for(shop.workspace)}"}

    class Api:
        def get(self, path, **kw):
            return client.get(f"/api/v1/{path}", headers=headers, **kw)

        def post(self, path, body=None):
            return client.post(f"/api/v1/{path}", body or {}, content_type="application/json", headers=headers)

        def patch(self, path, body):
            return client.patch(f"/api/v1/{path}", body, content_type="application/json", headers=headers)

        def delete(self, path):
            return client.delete(f"/api/v1/{path}", headers=headers)

    return Api()


def create_campaign(shop, api, **extra) -> dict:
    body = {
        "name": "Spring sale",
        "channel_id": str(shop.channel.public_id),
        "template_name": "spring_sale",
        "template_language": "en_US",
        "parameter_values": {"1": "{contact.name}", "2": "Sunday"},
        "audience_tags": ["vip"],
        **extra,
    }
    response = api.post("campaigns/", body)
    assert response.status_code == 201, response.json()
    return response.json()


def test_a_campaign_is_created_previewed_launched_and_listed_with_its_funnel(shop, api):
    shop.contact("Ana", "447911123701")
    campaign = create_campaign(shop, api)
    assert campaign["state"] == "draft" and campaign["funnel"]["recipients"] == 0

    preview = api.get(f"campaigns/{campaign['id']}/preview/?count=2").json()
    assert [p["rendered"]["body"] for p in preview] == ["Hi Ana, ferns are 20% off until Sunday. Reply to order."]

    launched = api.post(f"campaigns/{campaign['id']}/launch/")
    assert launched.status_code == 200, launched.json()
    assert launched.json()["state"] == "completed"
    assert launched.json()["funnel"]["queued"] == 1

    listed = api.get("campaigns/").json()
    assert [c["id"] for c in listed["results"]] == [campaign["id"]]
    export = api.get(f"campaigns/{campaign['id']}/export/")
    assert export["Content-Type"].startswith("text/csv")
    lines = export.content.decode().splitlines()
    assert lines[0].startswith("phone,name,outcome") and lines[1].startswith("+447911123701,Ana,")


def test_a_csv_import_through_the_api_reports_bad_rows(shop, api):
    campaign = create_campaign(shop, api, audience_tags=[])
    response = api.post(f"campaigns/{campaign['id']}/recipients/", {"csv": "phone,name\n+447911123801,Ana\n12,Bad\n"})
    assert response.status_code == 200
    assert response.json()["imported"] == 1
    assert [e["line"] for e in response.json()["errors"]] == [3]


def test_a_campaign_is_scheduled_then_cancelled(shop, api):
    shop.contact("Ana", "447911123901")
    campaign = create_campaign(shop, api)
    at = (timezone.now() + timedelta(days=1)).isoformat()

    scheduled = api.post(f"campaigns/{campaign['id']}/launch/", {"scheduled_at": at}).json()
    assert scheduled["state"] == "scheduled"
    cancelled = api.post(f"campaigns/{campaign['id']}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"

    again = api.post(f"campaigns/{campaign['id']}/cancel/")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict" and "already cancelled" in again.json()["error"]["message"]


def test_campaign_errors_name_the_field_and_the_fix(shop, api):
    response = api.post(
        "campaigns/",
        {
            "name": "Bad",
            "channel_id": str(shop.channel.public_id),
            "template_name": "no_such_template",
            "template_language": "en_US",
        },
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["field"] == "template_name" and "spring_sale" in error["message"]

    campaign = create_campaign(shop, api, audience_tags=["nobody"])
    empty = api.post(f"campaigns/{campaign['id']}/launch/")
    assert empty.status_code == 400 and "audience is empty" in empty.json()["error"]["message"]
    paused = api.post(f"campaigns/{campaign['id']}/pause/")
    assert paused.status_code == 409 and "Only a running campaign" in paused.json()["error"]["message"]


def test_a_message_is_scheduled_rescheduled_listed_and_cancelled(shop, api):
    at = timezone.now() + timedelta(hours=2)
    created = api.post(
        "scheduled-messages/",
        {
            "channel_id": str(shop.channel.public_id),
            "to": "+1 650 555 1234",  # Sheena, who wrote a moment ago
            "send_at": at.isoformat(),
            "type": "text",
            "content": {"body": "Your table is ready at 8"},
        },
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["state"] == "scheduled" and body["to"] == "+16505551234" and body["type"] == "text"

    later = at + timedelta(hours=1)
    moved = api.patch(f"scheduled-messages/{body['id']}/", {"send_at": later.isoformat()})
    assert moved.status_code == 200
    assert ScheduledMessage.objects.get(public_id=body["id"]).send_at == later
    assert [m["id"] for m in api.get("scheduled-messages/?state=scheduled").json()["results"]] == [body["id"]]
    assert api.get(f"scheduled-messages/{body['id']}/").json()["send_at"].startswith(later.strftime("%Y-%m-%dT%H:%M"))

    cancelled = api.delete(f"scheduled-messages/{body['id']}/")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert api.delete(f"scheduled-messages/{body['id']}/").status_code == 409


def test_a_free_form_message_after_the_window_is_refused_with_a_clear_error(shop, api):
    response = api.post(
        "scheduled-messages/",
        {
            "channel_id": str(shop.channel.public_id),
            "to": "+16505551234",
            "send_at": (timezone.now() + timedelta(days=2)).isoformat(),
            "type": "text",
            "content": {"body": "Too late"},
        },
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "window_closed" and error["field"] == "send_at"
    assert "Schedule an approved template instead" in error["message"]

    template = api.post(
        "scheduled-messages/",
        {
            "channel_id": str(shop.channel.public_id),
            "to": "+16505551234",
            "send_at": (timezone.now() + timedelta(days=2)).isoformat(),
            "template": {"name": "appointment_reminder", "language": "en_US", "values": {"first_name": "Sheena"}},
        },
    )
    assert template.status_code == 400
    assert "day" in template.json()["error"]["message"]


def test_outsiders_get_404_for_campaigns_and_scheduled_messages(shop, api, client):
    shop.contact("Ana", "447911124001")
    campaign = create_campaign(shop, api)
    scheduled = api.post(
        "scheduled-messages/",
        {
            "channel_id": str(shop.channel.public_id),
            "to": "+16505551234",
            "send_at": (timezone.now() + timedelta(hours=1)).isoformat(),
            "type": "text",
            "content": {"body": "Hi"},
        },
    ).json()
    outsider = {"Authorization": f"Bearer {api_key_for(WorkspaceFactory())}"}

    for path in (
        f"campaigns/{campaign['id']}/",
        f"campaigns/{campaign['id']}/preview/",
        f"campaigns/{campaign['id']}/export/",
        f"scheduled-messages/{scheduled['id']}/",
    ):
        assert client.get(f"/api/v1/{path}", headers=outsider).status_code == 404
    launch = client.post(
        f"/api/v1/campaigns/{campaign['id']}/launch/", {}, content_type="application/json", headers=outsider
    )
    assert launch.status_code == 404
    cancel = client.delete(f"/api/v1/scheduled-messages/{scheduled['id']}/", headers=outsider)
    assert cancel.status_code == 404
    assert client.get("/api/v1/campaigns/", headers=outsider).json()["results"] == []
    foreign_channel = client.post(
        "/api/v1/campaigns/",
        {
            "name": "x",
            "channel_id": str(shop.channel.public_id),
            "template_name": "spring_sale",
            "template_language": "en_US",
        },
        content_type="application/json",
        headers=outsider,
    )
    assert foreign_channel.status_code == 400 and foreign_channel.json()["error"]["field"] == "channel_id"
    assert Campaign.objects.get(public_id=campaign["id"]).state == "draft"


def test_scheduling_a_template_that_is_not_approved_is_refused_at_once(shop, api):
    response = api.post(
        "scheduled-messages/",
        {
            "channel_id": str(shop.channel.public_id),
            "to": "+16505551234",
            "send_at": (timezone.now() + timedelta(days=3)).isoformat(),
            "type": "template",
            "content": {"name": "never_synced", "language": {"code": "en_US"}},
        },
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "template"
    assert "never_synced" in response.json()["error"]["message"]
    assert not ScheduledMessage.objects.exists()
