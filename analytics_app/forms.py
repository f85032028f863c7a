from datetime import date, timedelta

from django import forms

from channels_app.models import Channel

DEFAULT_DAYS = 30
MAX_DAYS = 366


def _date_or_none(value) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


class AnalyticsFilterForm(forms.Form):
    """The page's date range (local dates, both included) and channel. Empty fields take the last 30 days."""

    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="From")
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="To")
    channel = forms.ModelChoiceField(
        queryset=Channel.objects.none(), required=False, empty_label="All channels", to_field_name="public_id"
    )

    def __init__(self, data=None, *, workspace, today: date):
        # The inputs always show the range in use: a date left empty takes its default.
        end = today
        if data is not None:
            data = data.copy()
            end = _date_or_none(data.get("end")) or today
            data["end"] = data.get("end") or end.isoformat()
            data["start"] = data.get("start") or (end - timedelta(days=DEFAULT_DAYS - 1)).isoformat()
        super().__init__(data, initial={"start": end - timedelta(days=DEFAULT_DAYS - 1), "end": end})
        self.today = today
        self.fields["channel"].queryset = Channel.objects.whatsapp().filter(workspace=workspace).order_by("name")

    def clean(self):
        cleaned = super().clean()
        end = cleaned.get("end") or self.today
        start = cleaned.get("start") or end - timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            raise forms.ValidationError("The start date is after the end date.")
        if (end - start).days + 1 > MAX_DAYS:
            raise forms.ValidationError(f"Choose at most {MAX_DAYS} days.")
        cleaned["start"], cleaned["end"] = start, end
        return cleaned

    def filters(self) -> dict:
        """The valid choice, or the default range when the form is not valid (its errors are shown)."""
        if self.is_valid():
            return {key: self.cleaned_data[key] for key in ("start", "end", "channel")}
        end = self.today
        return {"start": end - timedelta(days=DEFAULT_DAYS - 1), "end": end, "channel": None}
