"""The analytics page draws its charts in a real browser, from our own static files, with no script errors.

A screenshot lands in test-artifacts/ for CI.
"""

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from analytics_app.services.rollup import daily_stats_rollup_days
from tests.analytics import world
from tests.factories import PASSWORD, ChannelFactory, WorkspaceFactory, member
from workspaces_app.models import Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def test_the_dashboard_draws_every_chart(browser, live_server):
    from playwright.sync_api import expect

    shop = WorkspaceFactory(name="Lucky Shrub", slug="lucky-shrub")
    member(shop, Role.OWNER, email="owner@luckyshrub.test")
    channel = ChannelFactory(workspace=shop, name="Support")
    utc = ZoneInfo("UTC")
    today = timezone.now().date()
    for days_ago in range(5):
        day = today - timedelta(days=days_ago)
        for n in range(3 + days_ago):
            chat = world.conversation(channel, wa_id=f"44770090{days_ago}{n:03d}")
            world.inbound(chat, world.at(day, 9, n, tz=utc))
            world.outbound(chat, world.at(day, 9, n + 1, tz=utc), status=["read", "delivered", "sent"][n % 3])
            world.agent_run(chat, world.at(day, 9, n, tz=utc), status="answered", response_ms=800 + 300 * n)
            world.rating(chat, world.at(day, 10, n, tz=utc), score=[5, 3, 1][n % 3])
        failing = world.conversation(channel, wa_id=f"44770099{days_ago}000")
        world.outbound(
            failing, world.at(day, 11, 0, tz=utc), status="failed", error_code=131026, error_title="Undeliverable"
        )
    daily_stats_rollup_days(workspace=shop, days=7)

    page = browser.new_page(viewport={"width": 1400, "height": 2200})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "response",
        lambda response: (
            errors.append(f"{response.status} {response.url}")
            if response.status >= 400 and not response.url.endswith("/favicon.ico")
            else None
        ),
    )
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", "owner@luckyshrub.test")
    page.fill("input[name=password]", PASSWORD)
    page.locator("form").filter(has=page.locator("input[name=password]")).locator("button[type=submit]").click()
    page.wait_for_url("**/w/lucky-shrub/**")
    page.goto(f"{live_server.url}/w/lucky-shrub/analytics/")

    charts = page.locator("canvas[data-chart]")
    expect(charts).to_have_count(6)
    page.wait_for_function("() => window.Chart && Object.keys(window.Chart.instances).length === 6")
    drawn = page.evaluate(
        """() => [...document.querySelectorAll('canvas[data-chart]')].map(c => {
            const pixels = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let ink = 0;
            for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) ink++;
            return ink;
        })"""
    )
    assert all(ink > 500 for ink in drawn), drawn  # every canvas has something drawn on it
    assert all(url.startswith(live_server.url) for url in requested), [u for u in requested if live_server.url not in u]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "analytics.png"), full_page=True)
    assert errors == []
