"""The Troubleshooting page: where to look first, with the counts that matter and each channel's health."""

import pytest
from django.urls import reverse
from django.utils import timezone

from channels_app.models import Channel
from channels_app.services import webhook_event_finish, webhook_event_receive
from messaging_app.models import Message
from tests.factories import ChannelFactory, WorkspaceFactory, conversation_with, member, outbound_message
from workspaces_app.models import Role

pytestmark = pytest.mark.django_db


def test_the_page_counts_problems_and_links_every_channels_health(client):
    shop = WorkspaceFactory(name="Lucky Shrub", slug="lucky-shrub")
    healthy = ChannelFactory(workspace=shop, name="Support line", quality_rating="GREEN")
    broken = ChannelFactory(
        workspace=shop,
        name="Sales line",
        status=Channel.Status.NEEDS_RECONNECTION,
        status_reason="WhatsApp refused the access token (190). Reconnect the channel.",
    )
    failed_event = webhook_event_receive(raw_body=b"not json", headers={}, signature_valid=True, channel=healthy)
    failed_event.attempts = 1
    webhook_event_finish(event=failed_event, error="The body is not JSON")
    webhook_event_receive(raw_body=b"{}", headers={}, signature_valid=False, channel=healthy)
    failed = outbound_message(conversation_with(healthy), status=Message.Status.FAILED)
    Message.objects.filter(pk=failed.pk).update(error_code=131026, failed_at=timezone.now())
    client.force_login(member(shop, Role.VIEWER))

    response = client.get(reverse("troubleshooting", args=["lucky-shrub"]))
    overview = response.context["overview"]
    assert (overview["webhooks_failed"], overview["webhooks_rejected"], overview["messages_failed"]) == (1, 1, 1)
    assert overview["channels"] == [broken, healthy] and overview["channels_unhealthy"] == 1
    html = response.content.decode()
    for channel in (healthy, broken):
        assert reverse("channel_detail", args=["lucky-shrub", channel.public_id]) + "#live-status" in html
    assert "WhatsApp refused the access token (190)" in html
    # The console's navigation leads here and to the contacts.
    assert f'href="{reverse("troubleshooting", args=["lucky-shrub"])}" class="active"' in html
    assert reverse("contact_list", args=["lucky-shrub"]) in html
