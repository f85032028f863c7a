"""Setting business hours: the API's JSON document and the console's form, validated the same way."""

from datetime import time

import pytest
from django.urls import reverse

from channels_app.models import MessageTemplate
from messaging_app.models import BusinessHours
from tests.factories import ChannelFactory, WorkspaceFactory, api_key_for, member
from workspaces_app.models import Role

from .conftest import hours_document

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    return WorkspaceFactory(name="Lucky Shrub", slug="lucky-shrub")


@pytest.fixture
def channel(shop):
    return ChannelFactory(workspace=shop, name="Lucky Shrub Support", waba_id="102290129340398")


@pytest.fixture
def api(client, shop):
    headers = {"Authorization": f"Bearer {api_key_for(shop)}"}

    def call(method: str, channel, body=None):
        url = reverse("api_channel_business_hours", args=[channel.public_id])
        return getattr(client, method)(url, data=body, content_type="application/json", headers=headers)

    return call


@pytest.fixture
def owner(client, shop):
    client.force_login(member(shop, Role.OWNER))
    return client


def page(channel) -> str:
    return reverse("channel_business_hours", args=[channel.workspace.slug, channel.public_id])


FORM = {
    "enabled": "on",
    "timezone": "Europe/London",
    "mode": "away_wait",
    "monday": "09:00–12:30, 13:30-17:30",
    "tuesday": "09:00-17:00",
    "wednesday": "",
    "thursday": "",
    "friday": "9:00 to 17:00",
    "saturday": "22:00–02:00",
    "sunday": "",
    "closed_dates": "2030-12-25 Christmas Day\n2030-12-26",
    "away_message": "We're closed; back {{next_open}}. Urgent? {{contact_email}}",
    "contact_email": "help@luckyshrub.test",
    "contact_phone": "",
    "alternative_contact": "",
    "back_message": "",
    "back_template": "",
    "back_template_values": "",
}


# --- the API ------------------------------------------------------------------------------------


def test_before_any_hours_are_set_the_api_shows_them_off_and_open(api, channel):
    response = api("get", channel)
    assert response.status_code == 200
    body = response.json()
    assert body["enabled"] is False and body["status"]["open_now"] is True
    assert body["weekly"]["monday"] == []


def test_the_api_saves_the_whole_document_and_returns_it_with_where_it_stands(api, channel):
    document = hours_document(
        "away_and_agent",
        weekly={
            "monday": [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}],
            "saturday": [{"start": "22:00", "end": "24:00"}],
        },
        closed_dates=[{"date": "2030-12-25", "label": "Christmas Day"}],
    )
    response = api("put", channel, document)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["weekly"]["monday"] == [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}]
    assert body["weekly"]["saturday"] == [{"start": "22:00", "end": "00:00"}]  # until midnight
    assert body["closed_dates"] == [{"date": "2030-12-25", "label": "Christmas Day"}]
    assert set(body["status"]) >= {"open_now", "next_open", "next_open_display", "next_close"}
    hours = BusinessHours.objects.get(channel=channel)
    assert hours.mode == "away_and_agent" and hours.timezone == "Europe/London"
    assert [(r.weekday, r.start, r.end) for r in hours.ranges.all()] == [
        (0, time(9), time(12)),
        (0, time(13), time(17)),
        (5, time(22), time(0)),
    ]
    assert api("get", channel).json()["weekly"] == body["weekly"]


def test_the_api_reports_each_problem_by_field_and_saves_nothing(api, channel):
    response = api(
        "put",
        channel,
        {
            "enabled": True,
            "timezone": "Europe/Londn",
            "mode": "away_wait",
            "weekly": {
                "monday": [{"start": "09:00", "end": "17:00"}, {"start": "16:00", "end": "18:00"}],
                "tuesday": [{"start": "25:00", "end": "17:00"}],
                "sunday": [{"start": "22:00", "end": "03:00"}],
                "friday": [{"start": "9am", "end": "5pm"}],
            },
            "closed_dates": [{"date": "2030-02-30"}],
            "away_message": "Back {{next_opening}}",
            "contact_email": "not-an-email",
        },
    )
    assert response.status_code == 400
    error = response.json()["error"]
    fields = error["fields"]
    assert error["code"] == "invalid" and error["field"] == "timezone"
    assert "Europe/Londn" in fields["timezone"] and "IANA" in fields["timezone"]
    assert fields["weekly.monday"] == "Monday 16:00–18:00 overlaps Monday 09:00–17:00."
    assert "“25:00” is not a time" in fields["weekly.tuesday"]
    assert "“9am” is not a time" in fields["weekly.friday"]
    assert "2030-02-30" in fields["closed_dates"]
    assert "{{next_opening}}" in fields["away_message"]
    assert "not-an-email" in fields["contact_email"]
    assert not BusinessHours.objects.exists()


