"""Staff work a conversation in the inbox, in a real browser, with a customer on the sandbox phone.

Everything runs for real: the emulator's phone and webhooks, the platform's intake, the offline
agent, the inbox's live polling in Chromium. Screenshots land in test-artifacts/ for CI.
"""

from pathlib import Path

import pytest

from agents_app.models import KnowledgeEntry
from channels_app.models import Channel
from tests.factories import PASSWORD, AgentFactory, ChannelFactory, WorkspaceFactory, member
from workspaces_app.models import Role

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
APP_SECRET = "browser-inbox-app-secret"
TOKEN = "browser-inbox-access-token"


@pytest.fixture
def shop(emulator):
    workspace = WorkspaceFactory(name="Lucky Shrub", slug="lucky-shrub", csat_enabled=True)
    member(workspace, Role.AGENT, email="sam@luckyshrub.test")
    agent = AgentFactory(workspace=workspace, name="Shrubby", debounce_seconds=0)
    KnowledgeEntry.objects.create(agent=agent, title="Do you ship to Canada?", body="Yes! 5-7 business days.")
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
    customer = emulator.customer(number, name="Sheena Nelson", phone="16505551234")
    return {"channel": channel, "number": number, "customer": customer}


def test_a_teammate_takes_over_replies_hands_back_and_closes_with_a_rating(browser, shop, emulator):
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    context = browser.new_context(viewport={"width": 1400, "height": 950})
    staff = context.new_page()
    staff.on("pageerror", lambda exc: errors.append(str(exc)))
    staff.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    staff.goto(f"{emulator.url}/accounts/login/")
    staff.fill("input[name=login]", "sam@luckyshrub.test")
    staff.fill("input[name=password]", PASSWORD)
    staff.locator("form").filter(has=staff.locator("input[name=password]")).locator("button[type=submit]").click()
    staff.wait_for_url("**/w/lucky-shrub/**")
    staff.goto(f"{emulator.url}/w/lucky-shrub/inbox/")
    expect(staff.locator(".inbox-empty")).to_be_visible()

    # The customer writes on the sandbox phone; the inbox shows it without a reload.
    emulator.customer_says(shop["number"], shop["customer"], "text", {"body": "Do you ship to Canada?"})
    emulator.drain()
    item = staff.locator(".inbox-item").filter(has_text="Sheena Nelson")
    expect(item).to_be_visible(timeout=10_000)
    item.locator("a").click()
    expect(staff.locator(".wa-row").filter(has_text="Do you ship to Canada?")).to_be_visible()
    expect(staff.locator(".wa-mine").filter(has_text="5-7 business days")).to_be_visible(timeout=10_000)

    staff.get_by_role("button", name="Take over").click()
    expect(staff.locator(".conversation-head")).to_contain_text("Human handling")
    staff.get_by_label("Message to the customer").fill("Hi Sheena, Sam here 👋 Which plant are you after?")
    staff.get_by_role("button", name="Send", exact=True).click()
    reply = staff.locator(".wa-mine").filter(has_text="Sam here")
    expect(reply).to_be_visible(timeout=10_000)
    expect(reply.locator(".wa-sender")).to_contain_text("sam@luckyshrub.test")

    phone = context.new_page()
    phone.goto(f"{emulator.url}/w/lucky-shrub/channels/{shop['channel'].public_id}/sandbox/")
    expect(phone.locator(".wa-theirs").filter(has_text="Sam here")).to_be_visible(timeout=10_000)

    staff.bring_to_front()
    staff.get_by_role("button", name="Hand back to the agent").click()
    expect(staff.locator(".conversation-head")).to_contain_text("Agent handling")
    staff.get_by_role("button", name="Close").click()
    expect(staff.locator(".conversation-head")).to_contain_text("Closed")

    phone.bring_to_front()
    rating = phone.locator(".wa-theirs").filter(has_text="How did we do today?")
    expect(rating).to_be_visible(timeout=10_000)
    rating.get_by_role("button", name="😀 Great").click()
    expect(phone.locator(".wa-theirs").filter(has_text="Thank you for your feedback")).to_be_visible(timeout=10_000)

    staff.bring_to_front()
    expect(staff.locator(".wa-theirs").filter(has_text="Great")).to_be_visible(timeout=10_000)
    expect(staff.locator(".wa-mine").filter(has_text="Thank you for your feedback")).to_be_visible(timeout=10_000)
    staff.screenshot(path=str(ARTIFACTS / "inbox-conversation.png"), caret="initial")
    phone.screenshot(path=str(ARTIFACTS / "sandbox-phone-rating.png"), caret="initial")
    assert errors == []
