"""Filters of the console's Troubleshooting pages."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms

from agents_app.models import Agent, AgentRun
from channels_app.models import Channel, WebhookEvent
from messaging_app.contact_forms import valid_fields


def _workspace_zone(workspace) -> ZoneInfo:
    try:
        return ZoneInfo(workspace.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


class _DatedFilterForm(forms.Form):
    """Days picked in the workspace's time zone: "from" includes its day, "to" includes its whole day."""

    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.workspace = workspace

    def _data(self) -> dict:
        return valid_fields(self)

    def range(self) -> tuple[datetime | None, datetime | None]:
        zone = _workspace_zone(self.workspace)
        data = self._data()
        start = datetime.combine(data["date_from"], time.min, tzinfo=zone) if data.get("date_from") else None
        end = (
            datetime.combine(data["date_to"] + timedelta(days=1), time.min, tzinfo=zone)
            if data.get("date_to")
            else None
        )
        return start, end

    def before_id(self) -> int | None:
        return self._data().get("before")


def _channel_choices(workspace) -> list[tuple[str, str]]:
    channels = Channel.objects.whatsapp().filter(workspace=workspace).order_by("name")
    return [("", "All channels")] + [(str(c.public_id), c.name) for c in channels]


class WebhookLogFilterForm(_DatedFilterForm):
    channel = forms.ChoiceField(required=False)
    state = forms.ChoiceField(required=False, choices=[("", "Any state"), *WebhookEvent.State.choices])
    signature = forms.ChoiceField(
        required=False, choices=[("", "Any signature"), ("valid", "Valid signature"), ("invalid", "Bad signature")]
    )

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, workspace=workspace, **kwargs)
        self.fields["channel"].choices = _channel_choices(workspace)

    def filters(self) -> dict:
        data = self._data()
        received_from, received_to = self.range()
        return {
            "channel_id": data.get("channel") or None,
            "state": data.get("state", ""),
            "signature_valid": {"valid": True, "invalid": False}.get(data.get("signature", "")),
            "received_from": received_from,
            "received_to": received_to,
            "before_id": self.before_id(),
        }


class DeliveryFilterForm(forms.Form):
    channel = forms.ChoiceField(required=False)
    days = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=7,
        initial=7,
        choices=[(1, "Last 24 hours"), (7, "Last 7 days"), (30, "Last 30 days"), (90, "Last 90 days")],
    )

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = _channel_choices(workspace)

    def filters(self) -> dict:
        data = valid_fields(self)
        return {"channel_id": data.get("channel") or None, "days": data.get("days") or 7}


class AgentLogFilterForm(_DatedFilterForm):
    agent = forms.ChoiceField(required=False)
    status = forms.ChoiceField(required=False, choices=[("", "Any result"), *AgentRun.Status.choices])
    slow = forms.BooleanField(required=False, label="Slow only")
    errors = forms.BooleanField(required=False, label="Errors only")

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, workspace=workspace, **kwargs)
        agents = Agent.objects.filter(workspace=workspace).order_by("name")
        self.fields["agent"].choices = [("", "All agents")] + [(str(a.public_id), a.name) for a in agents]

    def filters(self) -> dict:
        data = self._data()
        started_from, started_to = self.range()
        return {
            "agent_id": data.get("agent") or None,
            "status": data.get("status", ""),
            "slow_only": bool(data.get("slow")),
            "errors_only": bool(data.get("errors")),
            "started_from": started_from,
            "started_to": started_to,
            "before_id": self.before_id(),
        }
