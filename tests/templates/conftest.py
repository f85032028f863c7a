"""Templates against the Cloud API emulator: a sandbox channel, its staff, and templates seeded at "Meta"."""

import pytest

from tests.factories import member
from workspaces_app.models import Role

ORDER_READY = [
    {
        "type": "BODY",
        "text": "Hi {{1}}, your order {{2}} is ready for pick-up.",
        "example": {"body_text": [["Sheena", "1042"]]},
    }
]
ORDER_READY_NAMED = [
    {"type": "HEADER", "format": "TEXT", "text": "Order {{order}} is ready"},
    {"type": "BODY", "text": "Hi {{first_name}}, come and collect order {{order}} today."},
    {"type": "FOOTER", "text": "Lucky Shrub, Covent Garden"},
]


@pytest.fixture
def owner(sandbox):
    return member(sandbox.channel.workspace, Role.OWNER, email="owner@luckyshrub.example")


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


def seed(box, name: str, components=None, **kw):
    """A template that exists at "Meta" (the emulator), approved unless told otherwise."""
    return box.emulator.template(box.number, name, components=components or ORDER_READY, **kw)
