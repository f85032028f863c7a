"""Creating templates from the console and the API, Meta's review arriving by webhook, deleting them.

Cast: the owner and an admin of Lucky Shrub (emailed about rejections), a teammate who answers chats
(not emailed), and an outsider who owns another workspace.
"""

import base64
import io

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from channels_app.models import MessageTemplate
from channels_app.services.templates import templates_sync
from cloudapi_emulator.models import Template as MetaTemplate
from tests.conftest import wait_until
from tests.factories import WorkspaceFactory, api_key_for, member
from tests.templates.conftest import seed
from workspaces_app.models import Role

FORM = {
    "name": "order_ready",
    "language": "en_US",
    "category": "utility",
    "body": "Hi {{1}}, your order {{2}} is ready for pick-up at our Covent Garden shop.",
    "example_1": "Sheena",
    "example_2": "1042",
    "footer": "Lucky Shrub",
    "button_0_type": "quick_reply",
    "button_0_text": "On my way",
    "button_1_type": "url",
    "button_1_text": "See order",
    "button_1_url": "https://shop.example/o/{{1}}",
    "button_1_url_example": "1042",
}


@pytest.fixture
def slow_review(settings):
    settings.WHATSAPP_EMULATOR_TEMPLATE_REVIEW_SECONDS = 0.6  # long enough to see "in review"


def create(client, sandbox, **changes):
    data = {**FORM, "channel": str(sandbox.channel.public_id), **changes}
    return client.post(reverse("template_create", args=["lucky-shrub"]), data)


def test_a_template_is_submitted_shown_in_review_then_approved_by_the_status_webhook(
    sandbox, owner_client, slow_review
):
    response = create(owner_client, sandbox)
    template = MessageTemplate.objects.get(name="order_ready")
    assert response["Location"] == reverse("template_detail", args=["lucky-shrub", template.public_id])
    assert template.status == "PENDING" and template.meta_id
    assert "In review" in owner_client.get(response["Location"]).content.decode()
    at_meta = MetaTemplate.objects.get(template_id=template.meta_id)
    body, footer, buttons = at_meta.components
    assert body["example"] == {"body_text": [["Sheena", "1042"]]} and footer["text"] == "Lucky Shrub"
    assert buttons["buttons"][1]["example"] == ["https://shop.example/o/1042"]

    approved = wait_until(lambda: MessageTemplate.objects.filter(pk=template.pk, status="APPROVED").first())
    assert approved.category == "UTILITY"
    page = owner_client.get(response["Location"]).content.decode()
    assert "Approved" in page and "Hi Sheena, your order 1042 is ready for pick-up" in page
    assert not mail.outbox  # approvals are no news


def test_a_rejection_shows_the_reason_and_recommendation_and_emails_owners_and_admins(sandbox, owner_client, owner):
    admin = member(sandbox.channel.workspace, Role.ADMIN, email="admin@luckyshrub.example")
    member(sandbox.channel.workspace, Role.AGENT, email="teammate@luckyshrub.example")
    response = create(owner_client, sandbox, name="reject_this_promo")
    template = wait_until(lambda: MessageTemplate.objects.filter(name="reject_this_promo", status="REJECTED").first())

    page = owner_client.get(response["Location"]).content.decode()
    assert "Meta rejected this template" in page
    assert "rejected by the emulator because its name contains" in page  # Meta's rejection_info.reason
    assert "Recommendation: Rename the template to have it approved." in page
    list_page = owner_client.get(reverse("template_list", args=["lucky-shrub"])).content.decode()
    assert "Rejected" in list_page

    wait_until(lambda: mail.outbox)
    (email,) = mail.outbox
    assert sorted(email.to) == sorted([owner.email, admin.email])
    assert "reject_this_promo (en_US) was rejected" in email.subject
    assert "Rename the template" in email.body and str(template.public_id) in email.body


def test_a_pause_reported_by_meta_emails_staff_once(sandbox, owner, deliver_template_status):
    seed(sandbox, "order_update")
    deliver_template_status("order_update", "APPROVED")
    deliver_template_status(
        "order_update", "PAUSED", other_info={"title": "FIRST_PAUSE", "description": "Low quality."}
    )
    deliver_template_status(
        "order_update", "PAUSED", other_info={"title": "FIRST_PAUSE", "description": "Low quality."}
    )
    template = MessageTemplate.objects.get(name="order_update")
    assert template.status == "PAUSED" and template.recommendation == "Low quality."
    assert [e.subject for e in mail.outbox] == [
        "WhatsApp template order_update (en_US) was paused by Meta for low quality"
    ]


