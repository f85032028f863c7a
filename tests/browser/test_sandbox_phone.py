"""A person chats with the sandbox channel's agent through the sandbox phone, in a real browser.

Everything runs for real: the page on the live server, htmx in Chromium, the emulator's Graph API
and webhooks, the platform's webhook intake and the offline agent's replies.
"""

import os
from pathlib import Path

import pytest

from channels_app.models import Channel
from tests.factories import PASSWORD, AgentFactory, ChannelFactory, WorkspaceFactory, member
from workspaces_app.models import Role

pytestmark = pytest.mark.browser

APP_SECRET = "browser-sandbox-app-secret"
TOKEN = "browser-sandbox-access-token"


@pytest.fixture
def shop(emulator):
    """Lucky Shrub: an owner, and a sandbox channel answered by the agent Shrubby, wired to the emulator."""
    workspace = WorkspaceFactory(name="Lucky Shrub", slug="lucky-shrub")
    member(workspace, Role.OWNER, email="owner@luckyshrub.test")
    agent = AgentFactory(workspace=workspace, name="Shrubby")
    channel = ChannelFactory(
        workspace=workspace, name="Sandbox", provider=Channel.Provider.SANDBOX, phone_number_id="", waba_id=""
    )
    number = emulator.provision(
        f"{emulator.url}/webhooks/whatsapp/{channel.public_id}/",
        app_secret=APP_SECRET,
        access_token=TOKEN,
        verified_name="Lucky Shrub",
    )
    Channel.objects.filter(pk=channel.pk).update(
        phone_number_id=number.phone_number_id,
        waba_id=number.waba_id,
        display_phone_number=number.display_phone_number,
        access_token=TOKEN,
        app_secret=APP_SECRET,
        agent=agent,
    )
    return f"{emulator.url}/w/{workspace.slug}/channels/{channel.public_id}/sandbox/"


def test_a_customer_greets_the_agent_sees_read_ticks_and_asks_for_a_human(browser, shop, emulator, tmp_path):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text) if "/sandbox/" in page.url and "Content Security Policy" in msg.text else None
        ),
    )

    page.goto(f"{emulator.url}/accounts/login/")
    page.fill("input[name=login]", "owner@luckyshrub.test")
    page.fill("input[name=password]", PASSWORD)
    page.locator("form").filter(has=page.locator("input[name=password]")).locator("button[type=submit]").click()
    page.wait_for_url("**/w/lucky-shrub/**")

    page.goto(shop)
    expect(page.locator(".wa-header")).to_contain_text("Lucky Shrub")
    page.fill("#id_name", "Sheena Nelson")
    page.fill("#id_phone", "+1 650 555 1234")
    page.get_by_role("button", name="Add customer").click()
    expect(page.locator(".sandbox-customers [aria-current]")).to_contain_text("Sheena Nelson")

    page.get_by_label("Message").fill("Hi there 👋")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator(".wa-mine .wa-text").filter(has_text="Hi there 👋")).to_be_visible()
    expect(page.get_by_label("Message")).to_have_value("")

    greeting = page.locator(".wa-theirs").filter(has_text="Hi Sheena! 👋 I'm Shrubby")
    expect(greeting).to_be_visible(timeout=10_000)
    offer = page.locator(".wa-theirs").filter(has_text="How can I help you today?")
    expect(offer).to_be_visible(timeout=10_000)
    expect(offer.locator(".wa-ticks-read")).to_have_text("✓✓", timeout=10_000)
    expect(greeting.locator(".wa-ticks-read")).to_be_visible(timeout=10_000)
    page.screenshot(path=str(tmp_path / "greeting.png"), caret="initial")

    offer.get_by_role("button", name="Talk to a human").click()
    expect(page.locator(".wa-mine").filter(has_text="Talk to a human")).to_be_visible()
    handoff = page.locator(".wa-theirs").filter(has_text="bringing in a teammate")
    expect(handoff).to_be_visible(timeout=10_000)
    expect(handoff.locator(".wa-ticks-read")).to_be_visible(timeout=10_000)

    screenshot = tmp_path / "sandbox-phone.png"
    page.screenshot(path=str(screenshot), caret="initial")
    if os.environ.get("SANDBOX_SCREENSHOT_DIR"):  # for a person checking how the page looks
        page.screenshot(path=str(Path(os.environ["SANDBOX_SCREENSHOT_DIR"]) / "sandbox-phone.png"), caret="initial")
    assert screenshot.stat().st_size > 10_000
    assert errors == []
