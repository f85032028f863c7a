from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from agents_app.models import KnowledgeEntry
from messaging_app.models import Conversation
from messaging_app.services.business_hours import business_hours_save
from tests.factories import AgentFactory

LONDON = ZoneInfo("Europe/London")
SHIPPING = "Yes! 🇨🇦 We ship to Canada in 3–5 business days."
AWAY = "Thanks for writing! We're closed now and back {{next_open}}. Urgent? Email {{contact_email}}."
WEEKDAYS_NINE_TO_FIVE = {
    day: [{"start": "09:00", "end": "17:00"}] for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
}


def hours_document(mode: str, **extra) -> dict:
    return {
        "enabled": True,
        "timezone": "Europe/London",
        "mode": mode,
        "weekly": WEEKDAYS_NINE_TO_FIVE,
        "away_message": AWAY,
        "contact_email": "help@luckyshrub.test",
        **extra,
    }


@pytest.fixture
def clock():
    """`clock(2030, 1, 4, 18, 0)` moves the whole process (the emulator's threads too) to that London wall
    time; the clock keeps ticking from there. Dates lie ahead of any real clock, so a customer's 24-hour
    window is measured from the messages sent in the test."""
    travels = []

    def move(*wall) -> datetime:
        while travels:
            travels.pop().stop()
        instant = datetime(*wall, tzinfo=LONDON)
        traveller = time_machine.travel(instant, tick=True)
        traveller.start()
        travels.append(traveller)
        return instant

    yield move
    while travels:
        travels.pop().stop()


@pytest.fixture
def shop_agent(sandbox):
    """The offline knowledge-base agent answers on the sandbox channel."""
    agent = AgentFactory(workspace=sandbox.channel.workspace, name="Shrubby", debounce_seconds=0)
    KnowledgeEntry.objects.create(agent=agent, title="Do you ship to Canada?", body=SHIPPING)
    Conversation.objects.filter(pk=sandbox.conversation.pk).update(assigned_agent=agent, state="agent")
    sandbox.channel.agent = agent
    sandbox.channel.save()
    return agent


@pytest.fixture
def hours(sandbox):
    """Set the sandbox channel's business hours: Monday to Friday 09:00–17:00 in London, and `mode`."""

    def set_hours(mode: str, **extra):
        return business_hours_save(channel=sandbox.channel, document=hours_document(mode, **extra))

    return set_hours
