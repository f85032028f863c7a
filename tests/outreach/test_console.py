"""The console pages: a campaign from form to funnel, CSV upload with its report, scheduling, who may do what."""

from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from outreach_app.models import Campaign, ScheduledMessage
from tests.factories import WorkspaceFactory, member
from workspaces_app.models import Role


def url(shop, name, *args):
    return reverse(name, args=[shop.workspace.slug, *args])


def test_an_owner_creates_previews_imports_and_launches_a_campaign(shop, client):
    shop.contact("Ana", "447911125001")
    client.force_login(shop.owner)
    page = client.get(url(shop, "campaign_list"))
    assert page.status_code == 200 and b"New campaign" in page.content

    response = client.post(
        url(shop, "campaign_list"),
        {
            "name": "Spring sale",
            "channel": shop.channel.pk,
            "template": "spring_sale|en_US",
            "parameter_values": "1 = {contact.name}\n2 = Sunday",
            "audience_tags": "vip",
        },
    )
    campaign = Campaign.objects.get()
    assert response.status_code == 302 and response["Location"] == url(shop, "campaign_detail", campaign.public_id)
    detail = client.get(url(shop, "campaign_detail", campaign.public_id)).content.decode()
    assert "Hi Ana, ferns are 20% off until Sunday." in detail

    upload = SimpleUploadedFile("audience.csv", b"phone,1\n+447911125002,Ben\nnope,Nobody\n", content_type="text/csv")
    client.post(url(shop, "campaign_import", campaign.public_id), {"file": upload})
    detail = client.get(url(shop, "campaign_detail", campaign.public_id)).content.decode()
    assert "1 imported, 1 rejected" in detail and "&#x27;nope&#x27; is not a phone number" in detail

    client.post(url(shop, "campaign_launch", campaign.public_id), {"start_at": ""})
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.COMPLETED
    funnel = client.get(url(shop, "campaign_funnel", campaign.public_id)).content.decode()
    assert "Queued</span><strong>2</strong>" in funnel
    export = client.get(url(shop, "campaign_export", campaign.public_id))
    assert export.status_code == 200 and export.content.decode().count("\n") == 3


def test_a_viewer_sees_campaigns_but_cannot_change_them_and_outsiders_get_404(shop, client):
    campaign = Campaign.objects.create(
        workspace=shop.workspace,
        channel=shop.channel,
        name="Spring sale",
        template=shop.sale,
        template_name="spring_sale",
        template_language="en_US",
    )
    viewer = member(shop.workspace, Role.VIEWER)
    client.force_login(viewer)
    assert client.get(url(shop, "campaign_detail", campaign.public_id)).status_code == 200
    assert client.post(url(shop, "campaign_cancel", campaign.public_id)).status_code == 403
    assert client.post(url(shop, "campaign_list"), {"name": "x"}).status_code == 403
    assert Campaign.objects.get(pk=campaign.pk).state == Campaign.State.DRAFT

    outsider = member(WorkspaceFactory(), Role.OWNER)
    client.force_login(outsider)
    assert client.get(url(shop, "campaign_detail", campaign.public_id)).status_code == 404
    assert client.get(url(shop, "scheduled_list")).status_code == 404


def test_scheduling_from_the_console_shows_the_window_error_and_accepts_a_template(shop, client):
    client.force_login(shop.owner)
    too_late = (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    form = {"channel": shop.channel.pk, "to": "+16505551234", "send_at": too_late, "body": "See you tomorrow"}

    refused = client.post(url(shop, "scheduled_list"), form)
    assert refused.status_code == 400 and "Schedule an approved template instead" in refused.content.decode()

    form.update(body="", template="appointment_reminder|en_US", template_values="first_name = Sheena\nday = Friday")
    accepted = client.post(url(shop, "scheduled_list"), form)
    assert accepted.status_code == 302
    scheduled = ScheduledMessage.objects.get()
    assert scheduled.message_type == "template" and scheduled.created_by == shop.owner
    page = client.get(url(shop, "scheduled_list")).content.decode()
    assert "appointment_reminder" in page

    client.post(url(shop, "scheduled_cancel", scheduled.public_id))
    assert ScheduledMessage.objects.get().state == ScheduledMessage.State.CANCELLED


def test_the_nav_links_to_campaigns(shop, client):
    client.force_login(shop.owner)
    page = client.get(reverse("workspace_overview", args=[shop.workspace.slug])).content.decode()
    assert f'href="{url(shop, "campaign_list")}"' in page
