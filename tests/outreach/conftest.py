"""The outreach cast: a sandbox channel on the emulator, an approved marketing template, tagged contacts."""

import threading
from dataclasses import dataclass

import pytest

from channels_app.models import Channel, MessageTemplate
from messaging_app.models import Contact
from tests.factories import member
from workspaces_app.models import Role

SALE_BODY = "Hi {{1}}, ferns are 20% off until {{2}}. Reply to order."
SALE_COMPONENTS = [{"type": "BODY", "text": SALE_BODY, "example": {"body_text": [["Pablo", "Sunday"]]}}]
REMINDER_COMPONENTS = [
    {
        "type": "BODY",
        "text": "Hello {{first_name}}, your appointment is on {{day}}.",
        "example": {
            "body_text_named_params": [
                {"param_name": "first_name", "example": "Pablo"},
                {"param_name": "day", "example": "Monday"},
            ]
        },
    }
]


@pytest.fixture(autouse=True)
def _fast_retries(settings):
    settings.WHATSAPP_RETRY_DELAY_SCALE = 0
    settings.GRAPH_READ_TIMEOUT = 2.0


@dataclass
class Shop:
    channel: Channel
    number: object
    emulator: object
    sale: MessageTemplate
    reminder: MessageTemplate
    owner: object

    @property
    def workspace(self):
        return self.channel.workspace

    def contact(self, name: str, phone: str, *, tags=("vip",), on_whatsapp: bool = True, **fields) -> Contact:
        """A contact on our side and, when on WhatsApp, the same customer in the emulator."""
        if on_whatsapp:
            self.emulator.customer(self.number, name=name, phone=phone)
        return Contact.objects.create(
            workspace=self.channel.workspace,
            channel=self.channel,
            wa_id=phone,
            profile_name=name,
            tags=list(tags),
            **fields,
        )

    def sent_templates(self) -> list[dict]:
        return [b for b in self.emulator.requests_received(self.number) if b.get("type") == "template"]


def approved_template(emulator, number, channel, name, components, parameter_format="positional", category="MARKETING"):
    emulator.template(
        number, name, language="en_US", category=category, components=components, parameter_format=parameter_format
    )
    return MessageTemplate.objects.create(
        workspace=channel.workspace,
        waba_id=channel.waba_id,
        name=name,
        language="en_US",
        category=category,
        status="APPROVED",
        parameter_format=parameter_format.upper(),
        components=components,
    )


@pytest.fixture
def shop(sandbox) -> Shop:
    channel, number, emulator = sandbox.channel, sandbox.number, sandbox.emulator
    return Shop(
        channel=channel,
        number=number,
        emulator=emulator,
        sale=approved_template(emulator, number, channel, "spring_sale", SALE_COMPONENTS),
        reminder=approved_template(
            emulator, number, channel, "appointment_reminder", REMINDER_COMPONENTS, "named", "UTILITY"
        ),
        owner=member(channel.workspace, Role.OWNER),
    )


def at_once(work, *, times: int = 2, timeout: float = 60) -> list:
    """Run `work()` on `times` threads released together (two workers on the same job); their results.

    Each thread closes its own database connection, as a worker's would be."""
    from django.db import connection

    barrier = threading.Barrier(times)
    results = []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(work())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return results
