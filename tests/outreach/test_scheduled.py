"""Scheduled messages: sent once at their time, never when cancelled, once after an outage, window rules."""

from datetime import timedelta

import pytest
from django.utils import timezone

from messaging_app.errors import WindowClosed
from outreach_app import services
from outreach_app.models import ScheduledMessage
from tests.outreach.conftest import at_once
from whatsapp_platform.errors import Conflict


def schedule_text(shop, body: str, at) -> ScheduledMessage:
    return services.scheduled_message_create(
        workspace=shop.workspace,
        channel=shop.channel,
        contact=shop.conversation.contact,
        send_at=at,
        message_type="text",
        content={"body": body},
        user=shop.owner,
    )


def texts_sent(shop, body: str) -> int:
    return sum(
        1 for b in shop.emulator.requests_received(shop.number) if b.get("type") == "text" and b["text"]["body"] == body
    )


@pytest.fixture
def shop(shop, sandbox):
    shop.conversation = sandbox.conversation  # Sheena wrote a moment ago: her window is open
    return shop


def test_a_scheduled_message_is_sent_once_at_its_time(shop):
    at = timezone.now() + timedelta(minutes=10)
    scheduled = schedule_text(shop, "Your order ships today 📦", at)

    assert services.scheduled_messages_send_due() == 0
    assert services.scheduled_messages_send_due(now=at + timedelta(seconds=5)) == 1
    assert services.scheduled_messages_send_due(now=at + timedelta(seconds=30)) == 0

    scheduled.refresh_from_db()
    assert scheduled.state == ScheduledMessage.State.SENT and scheduled.message.sender == "teammate"
    assert texts_sent(shop, "Your order ships today 📦") == 1


def test_a_cancelled_message_is_never_sent(shop):
    at = timezone.now() + timedelta(minutes=10)
    scheduled = schedule_text(shop, "Cancelled reminder", at)

    services.scheduled_message_cancel(scheduled=scheduled)

    assert services.scheduled_messages_send_due(now=at + timedelta(hours=1)) == 0
    assert ScheduledMessage.objects.get(pk=scheduled.pk).state == ScheduledMessage.State.CANCELLED
    assert texts_sent(shop, "Cancelled reminder") == 0
    with pytest.raises(Conflict):
        services.scheduled_message_reschedule(scheduled=scheduled, send_at=at)


def test_after_an_outage_a_missed_message_goes_once_though_two_schedulers_claim_it(shop):
    scheduled = schedule_text(shop, "Missed while we were down", timezone.now() + timedelta(minutes=1))
    ScheduledMessage.objects.filter(pk=scheduled.pk).update(send_at=timezone.now() - timedelta(hours=2))
    results = at_once(services.scheduled_messages_send_due)
    results.append(services.scheduled_messages_send_due())  # the job's next run after recovery

    assert sorted(results) == [0, 0, 1]
    assert texts_sent(shop, "Missed while we were down") == 1
    assert ScheduledMessage.objects.get(pk=scheduled.pk).state == ScheduledMessage.State.SENT


def test_rescheduling_moves_the_send_time(shop):
    first = timezone.now() + timedelta(minutes=5)
    later = timezone.now() + timedelta(hours=2)
    scheduled = schedule_text(shop, "Rescheduled", first)

    services.scheduled_message_reschedule(scheduled=scheduled, send_at=later)

    assert services.scheduled_messages_send_due(now=first + timedelta(minutes=1)) == 0
    assert services.scheduled_messages_send_due(now=later) == 1
    assert texts_sent(shop, "Rescheduled") == 1


def test_a_free_form_message_is_refused_when_the_window_will_have_closed(shop):
    after_window = timezone.now() + timedelta(hours=25)

    with pytest.raises(WindowClosed) as error:
        schedule_text(shop, "Too late for free-form", after_window)
    assert "24-hour window closes at" in error.value.message and "template" in error.value.message
    assert error.value.field == "send_at"

    scheduled = services.scheduled_message_create(
        workspace=shop.workspace,
        channel=shop.channel,
        contact=shop.conversation.contact,
        send_at=after_window,
        template={
            "name": "appointment_reminder",
            "language": "en_US",
            "values": {"first_name": "Sheena", "day": "Monday"},
        },
    )
    assert scheduled.message_type == "template"
    assert services.scheduled_messages_send_due(now=after_window) == 1
    body = [b for b in shop.emulator.requests_received(shop.number) if b.get("type") == "template"][-1]
    assert body["template"]["name"] == "appointment_reminder"


def test_rescheduling_a_free_form_message_past_the_window_is_refused(shop):
    scheduled = schedule_text(shop, "Soon", timezone.now() + timedelta(minutes=5))
    with pytest.raises(WindowClosed):
        services.scheduled_message_reschedule(scheduled=scheduled, send_at=timezone.now() + timedelta(days=2))
    assert ScheduledMessage.objects.get(pk=scheduled.pk).send_at < timezone.now() + timedelta(minutes=6)
