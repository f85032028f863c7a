"""Login with Facebook (Embedded Signup) against the emulator: the happy path and every failure.

Each failure says what went wrong and what to do, and leaves no half-configured channel active.
"""

import json

import pytest
from django.conf import settings
from django.urls import reverse

from channels_app.models import Channel, ChannelSetupEvent
from messaging_app.models import Message
from tests.conftest import wait_until
from tests.factories import WorkspaceFactory, member
from workspaces_app.models import Role


@pytest.fixture
def meta_app(emulator):
    """The platform's own Meta app as the emulator knows it: secret and callback URL."""
    emulator.app_register(
        settings.META_APP_ID,
        settings.META_APP_SECRET,
        f"{emulator.url}/webhooks/whatsapp/",
        verify_token=settings.WHATSAPP_VERIFY_TOKEN,
    )
    return emulator


@pytest.fixture
def setup(meta_app, client):
    workspace = WorkspaceFactory(name="Lucky Shrub", slug="lucky-shrub")
    client.force_login(member(workspace, Role.OWNER))
    channel = Channel.objects.create(workspace=workspace, name="WhatsApp Support UK")
    return channel


def finish(client, channel, *, event="FINISH", code=None, waba_id=None, phone_number_id=None, pin="", data=None):
    url = reverse("channel_embedded_signup", args=[channel.workspace.slug, channel.public_id])
    body = {"event": event, "code": code, "waba_id": waba_id, "phone_number_id": phone_number_id, "pin": pin}
    if data is not None:
        body["data"] = data
    return client.post(url, data=json.dumps(body), content_type="application/json")


def assert_not_activated(channel: Channel) -> None:
    channel.refresh_from_db()
    assert channel.status == Channel.Status.PENDING
    assert channel.access_token == "" and channel.phone_number_id == ""


def test_the_whole_signup_connects_the_number_and_lands_on_its_configuration_page(setup, client, meta_app):
    code, waba_id, phone_number_id = meta_app.signup(
        app_id=settings.META_APP_ID, display_phone_number="+44 20 7946 0018"
    )
    response = finish(client, setup, code=code, waba_id=waba_id, phone_number_id=phone_number_id)

    assert response.status_code == 200, response.json()
    assert response.json()["redirect"] == reverse("channel_detail", args=["lucky-shrub", setup.public_id])
    setup.refresh_from_db()
    assert setup.status == Channel.Status.ACTIVE and setup.connection == "embedded_signup"
    assert (setup.waba_id, setup.phone_number_id) == (waba_id, phone_number_id)
    assert setup.display_phone_number and setup.verified_name and setup.webhook_subscribed
    assert setup.token_expires_at is not None  # the stock configuration's 60-day token
    page = client.get(response.json()["redirect"]).content.decode()
    assert "is connected" in page
    assert "shown only this once" in page  # we chose the two-step PIN
    steps = list(ChannelSetupEvent.objects.filter(channel=setup).values_list("step", "ok"))
    for step in ("exchange_code", "check_token", "phone_number", "subscribe", "register", "connected"):
        assert (step, True) in steps


def test_a_connected_channel_receives_customer_messages_through_the_shared_webhook(setup, client, meta_app):
    code, waba_id, phone_number_id = meta_app.signup(app_id=settings.META_APP_ID)
    finish(client, setup, code=code, waba_id=waba_id, phone_number_id=phone_number_id)
    from cloudapi_emulator.models import PhoneNumber

    number = PhoneNumber.objects.get(phone_number_id=phone_number_id)
    customer = meta_app.customer(number, name="Zoë", phone="447700900777")
    meta_app.customer_says(number, customer, "text", {"body": "Hello from the new number"})
    meta_app.drain()
    assert wait_until(lambda: Message.objects.filter(channel=setup, content__body="Hello from the new number").first())


