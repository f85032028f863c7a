"""A sandbox channel on an emulated number, for the sandbox phone's tests.

`sandbox_phone` needs no live server: nothing it sends is delivered (webhooks are dispatched
after commit, and these tests run inside one transaction). `wired_phone` is the real thing on
the `emulator` fixture's live server: what the page sends reaches the platform as a signed webhook.
"""

from dataclasses import dataclass

import pytest

from channels_app.models import Channel
from tests.factories import ChannelFactory, WorkspaceFactory, member
from workspaces_app.models import Role

APP_SECRET = "sandbox-page-app-secret"
TOKEN = "sandbox-page-access-token"


@dataclass
class SandboxPhone:
    channel: Channel
    number: object
    url: str

    def at(self, path: str) -> str:
        return self.url + path


def _sandbox_phone(workspace, webhook_url_for) -> SandboxPhone:
    from cloudapi_emulator.services import sandbox_number_provision

    channel = ChannelFactory(
        workspace=workspace, name="Sandbox", provider=Channel.Provider.SANDBOX, phone_number_id="", waba_id=""
    )
    number = sandbox_number_provision(
        display_phone_number="+1 555 010 0001",
        verified_name="Lucky Shrub",
        access_token=TOKEN,
        app_secret=APP_SECRET,
        webhook_url=webhook_url_for(channel),
    )
    Channel.objects.filter(pk=channel.pk).update(
        phone_number_id=number.phone_number_id,
        waba_id=number.waba_id,
        display_phone_number=number.display_phone_number,
        access_token=TOKEN,
        app_secret=APP_SECRET,
    )
    channel.refresh_from_db()
    return SandboxPhone(
        channel=channel, number=number, url=f"/w/{workspace.slug}/channels/{channel.public_id}/sandbox/"
    )


@pytest.fixture
def workspace(db):
    return WorkspaceFactory(name="Lucky Shrub", slug="lucky-shrub")


@pytest.fixture
def owner(workspace):
    return member(workspace, Role.OWNER, email="owner@luckyshrub.test")


@pytest.fixture
def sandbox_phone(workspace):
    return _sandbox_phone(workspace, lambda channel: "http://127.0.0.1:9/webhooks/whatsapp/nowhere/")


@pytest.fixture
def wired_phone(emulator, workspace):
    return _sandbox_phone(workspace, lambda channel: f"{emulator.url}/webhooks/whatsapp/{channel.public_id}/")
