from django import forms

from agents_app.models import Agent
from channels_app.whatsapp.payloads import PROFILE_VERTICALS as _VERTICALS


class ChannelCreateForm(forms.Form):
    name = forms.CharField(
        label="Label", max_length=120, help_text="What staff will call this number, e.g. 'WhatsApp Support UK'."
    )


class ChannelSettingsForm(forms.Form):
    name = forms.CharField(label="Label", max_length=120)
    agent = forms.ModelChoiceField(
        queryset=Agent.objects.none(),
        required=False,
        empty_label="No agent (humans answer)",
        help_text="The AI agent that answers this number's customers.",
    )

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agent"].queryset = Agent.objects.filter(workspace=workspace)


class ManualConnectForm(forms.Form):
    phone_number_id = forms.CharField(max_length=32, help_text="Meta's WhatsApp → API Setup → Phone number ID.")
    waba_id = forms.CharField(label="WhatsApp Business Account ID", max_length=32)
    access_token = forms.CharField(
        widget=forms.PasswordInput(render_value=False), help_text="A system-user token with the WhatsApp permissions."
    )
    app_secret = forms.CharField(
        widget=forms.PasswordInput(render_value=False), help_text="App settings → Basic → App secret (signs webhooks)."
    )
    verify_token = forms.CharField(required=False, max_length=100, help_text="Optional: we generate one when empty.")


class TestMessageForm(forms.Form):
    to = forms.CharField(
        label="Send to", max_length=32, help_text="A WhatsApp number with its country code, e.g. +44 7700 900123."
    )
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=4096)
    template = forms.ChoiceField(
        required=False, help_text="Needed when that number has not written in the last 24 hours."
    )
    parameters = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="The template's body parameters, one per line, in order.",
    )

    def __init__(self, *args, templates=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].choices = [("", "— free-form text —")] + [
            (f"{t.name}|{t.language}", f"{t.name} ({t.language})") for t in templates
        ]


class BusinessProfileForm(forms.Form):
    about = forms.CharField(max_length=139, required=False, help_text="Up to 139 characters, shown under the name.")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=512, required=False)
    address = forms.CharField(max_length=256, required=False)
    email = forms.EmailField(max_length=128, required=False)
    website_1 = forms.URLField(max_length=256, required=False, assume_scheme="https")
    website_2 = forms.URLField(max_length=256, required=False, assume_scheme="https")
    vertical = forms.ChoiceField(
        label="Industry", required=False, choices=[("", "—")] + [(v, v.replace("_", " ").title()) for v in _VERTICALS]
    )
    photo = forms.FileField(required=False, help_text="JPEG or PNG, at least 192×192 pixels, up to 5 MB.")
