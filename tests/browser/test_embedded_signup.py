"""A business connects its number with Login with Facebook, in a real browser, against the emulator.

Create channel → label → Save & continue → Login with Facebook → (Meta's window: the emulator's
stand-in) Continue → automatic setup → the configuration page with the verified details → a test
message whose ticks turn to read.
"""

import re

import pytest
from django.conf import settings

from tests.factories import PASSWORD, WorkspaceFactory, member
from workspaces_app.models import Role

pytestmark = pytest.mark.browser


def test_a_business_connects_with_facebook_then_sends_a_test_message_that_is_read(browser, emulator, tmp_path):
    from playwright.sync_api import expect

    from cloudapi_emulator.models import PhoneNumber

    emulator.app_register(settings.META_APP_ID, settings.META_APP_SECRET, f"{emulator.url}/webhooks/whatsapp/")
    workspace = WorkspaceFactory(name="Lucky Shrub", slug="lucky-shrub")
    member(workspace, Role.OWNER, email="owner@luckyshrub.test")

    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{emulator.url}/accounts/login/")
    page.fill("input[name=login]", "owner@luckyshrub.test")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{emulator.url}/w/lucky-shrub/channels/")
    page.click("text=Create channel")
    page.fill("input[name=name]", "WhatsApp Support UK")
    page.click("text=Save & continue")
    expect(page.locator("#signup-button")).to_be_visible()

    with page.expect_popup() as popup_info:
        page.click("#signup-button")
    popup = popup_info.value
    popup.wait_for_load_state()
    expect(popup.locator("h1")).to_contain_text("Connect your WhatsApp Business Account")
    popup.click("button[value=continue]")

    # Back on the configuration page, connected, with the number's verified details.
    expect(page.locator("[data-testid=channel-status]")).to_have_text("Active", timeout=20000)
    display = page.locator("[data-testid=display-number]").inner_text()
    assert re.search(r"\d{6,}", display.replace(" ", "").replace("+", "")), display
    expect(page.locator("body")).to_contain_text("shown only this once")
    page.screenshot(path=str(tmp_path / "connected.png"), full_page=True)

    # A customer writes first (so the window is open), then staff send a test message to them.
    number = PhoneNumber.objects.get(display_phone_number=display.strip())
    customer = emulator.customer(number, name="Oliver", phone="447700900123")
    emulator.customer_says(number, customer, "text", {"body": "Hi, is this the shop?"})
    emulator.drain()
    page.fill("input[name=to]", "+44 7700 900123")
    page.fill("textarea[name=body]", "Hello Oliver, this is a test ✅")
    page.click("text=Send test")
    expect(page.locator("[data-testid=test-status]")).to_have_attribute("data-status", "read", timeout=20000)
    page.screenshot(path=str(tmp_path / "test-message-read.png"), full_page=True)
    assert not errors, errors
