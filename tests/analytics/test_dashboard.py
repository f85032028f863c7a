"""The analytics page and its CSV downloads, over rows placed on two days, two channels and a test console.

Cast: the owner of Lucky Shrub (New York time), and an outsider who owns Globex.

The seeded world, local days D1 and D2 (both in the past), day D0 before them:
- Support: a1 asks at D1 09:00, the agent answers (1.2 s, read); a2 at 10:00, handed off (2.5 s, delivered);
  a3 at 23:30 (04:30 UTC on D2), answered slowly (40 s) and the reply failed with 131026; a teammate writes
  to a3 at D2 08:00, after a3 wrote again at 07:00. On D2 a1 asks again at 12:00 and the agent fails (0.8 s,
  fallback sent). a2 gets a template that fails with 131049 and a message that fails before WhatsApp
  ("Channel unavailable", no code). One inbound on D0.
- Sales: b1 asks at D1 11:00, answered (3 s, read), closed at 11:30; b2 at 14:00, no agent, a teammate
  answers (delivered). On D2 b1 asks at 09:00 (answered 5 s, delivered) and at 09:30 (answered 0.6 s, delivered).
- Ratings: a1 5 "Quick and helpful" (D1 20:00), a2 1 (D2 09:00), b1 3 (D2 10:00), and one asked, unanswered.
- Test console: a conversation with an inbound, an answered run, a reply and a rating of 1: never counted.
"""

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import date, timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from agents_app.models import AgentRun
from analytics_app import tasks
from analytics_app.histogram import bucket_index
from analytics_app.models import DailyChannelStats
from analytics_app.services.rollup import local_day_bounds, local_today
from channels_app.models import Channel
from messaging_app.models import Conversation, Message
from tests.analytics import world
from tests.factories import ChannelFactory, WorkspaceFactory, member
from workspaces_app.models import Role

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")
ANSWERED, HANDED_OFF, FAILED = AgentRun.Status.ANSWERED, AgentRun.Status.HANDED_OFF, AgentRun.Status.FAILED


@dataclass
class Seeded:
    d0: date
    d1: date
    d2: date
    support: Channel
    sales: Channel
    console: Channel


@pytest.fixture
def shop():
    return WorkspaceFactory(name="Lucky Shrub", slug="lucky-shrub", timezone="America/New_York")


@pytest.fixture
def owner(client, shop):
    user = member(shop, Role.OWNER)
    client.force_login(user)
    return client


