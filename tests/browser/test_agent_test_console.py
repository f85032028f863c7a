"""A teammate tries an agent in the test console, in a real browser: no WhatsApp, no emulator."""

import pytest

from agents_app.models import KnowledgeEntry
from tests.factories import PASSWORD, AgentFactory, WorkspaceFactory, member
from workspaces_app.models import Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_teammate_chats_with_the_agent_taps_an_option_and_sees_its_turns(browser, live_server, tmp_path):
    from playwright.sync_api import expect

    shop = WorkspaceFactory(name="Lucky Shrub", slug="lucky-shrub")
    member(shop, Role.AGENT, email="sam@luckyshrub.test")
    agent = AgentFactory(workspace=shop, name="Shrubby", debounce_seconds=0)
    KnowledgeEntry.objects.create(agent=agent, title="Do you ship to Canada?", body="Yes! 5-7 business days 🇨🇦")
    KnowledgeEntry.objects.create(agent=agent, title="Do you ship to Mexico?", body="Yes, in 7 days 🇲🇽")

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", "sam@luckyshrub.test")
    page.fill("input[name=password]", PASSWORD)
    page.locator("form").filter(has=page.locator("input[name=password]")).locator("button[type=submit]").click()
    page.wait_for_url("**/w/lucky-shrub/**")

    page.goto(f"{live_server.url}/w/lucky-shrub/agents/{agent.public_id}/")
    page.get_by_role("link", name="Open the test console").click()
    expect(page.locator(".wa-header")).to_contain_text("Shrubby")

    page.get_by_label("Message").fill("Do you ship abroad?")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator(".wa-mine").filter(has_text="Do you ship abroad?")).to_be_visible()
    offer = page.locator(".wa-theirs").filter(has=page.locator(".wa-action"))
    expect(offer.first).to_be_visible(timeout=10_000)
    expect(page.locator("#test-side .run")).to_have_count(1)

    menu = offer.first.locator("summary.wa-action")  # more options than buttons hold arrive as a list
    if menu.count():
        menu.click()
    offer.first.locator("button").filter(has_text="Canada").first.click()
    expect(page.locator(".wa-theirs").filter(has_text="5-7 business days")).to_be_visible(timeout=10_000)
    expect(page.locator("#test-side .run")).to_have_count(2)

    page.screenshot(path=str(tmp_path / "test-console.png"), caret="initial")
    assert errors == []