@pytest.fixture
def deliver_template_status(sandbox):
    """Meta announcing a status change of one of the account's templates, signed and delivered over HTTP."""
    from cloudapi_emulator.services.webhooks import waba_webhook_enqueue

    def _deliver(name: str, event: str, **extra):
        template = MetaTemplate.objects.get(waba_id=sandbox.number.waba_id, name=name)
        value = {
            "event": event,
            "message_template_id": int(template.template_id),
            "message_template_name": name,
            "message_template_language": template.language,
            "reason": "NONE",
            **extra,
        }
        waba_webhook_enqueue(waba_id=sandbox.number.waba_id, field="message_template_status_update", value=value)
        sandbox.emulator.drain()

    return _deliver


def test_the_create_form_lists_every_broken_rule_next_to_its_field(sandbox, owner_client):
    response = create(
        owner_client,
        sandbox,
        name="Order Ready",
        body="{{1}}, your order number is {{2}}",
        example_2="",
        footer="x" * 61,
        button_1_url="https://shop.example/{{1}}/view",
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "lowercase letters" in errors["name"][0]
    assert any("cannot start with a parameter" in e for e in errors["body"])
    assert any("cannot end with a parameter" in e for e in errors["body"])
    assert "Give an example value for {{2}}" in errors["example_2"][0]
    assert "61 characters" in errors["footer"][0]
    assert "at its very end" in errors["button_1_url"][0]
    assert not MessageTemplate.objects.exists() and not MetaTemplate.objects.exists()


def test_the_body_examples_follow_the_parameters_as_the_body_is_typed(sandbox, owner_client):
    response = owner_client.post(
        reverse("template_create_examples", args=["lucky-shrub"]),
        {"body": "Hi {{first_name}}, order {{order_number}} is ready."},
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert 'name="example_first_name"' in html and 'name="example_order_number"' in html


def _jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 64), "green").save(out, format="JPEG")
    return out.getvalue()


