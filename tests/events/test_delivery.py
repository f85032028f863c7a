"""Signing, retries, secret rotation, automatic disabling and the SSRF guard, against a loopback receiver."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from events_app import services
from events_app.models import Delivery, DeliveryAttempt, WebhookSubscription
from tests.factories import WorkspaceFactory, member
from workspaces_app.models import Role

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_verify():
    """The receiver's recipe exactly as the README shows it."""
    code = re.search(r"```python\n(import base64, hashlib, hmac, time\n.*?)```", README.read_text(), re.S).group(1)
    namespace: dict = {}
    exec(code, namespace)
    return namespace["verify"]


@pytest.fixture
def shop(db):
    return WorkspaceFactory(name="Lucky Shrub", slug="lucky-shrub")


def subscribe(workspace, receiver, *types):
    return services.subscription_create(
        workspace=workspace, url=receiver.url, event_types=list(types or ["conversation.closed"])
    )


def emit(workspace, captured, type="conversation.closed"):
    with captured(execute=True):
        return services.event_emit(workspace_id=workspace.pk, type=type, data={"conversation": {"id": 7}})


def sweep_at(moment, captured):
    with time_machine.travel(moment, tick=True), captured(execute=True):
        services.deliveries_sweep()


def test_a_delivery_verifies_with_the_readme_recipe(shop, receiver, django_capture_on_commit_callbacks):
    subscription, secret = subscribe(shop, receiver)
    event = emit(shop, django_capture_on_commit_callbacks)

    [request] = receiver.requests
    verify = readme_verify()
    assert verify(secret, request.headers, request.body)
    assert not verify(secret, request.headers, request.body.replace(b"7", b"8"))
    assert not verify("whsec_" + "A" * 44, request.headers, request.body)
    assert request.headers["webhook-signature"].startswith("v1,")
    assert request.headers["content-type"] == "application/json"
    body = receiver.bodies()[0]
    assert body == {
        "id": event.public_id,
        "type": "conversation.closed",
        "created_at": body["created_at"],
        "workspace": "lucky-shrub",
        "data": {"conversation": {"id": 7}},
    }
    delivery = Delivery.objects.get(subscription=subscription)
    assert delivery.state == Delivery.State.DELIVERED
    assert request.headers["webhook-id"] == delivery.public_id
    [attempt] = delivery.attempts.all()
    assert attempt.succeeded and attempt.status_code == 200 and attempt.response_excerpt == '{"ok": true}'


def test_the_readme_recipe_refuses_an_old_timestamp(shop, receiver, django_capture_on_commit_callbacks):
    _subscription, secret = subscribe(shop, receiver)
    with time_machine.travel(timezone.now() - timedelta(minutes=10), tick=True):
        emit(shop, django_capture_on_commit_callbacks)
    [request] = receiver.requests
    assert not readme_verify()(secret, request.headers, request.body)


