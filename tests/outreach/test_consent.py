"""Marketing consent and the welcome template, driven by real customer messages and signed webhooks."""

import json
import time

from messaging_app.models import Contact, Message
from outreach_app.models import WelcomeTemplate
from outreach_app.services import welcome_template_set
from tests.conftest import SANDBOX_APP_SECRET, wait_until
from tests.messaging.conftest import signature


def texts_to(shop, phone: str) -> list[str]:
    return [
        b["text"]["body"]
        for b in shop.emulator.requests_received(shop.number)
        if b.get("type") == "text" and b.get("to") == f"+{phone}"
    ]


def say(shop, customer, body: str) -> None:
    shop.emulator.customer_says(shop.number, customer, "text", {"body": body})
    shop.emulator.drain()


def test_stop_opts_out_and_confirms_once_and_start_resubscribes(shop):
    customer = shop.emulator.customer(shop.number, name="Ana", phone="447700901001")
    say(shop, customer, "Hello!")
    contact = wait_until(lambda: Contact.objects.filter(wa_id="447700901001").first())

    say(shop, customer, "STOP")
    wait_until(lambda: Contact.objects.get(pk=contact.pk).marketing_opt_out)
    say(shop, customer, " stop ")
    wait_until(lambda: Message.objects.filter(contact=contact, direction="in").count() == 3)

    contact.refresh_from_db()
    assert contact.marketing_opt_out_source == "keyword" and contact.marketing_opt_out_at is not None
    wait_until(lambda: len(texts_to(shop, "447700901001")) == 1)
    assert "no longer receive marketing" in texts_to(shop, "447700901001")[0]
    stop = Message.objects.filter(contact=contact, direction="in", content__body="STOP").get()
    assert stop.handled_at is not None  # the agent does not answer the keyword

    say(shop, customer, "Start")
    wait_until(lambda: not Contact.objects.get(pk=contact.pk).marketing_opt_out)
    wait_until(lambda: len(texts_to(shop, "447700901001")) == 2)
    assert "again" in texts_to(shop, "447700901001")[1]


def _user_preferences(shop, wa_id: str, value: str) -> bytes:
    return json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": shop.channel.waba_id,
                    "time": int(time.time()),
                    "changes": [
                        {
                            "field": "user_preferences",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": "15550100001",
                                    "phone_number_id": shop.channel.phone_number_id,
                                },
                                "user_preferences": [
                                    {
                                        "wa_id": wa_id,
                                        "detail": f"User requested to {value} marketing messages",
                                        "category": "marketing_messages",
                                        "value": value,
                                        "timestamp": int(time.time()),
                                    }
                                ],
                            },
                        }
                    ],
                }
            ],
        }
    ).encode()


def test_the_user_preferences_webhook_stops_and_resumes_marketing(shop, client):
    contact = shop.contact("Ana", "447700901101")
    url = f"/webhooks/whatsapp/{shop.channel.public_id}/"
    for value, opted_out in (("stop", True), ("resume", False)):
        body = _user_preferences(shop, "447700901101", value)
        response = client.post(
            url,
            data=body,
            content_type="application/json",
            headers={"X-Hub-Signature-256": signature(body, SANDBOX_APP_SECRET)},
        )
        assert response.status_code == 200
        contact.refresh_from_db()
        assert contact.marketing_opt_out is opted_out
        assert contact.marketing_opt_out_source == ("user_preferences" if opted_out else "")


def test_a_contacts_first_message_ever_gets_the_welcome_template_once(shop):
    welcome_template_set(
        channel=shop.channel,
        template_name="appointment_reminder",
        language="en_US",
        parameter_values={"first_name": "{contact.name}", "day": "any day you like"},
    )
    customer = shop.emulator.customer(shop.number, name="Ana", phone="447700901201")

    say(shop, customer, "Hi, do you deliver?")
    say(shop, customer, "To Leeds?")
    wait_until(lambda: Message.objects.filter(contact__wa_id="447700901201", direction="in").count() == 2)

    welcomes = [b for b in shop.sent_templates() if b["to"] == "+447700901201"]
    assert len(welcomes) == 1
    assert welcomes[0]["template"]["name"] == "appointment_reminder"
    assert welcomes[0]["template"]["components"][0]["parameters"][0] == {
        "type": "text",
        "text": "Ana",
        "parameter_name": "first_name",
    }


def test_no_welcome_when_the_channel_has_none_or_it_is_switched_off(shop):
    welcome = welcome_template_set(
        channel=shop.channel,
        template_name="appointment_reminder",
        language="en_US",
        parameter_values={"first_name": "{contact.name}", "day": "Monday"},
    )
    WelcomeTemplate.objects.filter(pk=welcome.pk).update(enabled=False)
    customer = shop.emulator.customer(shop.number, name="Ben", phone="447700901301")

    say(shop, customer, "Hello")
    wait_until(lambda: Message.objects.filter(contact__wa_id="447700901301", direction="in").exists())

    assert [b for b in shop.sent_templates() if b["to"] == "+447700901301"] == []


def test_a_customer_answering_our_campaign_is_not_welcomed(shop):
    from outreach_app import services

    welcome_template_set(
        channel=shop.channel,
        template_name="appointment_reminder",
        language="en_US",
        parameter_values={"first_name": "{contact.name}", "day": "Monday"},
    )
    shop.contact("Cleo", "447911127001")
    campaign = services.campaign_create(
        workspace=shop.workspace,
        channel=shop.channel,
        name="Sale",
        template_name="spring_sale",
        template_language="en_US",
        parameter_values={"1": "Cleo", "2": "Sunday"},
        audience_tags=["vip"],
    )
    services.campaign_launch(campaign=campaign)
    customer = shop.emulator.customer(shop.number, name="Cleo", phone="447911127001")

    say(shop, customer, "Yes please!")
    wait_until(lambda: Message.objects.filter(contact__wa_id="447911127001", direction="in").exists())

    assert [b["template"]["name"] for b in shop.sent_templates() if b["to"] == "+447911127001"] == ["spring_sale"]
