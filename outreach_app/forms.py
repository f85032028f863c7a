from django import forms

from channels_app.models import Channel, MessageTemplate


def _pairs(text: str, field: str) -> dict[str, str]:
    """`key = value` lines into a dict (values may hold "=" and spaces)."""
    pairs: dict[str, str] = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise forms.ValidationError(f"Line {number}: write it as name = value.")
        pairs[key.strip()] = value.strip()
    return pairs


def _template_choices(workspace) -> list[tuple[str, str]]:
    templates = MessageTemplate.objects.filter(workspace=workspace, status="APPROVED").order_by("name", "language")
    return [
        (f"{t.name}|{t.language}", f"{t.name} ({t.language}, {t.category.lower() or 'uncategorised'})")
        for t in templates
    ]


class _WorkspaceForm(forms.Form):
    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        if "channel" in self.fields:
            self.fields["channel"].queryset = Channel.objects.filter(workspace=workspace).order_by("name")
        if "template" in self.fields:
            self.fields["template"].choices = [("", "—")] + _template_choices(workspace)

    def clean_template(self) -> tuple[str, str] | None:
        value = self.cleaned_data.get("template") or ""
        return tuple(value.split("|", 1)) if value else None


class CampaignForm(_WorkspaceForm):
    name = forms.CharField(max_length=120)
    channel = forms.ModelChoiceField(queryset=Channel.objects.none())
    template = forms.ChoiceField(help_text="An approved template of the channel's WhatsApp Business Account.")
    parameter_values = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line, e.g. 1 = {contact.name} or first_name = {contact.name}; "
        "{contact.phone} and {contact.<attribute>} work too. CSV columns override them per row.",
    )
    header_media_link = forms.URLField(
        required=False, help_text="For a template with an image, video or document header."
    )
    audience_tags = forms.CharField(
        required=False, help_text="Contacts with any of these tags, comma-separated (e.g. vip, newsletter)."
    )
    audience_attributes = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="And every one of these attributes, one per line, e.g. city = Leeds.",
    )

    def clean_parameter_values(self) -> dict[str, str]:
        return _pairs(self.cleaned_data.get("parameter_values", ""), "parameter_values")

    def clean_audience_attributes(self) -> dict[str, str]:
        return _pairs(self.cleaned_data.get("audience_attributes", ""), "audience_attributes")

    def clean_audience_tags(self) -> list[str]:
        return [tag.strip() for tag in (self.cleaned_data.get("audience_tags") or "").split(",") if tag.strip()]


class CsvImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="A phone column (with country code), optional name, and one column per template parameter.",
    )
    default_region = forms.CharField(
        required=False, max_length=2, help_text="For numbers written without +, their country (GB, US…)."
    )

    def clean_file(self) -> str:
        upload = self.cleaned_data["file"]
        try:
            return upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError("Save the CSV as UTF-8 and upload it again.") from None


class LaunchForm(forms.Form):
    start_at = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="UTC. Leave empty to start now.",
    )


class ScheduledMessageForm(_WorkspaceForm):
    channel = forms.ModelChoiceField(queryset=Channel.objects.none())
    to = forms.CharField(max_length=32, help_text="A WhatsApp number with its country code.")
    send_at = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"), help_text="UTC."
    )
    body = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=4096,
        help_text="A text, when the customer's 24-hour window will still be open then.",
    )
    template = forms.ChoiceField(required=False, help_text="Otherwise an approved template.")
    template_values = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="One per line, e.g. first_name = Ana."
    )

    def clean_template_values(self) -> dict[str, str]:
        return _pairs(self.cleaned_data.get("template_values", ""), "template_values")

    def clean(self):
        data = super().clean()
        if not data.get("body", "").strip() and not data.get("template"):
            raise forms.ValidationError("Write a text or choose a template.")
        return data


class RescheduleForm(forms.Form):
    send_at = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"), help_text="UTC."
    )


class WelcomeForm(_WorkspaceForm):
    template = forms.ChoiceField(required=False, help_text="Empty: no welcome message on this channel.")
    parameter_values = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="e.g. first_name = {contact.name}"
    )
    enabled = forms.BooleanField(required=False, initial=True)

    def clean_parameter_values(self) -> dict[str, str]:
        return _pairs(self.cleaned_data.get("parameter_values", ""), "parameter_values")
