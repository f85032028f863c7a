"""Status webhooks folded in batches, and drains that share one backlog.

A backlog of status-only webhooks is folded a batch at a time; what a message ends up as must not depend on
how its statuses were batched or ordered. Several drains may run at once (several worker processes): each
event is processed by exactly one of them. Run on PostgreSQL in CI (row locks and SKIP LOCKED for real).
"""

import copy
import itertools
import json
import threading
from datetime import UTC, datetime

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels_app.models import WebhookEvent
from channels_app.services import webhook_event_receive
from events_app.models import Event, WebhookSubscription
from messaging_app.models import Message, StatusReceipt
from messaging_app.services.outbound import message_wamid_record
from messaging_app.services.webhooks import webhook_event_process, webhook_events_drain
from tests.factories import conversation_with, outbound_message
from tests.messaging.conftest import CUSTOMER_BSUID, fixture_bytes
from tests.messaging.test_concurrency import _concurrently

STATUSES = ("sent", "delivered", "read", "played", "failed")
_FOLDED = ("status", "sent_at", "delivered_at", "read_at", "played_at", "failed_at", "error_code", "error_title")
_example = itertools.count()


def _status(wamid: str, status: str, timestamp: int, *, callback_data: str | None = None) -> dict:
    fixture = "status_failed" if status == "failed" else "status_sent"
    one = copy.deepcopy(json.loads(fixture_bytes(fixture))["entry"][0]["changes"][0]["value"]["statuses"][0])
    one.update(id=wamid, status=status, timestamp=str(timestamp))
    if callback_data is not None:
        one["biz_opaque_callback_data"] = callback_data
    return one


def _webhook(*statuses: dict) -> bytes:
    """One POST as Meta sends it, carrying these statuses (Meta batches several in one POST under load)."""
    body = json.loads(fixture_bytes("status_sent"))
    body["entry"][0]["changes"][0]["value"]["statuses"] = list(statuses)
    return json.dumps(body).encode()


def _store(raw: bytes) -> WebhookEvent:
    return webhook_event_receive(raw_body=raw, headers={}, signature_valid=True, channel=None)


def _folded(message: Message) -> tuple:
    message.refresh_from_db()
    return tuple(getattr(message, field) for field in _FOLDED)


# A backlog: statuses of 3 messages (each (message, status) with one timestamp, as Meta reports it; some
# delivered twice, as Meta redelivers), in any order, cut into POSTs of one to three statuses.
_reports = st.dictionaries(
    st.tuples(st.integers(0, 2), st.sampled_from(STATUSES)), st.integers(1764000000, 1764000050), min_size=1
)
_backlogs = (
    _reports.map(lambda reports: [(index, status, ts) for (index, status), ts in reports.items()])
    .flatmap(lambda items: st.lists(st.sampled_from(items), max_size=3).map(lambda again: items + again))
    .flatmap(lambda items: st.tuples(st.permutations(items), st.lists(st.integers(1, 3), min_size=len(items))))
)


@pytest.mark.django_db
def test_a_batch_of_status_webhooks_in_any_order_folds_to_the_state_one_at_a_time_gives(channel):
    conversation = conversation_with(channel, user_id=CUSTOMER_BSUID)

    @settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(backlog=_backlogs)
    def check(backlog) -> None:
        ordered, cuts = backlog
        n = next(_example)
        one_by_one = [outbound_message(conversation, wamid=f"wamid.single-{n}-{i}") for i in range(3)]
        batched = [outbound_message(conversation, wamid=f"wamid.batch-{n}-{i}") for i in range(3)]

        # One at a time, in the order Meta might have sent them, each on the one-event path.
        for index, status, timestamp in sorted(ordered, key=lambda s: s[2]):
            event = _store(_webhook(_status(one_by_one[index].wamid, status, timestamp)))
            webhook_event_process(event_id=event.pk)
        # The same statuses in another order, cut into POSTs, stored as a backlog and drained in batches.
        position = 0
        for size in cuts:
            chunk = ordered[position : position + size]
            if not chunk:
                break
            _store(_webhook(*(_status(batched[index].wamid, status, ts) for index, status, ts in chunk)))
            position += size
        webhook_events_drain()

        assert [_folded(m) for m in batched] == [_folded(m) for m in one_by_one]
        assert not WebhookEvent.objects.exclude(state=WebhookEvent.State.PROCESSED).exists()

    check()