def test_a_coexistence_signup_without_a_number_id_finds_the_accounts_number(setup, client, meta_app):
    event = "FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING"
    code, waba_id, _ = meta_app.signup(app_id=settings.META_APP_ID, simulate=event)
    response = finish(client, setup, event=event, code=code, waba_id=waba_id)  # the event names no number
    assert response.status_code == 200, response.json()
    setup.refresh_from_db()
    assert setup.status == Channel.Status.ACTIVE and setup.phone_number_id
    # Already registered on the WhatsApp Business app: no PIN was set, none is shown.
    assert not ChannelSetupEvent.objects.filter(channel=setup, step="register").exists()


def test_sharing_only_an_account_without_numbers_says_to_add_one(setup, client, meta_app):
    code, waba_id, _ = meta_app.signup(app_id=settings.META_APP_ID, simulate="FINISH_ONLY_WABA")
    response = finish(client, setup, event="FINISH_ONLY_WABA", code=code, waba_id=waba_id)
    assert "has no phone number yet" in response.json()["error"]["message"]
    assert_not_activated(setup)


def test_an_expired_code_says_to_log_in_again(setup, client, meta_app):
    code, waba_id, phone_number_id = meta_app.signup(app_id=settings.META_APP_ID)
    meta_app.advance_clock(31)
    response = finish(client, setup, code=code, waba_id=waba_id, phone_number_id=phone_number_id)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["step"] == "exchange_code" and "30" in error["message"]
    assert_not_activated(setup)


def test_a_code_used_twice_is_refused(setup, client, meta_app):
    code, waba_id, phone_number_id = meta_app.signup(app_id=settings.META_APP_ID)
    other = Channel.objects.create(workspace=setup.workspace, name="Second")
    assert finish(client, setup, code=code, waba_id=waba_id, phone_number_id=phone_number_id).status_code == 200
    response = finish(client, other, code=code, waba_id=waba_id, phone_number_id=phone_number_id)
    assert response.status_code == 400
    assert_not_activated(other)


def test_a_missing_messaging_permission_is_named(setup, client, meta_app):
    code, waba_id, phone_number_id = meta_app.signup(app_id=settings.META_APP_ID, simulate="NO_MESSAGING_SCOPE")
    response = finish(client, setup, code=code, waba_id=waba_id, phone_number_id=phone_number_id)
    assert "whatsapp_business_messaging" in response.json()["error"]["message"]
    assert_not_activated(setup)


def test_a_token_not_covering_the_account_says_to_select_it(setup, client, meta_app):
    code, waba_id, phone_number_id = meta_app.signup(app_id=settings.META_APP_ID, simulate="WABA_NOT_IN_TARGETS")
    response = finish(client, setup, code=code, waba_id=waba_id, phone_number_id=phone_number_id)
    message = response.json()["error"]["message"]
    assert waba_id in message and "select" in message
    assert_not_activated(setup)


def test_a_subscription_failure_is_reported_and_nothing_is_activated(setup, client, meta_app):
    code, waba_id, phone_number_id = meta_app.signup(app_id=settings.META_APP_ID)
    meta_app.fault(endpoint="subscribed_apps", count=1, error_code=200, details="Permission denied")
    response = finish(client, setup, code=code, waba_id=waba_id, phone_number_id=phone_number_id)
    error = response.json()["error"]
    assert error["step"] == "subscribe" and "subscribe" in error["message"]
    assert_not_activated(setup)


def test_a_wrong_two_step_pin_asks_for_the_existing_one_and_the_right_one_connects(setup, client, meta_app):
    code, waba_id, phone_number_id = meta_app.signup(app_id=settings.META_APP_ID, simulate="TWO_STEP_PIN_SET")
    response = finish(client, setup, code=code, waba_id=waba_id, phone_number_id=phone_number_id, pin="000000")
    error = response.json()["error"]
    assert error["step"] == "register" and "existing 6-digit PIN" in error["message"]
    assert_not_activated(setup)

    code, waba_id, phone_number_id = meta_app.signup(
        app_id=settings.META_APP_ID, simulate="TWO_STEP_PIN_SET", display_phone_number=setup_display(phone_number_id)
    )
    response = finish(client, setup, code=code, waba_id=waba_id, phone_number_id=phone_number_id, pin="123456")
    assert response.status_code == 200, response.json()
    setup.refresh_from_db()
    assert setup.status == Channel.Status.ACTIVE