def test_a_sunday_night_range_overlapping_monday_morning_is_refused(api, channel):
    document = hours_document(
        "agent",
        weekly={"sunday": [{"start": "22:00", "end": "10:00"}], "monday": [{"start": "09:00", "end": "17:00"}]},
    )
    response = api("put", channel, document)
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"weekly.sunday": "Sunday 22:00–10:00 overlaps Monday 09:00–17:00."}


def test_a_refused_put_leaves_the_saved_hours_as_they_were(api, channel):
    assert api("put", channel, hours_document("away_wait")).status_code == 200
    broken = hours_document("away_wait", weekly={"monday": [{"start": "09:00", "end": "17:00"}]}, away_message="")
    response = api("put", channel, broken)
    assert response.json()["error"]["fields"] == {
        "away_message": "Write the away message customers get outside business hours."
    }
    assert BusinessHours.objects.get(channel=channel).ranges.count() == 5


def test_a_variable_needs_its_value_and_a_template_must_be_approved_and_fully_filled(api, channel, shop):
    MessageTemplate.objects.create(
        workspace=shop,
        waba_id=channel.waba_id,
        name="back_in_office",
        language="en_GB",
        status="APPROVED",
        components=[{"type": "BODY", "text": "Hi {{1}}, we're open again.", "example": {"body_text": [["Ann"]]}}],
    )
    document = hours_document(
        "away_wait",
        away_message="Call {{contact_phone}}",
        back_template={"name": "back_in_office", "language": "en_GB", "values": {}},
    )
    fields = api("put", channel, document).json()["error"]["fields"]
    assert fields["away_message"] == "The message uses {{contact_phone}}: fill in the contact phone too."
    assert "{{1}}" in fields["back_template.values"]
    document["back_template"]["language"] = "fr"
    fields = api("put", channel, document).json()["error"]["fields"]
    assert "No approved template “back_in_office” (fr)" in fields["back_template"]
    document.update(
        contact_phone="+44 20 7946 0000",
        back_template={"name": "back_in_office", "language": "en_GB", "values": {"1": "{{customer_name}}"}},
    )
    assert api("put", channel, document).status_code == 200


def test_another_workspaces_channel_is_not_found(api):
    elsewhere = ChannelFactory(workspace=WorkspaceFactory())
    assert api("get", elsewhere).status_code == 404
    assert api("put", elsewhere, hours_document("agent")).status_code == 404
    assert not BusinessHours.objects.exists()


# --- the console ------------------------------------------------------------------------------------


def test_the_channel_page_links_to_its_business_hours(owner, channel):
    channel.phone_number_id = "106540352242922"
    channel.save()
    response = owner.get(reverse("channel_detail", args=["lucky-shrub", channel.public_id]))
    assert page(channel) in response.content.decode()


def test_the_console_form_saves_several_ranges_a_day_and_closed_dates(owner, channel):
    response = owner.post(page(channel), FORM)
    assert response.status_code == 302
    hours = BusinessHours.objects.get(channel=channel)
    assert hours.enabled and hours.mode == "away_wait" and hours.contact_email == "help@luckyshrub.test"
    assert [(r.weekday, f"{r.start:%H:%M}", f"{r.end:%H:%M}") for r in hours.ranges.all()] == [
        (0, "09:00", "12:30"),
        (0, "13:30", "17:30"),
        (1, "09:00", "17:00"),
        (4, "09:00", "17:00"),
        (5, "22:00", "02:00"),
    ]
    assert [(str(d.date), d.label) for d in hours.closed_dates.all()] == [
        ("2030-12-25", "Christmas Day"),
        ("2030-12-26", ""),
    ]
    shown = owner.get(page(channel))
    assert shown.context["form"].initial["monday"] == "09:00–12:30, 13:30–17:30"


def test_the_console_form_shows_a_message_per_field_and_keeps_the_old_hours(owner, channel):
    owner.post(page(channel), FORM)
    response = owner.post(
        page(channel),
        {
            **FORM,
            "timezone": "Mars/Olympus_Mons",
            "monday": "09:00-12:00, 11:00-13:00",
            "tuesday": "nine till five",
            "wednesday": "09:00-25:00",
            "away_message": "",
        },
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "Mars/Olympus_Mons" in errors["timezone"][0]
    assert errors["monday"] == ["Monday 11:00–13:00 overlaps Monday 09:00–12:00."]
    assert "write each range as start–end" in errors["tuesday"][0]
    assert "“25:00” is not a time" in errors["wednesday"][0]
    assert errors["away_message"] == ["Write the away message customers get outside business hours."]
    assert "overlaps" in response.content.decode()
    assert BusinessHours.objects.get(channel=channel).ranges.count() == 5


def test_a_viewer_sees_the_hours_but_cannot_change_them(client, shop, channel):
    client.force_login(member(shop, Role.VIEWER))
    assert client.get(page(channel)).status_code == 200
    assert client.post(page(channel), FORM).status_code == 403
    assert not BusinessHours.objects.exists()


def test_an_outsider_gets_404(client, channel):
    client.force_login(member(WorkspaceFactory(), Role.OWNER))
    assert client.get(page(channel)).status_code == 404
    assert client.post(page(channel), FORM).status_code == 404