@pytest.mark.django_db
def test_failed_stays_terminal_whatever_the_batch_reports_after_it(channel):
    message = outbound_message(conversation_with(channel, user_id=CUSTOMER_BSUID), wamid="wamid.terminal")
    _store(_webhook(_status("wamid.terminal", "sent", 1764000001), _status("wamid.terminal", "failed", 1764000002)))
    webhook_events_drain()
    _store(_webhook(_status("wamid.terminal", "delivered", 1764000003), _status("wamid.terminal", "read", 1764000004)))
    webhook_events_drain()

    message.refresh_from_db()
    assert message.status == Message.Status.FAILED and message.error_code == 131049
    assert message.read_at == datetime.fromtimestamp(1764000004, tz=UTC)  # kept, but it does not win


@pytest.mark.django_db
def test_statuses_batched_before_the_send_answer_are_applied_when_the_answer_comes(channel):
    message = outbound_message(conversation_with(channel, user_id=CUSTOMER_BSUID), wamid=None, status="sending")
    _store(_webhook(_status("wamid.early", "sent", 1764000001)))
    _store(_webhook(_status("wamid.early", "delivered", 1764000002)))
    webhook_events_drain()
    message.refresh_from_db()
    assert message.status == Message.Status.SENDING
    assert StatusReceipt.objects.filter(wamid="wamid.early", message__isnull=True).count() == 2

    message_wamid_record(message_id=message.pk, wamid="wamid.early")

    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED
    assert message.delivered_at == datetime.fromtimestamp(1764000002, tz=UTC)
    assert set(StatusReceipt.objects.values_list("message_id", flat=True)) == {message.pk}


@pytest.mark.django_db
def test_a_status_for_a_send_whose_answer_was_lost_settles_it_by_its_callback_data(channel):
    message = outbound_message(conversation_with(channel, user_id=CUSTOMER_BSUID), wamid=None, status="unknown")
    _store(_webhook(_status("wamid.lost", "sent", 1764000001, callback_data=str(message.public_id))))
    _store(_webhook(_status("wamid.lost", "delivered", 1764000002, callback_data=str(message.public_id))))
    webhook_events_drain()

    message.refresh_from_db()
    assert message.wamid == "wamid.lost"
    assert message.status == Message.Status.DELIVERED
    assert set(StatusReceipt.objects.values_list("message_id", flat=True)) == {message.pk}


@pytest.mark.django_db
def test_a_status_delivered_twice_in_a_batch_and_again_later_is_stored_once(channel):
    message = outbound_message(conversation_with(channel, user_id=CUSTOMER_BSUID), wamid="wamid.twice")
    read = _status("wamid.twice", "read", 1764000010)
    _store(_webhook(read, _status("wamid.twice", "delivered", 1764000005)))
    _store(_webhook(read))
    webhook_events_drain()
    _store(_webhook(read))
    webhook_events_drain()

    assert StatusReceipt.objects.filter(wamid="wamid.twice", status="read").count() == 1
    assert StatusReceipt.objects.filter(wamid="wamid.twice").count() == 2
    message.refresh_from_db()
    assert message.status == Message.Status.READ
    events = WebhookEvent.objects.all()
    assert {(e.state, e.summary, e.attempts) for e in events} == {
        ("processed", "2 StatusUpdate", 1),
        ("processed", "1 StatusUpdate", 1),
    }
    assert {e.workspace_id for e in events} == {channel.workspace_id}  # the shared URL's events join the log


