"""Campaigns over the emulator: audience, consent at dispatch time, pacing, pause/resume/cancel, the funnel."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from messaging_app.models import Contact, Message
from messaging_app.services.outbound import message_deliver
from outreach_app import services
from outreach_app.models import Campaign, CampaignRecipient
from outreach_app.selectors import campaign_funnel
from tests.conftest import wait_until
from tests.outreach.conftest import at_once
from whatsapp_platform.errors import Conflict, InvalidInput


def sale_campaign(shop, **kw) -> Campaign:
    kw.setdefault("audience_tags", ["vip"])
    kw.setdefault("parameter_values", {"1": "{contact.name}", "2": "Sunday"})
    return services.campaign_create(
        workspace=shop.workspace,
        channel=shop.channel,
        name="Spring sale",
        template_name="spring_sale",
        template_language="en_US",
        user=shop.owner,
        **kw,
    )


@pytest.fixture
def dispatch_tasks_lost(monkeypatch) -> list[int]:
    """Dispatch tasks go nowhere (a broker that lost them); the test drives the dispatcher itself."""
    from outreach_app import tasks

    lost: list[int] = []
    # Every way of sending it (delay, or enqueueing it by name) ends in apply_async.
    monkeypatch.setattr(tasks.campaign_dispatch, "apply_async", lambda args=(), **options: lost.append(args[0]))
    return lost


def funnel_when(campaign, **expected) -> dict:
    def matches():
        funnel = campaign_funnel(campaign=campaign)
        return funnel if all(funnel[k] == v for k, v in expected.items()) else None

    try:
        return wait_until(matches, timeout=15)
    except AssertionError:
        raise AssertionError(f"funnel {campaign_funnel(campaign=campaign)} never reached {expected}") from None


def test_opted_out_and_blocked_contacts_are_skipped_and_the_funnel_follows_the_webhooks(shop):
    shop.contact("Ana", "447700900001")
    shop.contact("Ben", "447700900002")
    shop.contact("Cleo", "447700900003")
    shop.contact("Dan", "447700900004", on_whatsapp=False)  # the emulator fails it with 131026
    shop.contact("Eve", "447700900005", marketing_opt_out=True, marketing_opt_out_source="keyword")
    shop.contact("Finn", "447700900006", blocked_at=timezone.now())
    shop.contact("Gus", "447700900007", tags=["newsletter"])  # not in the audience
    campaign = sale_campaign(shop)

    campaign = services.campaign_launch(campaign=campaign)
    ana = shop.emulator.customer(shop.number, name="Ana", phone="447700900001")
    wait_until(lambda: Message.objects.filter(contact__wa_id="447700900001", status="read").exists())
    shop.emulator.customer_says(shop.number, ana, "text", {"body": "Two ferns please!"})
    shop.emulator.drain()

    funnel = funnel_when(campaign, read=3, replied=1, failed=1)
    assert funnel["recipients"] == 6 and funnel["pending"] == 0
    assert (funnel["queued"], funnel["sent"], funnel["delivered"], funnel["read"]) == (4, 3, 3, 3)
    assert [(f["code"], f["count"]) for f in funnel["failed_by_reason"]] == [(131026, 1)]
    assert sorted((s["reason"], s["count"]) for s in funnel["skipped_by_reason"]) == [
        ("Blocked contact", 1),
        ("Opted out of marketing", 1),
    ]
    sent_to = sorted(body["to"] for body in shop.sent_templates())
    assert sent_to == ["+447700900001", "+447700900002", "+447700900003", "+447700900004"]
    ana_body = next(b for b in shop.sent_templates() if b["to"] == "+447700900001")
    assert ana_body["template"]["components"][0]["parameters"] == [
        {"type": "text", "text": "Ana"},
        {"type": "text", "text": "Sunday"},
    ]
    assert Campaign.objects.get(pk=campaign.pk).state == Campaign.State.COMPLETED


def test_the_dispatcher_creates_messages_no_faster_than_the_channels_rate(shop):
    shop.channel.throughput_mps = 10  # 9.5 messages a second for campaigns
    shop.channel.save()
    for i in range(6):
        shop.contact(f"Customer {i}", f"44770090010{i}")
    campaign = sale_campaign(shop)

    started = time.monotonic()
    services.campaign_launch(campaign=campaign)
    elapsed = time.monotonic() - started

    assert CampaignRecipient.objects.filter(campaign=campaign, state="sent").count() == 6
    assert elapsed >= 5 / 9.5  # the first goes at once, each later one 1/9.5 s after
    stamps = sorted(Message.objects.filter(campaign_recipient__campaign=campaign).values_list("created_at", flat=True))
    gaps = [(b - a).total_seconds() for a, b in zip(stamps, stamps[1:], strict=False)]
    # About 0.105 s apart; a busy machine delays one transaction more than the next, never by this much.
    assert sum(gaps) >= 0.45 and min(gaps) >= 0.03


def test_pause_stops_new_sends_and_resume_finishes(shop, dispatch_tasks_lost):
    shop.channel.throughput_mps = 10
    shop.channel.save()
    for i in range(4):
        shop.contact(f"Customer {i}", f"44770090020{i}")
    campaign = services.campaign_launch(campaign=sale_campaign(shop))

    assert services.campaign_dispatch(campaign_id=campaign.pk, time_budget_seconds=0.05) is True
    assert Message.objects.filter(campaign_recipient__campaign=campaign).count() == 1
    services.campaign_pause(campaign=campaign)
    assert services.campaign_dispatch(campaign_id=campaign.pk) is False
    assert Message.objects.filter(campaign_recipient__campaign=campaign).count() == 1
    assert campaign_funnel(campaign=campaign)["pending"] == 3

    services.campaign_resume(campaign=campaign)
    assert dispatch_tasks_lost == [campaign.pk, campaign.pk]  # at the start, and on resume
    assert services.campaign_dispatch(campaign_id=campaign.pk) is False  # done within one slice

    assert Message.objects.filter(campaign_recipient__campaign=campaign).count() == 4
    assert Campaign.objects.get(pk=campaign.pk).state == Campaign.State.COMPLETED
    assert len(shop.sent_templates()) == 4


def test_cancel_stops_for_good_and_a_message_waiting_for_its_retry_never_leaves(shop, dispatch_tasks_lost, settings):
    settings.WHATSAPP_RETRY_DELAY_SCALE = 1.0  # the retry after 130429 waits a second or two
    shop.channel.throughput_mps = 10
    shop.channel.save()
    for i in range(3):
        shop.contact(f"Customer {i}", f"44770090030{i}")
    shop.emulator.fault(number=shop.number, error_code=130429)
    campaign = services.campaign_launch(campaign=sale_campaign(shop))
    services.campaign_dispatch(campaign_id=campaign.pk, time_budget_seconds=0.05)
    waiting = Message.objects.get(campaign_recipient__campaign=campaign)
    assert waiting.status == Message.Status.QUEUED and waiting.next_attempt_at is not None

    campaign = services.campaign_cancel(campaign=campaign)

    assert campaign.state == Campaign.State.CANCELLED
    assert services.campaign_dispatch(campaign_id=campaign.pk) is False
    Message.objects.filter(pk=waiting.pk).update(next_attempt_at=timezone.now())
    message_deliver(message_id=waiting.pk)  # its retry comes round
    waiting.refresh_from_db()
    assert waiting.status == Message.Status.FAILED and waiting.error_title == "Campaign cancelled"
    assert shop.sent_templates() == []
    assert campaign_funnel(campaign=campaign)["pending"] == 2
    with pytest.raises(Conflict):
        services.campaign_resume(campaign=campaign)


def test_a_csv_reports_each_bad_row_with_its_line_and_imports_the_rest(shop):
    campaign = sale_campaign(shop, audience_tags=[], parameter_values={"2": "Sunday"})
    csv_text = (
        "phone,name,1\n"
        "+44 7911 123401,Ana,Ana\n"  # line 2: fine
        "not a number,Ben,Ben\n"  # line 3
        "+1 555,Cleo,Cleo\n"  # line 4: too short
        "447911123404,Dan,Dan\n"  # line 5: digits with the country code
        "+447911123401,Ana again,Ana\n"  # line 6: duplicate of line 2
        "+447911123406,Eve,\n"  # line 7: no value for {{1}}, and no default
    )

    report = services.campaign_recipients_import_csv(campaign=campaign, text=csv_text)

    assert report["imported"] == 2 and report["rejected"] == 4
    lines = {error["line"]: error["reason"] for error in report["errors"]}
    assert set(lines) == {3, 4, 6, 7}
    assert "not a phone number" in lines[3]
    assert "not a valid phone number" in lines[4]
    assert "already on line 2" in lines[6]
    assert "{{1}}" in lines[7]
    recipients = CampaignRecipient.objects.filter(campaign=campaign).select_related("contact").order_by("id")
    assert [(r.contact.wa_id, r.parameters) for r in recipients] == [
        ("447911123401", {"1": "Ana"}),
        ("447911123404", {"1": "Dan"}),
    ]
    assert Contact.objects.get(wa_id="447911123404").profile_name == "Dan"


def test_a_csv_without_a_phone_column_is_refused_as_a_whole(shop):
    campaign = sale_campaign(shop)
    with pytest.raises(InvalidInput) as error:
        services.campaign_recipients_import_csv(campaign=campaign, text="name,1\nAna,Ana\n")
    assert "phone column" in error.value.message


def test_the_preview_renders_each_recipients_parameters(shop):
    shop.contact("Ana", "447700900501", attributes={"city": "Leeds"})
    campaign = sale_campaign(shop, parameter_values={"1": "{contact.name} from {contact.city}", "2": "Sunday"})
    services.campaign_recipients_import_csv(campaign=campaign, text="phone,1\n+447911123502,Ben\n+447911123503,\n")

    previews = services.campaign_preview(campaign=campaign, count=3)

    bodies = [p["rendered"]["body"] if p["rendered"] else p["error"] for p in previews]
    assert bodies == [
        "Hi Ben, ferns are 20% off until Sunday. Reply to order.",
        "Hi  from , ferns are 20% off until Sunday. Reply to order.",
        "Hi Ana from Leeds, ferns are 20% off until Sunday. Reply to order.",
    ]


def test_error_131050_from_a_send_opts_the_contact_out(shop):
    ana = shop.contact("Ana", "447700900601")
    shop.emulator.fault(number=shop.number, error_code=131050)
    campaign = services.campaign_launch(campaign=sale_campaign(shop))

    message = Message.objects.get(campaign_recipient__campaign=campaign)
    assert message.status == Message.Status.FAILED and message.error_code == 131050
    ana.refresh_from_db()
    assert ana.marketing_opt_out is True and ana.marketing_opt_out_source == "error_131050"
    second = services.campaign_launch(campaign=sale_campaign(shop))
    assert campaign_funnel(campaign=second)["skipped_by_reason"] == [{"reason": "Opted out of marketing", "count": 1}]


def test_error_131050_in_a_failed_status_webhook_opts_the_contact_out(shop):
    ana = shop.contact("Ana", "447700900602")
    shop.emulator.webhook_mode(shop.number, fail_code=131050)

    services.campaign_launch(campaign=sale_campaign(shop))
    shop.emulator.drain()

    wait_until(lambda: Contact.objects.get(pk=ana.pk).marketing_opt_out)
    assert Contact.objects.get(pk=ana.pk).marketing_opt_out_source == "error_131050"


def test_error_131049_is_recorded_not_retried_and_held_back_for_24_hours(shop):
    ana = shop.contact("Ana", "447700900701")
    shop.emulator.fault(number=shop.number, error_code=131049)
    campaign = services.campaign_launch(campaign=sale_campaign(shop))

    message = Message.objects.get(campaign_recipient__campaign=campaign)
    assert (message.status, message.error_code, message.attempts) == (Message.Status.FAILED, 131049, 1)
    assert campaign_funnel(campaign=campaign)["failed_by_reason"][0]["code"] == 131049
    assert Contact.objects.get(pk=ana.pk).marketing_opt_out is False

    second = services.campaign_launch(campaign=sale_campaign(shop))
    assert campaign_funnel(campaign=second)["skipped_by_reason"] == [
        {"reason": "Marketing limit (131049) in the last 24 hours; not retried yet", "count": 1}
    ]
    Message.objects.filter(pk=message.pk).update(failed_at=timezone.now() - timedelta(hours=25))
    third = services.campaign_launch(campaign=sale_campaign(shop))
    assert campaign_funnel(campaign=third)["queued"] == 1
    assert len(shop.sent_templates()) == 1  # the first try was refused before acceptance; the third went


def test_a_scheduled_campaign_starts_when_the_sweeper_finds_it_due(shop):
    shop.contact("Ana", "447700900801")
    campaign = services.campaign_launch(campaign=sale_campaign(shop), start_at=timezone.now() + timedelta(hours=1))
    assert campaign.state == Campaign.State.SCHEDULED
    assert services.campaigns_sweep()["started"] == 0

    Campaign.objects.filter(pk=campaign.pk).update(scheduled_at=timezone.now() - timedelta(seconds=1))
    assert services.campaigns_sweep()["started"] == 1

    assert Campaign.objects.get(pk=campaign.pk).state == Campaign.State.COMPLETED
    assert [b["to"] for b in shop.sent_templates()] == ["+447700900801"]


def test_a_running_campaign_whose_dispatcher_died_is_restarted_once(shop, dispatch_tasks_lost, monkeypatch):
    for i in range(2):
        shop.contact(f"Customer {i}", f"44770090090{i}")
    campaign = services.campaign_launch(campaign=sale_campaign(shop))
    # A dispatcher that took the lease and died mid-slice:
    Campaign.objects.filter(pk=campaign.pk).update(dispatch_lease_until=timezone.now() + timedelta(minutes=1))
    assert services.campaigns_sweep()["restarted"] == 0  # its lease still runs
    Campaign.objects.filter(pk=campaign.pk).update(dispatch_lease_until=timezone.now() - timedelta(seconds=1))

    assert services.campaigns_sweep()["restarted"] == 1
    assert dispatch_tasks_lost == [campaign.pk, campaign.pk]
    monkeypatch.undo()  # the restarted dispatcher runs
    services.campaigns_sweep()

    assert Campaign.objects.get(pk=campaign.pk).state == Campaign.State.COMPLETED
    assert len(shop.sent_templates()) == 2
    assert services.campaigns_sweep()["restarted"] == 0


def test_an_empty_audience_or_an_unapproved_template_is_refused_with_a_reason(shop):
    with pytest.raises(InvalidInput) as error:
        services.campaign_launch(campaign=sale_campaign(shop, audience_tags=["nobody"]))
    assert "audience is empty" in error.value.message
    with pytest.raises(InvalidInput) as error:
        services.campaign_create(
            workspace=shop.workspace,
            channel=shop.channel,
            name="Old",
            template_name="no_such_template",
            template_language="en_US",
        )
    assert "spring_sale" in error.value.message and error.value.field == "template_name"


@pytest.mark.parametrize("limit", [20, 80, 250, 1000])
def test_the_pace_leaves_room_for_conversations_under_the_numbers_limit(limit):
    from channels_app.models import Channel
    from outreach_app.services.dispatch import campaign_pace

    pace = campaign_pace(Channel(throughput_mps=limit))

    assert pace.rate == pytest.approx(limit * 0.95)
    assert pace.rate <= pace.window < limit  # Meta refuses the send that finds `limit` in the last second
    assert pace.lanes >= 2 and pace.chunk >= 1


def test_a_template_paused_at_meta_pauses_the_campaign_with_the_reason(shop, dispatch_tasks_lost):
    shop.contact("Ana", "447911126001")
    campaign = services.campaign_launch(campaign=sale_campaign(shop))
    shop.sale.status = "PAUSED"
    shop.sale.save()

    assert services.campaign_dispatch(campaign_id=campaign.pk) is False

    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.PAUSED
    assert "spring_sale is paused" in campaign.state_reason
    assert shop.sent_templates() == []


def test_a_campaign_at_the_numbers_full_pace_is_never_refused_for_throughput(shop):
    shop.channel.throughput_mps = 20
    shop.channel.save()
    shop.emulator.throughput_limit(shop.number, 20)  # the 21st send in any second is answered 130429
    for i in range(50):
        shop.contact(f"Customer {i}", f"4477009011{i:02d}")
    campaign = sale_campaign(shop)

    services.campaign_launch(campaign=campaign)

    messages = Message.objects.filter(campaign_recipient__campaign=campaign)
    assert messages.count() == 50
    assert list(messages.exclude(attempts=1).values_list("attempts", "error_code")) == []  # none refused, none retried
    assert len(shop.sent_templates()) == 50
    claimed = sorted(messages.values_list("claimed_at", flat=True))
    busiest = max(sum(1 for t in claimed if a <= t < a + timedelta(seconds=1)) for a in claimed)
    assert busiest < 20


def test_two_dispatchers_on_one_campaign_at_once_send_each_recipient_once(shop, dispatch_tasks_lost, monkeypatch):

    from outreach_app.services import dispatch

    if connection.vendor != "postgresql":
        pytest.skip("two dispatchers at once need PostgreSQL's row locks")
    shop.channel.throughput_mps = 100
    shop.channel.save()
    phones = [f"4477009012{i:02d}" for i in range(60)]
    for i, phone in enumerate(phones):
        shop.contact(f"Customer {i}", phone)
    campaign = services.campaign_launch(campaign=sale_campaign(shop))
    # A lease that has lapsed as soon as it is taken: as if the sweeper restarted a campaign whose
    # dispatcher was alive but slow, so both work on it at the same time.
    monkeypatch.setattr(dispatch, "CAMPAIGN_LEASE_GRACE_SECONDS", -60)
    conversations_for_contacts = dispatch.conversations_for_contacts

    def slow_inside_the_transaction(**kwargs):
        time.sleep(0.2)  # each dispatcher holds its chunk a while: the other one reads meanwhile
        return conversations_for_contacts(**kwargs)

    monkeypatch.setattr(dispatch, "conversations_for_contacts", slow_inside_the_transaction)
    at_once(lambda: services.campaign_dispatch(campaign_id=campaign.pk, time_budget_seconds=5))

    assert sorted(body["to"] for body in shop.sent_templates()) == sorted(f"+{phone}" for phone in phones)
    queued = Message.objects.filter(contact__wa_id__in=phones, direction=Message.Direction.OUTBOUND)
    assert queued.count() == 60  # not even a second message waiting in the outbox
    assert CampaignRecipient.objects.filter(campaign=campaign, state="sent").count() == 60
    assert Campaign.objects.get(pk=campaign.pk).state == Campaign.State.COMPLETED


# SQLite splits one bulk INSERT into several at its limit of variables per statement; the count is PostgreSQL's.
@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="SQLite splits bulk INSERTs by variable count")
def test_queueing_a_campaign_takes_a_few_statements_per_chunk_not_per_recipient(shop, dispatch_tasks_lost):
    from django.db.backends.signals import connection_created

    shop.channel.throughput_mps = 1000  # chunks of 50
    shop.channel.save()
    for i in range(40):
        shop.contact(f"Customer {i}", f"4477009013{i:02d}")
    campaign = services.campaign_launch(campaign=sale_campaign(shop))
    statements: list[str] = []
    lock = threading.Lock()

    def count(execute, sql, params, many, context):
        with lock:
            statements.append(sql)
        return execute(sql, params, many, context)

    def count_lanes_too(sender, connection, **kwargs):
        if threading.current_thread().name.startswith(f"campaign-{campaign.pk}-lane-"):
            connection.execute_wrappers.append(count)

    connection_created.connect(count_lanes_too)
    try:
        with connection.execute_wrapper(count):
            assert services.campaign_dispatch(campaign_id=campaign.pk) is False
    finally:
        connection_created.disconnect(count_lanes_too)

    assert len(shop.sent_templates()) == 40
    inserts = [sql for sql in statements if sql.startswith('INSERT INTO "messaging_app_message"')]
    assert len(inserts) == 1  # the chunk's 40 messages in one statement
    # Queueing is a handful per chunk; what is left is each message's own delivery to Graph (about ten).
    assert len(statements) <= 15 * 40


def test_a_delivery_that_breaks_ends_the_slice_and_leaves_what_was_queued_for_the_outbox(shop, dispatch_tasks_lost):
    from outreach_app.services import dispatch

    shop.channel.throughput_mps = 20  # 2 lanes, chunks of 2: more is queued than the lanes hold
    shop.channel.save()
    for i in range(10):
        shop.contact(f"Customer {i}", f"4477009015{i:02d}")
    campaign = services.campaign_launch(campaign=sale_campaign(shop))
    raised = []

    def broken_delivery(*, message_id: int) -> None:
        time.sleep(0.3)  # the next chunks fill the queue meanwhile
        raise RuntimeError("the Graph client broke")

    def slice_() -> None:

        try:
            services.campaign_dispatch(campaign_id=campaign.pk)
        except RuntimeError as exc:
            raised.append(str(exc))
        finally:
            connection.close()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dispatch, "message_deliver", broken_delivery)
        worker = threading.Thread(target=slice_)
        worker.start()
        worker.join(30)

    assert not worker.is_alive() and raised == ["the Graph client broke"]
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.RUNNING and campaign.dispatch_lease_until is None  # the sweeper's
    assert shop.sent_templates() == []
    queued = Message.objects.filter(campaign_recipient__campaign=campaign)
    assert queued.count() >= 1 and set(queued.values_list("status", flat=True)) == {Message.Status.QUEUED}


def test_a_cancel_while_a_chunk_is_being_queued_fails_it_before_it_leaves(shop, dispatch_tasks_lost, monkeypatch):

    from outreach_app.services import dispatch

    if connection.vendor != "postgresql":
        pytest.skip("the cancel waits on PostgreSQL's row lock")
    shop.channel.throughput_mps = 100  # one chunk of 10 holds all five
    shop.channel.save()
    for i in range(5):
        shop.contact(f"Customer {i}", f"4477009016{i:02d}")
    campaign = services.campaign_launch(campaign=sale_campaign(shop))
    cancels: list[threading.Thread] = []
    conversations_for_contacts, message_deliver_now = dispatch.conversations_for_contacts, dispatch.message_deliver

    def cancelled_meanwhile(**kwargs):
        def cancel() -> None:
            try:
                services.campaign_cancel(campaign=Campaign.objects.get(pk=campaign.pk))
            finally:
                connection.close()

        cancels.append(threading.Thread(target=cancel))
        cancels[0].start()
        time.sleep(0.5)  # the cancel is on its way while the chunk is still being queued
        return conversations_for_contacts(**kwargs)

    def busy_lanes(*, message_id: int) -> None:
        time.sleep(0.3)
        message_deliver_now(message_id=message_id)

    monkeypatch.setattr(dispatch, "conversations_for_contacts", cancelled_meanwhile)
    monkeypatch.setattr(dispatch, "message_deliver", busy_lanes)
    services.campaign_dispatch(campaign_id=campaign.pk)
    cancels[0].join(15)

    assert Campaign.objects.get(pk=campaign.pk).state == Campaign.State.CANCELLED
    assert shop.sent_templates() == []
    failed = Message.objects.filter(campaign_recipient__campaign=campaign).values_list("status", "error_title")
    assert list(failed) == [(Message.Status.FAILED, "Campaign cancelled")] * 5