@pytest.fixture
def seeded(shop) -> Seeded:
    today = local_today(shop)
    d0, d1, d2 = today - timedelta(days=4), today - timedelta(days=3), today - timedelta(days=2)
    support = ChannelFactory(workspace=shop, name="Support")
    sales = ChannelFactory(workspace=shop, name="Sales")
    console = ChannelFactory(
        workspace=shop, name="Agent test", provider=Channel.Provider.TEST_CONSOLE, phone_number_id=""
    )

    def t(day, hour, minute=0):
        return world.at(day, hour, minute, tz=NEW_YORK)

    a1 = world.conversation(support, "447700900001", "Ada")
    a2 = world.conversation(support, "447700900002", "Ben")
    a3 = world.conversation(support, "447700900003", "Cleo")
    world.inbound(a1, t(d0, 15))
    world.inbound(a1, t(d1, 9))
    world.agent_run(a1, t(d1, 9), status=ANSWERED, response_ms=1200)
    world.outbound(a1, t(d1, 9), status="read")
    world.inbound(a2, t(d1, 10))
    world.agent_run(a2, t(d1, 10), status=HANDED_OFF, response_ms=2500)
    world.outbound(a2, t(d1, 10), status="delivered")
    world.inbound(a3, t(d1, 23, 30))
    world.agent_run(a3, t(d1, 23, 30), status=ANSWERED, response_ms=40_000)
    world.outbound(a3, t(d1, 23, 31), status="failed", error_code=131026, error_title="Message undeliverable")
    world.inbound(a3, t(d2, 7))
    world.outbound(a3, t(d2, 8), status="delivered", sender=Message.Sender.TEAMMATE)
    world.inbound(a1, t(d2, 12))
    world.agent_run(a1, t(d2, 12), status=FAILED, response_ms=800)
    world.outbound(a1, t(d2, 12), status="sent")
    world.outbound(
        a2,
        t(d2, 15),
        status="failed",
        sender=Message.Sender.TEMPLATE,
        error_code=131049,
        error_title="This message was not delivered to maintain healthy ecosystem engagement.",
    )
    world.outbound(a2, t(d2, 16), status="failed", sender=Message.Sender.TEAMMATE, error_title="Channel unavailable")

    b1 = world.conversation(sales, "447700900011", "Dev")
    b2 = world.conversation(sales, "447700900012", "Eve")
    world.inbound(b1, t(d1, 11))
    world.agent_run(b1, t(d1, 11), status=ANSWERED, response_ms=3000)
    world.outbound(b1, t(d1, 11), status="read")
    world.inbound(b2, t(d1, 14))
    world.outbound(b2, t(d1, 14, 10), status="delivered", sender=Message.Sender.TEAMMATE)
    world.inbound(b1, t(d2, 9))
    world.agent_run(b1, t(d2, 9), status=ANSWERED, response_ms=5000)
    world.outbound(b1, t(d2, 9), status="delivered")
    world.inbound(b1, t(d2, 9, 30))
    world.agent_run(b1, t(d2, 9, 30), status=ANSWERED, response_ms=600)
    world.outbound(b1, t(d2, 9, 30), status="delivered")
    Conversation.objects.filter(pk=b1.pk).update(state=Conversation.State.CLOSED, closed_at=t(d1, 11, 30))

    world.rating(a1, t(d1, 20), 5, "Quick and helpful")
    world.rating(a2, t(d2, 9), 1)
    world.rating(b1, t(d2, 10), 3)
    world.rating(b2, None, None)

    c1 = world.conversation(console, "447700900099", "Tester")
    world.inbound(c1, t(d1, 12))
    world.agent_run(c1, t(d1, 12), status=ANSWERED, response_ms=90_000)
    world.outbound(c1, t(d1, 12), status="read")
    world.rating(c1, t(d1, 13), 1, "console chatter")

    _rollup()
    _rollup()  # twice: a second run must not count anything again
    return Seeded(d0=d0, d1=d1, d2=d2, support=support, sales=sales, console=console)


def _rollup(days: int = 6) -> None:
    call_command("analytics_rollup", "--days", str(days), stdout=io.StringIO())


def _params(seeded: Seeded, **extra) -> dict:
    return {"start": seeded.d1.isoformat(), "end": seeded.d2.isoformat(), **extra}


def _csv(client, table: str, params: dict) -> list[list[str]]:
    response = client.get(reverse("analytics_export", args=["lucky-shrub", table]), params)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