@pytest.mark.django_db
def test_a_status_for_an_unknown_number_fails_its_own_event_and_the_rest_of_the_batch_is_folded(channel):
    message = outbound_message(conversation_with(channel, user_id=CUSTOMER_BSUID), wamid="wamid.mine")
    stranger = json.loads(_webhook(_status("wamid.theirs", "read", 1764000001)))
    stranger["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = "999999999999999"
    unknown = _store(json.dumps(stranger).encode())
    mine = _store(_webhook(_status("wamid.mine", "read", 1764000002)))

    webhook_events_drain()

    unknown.refresh_from_db()
    mine.refresh_from_db()
    assert unknown.state == WebhookEvent.State.FAILED
    assert "no channel has phone_number_id 999999999999999" in unknown.error
    assert mine.state == WebhookEvent.State.PROCESSED
    message.refresh_from_db()
    assert message.status == Message.Status.READ


@pytest.mark.django_db
def test_a_batch_whose_fold_fails_is_processed_one_event_at_a_time_and_the_bad_one_is_reported(channel):
    message = outbound_message(conversation_with(channel, user_id=CUSTOMER_BSUID), wamid="wamid.fine")
    too_long = "wamid." + "x" * 200  # longer than any wamid column allows: the batch's insert fails
    bad = _store(_webhook(_status(too_long, "sent", 1764000001)))
    good = _store(_webhook(_status("wamid.fine", "delivered", 1764000002)))

    assert webhook_events_drain() == 2

    bad.refresh_from_db()
    good.refresh_from_db()
    if connection.vendor == "postgresql":  # SQLite does not enforce a column's length
        assert bad.state == WebhookEvent.State.FAILED and "StatusUpdate" in bad.error
    assert good.state == WebhookEvent.State.PROCESSED
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED


@pytest.mark.django_db
def test_a_batch_still_records_message_status_updated_for_the_subscribers(channel):
    WebhookSubscription.objects.create(
        workspace=channel.workspace, url="https://example.com/hooks", event_types=["message.status_updated"]
    )
    conversation = conversation_with(channel, user_id=CUSTOMER_BSUID)
    first = outbound_message(conversation, wamid="wamid.one")
    second = outbound_message(conversation, wamid="wamid.two")
    _store(_webhook(_status("wamid.one", "sent", 1764000001), _status("wamid.two", "delivered", 1764000002)))
    _store(_webhook(_status("wamid.one", "read", 1764000003)))

    webhook_events_drain()

    payloads = [event.payload["message"] for event in Event.objects.filter(type="message.status_updated")]
    assert sorted((p["id"], p["status"]) for p in payloads) == sorted(
        [(str(first.public_id), "read"), (str(second.public_id), "delivered")]
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="SQLite runs one writer at a time")
def test_two_drains_running_at_once_over_one_backlog_process_every_event_exactly_once(channel, settings):
    settings.WHATSAPP_WEBHOOK_DRAINS = 2
    conversation = conversation_with(channel, user_id=CUSTOMER_BSUID)
    messages = [outbound_message(conversation, wamid=f"wamid.shared-{i}") for i in range(250)]
    for status, timestamp in (("sent", 1764000001), ("delivered", 1764000002), ("read", 1764000003)):
        for message in messages:
            _store(_webhook(_status(message.wamid, status, timestamp)))
    counts = _concurrently(2, webhook_events_drain)

    assert sum(counts) == 750 and min(counts) > 0, counts  # both drains did part of the work
    assert set(WebhookEvent.objects.values_list("state", "attempts")) == {("processed", 1)}
    assert StatusReceipt.objects.count() == 750
    assert set(Message.objects.filter(wamid__startswith="wamid.shared-").values_list("status", flat=True)) == {"read"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="SQLite runs one writer at a time")
def test_a_status_folded_while_the_send_answer_is_being_recorded_is_not_lost(channel):
    message = outbound_message(conversation_with(channel, user_id=CUSTOMER_BSUID), wamid=None, status="sending")
    recorded, commit = threading.Event(), threading.Event()

    def record_the_answer_and_hold_the_transaction() -> None:
        try:
            with transaction.atomic():
                message_wamid_record(message_id=message.pk, wamid="wamid.racing")
                recorded.set()
                commit.wait(timeout=10)
        finally:
            connection.close()

    def drain() -> None:
        try:
            webhook_events_drain()
        finally:
            connection.close()

    recorder = threading.Thread(target=record_the_answer_and_hold_the_transaction)
    recorder.start()
    assert recorded.wait(timeout=10)
    # The answer is recorded (its receipts linked and folded) but not committed when the status is folded.
    _store(_webhook(_status("wamid.racing", "delivered", 1764000002, callback_data=str(message.public_id))))
    drainer = threading.Thread(target=drain)
    drainer.start()
    drainer.join(timeout=1)
    assert drainer.is_alive()  # it waits for the message the callback data names
    commit.set()
    recorder.join(timeout=10)
    drainer.join(timeout=10)

    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED
    assert StatusReceipt.objects.get(wamid="wamid.racing").message_id == message.pk