def setup_display(phone_number_id: str) -> str:
    from cloudapi_emulator.models import PhoneNumber

    return PhoneNumber.objects.get(phone_number_id=phone_number_id).display_phone_number


def test_too_many_registration_attempts_says_to_wait_72_hours(setup, client, meta_app):
    code, waba_id, phone_number_id = meta_app.signup(app_id=settings.META_APP_ID)
    meta_app.fault(endpoint="register", count=1, error_code=133016)
    response = finish(client, setup, code=code, waba_id=waba_id, phone_number_id=phone_number_id)
    assert "72 hours" in response.json()["error"]["message"]
    assert_not_activated(setup)


def test_a_display_name_pending_review_says_to_come_back(setup, client, meta_app):
    code, waba_id, phone_number_id = meta_app.signup(app_id=settings.META_APP_ID, simulate="NAME_PENDING_REVIEW")
    response = finish(client, setup, code=code, waba_id=waba_id, phone_number_id=phone_number_id)
    assert "reviewing the display name" in response.json()["error"]["message"]
    assert_not_activated(setup)


def test_a_cancelled_popup_shows_the_step_it_stopped_at(setup, client):
    response = finish(client, setup, event="CANCEL", data={"current_step": "PHONE_NUMBER_SETUP"})
    assert response.status_code == 400
    assert "phone number setup" in response.json()["error"]["message"]
    setup.refresh_from_db()
    assert "phone number setup" in setup.status_reason
    assert_not_activated(setup)


def test_a_user_reported_error_keeps_metas_session_id(setup, client):
    data = {"error_message": "Something broke", "error_code": 524126, "session_id": "sess-42", "timestamp": 1}
    response = finish(client, setup, event="CANCEL", data=data)
    assert "sess-42" in response.json()["error"]["message"]
    assert_not_activated(setup)


def test_reconnecting_an_existing_channel_replaces_its_token(setup, client, meta_app):
    code, waba_id, phone_number_id = meta_app.signup(app_id=settings.META_APP_ID)
    finish(client, setup, code=code, waba_id=waba_id, phone_number_id=phone_number_id)
    setup.refresh_from_db()
    old_token = setup.access_token
    Channel.objects.filter(pk=setup.pk).update(status=Channel.Status.NEEDS_RECONNECTION, status_reason="expired")

    code, waba_id, phone_number_id = meta_app.signup(
        app_id=settings.META_APP_ID, display_phone_number=setup.display_phone_number
    )
    response = finish(client, setup, code=code, waba_id=waba_id, phone_number_id=phone_number_id)
    assert response.status_code == 200, response.json()
    setup.refresh_from_db()
    assert setup.status == Channel.Status.ACTIVE and setup.access_token != old_token


def test_a_failed_reconnect_keeps_the_working_credentials(setup, client, meta_app):
    code, waba_id, phone_number_id = meta_app.signup(app_id=settings.META_APP_ID)
    finish(client, setup, code=code, waba_id=waba_id, phone_number_id=phone_number_id)
    setup.refresh_from_db()
    token = setup.access_token
    meta_app.advance_clock(31)
    stale_code, *_ = meta_app.signup(app_id=settings.META_APP_ID, display_phone_number=setup.display_phone_number)
    meta_app.advance_clock(31)
    assert finish(client, setup, code=stale_code, waba_id=waba_id, phone_number_id=phone_number_id).status_code == 400
    setup.refresh_from_db()
    assert setup.access_token == token and setup.status == Channel.Status.ACTIVE


def test_only_configurers_may_finish_a_signup(meta_app, client):
    workspace = WorkspaceFactory()
    channel = Channel.objects.create(workspace=workspace, name="X")
    client.force_login(member(workspace, Role.AGENT))
    assert finish(client, channel, code="x", waba_id="1").status_code == 403