def test_it_retries_after_500s_with_the_same_webhook_id(shop, receiver, django_capture_on_commit_callbacks):
    _subscription, secret = subscribe(shop, receiver)
    receiver.plan = [500, 503]
    start = timezone.now()
    with time_machine.travel(start, tick=True):
        emit(shop, django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get()
    assert delivery.state == Delivery.State.PENDING and delivery.last_status_code == 500
    assert start + timedelta(seconds=4) < delivery.next_attempt_at < start + timedelta(seconds=7)

    sweep_at(start + timedelta(seconds=3), django_capture_on_commit_callbacks)  # not due yet
    assert len(receiver.requests) == 1
    sweep_at(start + timedelta(seconds=40), django_capture_on_commit_callbacks)
    delivery.refresh_from_db()
    assert delivery.last_status_code == 503
    # The second retry waits 30 s after the second attempt.
    assert delivery.next_attempt_at - timedelta(seconds=31) < start + timedelta(seconds=40) < delivery.next_attempt_at
    sweep_at(start + timedelta(seconds=80), django_capture_on_commit_callbacks)

    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.DELIVERED
    assert [r.headers["webhook-id"] for r in receiver.requests] == [delivery.public_id] * 3
    assert len({r.headers["webhook-timestamp"] for r in receiver.requests}) == 3  # each attempt signs anew
    assert all(readme_verify()(secret, r.headers, r.body) for r in receiver.requests[-1:])
    attempts = list(delivery.attempts.values_list("status_code", "succeeded"))
    assert attempts == [(500, False), (503, False), (200, True)]
    assert "the order service is down" in delivery.attempts.first().response_excerpt


def test_it_retries_after_a_timeout(shop, receiver, settings, django_capture_on_commit_callbacks):
    settings.EVENT_WEBHOOK_READ_TIMEOUT = 0.3
    subscribe(shop, receiver)
    receiver.plan = [("sleep", 1.0)]
    start = timezone.now()
    with time_machine.travel(start, tick=True):
        emit(shop, django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get()
    [attempt] = delivery.attempts.all()
    assert attempt.status_code is None and not attempt.succeeded
    assert "did not answer within 0.3 s" in attempt.error
    assert 250 <= attempt.response_ms < 1000
    assert delivery.state == Delivery.State.PENDING

    sweep_at(start + timedelta(seconds=40), django_capture_on_commit_callbacks)
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.DELIVERED
    assert [r.headers["webhook-id"] for r in receiver.requests] == [delivery.public_id] * 2


def test_it_gives_up_after_about_a_day_of_retries(shop, receiver, django_capture_on_commit_callbacks):
    subscribe(shop, receiver)
    receiver.plan = [500] * 20
    moment = timezone.now()
    with time_machine.travel(moment, tick=True):
        emit(shop, django_capture_on_commit_callbacks)
    for _ in range(8):
        moment = Delivery.objects.get().next_attempt_at + timedelta(seconds=31)
        sweep_at(moment, django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get()
    assert delivery.state == Delivery.State.FAILED and delivery.next_attempt_at is None
    assert delivery.attempts.count() == 9
    first, last = delivery.attempts.first().attempted_at, delivery.attempts.last().attempted_at
    assert timedelta(hours=20) < last - first < timedelta(hours=24)


def test_rotation_signs_with_both_secrets_until_the_old_one_expires(shop, receiver, django_capture_on_commit_callbacks):
    subscription, old_secret = subscribe(shop, receiver)
    new_secret = services.subscription_secret_rotate(subscription=subscription, overlap_hours=24)
    assert new_secret != old_secret and new_secret.startswith("whsec_")
    verify = readme_verify()

    emit(shop, django_capture_on_commit_callbacks)
    request = receiver.requests[-1]
    signatures = request.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2
    assert verify(new_secret, request.headers, request.body)
    assert verify(old_secret, request.headers, request.body)
    only = {**request.headers}
    for signature, secret in zip(signatures, (new_secret, old_secret), strict=True):
        only["webhook-signature"] = signature
        assert verify(secret, only, request.body)

    with time_machine.travel(timezone.now() + timedelta(hours=24, minutes=1), tick=True):
        emit(shop, django_capture_on_commit_callbacks)
        request = receiver.requests[-1]
        assert len(request.headers["webhook-signature"].split(" ")) == 1
        assert verify(new_secret, request.headers, request.body)
        assert not verify(old_secret, request.headers, request.body)


def test_secrets_are_encrypted_at_rest(shop, receiver):
    from django.db import connection

    subscription, secret = subscribe(shop, receiver)
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM events_app_webhooksubscription WHERE id = %s", [subscription.pk])
        stored = cursor.fetchone()[0]
    assert secret not in stored and stored
    assert WebhookSubscription.objects.get(pk=subscription.pk).secret == secret


def test_an_endpoint_failing_for_three_days_is_disabled_and_owners_told(
    shop, receiver, django_capture_on_commit_callbacks
):
    owner = member(shop, Role.OWNER, email="owner@luckyshrub.test")
    member(shop, Role.ADMIN, email="admin@luckyshrub.test")
    member(shop, Role.AGENT, email="agent@luckyshrub.test")
    subscription, _secret = subscribe(shop, receiver)
    receiver.plan = [500] * 50
    start = timezone.now()
    with time_machine.travel(start, tick=True):
        emit(shop, django_capture_on_commit_callbacks)
    with time_machine.travel(start + timedelta(hours=48), tick=True):
        emit(shop, django_capture_on_commit_callbacks)
    subscription.refresh_from_db()
    assert subscription.enabled and subscription.failing_since is not None
    assert not mail.outbox

    with time_machine.travel(start + timedelta(hours=72, minutes=5), tick=True):
        emit(shop, django_capture_on_commit_callbacks)
    subscription.refresh_from_db()
    assert not subscription.enabled
    assert "every delivery failed for more than 72 hours" in subscription.disabled_reason
    assert "HTTP 500" in subscription.disabled_reason
    [notice] = mail.outbox
    assert sorted(notice.to) == ["admin@luckyshrub.test", owner.email]
    assert receiver.url in notice.subject

    # Nothing more goes out: new events are not recorded for it, pending retries are dropped.
    sent = len(receiver.requests)
    with time_machine.travel(start + timedelta(hours=80), tick=True):
        assert emit(shop, django_capture_on_commit_callbacks) is None
        with django_capture_on_commit_callbacks(execute=True):
            services.deliveries_sweep()
    assert len(receiver.requests) == sent
    assert not Delivery.objects.filter(state=Delivery.State.PENDING).exists()


def test_a_success_resets_the_failure_clock(shop, receiver, django_capture_on_commit_callbacks):
    subscription, _secret = subscribe(shop, receiver)
    receiver.plan = [500, 200, 500]
    start = timezone.now()
    with time_machine.travel(start, tick=True):
        emit(shop, django_capture_on_commit_callbacks)
    with time_machine.travel(start + timedelta(hours=40), tick=True):
        emit(shop, django_capture_on_commit_callbacks)
    with time_machine.travel(start + timedelta(hours=80), tick=True):
        emit(shop, django_capture_on_commit_callbacks)
    subscription.refresh_from_db()
    assert subscription.enabled
    assert subscription.failing_since > start + timedelta(hours=79)


def test_a_private_address_is_refused_at_delivery(shop, receiver, settings, django_capture_on_commit_callbacks):
    subscribe(shop, receiver)
    settings.EVENT_WEBHOOK_ALLOWED_HOSTS = []  # the operator withdrew the exception after it was saved
    emit(shop, django_capture_on_commit_callbacks)
    assert receiver.requests == []
    [attempt] = DeliveryAttempt.objects.all()
    assert attempt.error == "refused: 127.0.0.1 resolves to a private address"
    assert Delivery.objects.get().state == Delivery.State.PENDING  # retried: the operator may allow it again


@pytest.mark.parametrize("url", ["http://10.0.0.1/hooks", "http://localhost:8080/hooks", "http://169.254.169.254/"])
def test_a_private_address_is_refused_at_creation(shop, settings, url):
    from whatsapp_platform.errors import InvalidInput

    settings.EVENT_WEBHOOK_ALLOWED_HOSTS = []
    with pytest.raises(InvalidInput) as refused:
        services.subscription_create(workspace=shop, url=url, event_types=["message.received"])
    assert refused.value.field == "url"
    assert "resolves to a private address; webhooks go to public addresses only" in refused.value.message
    assert "EVENT_WEBHOOK_ALLOWED_HOSTS" in refused.value.message
    assert not WebhookSubscription.objects.exists()


def test_a_lost_task_is_picked_up_by_the_sweeper(shop, receiver, django_capture_on_commit_callbacks):
    subscribe(shop, receiver)
    start = timezone.now()
    with time_machine.travel(start, tick=True):
        with django_capture_on_commit_callbacks(execute=False):  # the broker lost the task
            services.event_emit(workspace_id=shop.pk, type="conversation.closed", data={})
    sweep_at(start + timedelta(seconds=10), django_capture_on_commit_callbacks)
    assert receiver.requests == []  # a task may still be on its way
    sweep_at(start + timedelta(seconds=45), django_capture_on_commit_callbacks)
    assert len(receiver.requests) == 1
    assert Delivery.objects.get().state == Delivery.State.DELIVERED


def test_a_worker_that_died_mid_attempt_gives_the_delivery_back(shop, receiver, django_capture_on_commit_callbacks):
    subscribe(shop, receiver)
    start = timezone.now()
    with time_machine.travel(start, tick=True):
        with django_capture_on_commit_callbacks(execute=False):
            services.event_emit(workspace_id=shop.pk, type="conversation.closed", data={})
        Delivery.objects.update(state=Delivery.State.SENDING, claimed_at=start)
    sweep_at(start + timedelta(minutes=2), django_capture_on_commit_callbacks)
    assert Delivery.objects.get().state == Delivery.State.PENDING
    sweep_at(start + timedelta(minutes=3), django_capture_on_commit_callbacks)
    assert Delivery.objects.get().state == Delivery.State.DELIVERED
    assert len(receiver.requests) == 1


def test_emitting_without_subscriptions_costs_one_query(shop, receiver, django_assert_num_queries):
    services.subscription_create(workspace=shop, url=receiver.url, event_types=["message.sent"])
    other = WorkspaceFactory()
    with django_assert_num_queries(1):
        assert services.event_emit(workspace_id=other.pk, type="message.received", data={}) is None
    with django_assert_num_queries(1):  # subscribed, but not to this type
        assert services.event_emit(workspace_id=shop.pk, type="message.received", data={}) is None
