"""Sheena, a customer of Lucky Shrub, and everything the platform keeps about her.

`live_customer` gets there end to end: she writes through the Cloud API emulator (a text, a voice
note, a photo), Fern (an OpenAI-compatible agent on a loopback server) transcribes and answers
with a buttons tool call, events go to the shop's endpoint; then a rating, a campaign row and a
scheduled message are added. `stored_customer` writes the same kinds of rows directly, for tests
that only need them to exist.
"""

import io
import json
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.core.files.base import ContentFile
from django.utils import timezone

from agents_app.models import AgentRun
from channels_app.models import WebhookEvent
from events_app import services as events
from messaging_app.models import Contact, Conversation, ConversationRating, Message, StatusReceipt
from outreach_app.models import Campaign, CampaignRecipient, ScheduledMessage
from tests.conftest import wait_until
from tests.factories import AgentFactory, conversation_with

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "whatsapp"

PHONE = "16505551234"
NAME = "Sheena Nelson"
TEXT = "Please deliver to 221B Baker Street, flat 7"
TRANSCRIPT = "Two Boston ferns for the balcony please, code KESTREL-44"
CAPTION = "My balcony, north facing, photo 7731"
RATING_COMMENT = "Fern was lovely, ask for Sheena next time"
SCHEDULED_TEXT = "Reminder: your Boston ferns arrive tomorrow, Sheena"
BUTTONS_TEXT = "Which pot would you like, Sheena?"
OGG = b"OggS\x00\x02" + bytes(200)


def png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (6, 6), "green").save(out, format="PNG")
    return out.getvalue()


@dataclass
class Customer:
    contact: Contact
    conversation: Conversation
    phone: str = PHONE
    name: str = NAME
    words: list[str] = field(default_factory=list)  # what must not survive an erasure

    @property
    def needles(self) -> list[str]:
        return [self.phone, self.name, *self.words]

    @property
    def text(self) -> str:
        return self.words[0]

    @property
    def transcript(self) -> str:
        return self.words[1]


def live_customer(sandbox, llm, receiver) -> Customer:
    workspace = sandbox.channel.workspace
    events.subscription_create(
        workspace=workspace,
        url=receiver.url,
        event_types=["message.received", "message.sent", "message.status_updated", "csat.received"],
    )
    agent = AgentFactory(
        workspace=workspace,
        name="Fern",
        provider="openai",
        model="test-model",
        api_key="sk-test",
        base_url=llm.base_url,
        debounce_seconds=0,
    )
    Conversation.objects.filter(pk=sandbox.conversation.pk).update(assigned_agent=agent, state="agent")

    def say(message_type, content, runs):
        sandbox.emulator.customer_says(sandbox.number, sandbox.customer, message_type, content)
        sandbox.emulator.drain()
        wait_until(lambda: AgentRun.objects.filter(finished_at__isnull=False).count() >= runs)

    llm.reply_text(TRANSCRIPT)  # the voice note's transcription
    llm.reply_tool_call("send_buttons", {"text": BUTTONS_TEXT, "buttons": ["Terracotta", "White"]})
    say("audio", {"data": OGG, "mime_type": "audio/ogg; codecs=opus", "voice": True}, runs=1)
    say("image", {"data": png(), "mime_type": "image/png", "caption": CAPTION}, runs=2)
    say("text", {"body": TEXT}, runs=3)
    # The business's messages settle (read: no status webhook is still on its way), and every file is stored.
    wait_until(lambda: not Message.objects.filter(direction="out").exclude(status="read"))
    sandbox.emulator.drain()
    wait_until(lambda: Message.objects.filter(media_state="stored").count() == 2)

    contact = Contact.objects.get(channel=sandbox.channel, wa_id=PHONE)
    _outreach_and_rating(contact, sandbox.conversation, comment=RATING_COMMENT, scheduled=SCHEDULED_TEXT)
    return Customer(
        contact=contact,
        conversation=Conversation.objects.get(pk=sandbox.conversation.pk),
        words=[TEXT, TRANSCRIPT, CAPTION, RATING_COMMENT, SCHEDULED_TEXT, BUTTONS_TEXT, "Hi! Is the fern in stock?"],
    )


def _outreach_and_rating(contact: Contact, conversation: Conversation, *, comment: str, scheduled: str) -> None:
    now = timezone.now()
    ConversationRating.objects.create(
        workspace=contact.workspace, conversation=conversation, score=5, comment=comment, answered_at=now
    )
    campaign = Campaign.objects.create(
        workspace=contact.workspace,
        channel=contact.channel,
        name="Spring ferns",
        template_name="spring_offer",
        template_language="en_US",
        import_report={
            "imported": 1,
            "rejected": 1,
            "errors": [{"line": 3, "reason": f"+{contact.wa_id} is already on line 2"}],
        },
    )
    CampaignRecipient.objects.create(
        campaign=campaign, contact=contact, parameters={"first_name": contact.profile_name.split()[0]}, source_line=2
    )
    ScheduledMessage.objects.create(
        workspace=contact.workspace,
        channel=contact.channel,
        contact=contact,
        message_type="text",
        content={"body": scheduled},
        send_at=now + timedelta(days=1),
    )


