from django import forms

from events_app.models import EVENT_TYPES


class WebhookSubscriptionForm(forms.Form):
    url = forms.CharField(
        max_length=2000, label="Endpoint URL", help_text="We POST signed JSON events here (https recommended)."
    )
    event_types = forms.MultipleChoiceField(
        choices=[(name, f"{name} — {label}") for name, label in EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple,
        label="Events",
    )
    description = forms.CharField(max_length=200, required=False, help_text="What this endpoint is for.")