class _TableReader(HTMLParser):
    """Cell texts of one <table id=...>: header row first, then body and footer rows."""

    def __init__(self, table_id: str):
        super().__init__()
        self.table_id, self.inside, self.rows, self.cell = table_id, False, [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table" and dict(attrs).get("id") == self.table_id:
            self.inside = True
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag in ("td", "th"):
            self.cell = ""

    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False
        elif self.inside and tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(self.cell.strip())
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def _page_table(html: str, name: str) -> list[list[str]]:
    reader = _TableReader(f"table-{name}")
    reader.feed(html)
    # The page shows an em dash where the CSV leaves a cell empty.
    return [["" if cell == "—" else cell for cell in row] for row in reader.rows]


def _page(client, params: dict):
    response = client.get(reverse("analytics", args=["lucky-shrub"]), params)
    assert response.status_code == 200
    return response


def _by_first_column(rows: list[list[str]]) -> dict[str, list[str]]:
    return {row[0]: row[1:] for row in rows[1:]}


def test_the_page_and_its_csv_show_each_days_volume_and_the_delivery_funnel(owner, seeded):
    html = _page(owner, _params(seeded)).content.decode()

    volume = _csv(owner, "volume", _params(seeded))
    assert _page_table(html, "volume") == volume
    assert volume == [
        ["Day", "Inbound", "Outbound"],
        # a3's question at 23:30 New York time is a D1 message although it is D2 in UTC.
        [seeded.d1.isoformat(), "5", "5"],
        [seeded.d2.isoformat(), "4", "6"],
        ["Total", "9", "11"],
    ]
    funnel = _csv(owner, "funnel", _params(seeded))
    assert _page_table(html, "funnel") == funnel
    assert funnel == [
        ["Stage", "Messages", "Share of outbound (%)"],
        ["Outbound", "11", "100.0"],
        ["Sent", "8", "72.7"],
        ["Delivered", "7", "63.6"],
        ["Read", "2", "18.2"],
        ["Failed", "3", "27.3"],
    ]
    charts = json.loads(re.search(r'<script id="analytics-data" type="application/json">(.*?)</script>', html, re.S)[1])
    assert charts["volume"] == {
        "labels": [seeded.d1.isoformat(), seeded.d2.isoformat()],
        "inbound": [5, 4],
        "outbound": [5, 6],
    }
    assert charts["funnel"]["values"] == [11, 8, 7, 2, 3]


def test_failed_messages_are_grouped_by_error_code_with_their_reason(owner, seeded):
    failures = _csv(owner, "failures", _params(seeded))
    assert _page_table(_page(owner, _params(seeded)).content.decode(), "failures") == failures
    assert failures[0] == ["Error code", "Reason", "Messages", "Share of failed (%)"]
    assert sorted(failures[1:-1]) == sorted(
        [
            ["131026", "Message undeliverable", "1", "33.3"],
            ["131049", "This message was not delivered to maintain healthy ecosystem engagement.", "1", "33.3"],
            ["", "Channel unavailable", "1", "33.3"],
        ]
    )
    assert failures[-1] == ["Total", "", "3", "100.0"]


def _seconds_bucket(value_ms: float) -> tuple[float, float]:
    from analytics_app.histogram import bucket_bounds

    lower, upper = bucket_bounds(bucket_index(value_ms))
    return lower / 1000, upper / 1000


def test_response_percentiles_are_exact_to_their_bucket_and_slow_turns_are_counted(owner, seeded):
    response = _csv(owner, "response", _params(seeded))
    assert _page_table(_page(owner, _params(seeded)).content.decode(), "response") == response
    rows = _by_first_column(response)
    # Per reply: 1.2, 2.5, 40 and 3 s on D1 (the console's 90 s is not counted); 0.8, 5 and 0.6 s on D2.
    # First response of each conversation-day: the same but b1's second answer on D2 (0.6 s).
    turns, timed, p50, p90, first_p50, first_p90, slow = rows["All days"]
    assert (turns, timed, slow) == ("7", "7", "1")
    true_values = {"p50": 2500, "p90": 40_000, "first_p50": 2500, "first_p90": 40_000}
    for shown, true_ms in zip([p50, p90, first_p50, first_p90], true_values.values(), strict=True):
        lower, upper = _seconds_bucket(true_ms)
        assert lower <= float(shown) <= upper, (shown, true_ms)
    d1 = rows[seeded.d1.isoformat()]
    assert d1[0] == "4" and d1[1] == "4" and d1[-1] == "1"  # b1's answer is a D1 turn too; a3's was slow
    d2 = rows[seeded.d2.isoformat()]
    assert d2[0] == "3" and d2[-1] == "0"
    lower, upper = _seconds_bucket(800)  # D2's median of 0.6, 0.8, 5 s
    assert lower <= float(d2[2]) <= upper


def test_handoffs_and_resolution_by_the_agent_alone_follow_the_stated_definition(owner, seeded):
    conversations = _csv(owner, "conversations", _params(seeded))
    page = _page(owner, _params(seeded)).content.decode()
    assert _page_table(page, "conversations") == conversations
    assert conversations == [
        [
            "Day",
            "Conversations",
            "Answered by the agent",
            "Handed to a human",
            "Handoff rate (%)",
            "Resolved by the agent alone",
            "Resolved by the agent alone (%)",
        ],
        # D1: a1 resolved; a2 handed off; a3 not resolved (a teammate wrote within 24 h); b1 resolved; b2 taken over.
        [seeded.d1.isoformat(), "5", "4", "2", "40.0", "2", "40.0"],
        # D2: a1's turn failed (fallback: a human follows); a3 taken over; b1 resolved.
        [seeded.d2.isoformat(), "3", "2", "2", "66.7", "1", "33.3"],
        ["All days", "8", "6", "4", "50.0", "3", "37.5"],
    ]
    assert "resolved by the agent alone</strong> when the agent answered that day" in page


def test_satisfaction_shows_the_average_and_distribution_of_answered_ratings(owner, seeded):
    satisfaction = _csv(owner, "satisfaction", _params(seeded))
    page = _page(owner, _params(seeded)).content.decode()
    assert _page_table(page, "satisfaction") == satisfaction
    assert satisfaction == [
        ["Score", "Ratings", "Share (%)"],
        ["5 · Great", "1", "33.3"],
        ["3 · OK", "1", "33.3"],
        ["1 · Poor", "1", "33.3"],
        ["All ratings", "3", "100.0"],
        ["Average score (1–5)", "3.00", ""],
    ]
    assert "Quick and helpful" in page
    assert "console chatter" not in page


def test_the_test_console_is_left_out_of_every_figure(owner, seeded):
    assert not DailyChannelStats.objects.filter(channel=seeded.console).exists()
    page = _page(owner, _params(seeded))
    assert str(seeded.console.public_id) not in page.content.decode()  # not even offered as a filter
    assert _page(owner, _params(seeded, channel=seeded.console.public_id)).context["form"].errors


def test_running_the_rollup_again_counts_nothing_twice_and_picks_up_new_rows(owner, seeded):
    def snapshot():
        return list(DailyChannelStats.objects.order_by("channel_id", "day").values(*_FIGURES))

    before = snapshot()
    _rollup()
    assert snapshot() == before
    assert len(before) == 5  # Support D0, D1, D2; Sales D1, D2

    late = world.conversation(seeded.sales, "447700900013", "Fay")
    world.inbound(late, world.at(seeded.d2, 18, tz=NEW_YORK))
    _rollup()
    _rollup()
    volume = _by_first_column(_csv(owner, "volume", _params(seeded)))
    assert volume[seeded.d2.isoformat()] == ["5", "6"]


_FIGURES = (
    "day",
    "inbound",
    "outbound",
    "sent",
    "delivered",
    "read",
    "failed",
    "failed_by_code",
    "agent_turns",
    "slow_turns",
    "response_buckets",
    "first_response_buckets",
    "conversations",
    "handed_off",
    "resolved_by_agent",
    "ratings_by_score",
)


def test_a_channel_filter_shows_only_that_channels_figures(owner, seeded):
    params = _params(seeded, channel=seeded.sales.public_id)
    volume = _csv(owner, "volume", params)
    assert volume[1:] == [[seeded.d1.isoformat(), "2", "2"], [seeded.d2.isoformat(), "2", "2"], ["Total", "4", "4"]]
    conversations = _by_first_column(_csv(owner, "conversations", params))
    assert conversations["All days"] == ["3", "2", "1", "33.3", "2", "66.7"]
    satisfaction = _by_first_column(_csv(owner, "satisfaction", params))
    assert satisfaction["Average score (1–5)"][0] == "3.00"
    page = _page(owner, params).content.decode()
    assert "channel Sales" in page
    assert "Quick and helpful" not in page  # that comment was on Support


def test_a_date_range_shows_only_its_days(owner, seeded):
    volume = _csv(owner, "volume", {"start": seeded.d0.isoformat(), "end": seeded.d0.isoformat()})
    assert volume[1:] == [[seeded.d0.isoformat(), "1", "0"], ["Total", "1", "0"]]
    only_d2 = _csv(owner, "volume", {"start": seeded.d2.isoformat(), "end": seeded.d2.isoformat()})
    assert only_d2[1:] == [[seeded.d2.isoformat(), "4", "6"], ["Total", "4", "6"]]


def test_the_default_range_is_the_last_30_days_up_to_today(owner, seeded, shop):
    volume = _csv(owner, "volume", {})
    today = local_today(shop)
    assert volume[1][0] == (today - timedelta(days=29)).isoformat()
    assert volume[-2][0] == today.isoformat()
    assert volume[-1] == ["Total", "10", "11"]  # D0's message too


def test_a_reversed_range_is_explained_and_the_last_30_days_are_shown(owner, seeded, shop):
    page = _page(owner, {"start": seeded.d2.isoformat(), "end": seeded.d1.isoformat()})
    assert "The start date is after the end date." in page.content.decode()
    report = page.context["report"]
    assert (report.start, report.end) == (local_today(shop) - timedelta(days=29), local_today(shop))


def test_an_outsider_gets_404_on_the_page_and_the_csv(client, seeded):
    outsider = member(WorkspaceFactory(name="Globex", slug="globex"), Role.OWNER)
    client.force_login(outsider)
    assert client.get(reverse("analytics", args=["lucky-shrub"])).status_code == 404
    assert client.get(reverse("analytics_export", args=["lucky-shrub", "volume"])).status_code == 404


def test_an_unknown_table_is_404(owner, seeded):
    assert owner.get(reverse("analytics_export", args=["lucky-shrub", "secrets"])).status_code == 404


def test_the_page_draws_with_the_vendored_chart_library_and_no_outside_url(owner, seeded):
    response = _page(owner, _params(seeded))
    html = response.content.decode()
    assert '<script src="/static/vendor/chartjs/chart.umd.min.js" defer></script>' in html
    assert '<script src="/static/js/analytics.js" defer></script>' in html
    assert finders.find("vendor/chartjs/chart.umd.min.js") and finders.find("vendor/chartjs/LICENSE.md")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    # The only inline <script> is the JSON data block, which the CSP (script-src 'self') leaves alone.
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
    assert inline == [' id="analytics-data" type="application/json"']
    assert "script-src 'self';" in response["Content-Security-Policy"]


def test_a_conversation_the_agent_answered_today_is_resolved_once_closed(owner, shop):
    support = ChannelFactory(workspace=shop, name="Support")
    chat = world.conversation(support, "447700900021", "Gus")
    now = timezone.now()
    world.inbound(chat, now)
    world.agent_run(chat, now, status=ANSWERED, response_ms=900)
    _rollup(1)
    today = local_today(shop).isoformat()
    params = {"start": today, "end": today}
    assert _by_first_column(_csv(owner, "conversations", params))["All days"][4] == "0"  # still settling

    Conversation.objects.filter(pk=chat.pk).update(state=Conversation.State.CLOSED, closed_at=timezone.now())
    _rollup(1)
    assert _by_first_column(_csv(owner, "conversations", params))["All days"][4] == "1"


def test_the_periodic_job_recomputes_the_recent_days_of_active_workspaces(owner, shop):
    quiet = WorkspaceFactory(name="Quiet", slug="quiet")
    ChannelFactory(workspace=quiet)
    support = ChannelFactory(workspace=shop, name="Support")
    chat = world.conversation(support, "447700900031")
    world.inbound(chat, timezone.now())

    tasks.daily_stats_rollup.delay()

    row = DailyChannelStats.objects.get()
    assert (row.workspace, row.channel, row.day, row.inbound) == (shop, support, local_today(shop), 1)


def test_a_local_day_is_23_hours_long_when_the_clocks_spring_forward():
    start, end = local_day_bounds(date(2026, 3, 8), NEW_YORK)
    assert end - start == timedelta(hours=23)
    assert start.isoformat() == "2026-03-08T05:00:00+00:00"


def test_the_date_inputs_show_the_range_in_use_when_left_empty(owner, seeded, shop):
    today = local_today(shop)
    html = _page(owner, {"start": "", "end": seeded.d2.isoformat(), "channel": ""}).content.decode()
    assert f'name="start" value="{(seeded.d2 - timedelta(days=29)).isoformat()}"' in html
    assert f'name="end" value="{seeded.d2.isoformat()}"' in html
    html = _page(owner, {}).content.decode()
    assert f'name="end" value="{today.isoformat()}"' in html


def test_a_failure_reason_that_looks_like_a_formula_is_exported_as_text(owner, shop):
    support = ChannelFactory(workspace=shop, name="Support")
    chat = world.conversation(support, "447700900041")
    world.outbound(chat, timezone.now(), status="failed", error_code=131000, error_title='=HYPERLINK("x")')
    _rollup(1)
    today = local_today(shop).isoformat()
    failures = _csv(owner, "failures", {"start": today, "end": today})
    assert failures[1][:2] == ["131000", '\'=HYPERLINK("x")']
