"""The console's audit log filters."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms

from audit_app.actions import AUDIT_ACTIONS
from audit_app.selectors import audit_actor_choices


def _action_choices() -> list[tuple[str, str]]:
    groups = sorted({name.split(".", 1)[0] for name in AUDIT_ACTIONS})
    return [
        ("", "Any action"),
        *[(f"{group}.", f"All {group.replace('_', ' ')} actions") for group in groups],
        *sorted(AUDIT_ACTIONS.items(), key=lambda item: item[1]),
    ]


class AuditFilterForm(forms.Form):
    """Days are the workspace's: "from" includes its day, "to" includes its whole day."""

    action = forms.ChoiceField(required=False, choices=_action_choices)
    actor = forms.ChoiceField(required=False)
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.workspace = workspace
        self.fields["actor"].choices = [("", "Anyone"), *audit_actor_choices(workspace=workspace)]

    def _valid(self) -> dict:
        # A filter that does not validate is ignored rather than emptying the page.
        if not self.is_bound:
            return {}
        self.is_valid()
        return {name: value for name, value in self.cleaned_data.items() if name not in self.errors}

    def filters(self) -> dict:
        data = self._valid()
        try:
            zone = ZoneInfo(self.workspace.timezone or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("UTC")
        since = datetime.combine(data["date_from"], time.min, tzinfo=zone) if data.get("date_from") else None
        until = (
            datetime.combine(data["date_to"] + timedelta(days=1), time.min, tzinfo=zone)
            if data.get("date_to")
            else None
        )
        return {"action": data.get("action") or "", "actor": data.get("actor") or "", "since": since, "until": until}

    def before_id(self) -> int | None:
        return self._valid().get("before")