def _webhook(channel, name: str, replace: dict[str, str], *, received_days_ago: float = 0) -> WebhookEvent:
    text = (FIXTURES / name).read_text()
    for old, new in replace.items():
        text = text.replace(old, new)
    event = WebhookEvent.objects.create(
        workspace=channel.workspace,
        channel=channel,
        body=text.encode(),
        headers={"X-Hub-Signature-256": "sha256=00", "Content-Type": "application/json"},
        signature_valid=True,
        state=WebhookEvent.State.PROCESSED,
    )
    WebhookEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - timedelta(days=received_days_ago))
    return event


def stored_customer(channel, *, phone: str = PHONE, name: str = NAME, days_ago: float = 0) -> Customer:
    """The same kinds of rows, written directly: a text, a photo (stored file), a voice note with its
    transcript, an agent run with a tool call, a status, a rating, a campaign row, a scheduled message
    and the webhooks that carried them. Each customer's words carry their number, so two never overlap."""
    words = [f"{w} [{phone}]" for w in (TEXT, TRANSCRIPT, CAPTION, RATING_COMMENT, SCHEDULED_TEXT, BUTTONS_TEXT)]
    text_body, transcript, caption, comment, scheduled, buttons = words
    conversation = conversation_with(channel, wa_id=phone, name=name)
    contact = conversation.contact
    when = timezone.now() - timedelta(days=days_ago)
    base = {
        "workspace": channel.workspace,
        "channel": channel,
        "conversation": conversation,
        "contact": contact,
        "timestamp": when,
    }
    text = Message.objects.create(
        **base,
        direction="in",
        message_type="text",
        content={"body": text_body},
        wamid=f"wamid.in-text-{phone}",
        sender="customer",
        status="received",
    )
    photo = Message.objects.create(
        **base,
        direction="in",
        message_type="image",
        content={"id": "m1", "caption": caption},
        wamid=f"wamid.in-image-{phone}",
        sender="customer",
        status="received",
        media_id="m1",
        media_mime_type="image/png",
        media_state="stored",
    )
    photo.media_file.save("balcony.png", ContentFile(png()), save=True)
    voice = Message.objects.create(
        **base,
        direction="in",
        message_type="audio",
        content={"id": "m2", "voice": True},
        wamid=f"wamid.in-voice-{phone}",
        sender="customer",
        status="received",
        media_id="m2",
        media_mime_type="audio/ogg",
        media_state="stored",
        transcript=transcript,
    )
    voice.media_file.save("voice.ogg", ContentFile(OGG), save=True)
    reply = Message.objects.create(
        **base,
        direction="out",
        message_type="interactive",
        content={"type": "button", "body": {"text": buttons}},
        wamid=f"wamid.out-{phone}",
        sender="agent",
        status="delivered",
        sent_at=when,
        delivered_at=when,
    )
    StatusReceipt.objects.create(channel=channel, wamid=reply.wamid, status="delivered", timestamp=when, message=reply)
    run = AgentRun.objects.create(
        workspace=channel.workspace,
        conversation=conversation,
        provider="openai",
        status="answered",
        trigger_message_ids=[text.pk],
        prompt=[{"role": "system", "content": f"The customer's name: {name}."}, {"role": "user", "content": text_body}],
        output="",
        tool_calls=[
            {"name": "send_buttons", "arguments": {"text": buttons}, "result": {"ok": True}, "duration_ms": 1.5}
        ],
        response_ms=900,
        finished_at=when,
    )
    AgentRun.objects.filter(pk=run.pk).update(started_at=when)
    _outreach_and_rating(contact, conversation, comment=comment, scheduled=scheduled)
    _webhook(
        channel,
        "text.json",
        {
            "16505551234": phone,
            "Sheena Nelson": name,
            "Does it come in another color?": text_body,
            "US.13491208655302741918": f"US.{phone}",
            "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQ2NEZBQ0EyRENCQjg1NUJFREM4QwA=": text.wamid,
        },
        received_days_ago=days_ago,
    )
    _webhook(
        channel,
        "status_delivered.json",
        {
            "16505551234": phone,
            "Sheena Nelson": name,
            "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA": reply.wamid,
            "US.13491208655302741918": f"US.{phone}",
        },
        received_days_ago=days_ago,
    )
    return Customer(
        contact=Contact.objects.get(pk=contact.pk), conversation=conversation, phone=phone, name=name, words=words
    )


def stored_texts(models) -> list[tuple[str, int, str, str]]:
    """(model, pk, field, value as text) for every text, JSON, binary and file column of every row."""
    from django.db import models as m

    found = []
    for model in models:
        fields = [
            f
            for f in model._meta.concrete_fields
            if isinstance(f, m.CharField | m.TextField | m.JSONField | m.BinaryField | m.FileField)
        ]
        for row in model.objects.all().values_list("pk", *[f.attname for f in fields]):
            for f, value in zip(fields, row[1:], strict=True):
                if isinstance(value, bytes | memoryview):
                    text = bytes(value).decode("utf-8", errors="replace")
                else:
                    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                found.append((model._meta.label, row[0], f.name, text or ""))
    return found
