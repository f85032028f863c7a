"""A handoff as a good receptionist does it: aware of the hours, never silent while the customer waits, and
with a note for the team. End to end: emulator customer → platform → the offline agent → WhatsApp.

The shop is open Monday to Friday 9:00–17:00 in London; 4 January 2030 is a Friday.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from messaging_app.models import Conversation
from messaging_app.services.business_hours import business_hours_save
from tests.conftest import wait_until

LONDON = ZoneInfo("Europe/London")
EMERGENCY = "For emergencies call +44 20 7946 0000."
NINE_TO_FIVE = {
    day: [{"start": "09:00", "end": "17:00"}] for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
}


@pytest.fixture
def clock():
    """`clock(2030, 1, 4, 21, 30)` moves the whole process (the emulator's threads too) to that London time."""
    travels = []

    def move(*wall) -> None:
        while travels:
            travels.pop().stop()
        traveller = time_machine.travel(datetime(*wall, tzinfo=LONDON), tick=True)
        traveller.start()
        travels.append(traveller)

    yield move
    while travels:
        travels.pop().stop()


@pytest.fixture
def shop(sandbox, shrubby):
    """The offline agent answers around the clock; the team keeps office hours and names an emergency line."""
    business_hours_save(
        channel=sandbox.channel,
        document={
            "enabled": True,
            "timezone": "Europe/London",
            "mode": "agent",
            "weekly": NINE_TO_FIVE,
            "alternative_contact": EMERGENCY,
        },
    )
    return shrubby


def _say(sandbox, body: str) -> None:
    sandbox.emulator.customer_says(sandbox.number, sandbox.customer, "text", {"body": body})
    sandbox.emulator.drain()


def _sent(sandbox) -> list[str]:
    """Free-form texts the business sent, as Graph received them, in order."""
    bodies = sandbox.emulator.requests_received(sandbox.number.phone_number_id)
    return [b["text"]["body"] for b in bodies if b.get("type") == "text"]


def _settled(sandbox) -> bool:
    return not sandbox.conversation.messages.filter(direction="in", handled_at__isnull=True).exists()


def test_after_hours_the_customer_gets_one_message_with_the_next_opening_and_the_emergency_line(sandbox, shop, clock):
    clock(2030, 1, 4, 21, 30)
    before = len(_sent(sandbox))
    _say(sandbox, "let me speak to a manager")
    wait_until(lambda: Conversation.objects.filter(pk=sandbox.conversation.pk, state="waiting_human").first())
    wait_until(lambda: _settled(sandbox))
    new = wait_until(lambda: _sent(sandbox)[before:])
    assert len(new) == 1
    assert "on Monday at 9:00 (London time)" in new[0]
    assert EMERGENCY in new[0]
    assert "shortly" not in new[0]


def test_while_waiting_the_customer_hears_back_once_per_ten_minutes_not_after_every_message(sandbox, shop, clock):
    clock(2030, 1, 4, 21, 30)
    _say(sandbox, "Can I talk to a person?")
    wait_until(lambda: Conversation.objects.filter(pk=sandbox.conversation.pk, state="waiting_human").first())
    wait_until(lambda: _settled(sandbox))
    after_handoff = len(_sent(sandbox))
    _say(sandbox, "ok")  # right after the handoff notice: that notice was the acknowledgement
    wait_until(lambda: _settled(sandbox))
    assert len(_sent(sandbox)) == after_handoff

    clock(2030, 1, 4, 21, 45)
    _say(sandbox, "hello? is anyone there")
    acknowledged = wait_until(lambda: _sent(sandbox)[after_handoff:])
    assert len(acknowledged) == 1
    assert "added this to your conversation" in acknowledged[0] and "on Monday at 9:00" in acknowledged[0]
    _say(sandbox, "my plant is dying")
    wait_until(lambda: _settled(sandbox))
    assert len(_sent(sandbox)) == after_handoff + 1


def test_staff_get_a_summary_with_the_order_number_and_email_instead_of_a_bare_reason(client, sandbox, shop):
    from django.core import mail
    from django.urls import reverse

    from tests.factories import member
    from workspaces_app.models import Role

    workspace = sandbox.channel.workspace
    workspace.notify_handoff_by_email = True
    workspace.save()
    client.force_login(member(workspace, Role.AGENT, email="answerer@lucky.test"))
    _say(sandbox, "My order #A-10432 still hasn't arrived")
    wait_until(lambda: _settled(sandbox))
    _say(sandbox, "You can reach me at ana@example.com")
    wait_until(lambda: _settled(sandbox))
    _say(sandbox, "I want to speak to a manager")
    waiting = wait_until(lambda: Conversation.objects.filter(pk=sandbox.conversation.pk, state="waiting_human").first())
    assert "• My order #A-10432 still hasn't arrived" in waiting.handoff_summary
    assert "order number: A-10432" in waiting.handoff_summary
    assert "email: ana@example.com" in waiting.handoff_summary
    email = wait_until(lambda: mail.outbox[0] if mail.outbox else None)
    assert "order number: A-10432" in email.body and "I want to speak to a manager" in email.body
    page = client.get(reverse("conversation_detail", args=[workspace.slug, waiting.pk])).content.decode()
    assert "order number: A-10432" in page and "email: ana@example.com" in page


def test_a_spanish_customer_waiting_in_office_hours_hears_back_in_spanish(sandbox, shop, clock):
    clock(2030, 1, 7, 11, 0)  # Monday, open
    _say(sandbox, "¿Puedo hablar con un asesor?")
    wait_until(lambda: Conversation.objects.filter(pk=sandbox.conversation.pk, state="waiting_human").first())
    wait_until(lambda: _settled(sandbox))
    assert _sent(sandbox)[-1] == "¡Claro! Te paso con un compañero del equipo 🙋 Te responderá aquí en breve."
    after_handoff = len(_sent(sandbox))

    clock(2030, 1, 7, 11, 12)
    _say(sandbox, "Sigo esperando")
    acknowledged = wait_until(lambda: _sent(sandbox)[after_handoff:])
    assert acknowledged == [
        "Gracias, lo he añadido a tu conversación 🙏 Un compañero te responderá aquí lo antes posible."
    ]