def test_an_image_header_sample_is_uploaded_and_its_handle_submitted(sandbox, owner_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = create(
        owner_client,
        sandbox,
        name="new_ferns",
        category="marketing",
        header_format="image",
        header_file=SimpleUploadedFile("ferns.jpg", _jpeg(), content_type="image/jpeg"),
    )
    assert response.status_code == 302, response.context["form"].errors
    at_meta = MetaTemplate.objects.get(name="new_ferns")
    assert at_meta.components[0]["format"] == "IMAGE"
    assert at_meta.components[0]["example"]["header_handle"][0]


# --- the API ---------------------------------------------------------------------------------


@pytest.fixture
def api(client, sandbox):
    headers = {"Authorization": f"Bearer {api_key_for(sandbox.channel.workspace)}"}

    class Api:
        def get(self, path, **kw):
            return client.get(f"/api/v1/{path}", headers=headers, **kw)

        def post(self, path, body):
            return client.post(f"/api/v1/{path}", body, content_type="application/json", headers=headers)

        def delete(self, path):
            return client.delete(f"/api/v1/{path}", headers=headers)

    return Api()


API_TEMPLATE = {
    "name": "order_ready",
    "language": "en_US",
    "category": "utility",
    "body": "Hi {{first_name}}, your order {{order_number}} is ready for pick-up.",
    "body_examples": {"first_name": "Sheena", "order_number": "1042"},
    "header": {"format": "text", "text": "Order {{order_number}} is ready", "example": "1042"},
    "footer": "Lucky Shrub",
    "buttons": [{"type": "phone_number", "text": "Call the shop", "phone_number": "+44 20 7946 0000"}],
}


def test_the_api_creates_lists_filters_and_deletes_templates(sandbox, api):
    created = api.post("templates/", {**API_TEMPLATE, "channel_id": str(sandbox.channel.public_id)})
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["status"] == "PENDING" and body["parameter_format"] == "NAMED"
    assert [p["key"] for p in body["placeholders"]] == ["order_number", "first_name"]
    wait_until(lambda: MessageTemplate.objects.filter(name="order_ready", status="APPROVED").exists())
    seed(sandbox, "spring_sale", category="MARKETING", status="PENDING")
    api.post("templates/sync/", {"channel_id": str(sandbox.channel.public_id)})

    names = [t["name"] for t in api.get("templates/").json()["results"]]
    assert names == ["order_ready", "spring_sale"]
    approved = api.get("templates/", data={"status": "approved"}).json()["results"]
    assert [t["name"] for t in approved] == ["order_ready"]
    by_name = api.get("templates/", data={"name": "spring", "channel": str(sandbox.channel.public_id)})
    assert [t["name"] for t in by_name.json()["results"]] == ["spring_sale"]
    assert api.get(f"templates/{body['id']}/").json()["status"] == "APPROVED"

    assert api.delete(f"templates/{body['id']}/").status_code == 204
    assert MessageTemplate.objects.get(name="order_ready").status == "DELETED"
    assert MetaTemplate.objects.get(name="order_ready").status == "DELETED"
    assert [t["name"] for t in api.get("templates/").json()["results"]] == ["spring_sale"]


def test_the_api_reports_every_broken_rule_with_its_field(sandbox, api):
    response = api.post(
        "templates/",
        {**API_TEMPLATE, "name": "Order Ready", "footer": "Reply {{1}}", "channel_id": str(sandbox.channel.public_id)},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_template" and error["field"] == "name"
    assert {p["field"] for p in error["problems"]} == {"name", "footer"}
    assert not MetaTemplate.objects.exists()


def test_the_api_uploads_a_base64_media_sample(sandbox, api):
    sample = {"content_base64": base64.b64encode(_jpeg()).decode(), "mime_type": "image/jpeg", "filename": "f.jpg"}
    response = api.post(
        "templates/",
        {
            "channel_id": str(sandbox.channel.public_id),
            "name": "new_ferns",
            "language": "en_US",
            "category": "marketing",
            "header": {"format": "image", "sample": sample},
            "body": "Our new ferns have arrived in the shop this week.",
        },
    )
    assert response.status_code == 201, response.json()
    assert MetaTemplate.objects.get(name="new_ferns").components[0]["example"]["header_handle"]


def test_a_name_already_taken_in_that_language_is_a_conflict(sandbox, api):
    seed(sandbox, "order_ready")
    api.post("templates/sync/", {"channel_id": str(sandbox.channel.public_id)})
    response = api.post("templates/", {**API_TEMPLATE, "channel_id": str(sandbox.channel.public_id)})
    assert response.status_code == 409 and response.json()["error"]["field"] == "name"


def test_an_outsider_gets_404_on_every_template_surface(sandbox, client):
    seed(sandbox, "order_update")
    templates_sync(channel=sandbox.channel, since=timezone.now())
    template = MessageTemplate.objects.get()
    globex = WorkspaceFactory(name="Globex", slug="globex")
    client.force_login(member(globex, Role.OWNER))
    pages = [
        ("get", reverse("template_list", args=["lucky-shrub"])),
        ("get", reverse("template_create", args=["lucky-shrub"])),
        ("get", reverse("template_detail", args=["lucky-shrub", template.public_id])),
        ("post", reverse("template_send", args=["lucky-shrub", template.public_id])),
        ("post", reverse("template_delete", args=["lucky-shrub", template.public_id])),
        ("post", reverse("template_sync", args=["lucky-shrub"])),
        ("get", reverse("template_picker", args=["lucky-shrub"]) + f"?channel={sandbox.channel.public_id}"),
    ]
    for method, url in pages:
        assert getattr(client, method)(url).status_code == 404, url
    # Their own workspace's URLs with Lucky Shrub's template id find nothing either.
    assert client.get(reverse("template_detail", args=["globex", template.public_id])).status_code == 404
    headers = {"Authorization": f"Bearer {api_key_for(globex)}"}
    assert client.get(f"/api/v1/templates/{template.public_id}/", headers=headers).status_code == 404
    assert client.delete(f"/api/v1/templates/{template.public_id}/", headers=headers).status_code == 404
    sent = client.post(
        f"/api/v1/templates/{template.public_id}/send/",
        {"to": "+16505551234"},
        content_type="application/json",
        headers=headers,
    )
    assert sent.status_code == 404
    assert client.get("/api/v1/templates/", headers=headers).json()["results"] == []
    assert MessageTemplate.objects.get().status == "APPROVED"


def test_a_teammate_who_answers_chats_cannot_create_or_delete_templates(sandbox, client):
    client.force_login(member(sandbox.channel.workspace, Role.AGENT))
    assert client.get(reverse("template_create", args=["lucky-shrub"])).status_code == 403
    assert client.get(reverse("template_list", args=["lucky-shrub"])).status_code == 200


def test_deleting_from_the_console_deletes_at_meta_and_keeps_the_history(sandbox, owner_client):
    seed(sandbox, "spring_sale", category="MARKETING")
    templates_sync(channel=sandbox.channel, since=timezone.now())
    template = MessageTemplate.objects.get()
    response = owner_client.post(reverse("template_delete", args=["lucky-shrub", template.public_id]), follow=True)
    assert "spring_sale (en_US) was deleted on WhatsApp" in response.content.decode()
    assert MetaTemplate.objects.get(name="spring_sale").status == "DELETED"
    template.refresh_from_db()
    assert template.status == "DELETED"
    page = owner_client.get(reverse("template_detail", args=["lucky-shrub", template.public_id])).content.decode()
    assert "Kept here because messages were sent with it" in page and "Delete on WhatsApp" not in page
