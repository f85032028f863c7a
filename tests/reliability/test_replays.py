"""Point 8: Meta delivers messages late, and again (it retries for up to 7 days): each is stored once, and
nothing free-form goes out once the customer-service window has closed.
"""

import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from agents_app.models import AgentRun
from cloudapi_emulator.models import Customer
from messaging_app.models import Conversation, Message
from tests.reliability.invariants import invariants_check
from tests.reliability.meta import new_wamid
from tests.reliability.settle import wait_at_rest

pytestmark = [pytest.mark.reliability, pytest.mark.celery_worker]

AGES = {
    "a minute": timedelta(minutes=1),
    "an hour": timedelta(hours=1),
    "23 hours": timedelta(hours=23),
    "25 hours": timedelta(hours=25),
    "3 days": timedelta(days=3),
    "7 days": timedelta(days=7),
}


def test_late_and_replayed_messages_are_stored_once_and_get_no_free_form_reply_outside_the_window(line, celery_worker):
    client = Client()
    now = time.time()
    bodies = {}
    for n, (label, age) in enumerate(AGES.items()):
        customer = line.customer(f"1650555{n:04d}", name=f"Customer {n}")
        # Meta's own record: the customer last wrote when this message was sent.
        Customer.objects.filter(pk=customer.pk).update(last_message_at=timezone.now() - age)
        bodies[label] = line.meta.inbound_text(
            wa_id=customer.phone, text=f"Sent {label} ago", wamid=new_wamid(), timestamp=now - age.total_seconds()
        )

    for _replay in range(3):  # delivered, then redelivered twice
        for body in bodies.values():
            response = client.post(
                line.webhook_path, data=body, content_type="application/json", headers=line.meta.headers(body)
            )
            assert response.status_code == 200
        wait_at_rest(timeout=60)

    for label, age in AGES.items():
        message = Message.objects.get(direction=Message.Direction.INBOUND, content__body=f"Sent {label} ago")
        conversation = Conversation.objects.get(pk=message.conversation_id)
        run = AgentRun.objects.get(conversation=conversation)  # one turn, whatever the number of deliveries
        replies = conversation.messages.filter(direction=Message.Direction.OUTBOUND)
        if age < timedelta(hours=24):
            assert run.status == AgentRun.Status.ANSWERED, label
            assert [r.content["body"] for r in replies] == [f"echo: Sent {label} ago"], label
        else:
            assert run.status == AgentRun.Status.SKIPPED, label  # the window closed: no free-form reply
            assert not replies.exists(), label
    assert Message.objects.filter(direction=Message.Direction.INBOUND).count() == len(AGES)
    invariants_check(acknowledged=list(bodies.values()), emulator_using="default")
